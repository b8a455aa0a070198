#!/bin/bash
# Issue 14, as a BMS reaches the firmware: the image (src/port/mps2, built here by
# scripts/firmware.sh) runs under qemu-system-arm with its MS/TP UART on a pty; `s4100
# site` puts that line on one of its trunks (network 20, no meters of its own there) and a
# host meter on a virtual trunk (network 10) running the same load; the third-party
# client @bacnet-js/client reads every object of both through the router over loopback
# B/IP (tests/interop/firmware.test.mjs) and compares them. The site captures the
# firmware's trunk (--pcap 20=FILE) and tshark decodes it: BACnet MS/TP with good CRCs,
# nothing malformed, the firmware's ReadProperty(Multiple) ACKs in it.
#
#   bash tests/e2e_firmware_interop.sh <path-to-s4100> <repo-root>
#
# Skipped (77) without qemu-system-arm, arm-none-eabi-gcc, node or tshark. Loopback only,
# on two UDP ports claimed for this run (tests/interop/tools/ports.sh); a temporary
# directory; every process it starts (QEMU included) is stopped on any exit.
# S4100_FW_BUILD: the firmware's build tree (default: one in the temporary directory).
set -uo pipefail

bin=$(realpath "${1:?usage: e2e_firmware_interop.sh <s4100> <repo-root>}")
root=$(realpath "${2:?usage: e2e_firmware_interop.sh <s4100> <repo-root>}")
interop="$root/tests/interop"
budget=${FW_INTEROP_TIMEOUT:-480} # a safety net for node; the test takes ~1-2 min

for tool in qemu-system-arm arm-none-eabi-gcc node tshark; do
  command -v "$tool" >/dev/null || { echo "e2e_firmware_interop: $tool missing: skipped"; exit 77; }
done
fail() { echo "e2e_firmware_interop: $*" >&2; exit 1; }
command -v python3 >/dev/null || fail "python3 not found"
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
rport=$PORT_BASE         # the router's B/IP port
cport=$((PORT_BASE + 1)) # the client's: where the router's broadcasts go

