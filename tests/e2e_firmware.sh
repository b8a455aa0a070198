#!/bin/bash
# The firmware end to end, as a BMS would see it: the image (src/port/mps2, built here
# in a temporary tree by scripts/firmware.sh) runs under qemu-system-arm -M mps2-an386
# with its MS/TP UART on a pty; the project's test master (tests/mstp_master.c) joins its
# ring and reads and writes it over MS/TP, through a tap on the line (a relay between
# QEMU's pty and the master's, written here) that records both directions as a pcap
# (link type 165) for tshark: BACnet MS/TP with good CRCs and nothing malformed. The
# meter's raw output (QEMU's chardev log) must be whole frames back to back. The readings match the host engine's on the
# same load (s4100 measure on scenarios/default.ini), and a second boot on the same flash
# file comes back with the identity and settings written before (NV through semihosting);
# the flash's self-test runs on the target first.
# Skipped (77) without qemu-system-arm or arm-none-eabi-gcc. Temporary directory, no ports.
# Usage: e2e_firmware.sh <s4100 binary> <repo root>
set -euo pipefail
bin=$1
root=$2
master=$(dirname "$bin")/tests/mstp_master
for t in qemu-system-arm arm-none-eabi-gcc; do
    command -v $t >/dev/null || { echo "$t missing: skipped"; exit 77; }
done
for t in tshark python3; do
    command -v $t >/dev/null || { echo "$t missing: run scripts/install-interop-deps.sh"; exit 1; }
done
tmp=$(mktemp -d)
fw=
stop_fw() {
    if [ -n "$fw" ]; then kill -TERM "$fw" 2>/dev/null || true; wait "$fw" 2>/dev/null || true; fi
    fw=
}
cleanup() { stop_fw; if [ -n "${S4100_KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
pass=0
fails=0
check() { # check CONDITION-STATUS WHAT
    if [ "$1" -eq 0 ]; then echo "ok - $2"; pass=$((pass + 1)); else echo "FAIL - $2"; fails=$((fails + 1)); fi
}
export S4100_FW_BUILD=$tmp/build

if ! "$root/scripts/firmware.sh" >"$tmp/build.out" 2>&1; then
    cat "$tmp/build.out"
    echo "FAIL - the firmware image does not build"
    exit 1
fi
tail -2 "$tmp/build.out"

# The emulated flash under the NV format, on the target (src/port/mps2/selftest.c).
rc=0
timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial null \
    -semihosting-config enable=on,target=native -kernel "$S4100_FW_BUILD/s4100-fw.elf" \
    -append selftest >"$tmp/selftest.out" 2>&1 || rc=$?
grep -v ': ok - ' "$tmp/selftest.out" || true
check $(( rc == 0 && $(grep -c 'selftest: PASS' "$tmp/selftest.out") == 1 ? 0 : 1 )) \
    "flash self-test on the target: NOR rules, a ring's laps keep TL_BUFFER_SIZE records"

# Start the image; wait (bounded: real I/O) for its pty and for its start-up I-Am, which
# it sends as sole master before anyone joins (the test master takes the first NPDU after
# joining as its first answer).
start_fw() { # start_fw OUT [firmware.sh options]
    local out=$1
    shift
    "$root/scripts/firmware.sh" --qemu --pty "$tmp/meter" --nv "$tmp/nv.bin" "$@" >"$out" 2>&1 &
    fw=$!
    for _ in $(seq 300); do
        [ -e "$tmp/meter" ] && [ -s "$tmp/tx.raw" ] &&
            python3 -c "import sys; sys.exit(b'\x55\xff\x06\xff' not in open(sys.argv[1], 'rb').read())" \
                "$tmp/tx.raw" && return 0
        kill -0 "$fw" 2>/dev/null || break
        sleep 0.1
    done
    cat "$out"
    return 1
}
rc=0
start_fw "$tmp/fw1.out" --mac 5 --device 1234 --max-master 10 --tx-log "$tmp/tx.raw" || rc=$?
check $rc "the image boots under QEMU and announces itself on its MS/TP pty"
[ $rc -eq 0 ] || exit 1

# The tap: QEMU's UART hands the host one octet per write, so a reader descheduled inside
# a frame would see a gap that was never on the wire, and the test master aborts a frame
# after 60 bit times (1.6 ms) of it. The tap passes the meter's octets on a whole frame at
# a time, as they lie on a wire (the master's go through as they come: the firmware's
# Tframe_abort is 100 ms), and records every frame of both directions with its time.
cat >"$tmp/tap.py" <<'PY'
import os, select, signal, struct, sys, time, tty
meter_path, link, pcap_path = sys.argv[1:4]
meter = os.open(meter_path, os.O_RDWR | os.O_NOCTTY)
tty.setraw(meter)
pm, ps = os.openpty()
tty.setraw(ps)
os.symlink(os.ttyname(ps), link)
pcap = open(pcap_path, 'wb')
pcap.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 165))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))

