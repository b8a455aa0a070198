#!/bin/bash
# The control socket of a running meter, from outside: idle, dribbling and hanging-up
# clients cost the meter nothing (status still answered at once, BACnet still answered,
# the meter never dies of SIGPIPE); --control refuses a regular file and a live socket
# and replaces a stale one; `s4100 ctl` usage errors, exit codes and messages.
# Usage: e2e_control.sh <s4100 binary> <repo root>
set -euo pipefail
bin=$1
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0
fails=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }

# A random UDP port on loopback that nobody uses now (so two suites can run at once).
freeport() {
    python3 - <<'EOF'
import random, socket
for _ in range(100):
    p = random.randint(20000, 60999)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
EOF
}
sock=$tmp/m.sock
ctl() { "$bin" ctl --control "$sock" "$@"; }

# Control clients that misbehave: hold N idle connections, send a command byte by byte,
# or send a command and hang up at once.
cat >"$tmp/cli.py" <<'EOF'
import socket, sys, time
mode, path = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
if mode == "idle":
    held = [conn() for _ in range(int(sys.argv[3]))]
    open(sys.argv[4], "w").write("ready\n")
    time.sleep(600)
elif mode == "dribble":
    s = conn()
    open(sys.argv[3], "w").write("ready\n")
    for b in b"status\n":
        s.send(bytes([b]))
        time.sleep(0.4)
    s.settimeout(10)
    print(s.recv(100).decode()[:12])
elif mode == "hangup":
    for _ in range(int(sys.argv[3])):
        s = conn()
        s.send(b"status\n")
        s.close()
EOF
# ReadProperty of the Device's Object_Name, 2 s at most.
cat >"$tmp/rp.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
s.bind(("127.0.0.1", 0))
npdu = bytes([1, 4]) + bytes.fromhex("0003010C0C02000004194D")
s.sendto(bytes([0x81, 0x0A, 0, 4 + len(npdu)]) + npdu, ("127.0.0.1", int(sys.argv[1])))
try:
    print(s.recvfrom(2000)[0][4:].hex()[:8])
except socket.timeout:
    print("timeout")
EOF

