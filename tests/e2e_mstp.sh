#!/bin/bash
# BACnet MS/TP end to end over a pty pair (socat): s4100 run --mstp on one end, a test
# master (tests/mstp_master.c, the project's master node as a client) on the other,
# reading and writing the meter; the meter's capture decodes in tshark with good CRCs
# and nothing malformed. The meter runs on virtual time: the master advances it one
# second (s4100 ctl advance) where a write must commit at the next cycle. Everything in
# one temporary directory; no network.
# Usage: e2e_mstp.sh <s4100 binary> <repo root>
set -euo pipefail
bin=$1
root=$2
master=$(dirname "$bin")/tests/mstp_master
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.2; rm -rf "$tmp"; }
trap cleanup EXIT
for t in socat tshark; do command -v $t >/dev/null || { echo "$t missing: run scripts/install-interop-deps.sh"; exit 1; }; done

socat pty,raw,echo=0,link="$tmp/meter" pty,raw,echo=0,link="$tmp/master" &
pids+=($!)
for i in $(seq 50); do [ -e "$tmp/meter" ] && [ -e "$tmp/master" ] && break; sleep 0.1; done

"$bin" run --mstp "$tmp/meter" --mac 5 --baud 38400 --max-master 10 --pcap "$tmp/mstp.pcap" \
    --nv "$tmp/m.nv" --no-panel --quiet --device-id 1234 --virtual-time --control "$tmp/ctl.sock" \
    --scenario "$root/scenarios/balanced-50hz.ini" >"$tmp/run.out" 2>&1 &
meter=$!
pids+=($meter)

rc=0
timeout 120 "$master" "$tmp/master" 38400 0 5 1234 "'$bin' ctl --control '$tmp/ctl.sock' advance 1 >/dev/null" || rc=$?
kill -TERM $meter
wait $meter || true
cat "$tmp/run.out"

pass=0
fails=0
[ $rc -eq 0 ] && pass=$((pass + 1)) || fails=$((fails + 1))
frames=$(tshark -r "$tmp/mstp.pcap" 2>/dev/null | wc -l)
bad=$(tshark -r "$tmp/mstp.pcap" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null | wc -l)
apdus=$(tshark -r "$tmp/mstp.pcap" -Y bacapp 2>/dev/null | wc -l)
if [ "$frames" -gt 500 ] && [ "$bad" -eq 0 ] && [ "$apdus" -gt 200 ]; then
    echo "ok - tshark: $frames MS/TP frames ($apdus BACnet APDUs), CRCs good, nothing malformed"
    pass=$((pass + 1))
else
    echo "FAIL - tshark: $frames frames, $apdus APDUs, $bad with problems"
    tshark -r "$tmp/mstp.pcap" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null | head -5
    fails=$((fails + 1))
fi
echo "frame types: $(tshark -r "$tmp/mstp.pcap" -T fields -e mstp.frame_type 2>/dev/null | sort | uniq -c | tr '\n' ' ')"
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
