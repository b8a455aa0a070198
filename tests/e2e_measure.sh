#!/bin/bash
# s4100 measure as a test lab drives it: scenarios, CSV and WAV recordings (one at a
# rate that must be resampled), JSON and CSV output, settings, and every kind of bad
# input, which must name the file/line/frame and exit non-zero without crashing.
# Usage: e2e_measure.sh <s4100 binary> <repo root>
set -euo pipefail
bin=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }

# Expect a failure whose message contains a pattern.
expect_error() { # name, pattern, command...
    local name=$1 pat=$2
    shift 2
    local rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -q -- "$pat" "$tmp/err"; then
        ok "$name: exit $rc, '$(head -1 "$tmp/err")'"
    else
        bad "$name: exit $rc, stderr: $(cat "$tmp/err")"
    fi
}

# 1. A scenario: readings against the analytic values of its parameters.
"$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --seconds 5 >"$tmp/s.jsonl"
python3 - "$tmp/s.jsonl" <<'EOF' && ok "scenario balanced-50hz: readings match analytic values" || bad "scenario readings"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 5, len(rows)
assert [r["t"] for r in rows] == [1, 2, 3, 4, 5]
r = rows[-1]
P = 3 * 230 * 50 * 0.9 / 1000
Q = 3 * 230 * 50 * math.sin(math.acos(0.9)) / 1000
def close(a, b, rel): assert abs(a - b) <= rel * abs(b), (a, b)
close(r["KW_Total"], P, 2e-4); close(r["KVAR_Total"], Q, 2e-3); close(r["KVA_Total"], 34.5, 2e-4)
close(r["Volts_AN"], 230, 1e-4); close(r["Volts_AB"], 230 * math.sqrt(3), 1e-4)
close(r["Current Average"], 50, 1e-4); close(r["PF_Total"], 0.9, 1e-4)
close(r["Frequency"], 50, 1e-5)
close(r["Max_Power"], math.sqrt(3) * 400 * 100 / 1000, 1e-6)
assert r["Output_Config"] == 11 and r["Alarm_Bitmap"] == 0
assert r["Reserved_AI28"] is None
# energy: about 5 s of P (the windows lag the tick by under a cycle)
close(r["KWh_Import"], P * 5 / 3600, 0.01)
assert r["KWh_Export"] == 0 and r["KWh_Net"] == r["KWh_Import"]
EOF

# 2. Settings from options override the scenario; QNAN is null; CSV output.
"$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --seconds 2 --system-type 10 >"$tmp/t10.jsonl"
python3 - "$tmp/t10.jsonl" <<'EOF' && ok "--system-type 10: B/C and L-L values are null" || bad "system type 10 nulls"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
for k in ("Volts_BN", "Volts_CN", "Volts_AB", "KW_B", "Current_C", "Volts_LL_Avg"):
    assert r[k] is None, k
assert abs(r["KW_Total"] - 230 * 50 * 0.9 / 1000) < 0.01, r["KW_Total"]
assert abs(r["Max_Power"] - 400 * 100 / 1000) < 1e-6
EOF
"$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --seconds 3 --csv >"$tmp/s.csv"
python3 - "$tmp/s.csv" <<'EOF' && ok "--csv: header of AI names, one row per cycle, QNAN empty" || bad "csv output"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]
assert h[0] == "t" and h[1] == "KWh_Net" and "Current Average" in h and h[-1] == "Alarm_Bitmap"
assert len(h) == 84 and len(rows) == 4
r = dict(zip(h, rows[-1]))
assert r["Reserved_AI28"] == "" and abs(float(r["KW_Total"]) - 31.05) < 0.01
EOF

