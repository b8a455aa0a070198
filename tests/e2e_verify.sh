#!/bin/bash
# s4100 verify as a front-end designer drives it: the default IEC table through the
# engine alone (all PASS, with margin), behind a front end with a 0.3 % gain error (the
# 0.2 % points FAIL, the 0.4 and 0.5 % ones PASS), the report files well-formed, bad
# tables and options refused with one line and status 2; and measure --reference
# against a reference written from a known run (zero error) and one 1 % off (1 %).
# Usage: e2e_verify.sh <s4100 binary> <repo root>
set -euo pipefail
bin=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }

# A refusal: status 2, exactly one line on stderr containing the pattern, nothing on stdout.
expect_usage() { # name, pattern, command...
    local name=$1 pat=$2
    shift 2
    local rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$pat" "$tmp/err" &&
        [ ! -s "$tmp/out" ]; then
        ok "$name: '$(cat "$tmp/err")'"
    else
        bad "$name: exit $rc, stderr: $(cat "$tmp/err")"
    fi
}

# The result column of a point, by name, from verify's CSV.
result() { awk -F, -v n="$2" '$1 == n { print $11 }' "$1"; }

# 1. The default table, engine alone: every point PASS with margin; it is the shipped table.
rc=0
"$bin" verify --csv "$tmp/alone.csv" --json "$tmp/alone.json" --svg "$tmp/alone.svg" \
    >"$tmp/alone.txt" || rc=$?
cat "$tmp/alone.txt"
[ "$rc" -eq 0 ] && ok "engine alone: exit 0" || bad "engine alone: exit $rc"
python3 - "$tmp/alone.csv" <<'PY' && ok "engine alone: 28 points PASS, each using under 25 % of its limit" || bad "engine alone: margins"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 28, len(rows)
worst = max(rows, key=lambda r: float(r["limit_used_pct"]))
print("# worst: %s, error %s %%, limit %s %%, margin %.5f %%" % (worst["name"], worst["error_pct"],
      worst["limit_pct"], float(worst["limit_pct"]) - abs(float(worst["error_pct"]))))
for r in rows:
    assert r["result"] == "PASS", r
    assert float(r["limit_used_pct"]) < 25, r
    if r["quantity"] == "P":  # active energy: the engine alone is exact to 1e-4 %
        assert abs(float(r["error_pct"])) < 1e-4, r
PY
grep -q "^28 PASS, 0 FAIL; worst: " "$tmp/alone.txt" && ok "engine alone: summary line" ||
    bad "engine alone: summary: $(tail -1 "$tmp/alone.txt")"
"$bin" verify --table "$root/verify/iec-0.2s.csv" --csv "$tmp/file.csv" >/dev/null
cmp -s "$tmp/alone.csv" "$tmp/file.csv" && ok "the default table is verify/iec-0.2s.csv" ||
    bad "the built-in table differs from verify/iec-0.2s.csv"

# 2. The report files are well-formed.
python3 -m json.tool "$tmp/alone.json" >/dev/null && ok "JSON parses" || bad "JSON"
python3 - "$tmp/alone.json" <<'PY' && ok "JSON: 28 points, 28 pass, front end null" || bad "JSON content"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["front_end"] is None and j["pass"] == 28 and j["fail"] == 0 and len(j["points"]) == 28
assert all(p["result"] == "PASS" for p in j["points"])
PY
if command -v xmllint >/dev/null; then
    xmllint --noout "$tmp/alone.svg" && ok "SVG is well-formed XML (xmllint)" || bad "SVG (xmllint)"
else
    python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$tmp/alone.svg" &&
        ok "SVG is well-formed XML (python)" || bad "SVG (python)"
fi
python3 - "$tmp/alone.svg" <<'PY' && ok "SVG: an svg root, two panels, 28 points, 6 limit bands" || bad "SVG content"
import sys, xml.etree.ElementTree as E
ns = "{http://www.w3.org/2000/svg}"
r = E.parse(sys.argv[1]).getroot()
assert r.tag == ns + "svg"
assert len(r.findall(ns + "circle")) == 28
assert len(r.findall(ns + "polygon")) == 6  # one limit band per power factor series
PY
head -1 "$tmp/alone.csv" | grep -q '^name,quantity,current_pct,factor,frequency_hz,voltage_v,harmonic,error_pct,limit_pct,limit_used_pct,result$' &&
    ok "CSV header" || bad "CSV header: $(head -1 "$tmp/alone.csv")"

