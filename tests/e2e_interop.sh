#!/bin/bash
# Interop tests: `s4100 run` driven over loopback BACnet/IP by a third-party client
# (@bacnet-js/client, tests/interop/*.test.mjs under `node --test`), with every packet
# captured and decoded by Wireshark's BACnet dissector (tshark), which must find nothing
# malformed and no expert warning.
#
#   bash tests/e2e_interop.sh <path-to-s4100> <repo-root>
#
# Needs node (>= 18), npm, tshark and dumpcap (scripts/install-interop-deps.sh) and root
# (or capture rights) for dumpcap on lo. Network on 127.0.0.0/8 only, on a block of 32
# UDP ports of its own (tests/interop/tools/ports.sh: random, checked free, claimed for
# the run), captured by port: any number of runs can go side by side on one machine.
# The meters run on virtual time (tests/interop/lib/harness.mjs): no test waits for the
# machine to be fast enough. Bounded: node is given INTEROP_TIMEOUT seconds (default
# 1800, a safety net only), and every meter, the capture and the runner are killed on
# exit. Files: one temporary directory (meters' NV files and control sockets included).
set -uo pipefail

bin=$(realpath "${1:?usage: e2e_interop.sh <s4100> <repo-root>}")
root=$(realpath "${2:?usage: e2e_interop.sh <s4100> <repo-root>}")
interop="$root/tests/interop"
port_count=32 # slots of a meter and a client port each: harness.mjs ports()
budget=${INTEROP_TIMEOUT:-1800}
min_meter_pdus=${INTEROP_MIN_PDUS:-1500}

fail() { echo "e2e_interop: $*" >&2; exit 1; }
for tool in node npm tshark dumpcap; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/install-interop-deps.sh"
done
[ -x "$bin" ] || fail "$bin is not executable"

# This run's ports, held until the script exits.
# shellcheck source=interop/tools/ports.sh
source "$interop/tools/ports.sh"
s4100_claim_ports "$port_count" || fail "no UDP ports"
ports="$PORT_BASE-$((PORT_BASE + port_count - 1))"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/s4100-interop.XXXXXX")
pcap="$tmp/interop.pcapng"
# The meters' NV files and control sockets: on tmpfs where there is one (a trend record
# is made durable with fdatasync as it is logged; the suite fills 5760-record buffers).
state=$(mktemp -d /dev/shm/s4100-interop.XXXXXX 2>/dev/null) || state="$tmp"
export S4100_INTEROP_STATE="$state"
export S4100_BIN="$bin" S4100_INTEROP_PIDS="$tmp/meters" TZ=UTC
export S4100_INTEROP_PORT_BASE="$PORT_BASE" S4100_INTEROP_PORT_COUNT="$port_count"
cap_pid=""
node_pid=""