# 3. A CSV recording with a t column at 5000 S/s (resampled), 60 Hz, export at PF 0.8
#    capacitive on a 3-wire delta with 400 A CTs and a PT: the meter sees primary values.
python3 - "$tmp/rec.csv" <<'EOF'
import math, sys
fs, f, V, I = 5000.0, 60.0, 7200.0, 250.0   # 12.47 kV delta, to the star point
phi = math.pi + (-math.acos(0.8))          # export, current leading
with open(sys.argv[1], "w") as out:
    out.write("# 12.47 kV feeder, exporting\nt,va,vb,vc,ia,ib,ic\n")
    for n in range(int(fs * 6)):
        t = n / fs
        row = [t]
        a = 2 * math.pi * f * t
        row += [math.sqrt(2) * V * math.sin(a - k * 2 * math.pi / 3) for k in range(3)]
        row += [math.sqrt(2) * I * math.sin(a - k * 2 * math.pi / 3 - phi) for k in range(3)]
        out.write(",".join("%.9g" % v for v in row) + "\n")
EOF
"$bin" measure --csv-in "$tmp/rec.csv" --system-type 31 --ct-primary 400 --pt-ratio 60 \
    --system-voltage 12470 >"$tmp/rec.jsonl"
python3 - "$tmp/rec.jsonl" <<'EOF' && ok "CSV recording at 5000 S/s, delta, PT 60: P, Q, V, f" || bad "csv recording"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) >= 5, len(rows)     # 6 s of recording, whole cycles only
r = rows[3]
S = 3 * 7200 * 250 / 1000
def close(a, b, rel): assert abs(a - b) <= rel * abs(b), (a, b)
close(r["KW_Total"], -0.8 * S, 1e-3); close(r["KVAR_Total"], 0.6 * S, 1e-3)  # Q2: P<0, Q>0
close(r["Volts_AB"], 7200 * math.sqrt(3), 1e-3); close(r["Frequency"], 60, 1e-4)
assert r["Volts_AN"] is None and r["Volts_LN_Avg"] is None
assert r["KWh_Export"] > 0 and r["KWh_Import"] == 0 and r["KVARh_Q2"] > 0
EOF

# 4. A 32-bit float WAV at 2520 S/s, 50 Hz split phase (type 12), 120/240 V.
python3 - "$tmp/rec.wav" <<'EOF'
import math, struct, sys
fs, n = 2520, 2520 * 4
data = bytearray()
for k in range(n):
    a = 2 * math.pi * 50 * k / fs
    va, vb = 120 * math.sqrt(2) * math.sin(a), -120 * math.sqrt(2) * math.sin(a)
    ia, ib = 30 * math.sqrt(2) * math.sin(a - 0.5), -20 * math.sqrt(2) * math.sin(a - 0.5)
    data += struct.pack("<6f", va, vb, 0.0, ia, ib, 0.0)