# 3. A poor front end: 0.3 % gain error on the current channels.
rc=0
"$bin" verify --afe-gain-error 0.3 --csv "$tmp/gain.csv" --json "$tmp/gain.json" >"$tmp/gain.txt" || rc=$?
cat "$tmp/gain.txt"
[ "$rc" -eq 1 ] && ok "gain error 0.3 %: exit 1" || bad "gain error 0.3 %: exit $rc"
for p in "P 5% PF1" "P 10% PF1" "P 100% PF1" "P 120% PF1"; do
    [ "$(result "$tmp/gain.csv" "$p")" = FAIL ] && ok "gain 0.3 %: '$p' (limit 0.2 %) FAILs" ||
        bad "gain 0.3 %: '$p' should FAIL"
done
for p in "P 1% PF1" "P 2% PF1" "P 2% PF0.5i" "P 5% PF0.5i" "P 2% PF0.8c" "P 5% PF0.8c" \
    "Q 5% sin0.5i" "Q 100% sin0.5c"; do
    [ "$(result "$tmp/gain.csv" "$p")" = PASS ] && ok "gain 0.3 %: '$p' (limit 0.4..2.5 %) PASSes" ||
        bad "gain 0.3 %: '$p' should PASS"
done
python3 - "$tmp/gain.csv" <<'PY' && ok "gain 0.3 %: every active point reads +0.3 %" || bad "gain 0.3 %: errors"
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["quantity"] == "P":
        assert abs(float(r["error_pct"]) - 0.3) < 1e-3, r
PY
python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["front_end"]["gain_error_pct"] == 0.3 and j["fail"] >= 4' \
    "$tmp/gain.json" && ok "gain 0.3 %: JSON names the front end" || bad "gain JSON"

# 4. The other front-end errors move the points the way they should.
"$bin" verify --afe-phase-error 0.1 --csv "$tmp/ph.csv" >/dev/null || true
python3 - "$tmp/ph.csv" <<'PY' && ok "phase error 0.1 deg: PF 1 untouched, PF 0.5i -0.3 %, PF 0.8c +0.13 %" || bad "phase error"
import csv, math, sys
e = {r["name"]: float(r["error_pct"]) for r in csv.DictReader(open(sys.argv[1]))}
d = math.radians(0.1)
assert abs(e["P 100% PF1"] - (math.cos(d) - 1) * 100) < 1e-3, e["P 100% PF1"]
want = (math.cos(math.radians(60) + d) / 0.5 - 1) * 100
assert abs(e["P 100% PF0.5i"] - want) < 1e-3, (e["P 100% PF0.5i"], want)
want = (math.cos(-math.acos(0.8) + d) / 0.8 - 1) * 100
assert abs(e["P 100% PF0.8c"] - want) < 1e-3, (e["P 100% PF0.8c"], want)
PY
rc=0
"$bin" verify --afe-noise 0.1 --afe-bits 16 --afe-offset 0.05 --seed 7 >"$tmp/n1.txt" || rc=$?
"$bin" verify --afe-noise 0.1 --afe-bits 16 --afe-offset 0.05 --seed 7 >"$tmp/n2.txt" || true
[ "$rc" -le 1 ] && cmp -s "$tmp/n1.txt" "$tmp/n2.txt" && ok "noise, bits, offset: runs, same seed same results" ||
    bad "noise run: exit $rc or not repeatable"

# 5. A user's table with a harmonic, and refusals.
cat >"$tmp/t.csv" <<'CSV'
# a comment
name,quantity,current_pct,factor,frequency_hz,voltage_v,harmonic,limit_pct
h5,P,60,1,50,230,5:10:40,0.2
60 Hz,P,100,0.5i,60,277,-,0.3
CSV
"$bin" verify --table "$tmp/t.csv" >"$tmp/t.txt" && grep -q "^2 PASS, 0 FAIL" "$tmp/t.txt" &&
    ok "user table with a harmonic and 60 Hz: PASS" || bad "user table: $(cat "$tmp/t.txt")"
