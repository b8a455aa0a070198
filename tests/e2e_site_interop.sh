#!/bin/bash
# Interop through the router of `s4100 site` (issue 12): a site of three MS/TP trunks at
# 9600, 38400 and 76800 baud (11 meters) behind its BACnet router, in real time, driven
# over loopback BACnet/IP by the third-party client @bacnet-js/client
# (tests/interop/site.test.mjs: discovery, Who-Is ranges and remote broadcasts, Who-Has,
# RP/RPM/WP/ReadRange to meters on every trunk, Who-Is-Router-To-Network, Rejects, the
# router's Device and Network_Port objects). Every B/IP datagram (dumpcap on lo, by port)
# and every MS/TP frame of two trunks (the site's --pcap) is then decoded by tshark:
# nothing malformed, no expert warning, and the network messages are where they belong.
#
#   bash tests/e2e_site_interop.sh <path-to-s4100> <repo-root>
#
# Needs node, tshark and dumpcap (scripts/install-interop-deps.sh) and capture rights on
# lo. Loopback only, on two UDP ports claimed for this run (tests/interop/tools/ports.sh).
set -uo pipefail

bin=$(realpath "${1:?usage: e2e_site_interop.sh <s4100> <repo-root>}")
root=$(realpath "${2:?usage: e2e_site_interop.sh <s4100> <repo-root>}")
interop="$root/tests/interop"
budget=${SITE_INTEROP_TIMEOUT:-240} # a safety net for node; the tests take ~30 s

fail() { echo "e2e_site_interop: $*" >&2; exit 1; }
for tool in node tshark dumpcap; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/install-interop-deps.sh"
done
[ -f "$interop/node_modules/@bacnet-js/client/package.json" ] ||
  fail "npm ci in tests/interop first (scripts/install-interop-deps.sh)"

# shellcheck source=interop/tools/ports.sh
source "$interop/tools/ports.sh"
# (ports.sh's `exec {fd}>>LOCK 2>/dev/null` leaves the shell's stderr on /dev/null: keep
# ours.)
exec {stderr}>&2
s4100_claim_ports 2
claimed=$?
exec 2>&"$stderr" {stderr}>&-
[ "$claimed" -eq 0 ] || fail "no UDP ports"
rport=$PORT_BASE        # the router's B/IP port
cport=$((PORT_BASE + 1)) # the client's: where the router's broadcasts go