fmt = struct.pack("<HHIIHH", 3, 6, fs, fs * 24, 24, 32)   # WAVE_FORMAT_IEEE_FLOAT
body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
open(sys.argv[1], "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
EOF
"$bin" measure --wav "$tmp/rec.wav" --system-type 12 --system-voltage 240 >"$tmp/wav.jsonl"
python3 - "$tmp/wav.jsonl" <<'EOF' && ok "float WAV, split phase: per-phase and totals" || bad "wav recording"
import json, math, sys
r = [json.loads(l) for l in open(sys.argv[1])][2]
def close(a, b, rel): assert abs(a - b) <= rel * abs(b), (a, b)
close(r["KW_A"], 120 * 30 * math.cos(0.5) / 1000, 2e-4)
close(r["KW_B"], 120 * 20 * math.cos(0.5) / 1000, 2e-4)
close(r["Volts_AB"], 240, 1e-4); close(r["Volts_AN"], 120, 1e-4)
assert r["Volts_CN"] is None and r["KW_C"] is None
EOF

# 5. Bad input: named, non-zero, nothing crashes.
printf '[signal]\nfrequency = 50\nvoltage = abc\n' >"$tmp/bad1.ini"
expect_error "scenario: bad number" "bad1.ini.*3" "$bin" measure --scenario "$tmp/bad1.ini"
printf '[signal]\nfrequency = 50\nwobble = 3\n' >"$tmp/bad2.ini"
expect_error "scenario: unknown key" "bad2.ini.*3" "$bin" measure --scenario "$tmp/bad2.ini"
printf '[meter]\nsystem_type = 41\n' >"$tmp/bad3.ini"
expect_error "scenario: bad system type" "bad3.ini" "$bin" measure --scenario "$tmp/bad3.ini"
expect_error "scenario: missing file" "nope.ini" "$bin" measure --scenario "$tmp/nope.ini"
printf 'va,vb,vc,ia,ib,ic\n1,2,3,4,5,6\n1,2,3,4,5\n' >"$tmp/bad.csv"
expect_error "csv: short line" "bad.csv.*line 3" "$bin" measure --csv-in "$tmp/bad.csv"
printf '1,2,3,4,5,6\n1,2,x,4,5,6\n' >"$tmp/bad2.csv"
expect_error "csv: not a number" "bad2.csv.*line 2" "$bin" measure --csv-in "$tmp/bad2.csv"
printf '1,2,3,4,5,nan\n' >"$tmp/bad3.csv"
expect_error "csv: NaN" "bad3.csv.*line 1" "$bin" measure --csv-in "$tmp/bad3.csv"
python3 -c "
import struct,sys
fmt=struct.pack('<HHIIHH',3,5,2520,2520*20,20,32); d=b'\0'*200
b=b'WAVE'+b'fmt '+struct.pack('<I',len(fmt))+fmt+b'data'+struct.pack('<I',len(d))+d
open(sys.argv[1],'wb').write(b'RIFF'+struct.pack('<I',len(b))+b)" "$tmp/five.wav"
expect_error "wav: 5 channels" "five.wav.*5" "$bin" measure --wav "$tmp/five.wav"
head -c 100 /dev/urandom >"$tmp/junk.wav"
expect_error "wav: not a WAV" "junk.wav" "$bin" measure --wav "$tmp/junk.wav"
expect_error "option: CT out of range" "ct-primary" "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --ct-primary 4
expect_error "option: CT secondary 2" "ct-secondary" "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --ct-secondary 2
expect_error "option: AV6 vs AV5" "system-voltage" "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --pt-ratio 100
expect_error "option: not a number" "not a number" "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --pt-ratio x
expect_error "option: two inputs" "exactly one" "$bin" measure --scenario a --wav b
expect_error "option: no input" "exactly one" "$bin" measure
expect_error "option: seconds 0" "seconds" "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --seconds 0
expect_error "unknown command" "unknown command" "$bin" frobnicate

# 6. Option errors: one line naming the problem, prefixed, then a one-line hint (never
#    the whole usage), each message once.
expect_stderr() { # name, exit code, expected stderr (exact), command...
    local name=$1 code=$2 want=$3
    shift 3
    local rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" -eq "$code" ] && [ "$(cat "$tmp/err")" = "$want" ] && [ ! -s "$tmp/out" ]; then
        ok "$name: '$(head -1 "$tmp/err")'"
    else
        bad "$name: exit $rc, stderr: $(cat "$tmp/err")"
    fi
}
hint="try 's4100 measure --help'"
sc="$root/scenarios/balanced-50hz.ini"
expect_stderr "unknown long option" 2 "s4100 measure: unknown option '--frobnicate'
$hint" "$bin" measure --scenario "$sc" --frobnicate
expect_stderr "unknown short option" 2 "s4100 measure: unknown option '-x'
$hint" "$bin" measure -x --scenario "$sc"
expect_stderr "missing value" 2 "s4100 measure: option '--seconds' needs a value
$hint" "$bin" measure --scenario "$sc" --seconds
expect_stderr "value for a flag" 2 "s4100 measure: option '--csv' takes no value
$hint" "$bin" measure --scenario "$sc" --csv=yes
expect_stderr "ambiguous abbreviation" 2 \
    "s4100 measure: option '--sub' is ambiguous: --subintervals, --subinterval-length
$hint" "$bin" measure --sub 3 --scenario "$sc"
expect_stderr "--seconds not a number: one message" 2 \
    "s4100 measure: --seconds: 'x' is not a whole number from 1 to 1e9" \
    "$bin" measure --scenario "$sc" --seconds x
expect_stderr "--seconds 1.5" 2 \
    "s4100 measure: --seconds: '1.5' is not a whole number from 1 to 1e9" \
    "$bin" measure --scenario "$sc" --seconds 1.5
expect_stderr "no input: no usage dump" 2 "s4100 measure: give exactly one of --scenario, --wav, --csv-in, --comtrade
$hint" "$bin" measure
expect_stderr "stray argument" 2 "s4100 measure: unexpected argument 'extra'
$hint" "$bin" measure --scenario "$sc" extra
expect_stderr "setting not a number: once" 2 "s4100 measure: --pt-ratio: 'x' is not a number" \
    "$bin" measure --scenario "$sc" --pt-ratio x
"$bin" measure --help >"$tmp/out" 2>"$tmp/err"
grep -q "^usage: s4100 measure" "$tmp/out" && [ ! -s "$tmp/err" ] && ok "--help: usage on stdout" ||
    bad "--help"

# 7. A directory where a file belongs says so.
mkdir "$tmp/adir"
expect_stderr "--scenario DIR" 1 "s4100 measure: $tmp/adir: is a directory, not a scenario file" \
    "$bin" measure --scenario "$tmp/adir"
expect_stderr "--wav DIR" 1 "s4100 measure: $tmp/adir: is a directory, not a recording" \
    "$bin" measure --wav "$tmp/adir"
expect_stderr "--csv-in DIR" 1 "s4100 measure: $tmp/adir: is a directory, not a recording" \
    "$bin" measure --csv-in "$tmp/adir"

# 8. A recording shorter than a second, one with a partial last second, and --seconds
#    past the end warn on stderr; the readings that exist are printed. Tiny files:
#    60 Hz, 230 V, 10 A, at 2520 S/s (and one at 5000 S/s, resampled).
python3 - "$tmp" <<'EOF'
import math, struct, sys
d = sys.argv[1]
def frames(n, fs=2520):
    for k in range(n):
        a = 2 * math.pi * 60 * k / fs
        v, i = 230 * math.sqrt(2) * math.sin(a), 10 * math.sqrt(2) * math.sin(a)
        yield [v, v, v, i, i, i]
def csv(name, n):
    with open(f"{d}/{name}", "w") as f:
        for r in frames(n):
            f.write(",".join("%.6g" % x for x in r) + "\n")
def wav(name, n, fs=2520):
    data = b"".join(struct.pack("<6f", *r) for r in frames(n, fs))
    fmt = struct.pack("<HHIIHH", 3, 6, fs, fs * 24, 24, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    open(f"{d}/{name}", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
csv("short.csv", 1260)             # 0.5 s
wav("short.wav", 252)              # 0.1 s
csv("tail.csv", 2 * 2520 + 630)    # 2.25 s
wav("tail.wav", 3 * 2520 + 1260)   # 3.5 s
wav("tail5k.wav", 7500, 5000)      # 1.5 s at 5000 S/s
csv("two.csv", 2 * 2520)           # exactly 2 s
wav("two.wav", 2 * 2520)
EOF
expect_warn() { # name, expected readings, expected stderr (exact; empty: silent), command...
    local name=$1 rows=$2 want=$3
    shift 3
    local rc=0 got
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    got=$(wc -l <"$tmp/out")
    if [ "$rc" -eq 0 ] && [ "$got" -eq "$rows" ] && [ "$(cat "$tmp/err")" = "$want" ]; then
        ok "$name: $rows readings, ${want:-no warning}"
    else
        bad "$name: exit $rc, $got readings, stderr: $(cat "$tmp/err")"
    fi
}
w="s4100 measure: warning:"
expect_warn "CSV of 0.5 s" 0 "$w $tmp/short.csv lasts 0.500 s, less than one 1 s cycle: no readings" \
    "$bin" measure --csv-in "$tmp/short.csv"
expect_warn "WAV of 0.1 s" 0 "$w $tmp/short.wav lasts 0.100 s, less than one 1 s cycle: no readings" \
    "$bin" measure --wav "$tmp/short.wav"
expect_warn "CSV with a partial last second" 2 \
    "$w the last 0.250 s of $tmp/tail.csv are not a whole 1 s cycle and give no reading" \
    "$bin" measure --csv-in "$tmp/tail.csv"
expect_warn "WAV with a partial last second" 3 \
    "$w the last 0.500 s of $tmp/tail.wav are not a whole 1 s cycle and give no reading" \
    "$bin" measure --wav "$tmp/tail.wav"
expect_warn "resampled WAV with a partial last second" 1 \
    "$w the last 0.500 s of $tmp/tail5k.wav are not a whole 1 s cycle and give no reading" \
    "$bin" measure --wav "$tmp/tail5k.wav"
expect_warn "--seconds past the end of a CSV" 2 \
    "$w --seconds 5 goes past the end of $tmp/two.csv: it lasts 2.000 s, 2 readings" \
    "$bin" measure --csv-in "$tmp/two.csv" --seconds 5
expect_warn "--seconds past the end, and a partial second" 3 \
    "$w --seconds 4 goes past the end of $tmp/tail.wav: it lasts 3.500 s, 3 readings
$w the last 0.500 s of $tmp/tail.wav are not a whole 1 s cycle and give no reading" \
    "$bin" measure --wav "$tmp/tail.wav" --seconds 4
expect_warn "whole seconds: silent" 2 "" "$bin" measure --wav "$tmp/two.wav"
expect_warn "--seconds within the recording: silent" 1 "" \
    "$bin" measure --csv-in "$tmp/two.csv" --seconds 1
expect_warn "--seconds stops before a partial tail: silent" 2 "" \
    "$bin" measure --csv-in "$tmp/tail.csv" --seconds 2

# 9. scenarios/phase-loss.ini does what its comments say: the "cycles A..B: BITMAP"
#    lines of the file are the expected Alarm_Bitmap timeline of one 60 s pass, checked
#    cycle by cycle over two passes; the key facts are also pinned here, so editing the
#    comments alone cannot make this pass.
"$bin" measure --scenario "$root/scenarios/phase-loss.ini" --seconds 120 >"$tmp/pl.jsonl"
python3 - "$root/scenarios/phase-loss.ini" "$tmp/pl.jsonl" <<'EOF' &&
import json, re, sys
doc = {}
for line in open(sys.argv[1]):
    m = re.match(r";.*cycles\s+(\d+)\.\.(\d+):\s*(\d+)\s*$", line)
    if m:
        for t in range(int(m[1]), int(m[2]) + 1):
            assert t not in doc, f"cycle {t} listed twice"
            doc[t] = int(m[3])
assert sorted(doc) == list(range(1, 61)), "the file's timeline must cover cycles 1..60"
BI10, BI11 = 1 << 9, 1 << 10          # Phase_Loss_B, Phase_Loss_C (BI1 = bit 0)
pinned = {t: BI10 for t in range(11, 21)} | {t: BI11 for t in range(36, 41)}
for t in range(1, 61):
    assert doc[t] == pinned.get(t, 0), (t, doc[t])
rows = [json.loads(l) for l in open(sys.argv[2])]
assert [r["t"] for r in rows] == list(range(1, 121))
for r in rows:
    t = r["t"]
    want = doc[(t - 1) % 60 + 1]
    assert r["Alarm_Bitmap"] == want, f"cycle {t}: Alarm_Bitmap {r['Alarm_Bitmap']}, the file says {want}"
def close(a, b, tol): assert abs(a - b) <= tol, (a, b)
by = {r["t"]: r for r in rows}
close(by[15]["Volts_BN"], 0, 0.5); close(by[15]["Current_B"], 0, 0.5)          # B lost
close(by[33]["Volts_CN"], 240, 0.5)                                           # sag, no alert
close(by[38]["Volts_CN"], 180, 0.5)                                           # imbalance alert
close(by[50]["Current_A"], 40, 0.1); close(by[50]["Current_B"], 100, 0.1)     # current imbalance
EOF
    ok "phase-loss.ini: Alarm_Bitmap timeline as its comments list, two passes" ||
    bad "phase-loss.ini timeline"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