start_meter() { # port, extra args... ; sets $meter
    local p=$1
    shift
    "$bin" run --no-panel --quiet --bind 127.0.0.1 --bip-port "$p" --device-id 4 \
        --nv "$tmp/m.nv" --control "$sock" "$@" >>"$tmp/run.out" 2>&1 &
    meter=$!
    pids+=("$meter")
    # Up when it answers (a stale socket may be there before it is)
    for i in $(seq 100); do
        kill -0 "$meter" 2>/dev/null || break
        "$bin" ctl --control "$sock" --timeout 1 help >/dev/null 2>&1 && break
        sleep 0.1
    done
}
wait_for() { for i in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

port=$(freeport)
start_meter "$port"
[ -S "$sock" ] && ok "meter up on 127.0.0.1:$port, control $sock" || bad "no control socket: $(cat "$tmp/run.out")"

# Five idle connections held open: a status still comes at once.
python3 "$tmp/cli.py" idle "$sock" 5 "$tmp/idle.ready" &
idle=$!
pids+=("$idle")
wait_for "$tmp/idle.ready"
if timeout 2 "$bin" ctl --control "$sock" status >"$tmp/st.json" 2>"$tmp/e" &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["powered"]' "$tmp/st.json"; then
    ok "status with 5 idle connections open"
else
    bad "status with 5 idle connections: $(cat "$tmp/e")"
fi

# A client sending its command a byte every 0.4 s: status and BACnet answered meanwhile.
python3 "$tmp/cli.py" dribble "$sock" "$tmp/drib.ready" >"$tmp/drib.out" &
drib=$!
pids+=("$drib")
wait_for "$tmp/drib.ready"
sleep 0.5
if timeout 2 "$bin" ctl --control "$sock" status >/dev/null 2>"$tmp/e"; then
    ok "status while another client dribbles"
else
    bad "status while another client dribbles: $(cat "$tmp/e")"
fi
r=$(python3 "$tmp/rp.py" "$port")
[ "$r" = "01003001" ] && ok "BACnet ReadProperty answered while a client dribbles" || bad "ReadProperty: $r"
wait $drib || true
grep -q '^{"meter":1,' "$tmp/drib.out" && ok "the dribbling client got its answer (status of meter 1)" ||
    bad "dribbler: '$(cat "$tmp/drib.out")'"

# Clients that send a command and hang up at once: the meter lives on (before the fix
# it died of SIGPIPE writing the answer).
c0=$(ctl status | python3 -c 'import json,sys; print(json.load(sys.stdin)["control"]["commands"])')
python3 "$tmp/cli.py" hangup "$sock" 50
sleep 0.3
if kill -0 "$meter" 2>/dev/null && ctl status >/dev/null 2>"$tmp/e"; then
    ok "50 early hang-ups: the meter still answers"
else
    bad "early hang-up: meter gone or silent: $(cat "$tmp/e") $(tail -3 "$tmp/run.out")"
fi
c1=$(ctl status | python3 -c 'import json,sys; print(json.load(sys.stdin)["control"]["commands"])')
[ "$c1" -ge $((c0 + 51)) ] && ok "all 50 of their commands were taken: $c0 -> $c1" || bad "commands counted: $c0 -> $c1"
kill "$idle" 2>/dev/null || true

# --control PATH safety: a live socket and a regular file are refused, untouched.
port2=$(freeport)
rc=0
timeout 10 "$bin" run --no-panel --quiet --bind 127.0.0.1 --bip-port "$port2" --nv "$tmp/b.nv" \
    --control "$sock" >/dev/null 2>"$tmp/e" || rc=$?
if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "another meter listens" "$tmp/e" && ctl status >/dev/null; then
    ok "a second meter on the same socket refused: $(head -1 "$tmp/e")"
else
    bad "second meter on a live socket: rc $rc $(cat "$tmp/e")"
fi
echo "precious" >"$tmp/file"
rc=0
timeout 10 "$bin" run --no-panel --quiet --bind 127.0.0.1 --bip-port "$port2" --nv "$tmp/b.nv" \
    --control "$tmp/file" >/dev/null 2>"$tmp/e" || rc=$?
if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "not a socket" "$tmp/e" && [ "$(cat "$tmp/file")" = precious ]; then
    ok "a regular file at --control refused and kept: $(head -1 "$tmp/e")"
else
    bad "regular file at --control: rc $rc $(cat "$tmp/e")"
fi

# SIGKILL leaves a stale socket: the next meter takes its place.
kill -9 "$meter"
wait "$meter" 2>/dev/null || true
[ -S "$sock" ] && ok "SIGKILL left the socket behind" || bad "no stale socket after SIGKILL"
start_meter "$port"
ctl status >/dev/null 2>"$tmp/e" && ok "a stale socket is replaced" || bad "stale socket: $(cat "$tmp/e") $(tail -2 "$tmp/run.out")"

# s4100 ctl: usage errors exit 2, a refusal by the meter exits 1, messages say what.
expect_ctl() { # name, exit code, pattern, args...
    local name=$1 want=$2 pat=$3 rc=0
    shift 3
    timeout 10 "$bin" ctl "$@" >"$tmp/o" 2>"$tmp/e" || rc=$?
    if [ $rc -eq "$want" ] && grep -q -- "$pat" "$tmp/e"; then
        ok "$name: $(head -1 "$tmp/e")"
    else
        bad "$name: rc $rc, '$(cat "$tmp/e")'"
    fi
}
expect_ctl "no command" 2 "^s4100 ctl: give a command" --control "$sock"
expect_ctl "no --control" 2 "^s4100 ctl: give --control PATH" status
expect_ctl "unknown option" 2 "^s4100 ctl: unknown option '--frob'" --frob status
expect_ctl "--timeout x" 2 "^s4100 ctl: --timeout 'x'" --control "$sock" --timeout x status
expect_ctl "over without seconds" 2 "^s4100 ctl: error: set: 'over' needs a number of seconds" \
    --control "$sock" set current 20 over
expect_ctl "unknown command" 2 "^s4100 ctl: error: unknown command 'frobnicate'" --control "$sock" frobnicate
expect_ctl "bad key" 2 "^s4100 ctl: error: key: 'sideways' is not up, down, select or back" \
    --control "$sock" key sideways
expect_ctl "advance 0" 2 "^s4100 ctl: error: advance: 0 is out of range" --control "$sock" advance 0
expect_ctl "refused by the meter" 1 "^s4100 ctl: error: .*nosuchkey" --control "$sock" set nosuchkey 3
expect_ctl "advance on a real-time meter" 1 "^s4100 ctl: error: .*virtual-time" --control "$sock" advance 5
expect_ctl "missing socket" 1 "^s4100 ctl: .*no such socket" --control "$tmp/nope.sock" status
help=$("$bin" ctl --help)
missing=""
for c in status help "power off" "set KEY VALUE" "over SECONDS" "key up|down|select|back" display \
         "advance SECONDS" "--timeout"; do
    grep -qF -- "$c" <<<"$help" || missing="$missing '$c'"
done
[ -z "$missing" ] && ok "ctl --help lists every command" || bad "ctl --help lacks$missing"
a=$(ctl help)
grep -q "advance SECONDS" <<<"$a" && grep -q "display" <<<"$a" && ok "the meter's help lists every command" ||
    bad "meter help: $a"
a=$(ctl set current 20 over 3)
grep -q "over 3" <<<"$a" && ok "a ramp is confirmed as a ramp: $a" || bad "ramp answer: $a"

# Virtual time: advance waits for the meter however long it takes, then says so.
kill -TERM "$meter"
rc=0
wait "$meter" || rc=$?
[ $rc -eq 0 ] && [ ! -e "$sock" ] && ok "SIGTERM: exit 0, socket removed" || bad "SIGTERM: rc $rc"
start_meter "$port" --virtual-time
a=$(ctl advance 30)
[ "$a" = "ok: advanced 30 s (cycle 30)" ] && ok "advance 30: '$a'" || bad "advance 30: '$a'"
kill -TERM "$meter"
wait "$meter" || true

echo "e2e_control: $pass passed, $fails failed"
[ $fails -eq 0 ]