bad_row() { # name, row, pattern
    printf 'name,quantity,current_pct,factor,frequency_hz,voltage_v,harmonic,limit_pct\n%s\n' "$2" >"$tmp/bad.csv"
    expect_usage "$1" "$3" "$bin" verify --table "$tmp/bad.csv"
}
bad_row "too few fields" "x,P,5,1,50,230,-" "bad.csv: line 2: expected 8 fields"
bad_row "bad quantity" "x,W,5,1,50,230,-,0.2" "line 2: quantity"
bad_row "current out of range" "x,P,500,1,50,230,-,0.2" "line 2: current_pct"
bad_row "factor without i/c" "x,P,5,0.5,50,230,-,0.2" "line 2: factor"
bad_row "frequency out of range" "x,P,5,1,70,230,-,0.2" "line 2: frequency_hz"
bad_row "voltage not a number" "x,P,5,1,50,abc,-,0.2" "line 2: voltage_v"
bad_row "bad harmonic" "x,P,5,1,50,230,5:10,0.2" "line 2: harmonic"
bad_row "harmonic above Nyquist" "x,P,5,1,50,230,30:1:1,0.2" "Nyquist"
bad_row "zero limit" "x,P,5,1,50,230,-,0" "line 2: limit_pct"
bad_row "name with a quote" 'x"y,P,5,1,50,230,-,0.2' "line 2: name"
printf '# nothing\n' >"$tmp/empty.csv"
expect_usage "empty table" "no test points" "$bin" verify --table "$tmp/empty.csv"
expect_usage "missing table" "cannot open" "$bin" verify --table "$tmp/none.csv"
expect_usage "unknown option" "unknown option '--bogus'" "$bin" verify --bogus
expect_usage "option without value" "needs a value" "$bin" verify --afe-gain-error
expect_usage "gain not a number" "--afe-gain-error: 'x'" "$bin" verify --afe-gain-error x
expect_usage "gain out of range" "--afe-gain-error: '50'" "$bin" verify --afe-gain-error 50
expect_usage "bits out of range" "--afe-bits" "$bin" verify --afe-bits 4
expect_usage "seconds not whole" "--seconds" "$bin" verify --seconds 1.5
expect_usage "engine alone with a front end" "contradict" "$bin" verify --engine-alone --afe-noise 1
expect_usage "stray argument" "unexpected argument 'foo'" "$bin" verify foo
"$bin" verify --help | grep -q -- "--afe-gain-error" && ok "--help lists the options" || bad "--help"

# 6. measure --reference: a reference written from a known run.
"$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --seconds 6 --csv >"$tmp/run.csv"
python3 - "$tmp/run.csv" "$tmp" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cols = ["KW_Total", "KVAR_Total", "Volts_LN_Avg", "Frequency"]
for name, k in (("same", 1.0), ("off", 1.01)):
    with open(sys.argv[2] + "/ref-%s.csv" % name, "w") as f:
        f.write("t," + ",".join(cols) + "\n")
        for r in rows:
            # the reference reads 1 % low on KW_Total: this run is then 1 % high
            f.write(r["t"] + "," + ",".join("%.9g" % (float(r[c]) / (k if c == "KW_Total" else 1.0))
                                           for c in cols) + "\n")
PY
"$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --reference "$tmp/ref-same.csv" >"$tmp/same.txt"
cat "$tmp/same.txt"
python3 - "$tmp/same.txt" <<'PY' && ok "--reference from the same run: zero error, 6 readings each" || bad "--reference same"
import sys
lines = open(sys.argv[1]).read().split("\n")[1:-1]
assert len(lines) == 4, lines
for l in lines:
    f = l.split()
    assert f[1] == "6" and abs(float(f[2])) < 1e-5 and abs(float(f[3])) < 1e-5, l
PY
"$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --reference "$tmp/ref-off.csv" >"$tmp/off.txt"
cat "$tmp/off.txt"
python3 - "$tmp/off.txt" <<'PY' && ok "--reference 1 % off on KW_Total: +1 %, the others zero" || bad "--reference off"
import sys
for l in open(sys.argv[1]).read().split("\n")[1:-1]:
    f = l.split()
    want = 1.0 if f[0] == "KW_Total" else 0.0
    assert abs(float(f[2]) - want) < 1e-4 and abs(float(f[3]) - want) < 1e-4, l
PY
printf 't,KW_Total\n1,2\n' >"$tmp/r1.csv"
printf 't,Nonsense\n1,2\n' >"$tmp/r2.csv"
printf 't,KW_Total\n2,1\n1,1\n' >"$tmp/r3.csv"
printf 't,KW_Total\n1,abc\n' >"$tmp/r4.csv"
expect_usage "reference: unknown column" "not the name of a reading: Nonsense" \
    "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --reference "$tmp/r2.csv"
expect_usage "reference: t not rising" "line 3: t must rise" \
    "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --reference "$tmp/r3.csv"
expect_usage "reference: not a number" "line 2: not a number: abc" \
    "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --reference "$tmp/r4.csv"
expect_usage "reference: missing file" "cannot open" \
    "$bin" measure --scenario "$root/scenarios/balanced-50hz.ini" --reference "$tmp/none.csv"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