class Frames:
    """MS/TP framing of one direction: whole frames out, anything else octet by octet."""
    def __init__(self):
        self.buf = b''
    def feed(self, data):
        self.buf += data
        out = []
        while self.buf:
            if self.buf[0] != 0x55 or (len(self.buf) > 1 and self.buf[1] != 0xFF):
                out.append((False, self.buf[:1]))
                self.buf = self.buf[1:]
                continue
            if len(self.buf) < 8:
                break
            n = self.buf[5] << 8 | self.buf[6]
            size = 8 + (n + 2 if n else 0)
            if len(self.buf) < size:
                break
            out.append((True, self.buf[:size]))
            self.buf = self.buf[size:]
        return out

def record(frame):
    t = time.time()
    pcap.write(struct.pack('<IIII', int(t), int(t % 1 * 1e6), len(frame), len(frame)) + frame)
    pcap.flush()

up, down = Frames(), Frames()
try:
    while True:
        r, _, _ = select.select([meter, pm], [], [])
        if meter in r:
            for whole, part in up.feed(os.read(meter, 4096)):
                os.write(pm, part)
                if whole:
                    record(part)
        if pm in r:
            data = os.read(pm, 4096)
            os.write(meter, data)
            for whole, part in down.feed(data):
                if whole:
                    record(part)
finally:
    os.unlink(link)
PY
python3 "$tmp/tap.py" "$tmp/meter" "$tmp/line" "$tmp/line.pcap" &
tap=$!
for _ in $(seq 50); do [ -e "$tmp/line" ] && break; sleep 0.1; done

rc=0
timeout 120 "$master" "$tmp/line" 38400 0 5 1234 >"$tmp/master.out" 2>&1 || rc=$?
cat "$tmp/master.out"
kill -TERM $tap 2>/dev/null || true
wait $tap 2>/dev/null || true
# The master's checks all pass, but for one allowance: QEMU runs on a shared host, and a
# descheduled QEMU (not the firmware: its longest feed, cycle and NV work included, is
# on its status line) can hold an answer past the master's Treply_timeout, which costs
# that one read. Up to two such reads may be missing from the master's 226 name reads,
# provided the capture shows the meter answered every request (checked below).
names=$(sed -n 's/^# read \([0-9]*\) object names/\1/p' "$tmp/master.out")
others=$(grep '^FAIL' "$tmp/master.out" | grep -v -e 'Object_Name of every object' \
         -e 'no reply timeouts, no invalid frames' | wc -l || true)
read -r tokens invalid timeouts < <(sed -n 's/^# master: \([0-9]*\) tokens, [0-9]* lost, \([0-9]*\) invalid frames, \([0-9]*\) reply timeouts.*/\1 \2 \3/p' "$tmp/master.out")
if [ $rc -eq 0 ]; then
    check 0 "the test master's checks over MS/TP against the firmware"
else
    check $(( others == 0 && ${names:-0} >= 111 && ${invalid:-1} == 0 && ${timeouts:-3} <= 2 ? 0 : 1 )) \
        "the test master's checks over MS/TP (all but ${names:-?}/113 names read: answers held up by the host)"
fi

# The readings: the firmware's synthetic front end against the host's default scenario.
# The firmware prints its readings every 5 s of its clock: wait for one (bounded).
for _ in $(seq 200); do grep -q 'readings cycle' "$tmp/fw1.out" && break; sleep 0.1; done
"$bin" measure --scenario "$root/scenarios/default.ini" --seconds 5 --json 2>/dev/null | tail -1 >"$tmp/host.json"
rc=0
python3 - "$tmp/fw1.out" "$tmp/host.json" <<'PY' || rc=$?
import json, re, sys
line = [l for l in open(sys.argv[1]) if 'readings cycle' in l][-1]
fw = dict(re.findall(r'(\w+)=(-?[0-9.]+)', line))
host = json.load(open(sys.argv[2]))
bad = []
fw.pop('KWh_Import', None)  # a register: it depends on how long each ran
for k, v in fw.items():
    h = host[k.replace('Current_Average', 'Current Average')]
    tol = 0.002 if k == 'PF_Total' else 1e-3 * abs(h) + 0.002
    print('#', k, 'firmware', v, 'host', h)
    if abs(float(v) - h) > tol:
        bad.append(k)