tmp=$(mktemp -d "${TMPDIR:-/tmp}/s4100-site-interop.XXXXXX")
site_pid=""
cap_pid=""
cleanup() {
  local rc=$?
  [ -n "$site_pid" ] && kill -KILL "$site_pid" 2>/dev/null
  [ -n "$cap_pid" ] && kill -TERM "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
  if [ "$rc" -ne 0 ] || [ -n "${INTEROP_KEEP:-}" ]; then
    echo "e2e_site_interop: captures and logs kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The meters' load: steady (277 V, 50 A, PF 0.9, 60 Hz), and sync-to-comms (AV11 = 0)
# so that a trend record is made when a client writes AV1 = 21211, not by the clock.
awk '/^\[signal\]/ { print "[meter]\nsubinterval_cs = 0\n" } { print }' "$interop/steady.ini" >"$tmp/meter.ini"
# Small Max_Master values: each ring forms in a fraction of a second. The test reads
# its expectations from this file (tests/interop/lib/site.mjs, docs/site.md's rules).
cat >"$tmp/site.ini" <<'INI'
; the interop site: three trunks, a different baud rate each
[site]
name = interop site
router_instance = 4194010
bip_network = 5
profile = meter.ini

[trunk 10]
baud = 9600
max_master = 4
meters = 1-3

[trunk 20]
baud = 38400
max_master = 8
meters = 2, 4, 5, 7
serial_prefix = T20-

[trunk 30]
baud = 76800
router_mac = 3
max_master = 15
meters = 1, 2, 9, 15
instance_base = 300000

[meter 30:9]
instance = 777009
serial = FLOOR3-EAST
INI

pcap="$tmp/bip.pcapng"
echo "== capture on lo, udp ports $rport-$cport"
dumpcap -q -i lo -f "udp portrange $rport-$cport" -w "$pcap" >"$tmp/dumpcap.log" 2>&1 &
cap_pid=$!
for _ in $(seq 100); do
  grep -q "Capturing on" "$tmp/dumpcap.log" 2>/dev/null && break
  kill -0 "$cap_pid" 2>/dev/null || { cat "$tmp/dumpcap.log" >&2; fail "dumpcap did not start (root needed)"; }
  sleep 0.1
done
grep -q "Capturing on" "$tmp/dumpcap.log" || fail "dumpcap not capturing"

echo "== s4100 site: router on 127.0.0.1:$rport, broadcasts to 127.255.255.255:$cport"
"$bin" site "$tmp/site.ini" --bip-port "$rport" --broadcast "127.255.255.255:$cport" \
  --control "$tmp/ctl" --pcap 10="$tmp/t10.pcap" --pcap 30="$tmp/t30.pcap" --quiet \
  >"$tmp/site.out" 2>&1 &
site_pid=$!
for _ in $(seq 100); do
  [ -S "$tmp/ctl" ] && break
  kill -0 "$site_pid" 2>/dev/null || { cat "$tmp/site.out" >&2; fail "s4100 site exited"; }
  sleep 0.1
done
[ -S "$tmp/ctl" ] || fail "s4100 site: no control socket"

echo "== node --test tests/interop/site.test.mjs, $(node --version)"
start=$(date +%s%N)
(
  cd "$interop" || exit 1
  S4100_SITE_FILE="$tmp/site.ini" S4100_SITE_ROUTER_PORT="$rport" S4100_SITE_CLIENT_PORT="$cport" S4100_SITE_CONTROL="$tmp/ctl" \
    TZ=UTC exec timeout -k 5 "$budget" node --test --test-reporter=spec ./site.test.mjs
) >"$tmp/node.log" 2>&1
node_rc=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
# The spec reporter's tree (todo tests show as ✖ with "# ..."; they do not fail the run),
# then the failures in full.
sed -n '/failing tests:/q; /^\s*[✔✖﹣▶ℹ]/p' "$tmp/node.log"
[ "$node_rc" -ne 0 ] && sed -n '/^✖ failing tests:/,$p' "$tmp/node.log"
echo "node --test: exit $node_rc in $elapsed ms"

"$bin" ctl --control "$tmp/ctl" status >"$tmp/status.json" 2>&1
echo "site: $(cat "$tmp/status.json")"
kill -TERM "$site_pid"
wait "$site_pid"
site_rc=$?
site_pid=""
sleep 0.3
kill -TERM "$cap_pid" 2>/dev/null
wait "$cap_pid" 2>/dev/null
cap_pid=""

checks=0
bad=0
ok() { echo "ok - $*"; checks=$((checks + 1)); }
no() { echo "FAIL - $*"; bad=$((bad + 1)); }
[ "$site_rc" -eq 0 ] && ok "s4100 site stopped cleanly" || no "s4100 site exit $site_rc: $(tail -5 "$tmp/site.out")"

echo "== tshark: BACnet/IP ($pcap)"
decode=(-d "udp.port==$rport-$cport,bvlc")
ts() { tshark -r "$1" "${@:2}" 2>/dev/null; }
problems='_ws.malformed || _ws.expert.severity >= warning'
total=$(ts "$pcap" "${decode[@]}" -Y udp | wc -l)
bvlc=$(ts "$pcap" "${decode[@]}" -Y bvlc | wc -l)
apdus=$(ts "$pcap" "${decode[@]}" -Y bacapp | wc -l)
netmsgs=$(ts "$pcap" "${decode[@]}" -Y 'bacnet.control_net == 1' | wc -l)
echo "captured: $total datagrams, $apdus BACnet APDUs, $netmsgs network-layer messages; APDU types:"
ts "$pcap" "${decode[@]}" -Y bacapp -T fields -e bacapp.type | sort | uniq -c |
  awk '{split("confirmed unconfirmed simple-ack complex-ack segment-ack error reject abort", n, " "); printf "  %-12s %d\n", n[$2+1], $1}'
out=$(ts "$pcap" "${decode[@]}" -Y "$problems")
[ -z "$out" ] && ok "B/IP: nothing malformed, no expert warning in $total datagrams" ||
  no "B/IP problems:
$(echo "$out" | head -20)
$(ts "$pcap" "${decode[@]}" -Y "$problems" -V | head -80)"
[ "$total" -gt 150 ] && [ "$bvlc" -eq "$total" ] && [ $((apdus + netmsgs)) -eq "$total" ] &&
  ok "B/IP: all $total datagrams decode as BVLC with a BACnet NPDU ($apdus APDUs + $netmsgs network messages)" ||
  no "B/IP: $total datagrams, $bvlc BVLC, $apdus APDUs + $netmsgs network messages (expected all, > 150)"
# The router announces itself at start: its I-Am and an I-Am-Router-To-Network with every
# trunk, both broadcast, before the client was listening (dumpcap saw them).
first=$(ts "$pcap" "${decode[@]}" -Y "udp.srcport == $rport && bacnet.mesgtyp == 1" -T fields -e bvlc.function -e bacnet.dnet | head -1)
[ "$first" = "$(printf '0x0b\t10,20,30')" ] &&
  ok "start-up I-Am-Router-To-Network: Original-Broadcast, networks 10,20,30" ||
  no "start-up I-Am-Router-To-Network: got '$first', want '0x0b<TAB>10,20,30'"
rej=$(ts "$pcap" "${decode[@]}" -Y "udp.srcport == $rport && bacnet.mesgtyp == 3" -T fields -e bacnet.rejectreason -e bacnet.dnet | sort -u | paste -sd' ')
[ "$rej" = "$(printf '1\t999')" ] &&
  ok "Reject-Message-To-Network: reason 1 for network 999 only, as tshark reads it" || no "Rejects: '$rej'"

for net in 10 30; do
  f="$tmp/t$net.pcap"
  echo "== tshark: MS/TP trunk $net ($f)"
  frames=$(ts "$f" | wc -l)
  mstp=$(ts "$f" -Y mstp | wc -l)
  data=$(ts "$f" -Y 'mstp.frame_type == 5 || mstp.frame_type == 6' | wc -l)
  npdus=$(ts "$f" -Y '(mstp.frame_type == 5 || mstp.frame_type == 6) && bacnet' | wc -l)
  echo "captured: $frames frames; by type:"
  ts "$f" -T fields -e mstp.frame_type | sort -n | uniq -c | awk '{
    split("token poll-for-master reply-to-pfm test-request test-response data-expecting-reply data-not-expecting-reply reply-postponed", n, " ");
    printf "  %-26s %d\n", n[$2+1], $1}'
  out=$(ts "$f" -Y "$problems")
  [ -z "$out" ] && ok "trunk $net: nothing malformed, no expert warning (bad CRC included) in $frames frames" ||
    no "trunk $net problems:
