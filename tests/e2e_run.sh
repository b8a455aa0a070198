#!/bin/bash
# s4100 run and s4100 ctl end to end on loopback: start-up I-Am, BACnet/IP answers,
# the control socket (status, live load changes, power cycle), virtual time, clean
# stops on SIGTERM/SIGINT, and bad options refused with a clear message.
# Meter time passes only through 'ctl advance' (--virtual-time), so nothing here
# depends on how fast the machine is; ports are picked free at run time.
# Usage: e2e_run.sh <s4100 binary> <repo root>
set -euo pipefail
bin=$1
root=$2
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0
fails=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }
# A free UDP port on loopback, chosen by the kernel (two suites never collide).
freeport() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(freeport)
lport=$(freeport)
sock=$tmp/ctl.sock
ctl() { "$bin" ctl --control "$sock" "$@"; }

# A Python helper that talks BACnet/IP on loopback with a 1 s timeout per request.
cat >"$tmp/bac.py" <<'EOF'
import socket, sys
def rp(port, apdu_hex, timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.bind(("127.0.0.1", 0))
    npdu = bytes([1, 4]) + bytes.fromhex(apdu_hex)
    s.sendto(bytes([0x81, 0x0A, 0, 4 + len(npdu)]) + npdu, ("127.0.0.1", port))
    try:
        return s.recvfrom(2000)[0][4:].hex()
    except socket.timeout:
        return "timeout"
if __name__ == "__main__":
    print(rp(int(sys.argv[1]), sys.argv[2]))
EOF
rp() { python3 "$tmp/bac.py" "$port" "$1"; }

# Start: listen for the start-up I-Am first (the meter broadcasts it to --broadcast).
python3 - "$tmp/iam.hex" "$lport" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.settimeout(5)
try: open(sys.argv[1], "w").write(s.recvfrom(100)[0].hex())
except socket.timeout: pass
EOF
listener=$!
sleep 0.3
"$bin" run --bind 0.0.0.0 --bip-port $port --broadcast 127.255.255.255:$lport --device-id 4321 --nv "$tmp/a.nv" \
    --control "$sock" --virtual-time --scenario "$root/scenarios/balanced-50hz.ini" \
    >"$tmp/run.out" 2>&1 &
meter=$!
pids+=("$meter")
for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
wait $listener || true
# BVLC Original-Broadcast, NPDU global broadcast (DNET FFFF, hop 255), I-Am device 4321.
if [ "$(cat "$tmp/iam.hex" 2>/dev/null)" = "810b00180120ffff00ff1000c4020010e12201e091032185" ]; then
    ok "start-up I-Am broadcast: $(cat "$tmp/iam.hex")"
else
    bad "start-up I-Am: got '$(cat "$tmp/iam.hex" 2>/dev/null)'"
fi

# BACnet answers: Object_List[0] (113) and the device's Object_Name.
r=$(rp "0003010C0C020010E1194C2900")
if [ "$r" = "010030010c0c020010e1194c29003e21713f" ]; then ok "ReadProperty Object_List[0] = 113"; else bad "Object_List[0]: $r"; fi

# Virtual time: the clock stands still until told; 'advance 15' runs exactly 15 s.
sleep 0.3
c0=$(ctl status | python3 -c 'import json,sys; print(json.load(sys.stdin)["cycles"])')
[ "$c0" = 0 ] && ok "virtual time: no cycle before an advance" || bad "virtual time: $c0 cycles before any advance"
a=$(ctl advance 15)
[ "$a" = "ok: advanced 15 s (cycle 15)" ] && ok "advance 15: '$a'" || bad "advance 15: '$a'"
ctl status >"$tmp/st1.json"
python3 - "$tmp/st1.json" <<'EOF' && ok "status JSON: powered, device 4321, 15 cycles, clock 00:00:15, readings" || bad "status: $(cat "$tmp/st1.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["powered"] is True and d["device_id"] == 4321
assert d["cycles"] == 15, d["cycles"]
assert d["clock"] == "2000-01-01T00:00:15", d["clock"]
assert d["alerts"] == "RTC", d["alerts"]
assert d["time"]["virtual"] is True
assert d["alarm_output"] == "closed" and d["alarms"] == 16384   # only RTC_Reset
assert abs(d["readings"]["KW_Total"] - 31.05) < 0.01
assert d["readings"]["Power_Up_Count"] == 1
EOF

# A live load change, ramped over 2 simulated seconds; bad commands are refused.
r=$(ctl set current 20 over 2)
[ "$r" = "ok: current ramps to 20 over 2 s" ] && ok "a ramp is confirmed as a ramp: '$r'" || bad "ramp answer: '$r'"
ctl advance 3 >/dev/null
kw=$(ctl status | python3 -c 'import json,sys; print(json.load(sys.stdin)["readings"]["KW_Total"])')
python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if abs(v - 3*230*20*0.9/1000) < 0.02 else 1)" "$kw" &&
    ok "set current 20 over 2: KW_Total $kw" || bad "set current: KW_Total $kw"
