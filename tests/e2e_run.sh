#!/bin/bash
# s4100 run and s4100 ctl end to end on loopback: start-up I-Am, BACnet/IP answers,
# the control socket (status, live load changes, power cycle), the time scale, clean
# stops on SIGTERM/SIGINT, and bad options refused with a clear message.
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
port=48310
sock=$tmp/ctl.sock

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
python3 - "$tmp/iam.hex" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 48311)); s.settimeout(5)
try: open(sys.argv[1], "w").write(s.recvfrom(100)[0].hex())
except socket.timeout: pass
EOF
listener=$!
sleep 0.3
"$bin" run --bind 0.0.0.0 --bip-port $port --broadcast 127.255.255.255:48311 --device-id 4321 --nv "$tmp/a.nv" \
    --control "$sock" --time-scale 20 --scenario "$root/scenarios/balanced-50hz.ini" \
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

# Status as JSON; the time scale: 20 meter seconds a wall second.
sleep 1
"$bin" ctl --control "$sock" status >"$tmp/st1.json"
python3 - "$tmp/st1.json" <<'EOF' && ok "status JSON: powered, device 4321, clock running 20x, readings" || bad "status"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["powered"] is True and d["device_id"] == 4321
assert d["cycles"] >= 15, d["cycles"]        # ~1.3 wall seconds at 20x
assert d["clock"].startswith("2000-01-01T00:00:"), d["clock"]
assert d["alarm_output"] == "closed" and d["alarms"] == 16384   # only RTC_Reset
assert abs(d["readings"]["KW_Total"] - 31.05) < 0.01
assert d["readings"]["Power_Up_Count"] == 1
EOF

# A live load change, ramped over 2 simulated seconds; bad commands are refused.
"$bin" ctl --control "$sock" set current 20 over 2 >/dev/null
sleep 0.5
kw=$("$bin" ctl --control "$sock" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["readings"]["KW_Total"])')
python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if abs(v - 3*230*20*0.9/1000) < 0.02 else 1)" "$kw" &&
    ok "set current 20 over 2: KW_Total $kw" || bad "set current: KW_Total $kw"
r=$(rp "0003020C0C0000000B1955")
[ "${r:0:26}" = "010030020c0c0000000b19553e" ] && ok "BACnet sees the same reading: $r" || bad "RP AI11: $r"
for c in "frobnicate" "set current -1" "set nosuchkey 3" "set current 5 over x" "power sideways"; do
    if "$bin" ctl --control "$sock" $c >"$tmp/o" 2>"$tmp/e"; then
        bad "ctl '$c' accepted"
    else
        grep -q "error" "$tmp/e" && ok "ctl '$c' refused: $(head -1 "$tmp/e")" || bad "ctl '$c': $(cat "$tmp/e")"
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
sleep 0.5
"$bin" ctl --control "$sock" power on >/dev/null
sleep 0.3
"$bin" ctl --control "$sock" status >"$tmp/st2.json"
python3 - "$tmp/st2.json" "$e_off" <<'EOF' && ok "power on: Power_Up_Count 2, clock restarted, RTC_Reset, energy kept" || bad "power on"
import json, sys
d = json.load(open(sys.argv[1])); e_off = float(sys.argv[2])
assert d["powered"] and d["readings"]["Power_Up_Count"] == 2
assert d["clock"] < "2000-01-01T00:00:30", d["clock"]
assert d["alarms"] & 16384
assert d["readings"]["KWh_Import"] >= e_off > 0
EOF

# Clean stop on SIGTERM: exit 0, socket removed, a summary line.
kill -TERM "$meter"
rc=0
wait "$meter" || rc=$?
[ $rc -eq 0 ] && [ ! -e "$sock" ] && grep -q "engine max lag" "$tmp/run.out" &&
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

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