tmp=$(mktemp -d "${TMPDIR:-/tmp}/s4100-fw-interop.XXXXXX")
fw_pid="" qemu_pid="" site_pid=""
stop() { # stop PID...: TERM, a bounded wait, then KILL
  local p
  for p in "$@"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    local alive=0
    for p in "$@"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for p in "$@"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
  for p in "$@"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
  return 0
}
cleanup() {
  local rc=$?
  # (QEMU by its own pid too: firmware.sh stops it on TERM, but not if it died first.)
  stop "$site_pid" "$fw_pid" "$qemu_pid"
  if [ "$rc" -ne 0 ] || [ -n "${INTEROP_KEEP:-}" ]; then
    echo "e2e_firmware_interop: captures and logs kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export S4100_FW_BUILD=${S4100_FW_BUILD:-$tmp/fw-build}
echo "== the firmware image ($S4100_FW_BUILD)"
"$root/scripts/firmware.sh" >"$tmp/build.out" 2>&1 || { cat "$tmp/build.out"; fail "the firmware does not build"; }
tail -1 "$tmp/build.out"

# The host meter's load: what src/port/mps2/gen.c synthesizes, which is the steady part
# of scenarios/default.ini — its [meter] (480Y/277 V, 200 A CTs: what main.c's factory()
# commissions) and [signal] (60 Hz; 277/276/278.5 V; 40/37/40 A at PF 0.92 lagging; 1.5 %
# vh5, 6 % ih5, 3 % ih7; a 100 ms pulse every 4 s) — without its 0.02 % noise, which
# gen.c leaves out, and without its [at ...] events (gen.c stays on the first hours'
# load); its [scenario] section goes too: time_scale, loop and seed only shape the
# event timeline and the noise.
awk '
  /^\[/ { keep = ($0 ~ /^\[(meter|signal)\]/) }
  keep && !/^noise[ \t]*=/ { print }
' "$root/scenarios/default.ini" >"$tmp/meter.ini"
for k in 'system_type = 40' 'ct_primary = 200' 'frequency = 60' 'ih7 = 3' 'pulse_rate = 0.25'; do
  grep -qx "$k" "$tmp/meter.ini" || fail "scenarios/default.ini changed: no '$k' (gen.c and this test follow it)"
done
! grep -q '^noise\|^\[at\|^\[scenario' "$tmp/meter.ini" || fail "the derived scenario still has noise or events"

# The firmware: MAC 1 and Max_Master 4 on network 20 (as the site's trunk), Device
# 20001 (the site's rule, network x 1000 + MAC); its flash in RAM, a new store as the
# host meter's under nv_dir: both start at power-up 1.
FW_NET=20 FW_MAC=1 FW_DEVICE=20001 MAX_MASTER=4
echo "== the firmware under QEMU: MS/TP MAC $FW_MAC on $tmp/qemu, device $FW_DEVICE"
"$root/scripts/firmware.sh" --qemu --pty "$tmp/qemu" --mac "$FW_MAC" --device "$FW_DEVICE" \
  --max-master "$MAX_MASTER" >"$tmp/fw.out" 2>&1 &
fw_pid=$!
for _ in $(seq 300); do
  [ -L "$tmp/qemu" ] && grep -q 'MS/TP MAC' "$tmp/fw.out" && break
  kill -0 "$fw_pid" 2>/dev/null || break
  sleep 0.1
done
qemu_pid=$(sed -n 's/^firmware.sh: QEMU pid \([0-9]*\),.*/\1/p' "$tmp/fw.out")
grep -q 'MS/TP MAC' "$tmp/fw.out" || { cat "$tmp/fw.out"; fail "the firmware did not start"; }
grep '^s4100-fw: ' "$tmp/fw.out" | head -3

# The site sits on QEMU's pty itself. QEMU's UART model hands each octet to the pty as
# the guest writes it, and the host schedules QEMU as it likes, so a frame reaches the
# site in pieces with silences inside that no wire would show: the site's bridge gathers
# whole frames by their header before putting them on the trunk (lx_line, docs/site.md).
line="$tmp/qemu"

# The site: the firmware's line on network 20 without meters of the site's own (the
# router at MAC 0 and the firmware at MAC 1 are its stations), and the host meter alone on
# network 10, with the firmware's factory serial (so the Device's name and description
# are comparable) and a new NV store.
mkdir -p "$tmp/nv"
cat >"$tmp/site.ini" <<INI
; the firmware interop site (tests/e2e_firmware_interop.sh)
[site]
name = firmware interop
router_instance = 4194020
bip_network = 5
nv_dir = nv

[trunk 10]
max_master = $MAX_MASTER
meters = 1
profile = meter.ini

[meter 10:1]
serial = FW4100000001

[trunk $FW_NET]
max_master = $MAX_MASTER
pty = $line
INI

echo "== s4100 site: router on 127.0.0.1:$rport, broadcasts to 127.255.255.255:$cport; network $FW_NET on $line"
"$bin" site "$tmp/site.ini" --bip-port "$rport" --broadcast "127.255.255.255:$cport" \
  --control "$tmp/ctl" --pcap "$FW_NET=$tmp/t$FW_NET.pcap" --quiet >"$tmp/site.out" 2>&1 &
site_pid=$!
for _ in $(seq 100); do
  [ -S "$tmp/ctl" ] && break
  kill -0 "$site_pid" 2>/dev/null || { cat "$tmp/site.out" >&2; fail "s4100 site exited"; }
  sleep 0.1
done
[ -S "$tmp/ctl" ] || fail "s4100 site: no control socket"

echo "== node --test tests/interop/firmware.test.mjs, $(node --version)"
start=$(date +%s%N)
(
  cd "$interop" || exit 1
  S4100_FW_SITE_FILE="$tmp/site.ini" S4100_FW_ROUTER_PORT="$rport" S4100_FW_CLIENT_PORT="$cport" \
    S4100_FW_DEVICE="$FW_DEVICE" S4100_FW_MAC="$FW_MAC" \
    TZ=UTC exec timeout -k 5 "$budget" node --test --test-reporter=spec ./firmware.test.mjs
) >"$tmp/node.log" 2>&1
node_rc=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
# The test tree and the comparison's lines (# ...), then the failures in full.
sed -n '/failing tests:/q; /^\s*[✔✖﹣▶ℹ#]/p' "$tmp/node.log"
if [ "$node_rc" -ne 0 ]; then
  grep -q '^✖ failing tests:' "$tmp/node.log" && sed -n '/^✖ failing tests:/,$p' "$tmp/node.log" || head -40 "$tmp/node.log"
fi
echo "node --test: exit $node_rc in $elapsed ms"

"$bin" ctl --control "$tmp/ctl" status >"$tmp/status.json" 2>&1
echo "site: $(cat "$tmp/status.json")"
checks=0
bad=0
ok() { echo "ok - $*"; checks=$((checks + 1)); }
no() { echo "FAIL - $*"; bad=$((bad + 1)); }
kill -TERM "$site_pid"
wait "$site_pid"
site_rc=$?
site_pid=""
[ "$site_rc" -eq 0 ] && ok "s4100 site stopped cleanly" || no "s4100 site exit $site_rc: $(tail -5 "$tmp/site.out")"
grep 's4100-fw: [0-9]* s:' "$tmp/fw.out" | tail -1
stop "$fw_pid"
fw_pid=""
if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then no "QEMU $qemu_pid still running after firmware.sh stopped"; else ok "firmware.sh stopped QEMU"; fi
qemu_pid=""

f="$tmp/t$FW_NET.pcap"
echo "== tshark: MS/TP network $FW_NET, the firmware's trunk ($f)"
ts() { tshark -r "$f" "$@" 2>/dev/null; }
frames=$(ts | wc -l)
mstp=$(ts -Y mstp | wc -l)
data=$(ts -Y 'mstp.frame_type == 5 || mstp.frame_type == 6' | wc -l)
npdus=$(ts -Y '(mstp.frame_type == 5 || mstp.frame_type == 6) && bacnet' | wc -l)
echo "captured: $frames frames; by type:"
ts -T fields -e mstp.frame_type | sort -n | uniq -c | awk '{
  split("token poll-for-master reply-to-pfm test-request test-response data-expecting-reply data-not-expecting-reply reply-postponed", n, " ");
  printf "  %-26s %d\n", ($2 == "" ? "(not MS/TP)" : $2 > 7 ? "type " $2 " (garbled)" : n[$2+1]), $1}'
# Nothing malformed, no expert warning (a bad CRC is one) — but where two stations drove
# the wire at once. The trunk is a shared line: a station that answers late (QEMU held
# by the host's scheduler: the firmware answers a token after the router's Tusage_timeout
# and its retry) can meet the next frame there, and the site's bus garbles both, as a
# real line would; each side recovers (Clause 9). Such frames overlap another in the
# capture by octets. A bad frame that overlaps nothing is a fault of its sender; one that
# overlaps its neighbour by a microsecond or two is the bridge's: it put two of the
# line's frames on the trunk back to back but for a rounding. Both fail the test.
problems='_ws.malformed || _ws.expert.severity >= warning'
ts -T fields -e frame.number -e frame.time_epoch -e frame.len >"$tmp/frames.tsv"
ts -Y "$problems" -T fields -e frame.number >"$tmp/bad.txt"
read -r nbad collided abutting lone < <(python3 - "$tmp/frames.tsv" "$tmp/bad.txt" 38400 <<'PY'
import sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l]
bad = {int(l) for l in open(sys.argv[2]).read().split()}
octet = 10.0 / int(sys.argv[3])
span = {int(n): (float(t), float(t) + int(ln) * octet) for n, t, ln in rows}
def overlap(n):  # the longest overlap with a neighbour, seconds (<= 0: none)
    a = span[n]
    return max([min(a[1], span[m][1]) - max(a[0], span[m][0]) for m in (n - 1, n + 1) if m in span] or [0])
kinds = {'collision': [], 'abutting': [], 'lone': []}
for n in sorted(bad):
    o = overlap(n)
    kinds['collision' if o > 2.5e-6 else 'abutting' if o > -1.5e-6 else 'lone'].append(n)
print(len(bad), len(kinds['collision']), ','.join(map(str, kinds['abutting'])) or '-', ','.join(map(str, kinds['lone'])) or '-')
PY
)
if [ "${nbad:-x}" = 0 ]; then
  ok "nothing malformed, no expert warning (bad CRCs included) in $frames frames"