r=$(rp "0003020C0C0000000B1955")
[ "${r:0:26}" = "010030020c0c0000000b19553e" ] && ok "BACnet sees the same reading: $r" || bad "RP AI11: $r"
for c in "frobnicate" "set current -1" "set nosuchkey 3" "set current 5 over x" "power sideways" \
         "set current 20 over" "advance 0" "advance -3" "key sideways"; do
    if "$bin" ctl --control "$sock" $c >"$tmp/o" 2>"$tmp/e"; then
        bad "ctl '$c' accepted"
    else
        # Refused with a reason in the user's words: no internal function names.
        grep -q "error" "$tmp/e" && ! grep -q "sim_\|app_\|bac_" "$tmp/e" &&
            ok "ctl '$c' refused: $(head -1 "$tmp/e")" || bad "ctl '$c': $(cat "$tmp/e")"
    fi
done
"$bin" ctl --control "$tmp/nope.sock" status 2>"$tmp/e" && bad "ctl to a missing socket" ||
    ok "ctl to a missing socket: $(head -1 "$tmp/e")"

# Power cycle: off = silent on the network, alarm output open; on = power-up counted,
# clock back to 2000-01-01, energy kept.
"$bin" ctl --control "$sock" power off >/dev/null
e_off=$("$bin" ctl --control "$sock" status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d["powered"] and d["alarm_output"]=="open"; print(d["readings"]["KWh_Import"])')
r=$(rp "0003030C0C0000000B1955")
[ "$r" = "timeout" ] && ok "powered off: no BACnet answer, output open" || bad "powered off but answered: $r"
ctl advance 5 >/dev/null
"$bin" ctl --control "$sock" power on >/dev/null
ctl advance 2 >/dev/null
"$bin" ctl --control "$sock" status >"$tmp/st2.json"
python3 - "$tmp/st2.json" "$e_off" <<'EOF' && ok "power on: Power_Up_Count 2, clock restarted, RTC_Reset, energy kept" || bad "power on"
import json, sys
d = json.load(open(sys.argv[1])); e_off = float(sys.argv[2])
assert d["powered"] and d["readings"]["Power_Up_Count"] == 2
assert d["clock"] == "2000-01-01T00:00:02", d["clock"]
assert d["alarms"] & 16384
assert d["readings"]["KWh_Import"] >= e_off > 0
EOF

# Clean stop on SIGTERM: exit 0, socket removed, a summary line.
kill -TERM "$meter"
rc=0
wait "$meter" || rc=$?
[ $rc -eq 0 ] && [ ! -e "$sock" ] && grep -q "virtual time" "$tmp/run.out" &&
    ok "SIGTERM: exit 0, control socket removed" || bad "SIGTERM: rc $rc, $(tail -2 "$tmp/run.out")"
# SIGINT too.
"$bin" run --bind 127.0.0.1 --bip-port $port --quiet --nv "$tmp/b.nv" >/dev/null 2>&1 &
p2=$!
pids+=("$p2")
sleep 0.5
kill -INT $p2
rc=0
wait $p2 || rc=$?
[ $rc -eq 0 ] && ok "SIGINT: exit 0" || bad "SIGINT: rc $rc"

# Bad options and a busy port.
expect_error() { # name, pattern, args...
    local name=$1 pat=$2 rc=0
    shift 2
    timeout 5 "$bin" run --nv "$tmp/x.nv" "$@" >/dev/null 2>"$tmp/err" || rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q -- "$pat" "$tmp/err"; then ok "$name: $(head -1 "$tmp/err")"; else bad "$name: rc $rc $(cat "$tmp/err")"; fi
}
expect_error "--bip-port 0" "bip-port" --bip-port 0
expect_error "--device-id 4194000" "device-id" --device-id 4194000
expect_error "--time-scale 0" "time-scale" --time-scale 0
expect_error "--bind nonsense" "bind" --bind 300.1.1.1
expect_error "--serial too long" "serial" --serial 12345678901234567
expect_error "--bacnet-password too long" "password" --bacnet-password 123456789012345678901
expect_error "--ct-primary 1" "ct-primary" --ct-primary 1
expect_error "missing scenario" "nope.ini" --scenario "$tmp/nope.ini"
"$bin" run --bind 127.0.0.1 --bip-port $port --quiet --nv "$tmp/c.nv" >/dev/null 2>&1 &
p3=$!
pids+=("$p3")
sleep 0.4
expect_error "port in use" "bind 127.0.0.1:$port" --bind 127.0.0.1 --bip-port $port
kill -TERM $p3 2>/dev/null || true

expect_error "unknown option: one line and a hint" "unknown option '--frobnicate' (try 's4100 run --help')" --frobnicate
n=$(wc -l <"$tmp/err"); [ "$n" -eq 1 ] && ok "unknown option: a single line" || bad "unknown option: $n lines"
expect_error "--bip-port x: one message" "--bip-port 'x': a UDP port" --bip-port x
n=$(wc -l <"$tmp/err"); [ "$n" -eq 1 ] && ok "bad number: a single line" || bad "bad number: $n lines: $(cat "$tmp/err")"
expect_error "--nv DIR" "is a directory" --nv "$tmp"
expect_error "--virtual-time needs --control" "needs --control" --virtual-time

# Settings: NV wins without explicit settings; a named scenario's [meter] section and
# options are commissioning: applied over NV, logged, kept.
st_of() { # nv, args... -> status JSON after 1 s of meter time
    local nv=$1; shift
    local s=$tmp/set.sock p i try
    # (A port freeport found free can be taken by a test running beside this one before
    # the meter binds it: that start is retried on another port, nothing else is.)
    for try in 1 2 3; do
        "$bin" run --bind 127.0.0.1 --bip-port "$(freeport)" --no-panel --nv "$nv" --control "$s" \
            --virtual-time "$@" >"$tmp/set.out" 2>&1 &
        p=$!
        for i in $(seq 200); do [ -S "$s" ] && break; kill -0 $p 2>/dev/null || break; sleep 0.05; done
        [ -S "$s" ] && break
        wait $p 2>/dev/null
        grep -q "Address already in use" "$tmp/set.out" || break
    done
    [ -S "$s" ] || { echo "st_of: the meter did not start: $(cat "$tmp/set.out")" >&2; return 1; }
    "$bin" ctl --control "$s" advance 1 >/dev/null && "$bin" ctl --control "$s" status
    kill -TERM $p; wait $p || true
}
reading() { python3 -c "import json,sys; d=json.load(sys.stdin)['readings']; print(' '.join('%.2f' % d[k] for k in sys.argv[1:]))" "$@"; }
r=$(st_of "$tmp/s.nv" --scenario "$root/scenarios/default.ini" | reading Volts_AN Current_A)
r=$(st_of "$tmp/s.nv" --scenario "$root/scenarios/split-phase.ini" | reading Volts_AN "Current Average")
[ "$r" = "120.00 67.50" ] && grep -q "AV2 System_Type 40 -> 12 (scenario)" "$tmp/set.out" &&
    ok "a named scenario's [meter] beats NV, logged: $(grep -m1 AV2 "$tmp/set.out")" ||
    bad "scenario over NV: $r / $(cat "$tmp/set.out")"
r=$(st_of "$tmp/s.nv" --scenario "$root/scenarios/split-phase.ini" --system-type 40 | reading Volts_AN)
grep -q "AV2 System_Type 12 -> 40 (--system-type)" "$tmp/set.out" &&
    ok "an option beats the scenario: $(grep -m1 AV2 "$tmp/set.out")" || bad "option over scenario: $(cat "$tmp/set.out")"
r=$(st_of "$tmp/s.nv" --scenario "$root/scenarios/split-phase.ini" | reading Volts_AN)
r=$(st_of "$tmp/s.nv" | python3 -c 'import json,sys; print(json.load(sys.stdin)["settings"]["System_Type"])')
if grep -q "AV2" "$tmp/set.out" || [ "$r" != "12" ]; then bad "no explicit settings: $r $(grep AV2 "$tmp/set.out")"; else
    ok "no explicit settings: NV kept (System_Type $r), nothing logged"; fi
"$bin" run --bind 127.0.0.1 --bip-port "$(freeport)" --no-panel --nv "$tmp/s.nv" --quiet --seconds 1 \
    --scenario "$root/scenarios/split-phase.ini" --pt-ratio 300 >"$tmp/o" 2>"$tmp/e" &&
    bad "a setting refused with the others accepted" ||
    ok "settings that do not fit together: refused, $(head -1 "$tmp/e")"

# Loopback discovery as the README shows it: the meter on 127.0.0.1:PORT with
# --broadcast naming the client's port; the client on 0.0.0.0:CPORT asks by unicast.
cport=$(freeport)
"$bin" run --bind 127.0.0.1 --bip-port $port --broadcast 127.255.255.255:$cport --device-id 1234 \
    --no-panel --quiet --nv "$tmp/d.nv" >/dev/null 2>&1 &
pd=$!
pids+=("$pd")
r=$(python3 - "$port" "$cport" <<'EOF'
import socket, sys, time
port, cport = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", cport)); s.settimeout(0.2)
end = time.time() + 5
while time.time() < end:
    s.sendto(bytes.fromhex("810a000c0120ffff00ff1008"), ("127.0.0.1", port))  # Who-Is
    try:
        d = s.recvfrom(200)[0]
        if d[:2] == b"\x81\x0b" and b"\x10\x00\xc4\x02\x00\x04\xd2" in d:  # I-Am device 1234
            print("i-am"); break
    except socket.timeout:
        pass
EOF
)
[ "$r" = "i-am" ] && ok "loopback: a client on another port discovers the meter (I-Am 1234)" ||
    bad "loopback discovery: '$r'"
kill -TERM $pd 2>/dev/null || true

# In a terminal but not its foreground (under timeout(1)): headless, never stopped.
if command -v tmux >/dev/null; then
    tsock=$tmp/tmux.sock
    tmux -S "$tsock" new-session -d -x 150 -y 30 \
        "timeout 30 $bin run --bind 127.0.0.1 --bip-port $(freeport) --nv $tmp/t.nv --seconds 2 --time-scale 20; echo rc=\$? >$tmp/t.rc; sleep 5"
    for i in $(seq 250); do [ -s "$tmp/t.rc" ] && break; sleep 0.1; done
    screen=$(tmux -S "$tsock" capture-pane -p 2>/dev/null || true)
    tmux -S "$tsock" kill-server 2>/dev/null || true
    [ "$(cat "$tmp/t.rc" 2>/dev/null)" = "rc=0" ] && grep -q "headless" <<<"$screen" &&
        ok "background in a terminal: headless, ran to the end" ||
        bad "background in a terminal: $(cat "$tmp/t.rc" 2>/dev/null) $screen"
fi

# MS/TP: a MAC changed on the panel takes effect on the live link (frames from the new
# source address), as one given on the command line does.
if command -v socat >/dev/null; then
    socat pty,raw,echo=0,link="$tmp/ttyM" pty,raw,echo=0,link="$tmp/ttyC" &
    sp=$!
    pids+=("$sp")
    for i in $(seq 50); do [ -e "$tmp/ttyM" ] && break; sleep 0.1; done
    msock=$tmp/mstp.sock
    "$bin" run --mstp "$tmp/ttyM" --mac 5 --baud 38400 --pcap "$tmp/m.pcap" --nv "$tmp/m.nv" --no-panel \
        --quiet --control "$msock" >"$tmp/mstp.out" 2>&1 &
    mp=$!
    pids+=("$mp")
    for i in $(seq 50); do [ -S "$msock" ] && break; sleep 0.1; done
    # SETUP, the default password, S BAC, MAC 005 -> 006, accepted; back home.
    for k in up select select select up select back back back; do
        "$bin" ctl --control "$msock" key $k >"$tmp/disp"
    done
    mac_src() { python3 - "$tmp/m.pcap" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
off, srcs = 24, []
while off + 16 <= len(d):
    incl = struct.unpack('<I', d[off + 8:off + 12])[0]
    f = d[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(f) >= 5 and f[:2] == b'\x55\xff':
        srcs.append(f[4])
print(srcs[-1] if srcs else -1)
EOF
    }
    for i in $(seq 50); do [ "$(mac_src)" = 6 ] && break; sleep 0.1; done
    kill -TERM $mp; wait $mp || true
    kill $sp 2>/dev/null || true
    [ "$(mac_src)" = 6 ] && grep -q "MAC 1 -> 5 (--mac)" "$tmp/mstp.out" &&
        ok "MS/TP: the MAC set on the panel (5 -> 6) is the live link's source address" ||
        bad "MS/TP panel MAC: last source $(mac_src), $(cat "$tmp/mstp.out")"
fi

# Several meters in one process: each on its own port with its own identity and NV,
# driven one by one through 'ctl meter K'; what happens to one leaves the others alone.
fsock=$tmp/fleet.sock
fport=$(freeport)
while [ "$fport" -gt 65000 ]; do fport=$(freeport); done
"$bin" run --meters 3 --bind 127.0.0.1 --bip-port "$fport" --nv "$tmp/fleet.nv" --no-panel --quiet \
    --virtual-time --control "$fsock" >"$tmp/fleet.out" 2>&1 &
fp=$!
pids+=("$fp")
for i in $(seq 100); do [ -S "$fsock" ] && break; sleep 0.05; done
"$bin" ctl --control "$fsock" advance 5 >/dev/null
"$bin" ctl --control "$fsock" meter 3 status >"$tmp/f3a.json"
"$bin" ctl --control "$fsock" meter 2 power off >/dev/null
"$bin" ctl --control "$fsock" meter 3 set current 10 >/dev/null
"$bin" ctl --control "$fsock" advance 5 >/dev/null
ids=""
for k in 1 2 3; do
    p=$((fport + k - 1))
    # Device Object_Identifier by ReadProperty on the meter's own port (wildcard instance).
    r=$(python3 "$tmp/bac.py" "$p" "0003010C0C023FFFFF194B")
    ids="$ids ${r:26:8}"
    "$bin" ctl --control "$fsock" meter $k status >"$tmp/f$k.json"
done
python3 - "$tmp" <<'EOF' && ok "3 meters: own ports and instances;$ids; meter 2 off alone, meter 3's load alone (a variant)" || bad "fleet:$ids $(cat "$tmp/fleet.out")"
import json, sys
t = sys.argv[1]
d = [json.load(open(f"{t}/f{k}.json")) for k in (1, 2, 3)]
assert [x["meter"] for x in d] == [1, 2, 3]
assert len({x["device_id"] for x in d}) == 3
assert [x["powered"] for x in d] == [True, False, True]
assert d[0]["cycles"] == 10 and d[2]["cycles"] == 10 and d[1]["cycles"] == 5
i1, i3 = d[0]["readings"]["Current_A"], d[2]["readings"]["Current_A"]
i3a = json.load(open(f"{t}/f3a.json"))["readings"]["Current_A"]
assert abs(i1 - 40) < 0.1, i1           # meter 1: the scenario as written, 40 A
assert 19 < i3a < 40.5, i3a             # meter 3: a variant, 50..100 % of the load
assert abs(i3 / i3a - 10 / 40) < 0.002, (i3a, i3)  # its own load set to 10 A, scaled alike
assert d[0]["readings"]["PF_Total"] != d[2]["readings"]["PF_Total"] or i3a != i1
EOF
[ -z "$(echo "$ids" | tr ' ' '\n' | grep -v '^$' | grep -v '^c402' )" ] && [ "$(echo $ids | wc -w)" = 2 ] &&
    ok "BACnet: meters 1 and 3 answer, meter 2 (off) is silent" || bad "fleet BACnet answers:$ids"
kill -TERM $fp; wait $fp || true
[ -f "$tmp/fleet-1.nv" ] && [ -f "$tmp/fleet-2.nv" ] && [ -f "$tmp/fleet-3.nv" ] &&
    ok "one NV file per meter: fleet-1.nv .. fleet-3.nv" || bad "fleet NV files: $(ls "$tmp")"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