cleanup() {
  local rc=$?
  [ -n "$node_pid" ] && kill -TERM -- "-$node_pid" 2>/dev/null
  # Meters still running (the runner was killed before its after() hooks): each line of
  # the file is "<pid> <port>"; every meter leads its own process group.
  if [ -f "$S4100_INTEROP_PIDS" ]; then
    while read -r pid _; do
      kill -KILL -- "-$pid" 2>/dev/null
    done < "$S4100_INTEROP_PIDS"
  fi
  [ -n "$cap_pid" ] && kill -TERM "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
  [ "$state" != "$tmp" ] && rm -rf "$state"
  if [ "$rc" -ne 0 ] && [ -z "${INTEROP_KEEP:-}" ]; then
    echo "e2e_interop: failed; capture and logs in $tmp" >&2
  elif [ -z "${INTEROP_KEEP:-}" ]; then
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# npm packages from the lockfile, when missing.
if [ ! -f "$interop/node_modules/@bacnet-js/client/package.json" ]; then
  echo "== npm ci (tests/interop)"
  npm ci --prefix "$interop" --no-audit --no-fund --loglevel=error || fail "npm ci failed"
fi

echo "== capture on lo, udp ports $ports -> $pcap"
dumpcap -q -i lo -f "udp portrange $ports" -w "$pcap" >"$tmp/dumpcap.log" 2>&1 &
cap_pid=$!
for _ in $(seq 100); do
  grep -q "Capturing on" "$tmp/dumpcap.log" 2>/dev/null && break
  kill -0 "$cap_pid" 2>/dev/null || { cat "$tmp/dumpcap.log" >&2; fail "dumpcap did not start (root needed)"; }
  sleep 0.1
done
grep -q "Capturing on" "$tmp/dumpcap.log" || { cat "$tmp/dumpcap.log" >&2; fail "dumpcap not capturing"; }

echo "== node --test (tests/interop/*.test.mjs), $(node --version)"
args=(--test --test-reporter=spec)
node --help 2>/dev/null | grep -q -- '--test-concurrency' && args+=(--test-concurrency=1)
start=$(date +%s)
(
  cd "$interop" || exit 1
  TMPDIR="$tmp" exec setsid -w timeout -k 10 "$budget" node "${args[@]}" ./*.test.mjs
) > "$tmp/node.log" 2>&1 &
node_pid=$!
wait "$node_pid"
node_rc=$?
node_pid=""
elapsed=$(( $(date +%s) - start ))
# Failures in full, then node's summary lines.
if [ "$node_rc" -ne 0 ]; then
  sed -n '/failing tests:/,$p' "$tmp/node.log"
  [ "$node_rc" -eq 124 ] && echo "e2e_interop: node --test killed after ${budget}s" >&2
fi
grep -E '^(ℹ|#) (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$tmp/node.log"
echo "node --test: exit $node_rc in ${elapsed}s"

sleep 0.5
kill -TERM "$cap_pid" 2>/dev/null
wait "$cap_pid" 2>/dev/null
cap_pid=""

echo "== tshark: every packet decoded as BACnet/IP, nothing malformed, no expert warning"
decode=(-d "udp.port==$ports,bvlc")
problems=$(tshark -r "$pcap" "${decode[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>"$tmp/tshark.err")
[ -s "$tmp/tshark.err" ] && grep -v 'Running as user "root"' "$tmp/tshark.err" >&2
total=$(tshark -r "$pcap" "${decode[@]}" -Y 'bacapp' 2>/dev/null | wc -l)
meter_ports=$(awk '{print $2}' "$S4100_INTEROP_PIDS" 2>/dev/null | sort -u | paste -sd, -)
[ -n "$meter_ports" ] || meter_ports="0"
from_meter="bacapp && udp.srcport in {$meter_ports}"
sent=$(tshark -r "$pcap" "${decode[@]}" -Y "$from_meter" 2>/dev/null | wc -l)
echo "captured: $total BACnet APDUs, $sent from the meter (ports $meter_ports); by APDU type:"
tshark -r "$pcap" "${decode[@]}" -Y "$from_meter" -T fields -e bacapp.type 2>/dev/null |
  sort | uniq -c | awk '{split("confirmed unconfirmed simple-ack complex-ack segment-ack error reject abort", n, " "); printf "  %-12s %d\n", n[$2+1], $1}'

tshark_rc=0
if [ -n "$problems" ]; then
  echo "tshark found problems:"
  echo "$problems" | head -50
  echo "details of the first ones:"
  tshark -r "$pcap" "${decode[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning' -V 2>&1 | head -150
  tshark_rc=1
fi
not_bvlc=$(tshark -r "$pcap" "${decode[@]}" -Y 'udp && !bvlc' 2>/dev/null | wc -l)
if [ "$not_bvlc" -ne 0 ]; then
  echo "e2e_interop: $not_bvlc UDP datagrams that do not decode as BVLC:" >&2
  tshark -r "$pcap" "${decode[@]}" -Y 'udp && !bvlc' 2>/dev/null | head -20 >&2
  tshark_rc=1
fi
if [ "$sent" -lt "$min_meter_pdus" ]; then
  echo "e2e_interop: only $sent BACnet APDUs from the meter captured (expected >= $min_meter_pdus)" >&2
  tshark_rc=1
fi

if [ "$node_rc" -ne 0 ] || [ "$tshark_rc" -ne 0 ]; then
  echo "e2e_interop: FAILED (node exit $node_rc, tshark check $([ $tshark_rc -eq 0 ] && echo clean || echo failed))"
  exit 1
fi
echo "e2e_interop: passed (${elapsed}s of tests, capture clean)"