$(echo "$out" | head -20)
$(ts "$f" -Y "$problems" -V | head -80)"
  [ "$frames" -gt 500 ] && [ "$mstp" -eq "$frames" ] && [ "$data" -gt 10 ] && [ "$npdus" -eq "$data" ] &&
    ok "trunk $net: all $frames frames decode as MS/TP, all $data data frames as BACnet NPDUs" ||
    no "trunk $net: $frames frames, $mstp MS/TP, $data data frames, $npdus with an NPDU"
  # The router forwarded the Who-Is-Router-To-Network for the unknown network 999 onto
  # every other port with the asker's SNET/SADR (B/IP network 5, the client's address).
  fwd=$(ts "$f" -Y 'bacnet.mesgtyp == 0 && bacnet.dnet == 999' -T fields -e mstp.src -e bacnet.snet -e bacnet.slen | sort -u | paste -sd' ')
  router_mac=$([ "$net" = 30 ] && echo 3 || echo 0)
  [ "$fwd" = "$(printf '%s\t\t %s\t5\t6' "$router_mac" "$router_mac")" ] &&
    ok "trunk $net: Who-Is-Router-To-Network 999 from the router (MAC $router_mac): its own (no SNET, for the unknown DNET of a request) and the client's passed on (SNET 5, 6-octet SADR)" ||
    no "trunk $net: forwarded Who-Is-Router 999: got '$fwd'"
done

echo "e2e_site_interop: node exit $node_rc, $checks capture checks passed, $bad failed"
[ "$node_rc" -eq 0 ] && [ "$bad" -eq 0 ]