sys.exit(1 if bad or len(fw) < 8 else 0)
PY
check $rc "readings match s4100 measure on scenarios/default.ini (0.1 %)"
grep 's4100-fw: [0-9]* s:' "$tmp/fw1.out" | tail -1 || true
stop_fw
check $([ ! -e "$tmp/meter" ] && echo 0 || echo 1) "SIGTERM stops QEMU and removes the pty link"

# What the meter sent, raw: frames back to back, nothing between them.
rc=0
python3 - "$tmp/tx.raw" <<'PY' || rc=$?
import sys
d = open(sys.argv[1], 'rb').read()
i = n = junk = 0
while i + 8 <= len(d):
    if d[i] != 0x55 or d[i + 1] != 0xFF:
        i += 1; junk += 1; continue
    ln = d[i + 5] << 8 | d[i + 6]
    size = 8 + (ln + 2 if ln else 0)
    if i + size > len(d):
        break  # the last frame, cut by the stop
    i += size; n += 1
print('# %d frames from the meter, %d octets outside frames' % (n, junk))
sys.exit(1 if junk else 0)
PY
check $rc "the meter's output is whole MS/TP frames back to back"
frames=$(tshark -r "$tmp/line.pcap" 2>/dev/null | wc -l)
bad=$(tshark -r "$tmp/line.pcap" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null | wc -l)
apdus=$(tshark -r "$tmp/line.pcap" -Y bacapp 2>/dev/null | wc -l)
nonmstp=$(tshark -r "$tmp/line.pcap" -Y '!mstp' 2>/dev/null | wc -l)
if [ "$frames" -gt 200 ] && [ "$bad" -eq 0 ] && [ "$apdus" -gt 150 ] && [ "$nonmstp" -eq 0 ]; then
    check 0 "tshark: $frames BACnet MS/TP frames on the line ($apdus APDUs), CRCs good, nothing malformed"
else
    check 1 "tshark: $frames frames, $apdus APDUs, $nonmstp not MS/TP, $bad with problems"
    tshark -r "$tmp/line.pcap" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null | head -5
fi
echo "# frame types: $(tshark -r "$tmp/line.pcap" -T fields -e mstp.frame_type 2>/dev/null | sort | uniq -c | tr '\n' ' ')"
# Every request the master sent on the line was answered by the meter, in order.
rc=0
tshark -r "$tmp/line.pcap" -T fields -e frame.time_epoch -e mstp.frame_type -e mstp.dst -e mstp.src \
    2>/dev/null >"$tmp/frames.txt"
python3 - "$tmp/frames.txt" <<'PY' || rc=$?
import sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l]
asked = answered = 0
lat = []
pending = None
for t, ty, dst, src in rows:
    if src == '0' and dst == '5' and ty in ('3', '5'):   # Test_Request, Data Expecting Reply
        asked += 1
        pending = float(t)
    elif src == '5' and dst == '0' and ty in ('4', '6', '7') and pending is not None:
        answered += 1
        lat.append(float(t) - pending)
        pending = None
lat.sort()
print('# %d requests, %d answered; reply time at the tap: median %.1f ms, max %.1f ms'
      % (asked, answered, 1000 * lat[len(lat) // 2] if lat else 0, 1000 * lat[-1] if lat else 0))
sys.exit(0 if asked >= 200 and answered == asked else 1)
PY
check $rc "every request on the line answered by the meter"

# A second boot on the same flash file, without options: what was written is kept.
rm -f "$tmp/tx.raw"
rc=0
start_fw "$tmp/fw2.out" --tx-log "$tmp/tx.raw" || rc=$?
stop_fw
cat "$tmp/fw2.out"
grep -q 'NV .*: loaded, .*power-up 2' "$tmp/fw2.out" && grep -q 'device 1234, MS/TP MAC 5, 38400 baud, Max_Master 10' "$tmp/fw2.out" || rc=1
grep -qa 'RS-485 ln' "$tmp/nv.bin" || rc=1
# The energy counted in the first run is kept: at least what its last reading showed
# (a checkpoint every second; the reading was printed before the stop).
kwh=$(sed -n 's/.*power-up 2, \([0-9.]*\) kWh imported.*/\1/p' "$tmp/fw2.out")
last=$(grep 'readings cycle' "$tmp/fw1.out" | tail -1 | sed -n 's/.*KWh_Import=\([0-9.]*\).*/\1/p')
python3 -c "import sys; k, l = (float(x or 0) for x in sys.argv[1:3]); sys.exit(0 if l > 0 and k >= l else 1)" \
    "${kwh:-}" "${last:-}" || rc=1
check $rc "a second boot loads the flash file: power-up 2, device 1234 at MAC 5, ${kwh:-?} kWh (>= ${last:-?}), the written Location kept"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