elif [ "${lone:-x}" = - ] && [ "${abutting:-x}" = - ]; then
  ok "nothing malformed, no expert warning in $frames frames but $collided garbled in collisions (two stations on the wire at once: a late answer meeting a retry)"
  ts -Y "$problems" | head -10
else
  no "${nbad:-?} frames with problems; $collided in collisions; garbled where the line's frames were put back to back overlapping by about a microsecond (the site's bridge: serve_pty in src/app/site.c ends an injected transmission at a whole microsecond rounded down): ${abutting:-?}; with no collision: ${lone:-?}
$(ts -Y "$problems" | head -20)
$(ts -Y "$problems" -V | grep -e '^Frame' -e 'Expert Info' | head -40)"
fi
[ "$frames" -gt 500 ] && [ "$mstp" -eq "$frames" ] && [ "$data" -gt 200 ] && [ "$npdus" -eq "$data" ] &&
  ok "all $frames frames decode as BACnet MS/TP, all $data data frames as BACnet NPDUs" ||
  no "$frames frames, $mstp MS/TP, $data data frames, $npdus with an NPDU"
# The firmware's answers (MAC 1 to the router): Complex-ACKs of ReadProperty (12) and
# ReadPropertyMultiple (14), as many as the test asked (Object_List by index, RPM per
# object); nothing the router had to get again.
acks() { ts -Y "mstp.src == $FW_MAC && mstp.dst == 0 && bacapp.type == 3 && bacapp.confirmed_service == $1" | wc -l; }
rp_acks=$(acks 12)
rpm_acks=$(acks 14)
errs=$(ts -Y "mstp.src == $FW_MAC && bacapp.type >= 5" | wc -l)
[ "$rp_acks" -ge 100 ] && [ "$rpm_acks" -ge 100 ] &&
  ok "the firmware's BACnet-APDUs: $rp_acks ReadProperty-ACKs, $rpm_acks ReadPropertyMultiple-ACKs, $errs Error/Reject/Abort" ||
  no "the firmware's ACKs: $rp_acks ReadProperty, $rpm_acks ReadPropertyMultiple (expected >= 100 each)"
asked=$(ts -Y "mstp.src == 0 && mstp.dst == $FW_MAC && mstp.frame_type == 5" | wc -l)
echo "requests to the firmware on the line: $asked; from it: $(ts -Y "mstp.src == $FW_MAC && mstp.frame_type == 6" | wc -l) answers"

echo "e2e_firmware_interop: node exit $node_rc, $checks checks passed, $bad failed"
[ "$node_rc" -eq 0 ] && [ "$bad" -eq 0 ]
