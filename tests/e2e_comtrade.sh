#!/bin/bash
# s4100 measure --comtrade on recordings from the independent writer (comtrade_write.py):
# every data format, .cfg/.dat and .cff, secondary values in kV with the channels in
# another order, several rates, a channel map; the readings against the analytic values.
# Malformed files and bad options: one line naming the file and line/record, exit != 0.
# Usage: e2e_comtrade.sh <s4100 binary> <repo root>
set -euo pipefail
bin=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }
w() { python3 "$root/tests/comtrade_write.py" "$@"; }

# readings of the last second: V, I (RMS per phase), phi (current lag, degrees)
check() { # name file V I phi [expected current average] -- measure options...
    local name=$1 file=$2 v=$3 i=$4 phi=$5 iavg=$6
    shift 6
    if "$bin" measure --comtrade "$file" --csv "$@" >"$tmp/out.csv" 2>"$tmp/err" &&
        python3 - "$tmp/out.csv" "$v" "$i" "$phi" "$iavg" <<'PY'; then
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
v, i, phi, iavg = map(float, sys.argv[2:6])
assert len(rows) >= 2, len(rows)
r = {k: float(x) for k, x in rows[-1].items() if x != ""}
def close(k, want, rel):
    assert abs(r[k] - want) <= rel * abs(want), (k, r[k], want)
close("Volts_LN_Avg", v, 1e-4); close("Volts_LL_Avg", v * math.sqrt(3), 1e-4)
close("Current Average", iavg, 1e-4); close("Frequency", 60, 1e-5)
if iavg == i:
    c = math.cos(math.radians(phi))
    close("PF_Total", c, 1e-4); close("KW_Total", 3 * v * i * c / 1000, 2e-4)
    close("KVA_Total", 3 * v * i / 1000, 1e-4)
PY
        ok "$name"
    else
        bad "$name: $(cat "$tmp/err")"
    fi
}

for fmt in ascii binary binary32 float32; do
    w "$tmp/$fmt" --format "$fmt" --rates 5000:15000
    check "$fmt .cfg/.dat: V, I, PF, P, f" "$tmp/$fmt.cfg" 230 50 30 50 --ct-primary 100
    w "$tmp/c$fmt" --format "$fmt" --cff --rates 4000:12000 --phi -45 --i 20
    check "$fmt .cff" "$tmp/c$fmt.cff" 230 20 -45 20 --ct-primary 100
done
w "$tmp/sec" --format binary32 --secondary --kv --shuffle --v 7967 --i 320 --phi 10 --rates 4800:14400
check "secondary, kV/kA, shuffled channels" "$tmp/sec.cfg" 7967 320 10 320 --ct-primary 400 --pt-ratio 120 \
    --system-voltage 13800
w "$tmp/multi" --format float32 --rev 2013 --rates 6000:6000,1000:1000,2520:2520
check "three sample rates in one file" "$tmp/multi.cfg" 230 50 30 50 --ct-primary 100
w "$tmp/map" --format binary --rates 5000:15000
check "--comtrade-map ic=none" "$tmp/map.cfg" 230 50 30 33.3333333 --ct-primary 100 --comtrade-map ic=none

# The first-sample and trigger times on stderr, and --comtrade-window: 3 s at 5000 S/s
# whose trigger is 0.1 s after the first sample; from the trigger on, 2.9 s: 2 readings,
# the first of them over 0.1 .. 1.1 s of the file.
w "$tmp/win" --format float32 --rates 5000:15000
if "$bin" measure --comtrade "$tmp/win.cfg" --csv --ct-primary 100 >"$tmp/all.csv" 2>"$tmp/all.err" &&
    "$bin" measure --comtrade "$tmp/win.cfg" --csv --ct-primary 100 --comtrade-window 0 \
        >"$tmp/win.csv" 2>"$tmp/win.err" &&
    [ "$(wc -l <"$tmp/all.csv")" -eq 4 ] && [ "$(wc -l <"$tmp/win.csv")" -eq 3 ] &&
    grep -qF "win.cfg: COMTRADE 1999, first sample 2026-11-30 02:00:00.000000, trigger 2026-11-30 02:00:00.100000 (0.100000 s after it); replaying -0.100000 to 2.900000 s from the trigger (3.000000 s)" "$tmp/all.err" &&
    grep -qF "replaying 0.000000 to 2.900000 s from the trigger (2.900000 s)" "$tmp/win.err"; then
    ok "first sample and trigger reported; --comtrade-window 0: readings from the trigger on"
else
    bad "--comtrade-window 0: $(cat "$tmp/all.err" "$tmp/win.err")"
fi
if "$bin" measure --comtrade "$tmp/win.cfg" --csv --ct-primary 100 --comtrade-window -0.1,1.9 \
    >"$tmp/w2.csv" 2>/dev/null && [ "$(wc -l <"$tmp/w2.csv")" -eq 3 ] &&
    cmp -s <(sed -n 2p "$tmp/w2.csv") <(sed -n 2p "$tmp/all.csv"); then
    ok "--comtrade-window -0.1,1.9: the file's first two seconds, the same readings"
else
    bad "--comtrade-window -0.1,1.9"
fi

expect_error() { # name, exit code, pattern, command...
    local name=$1 want=$2 pat=$3
    shift 3
    local rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" -eq "$want" ] && head -1 "$tmp/err" | grep -qF -- "$pat" &&
        [ "$(grep -c '^s4100 [a-z]*:' "$tmp/err")" -eq 1 ]; then
        ok "$name: '$(head -1 "$tmp/err")'"
    else
        bad "$name: exit $rc, stderr: $(cat "$tmp/err")"
    fi
}
cp "$tmp/binary.cfg" "$tmp/trunc.cfg"
head -c 1000 "$tmp/binary.dat" >"$tmp/trunc.dat"
expect_error "truncated data" 1 "trunc.dat: record 42: truncated" "$bin" measure --comtrade "$tmp/trunc.cfg"
sed 's/^FLOAT32/FLOAT64/' "$tmp/float32.cfg" >"$tmp/unk.cfg"
cp "$tmp/float32.dat" "$tmp/unk.dat"
expect_error "unknown format" 1 "unk.cfg: line 17: data file type is not" "$bin" measure --comtrade "$tmp/unk.cfg"
expect_error "missing .dat" 1 "nodat.dat: cannot open" \
    bash -c "cp '$tmp/ascii.cfg' '$tmp/nodat.cfg' && exec '$bin' measure --comtrade '$tmp/nodat.cfg'"
expect_error "map to a current channel" 1 "map.cfg: line 6: channel 4 'IA' has unit 'A', Va needs V or kV" \
    "$bin" measure --comtrade "$tmp/map.cfg" --comtrade-map va=4
expect_error "bad map" 2 "--comtrade-map: channel map 'vq=1'" "$bin" measure --comtrade "$tmp/map.cfg" --comtrade-map vq=1
expect_error "two inputs" 2 "give exactly one of" "$bin" measure --comtrade "$tmp/map.cfg" --wav x.wav
expect_error "window past the end" 1 "win.cfg: the window 3.000000 to 2.900000 s from the trigger is not inside the recording, which runs from -0.100000 to 2.900000 s" \
    "$bin" measure --comtrade "$tmp/win.cfg" --comtrade-window 3
expect_error "window before the start" 1 "is not inside the recording" \
    "$bin" measure --comtrade "$tmp/win.cfg" --comtrade-window -0.2,1
expect_error "window not a number" 2 "--comtrade-window: window 'soon': expected FROM[,TO]" \
    "$bin" measure --comtrade "$tmp/win.cfg" --comtrade-window soon
expect_error "window backwards" 2 "--comtrade-window: window '1,0.5': the end 0.5 s is not after the start 1 s" \
    "$bin" measure --comtrade "$tmp/win.cfg" --comtrade-window 1,0.5
expect_error "window without --comtrade" 2 "--comtrade-window needs --comtrade" \
    "$bin" measure --scenario x.ini --comtrade-window 0
expect_error "run: window not a number" 2 "--comtrade-window: window 'x'" \
    "$bin" run --comtrade "$tmp/win.cfg" --comtrade-window x

# s4100 run on a recording: the meter in virtual time, read through its control socket,
# and it stops by itself where the recording ends (3 s of it). No network is used but
# the meter's UDP socket, on a port the kernel picks from loopback's (bind 127.0.0.1,
# port claimed by the test's own listener first: see below).
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" run --comtrade "$tmp/float32.cfg" --comtrade-window -0.1,end --ct-primary 100 --bind 127.0.0.1 --bip-port "$port" \
    --virtual-time --control "$tmp/ctl" --nv "$tmp/run.nv" --no-panel --quiet >"$tmp/run.out" 2>&1 &
meter=$!
for i in $(seq 50); do [ -S "$tmp/ctl" ] && break; sleep 0.1; done
"$bin" ctl --control "$tmp/ctl" advance 2 >/dev/null
if "$bin" ctl --control "$tmp/ctl" status | python3 -c '
import json, sys
r = json.load(sys.stdin)["readings"]
assert abs(r["Volts_LN_Avg"] - 230) < 230e-4 and abs(r["Current Average"] - 50) < 50e-4, r
assert abs(r["PF_Total"] - 0.8660254) < 1e-4, r["PF_Total"]'; then
    ok "run --comtrade: the meter reads the recording (230 V, 50 A, PF cos 30)"
else
    bad "run --comtrade: readings"
fi
"$bin" ctl --control "$tmp/ctl" --timeout 10 advance 5 >/dev/null 2>&1 || true
rc=0
timeout 20 tail --pid=$meter -f /dev/null || rc=1
wait $meter || rc=$?
if [ $rc -eq 0 ] && grep -q "the recording ended" "$tmp/run.out" &&
    grep -qF "float32.cfg: COMTRADE 1999, first sample 2026-11-30 02:00:00.000000, trigger 2026-11-30 02:00:00.100000 (0.100000 s after it); replaying -0.100000 to 2.900000 s from the trigger" "$tmp/run.out"; then
    ok "run --comtrade stops where the recording ends, status 0"
else
    bad "run --comtrade at the end: status $rc, $(cat "$tmp/run.out")"
fi
# the recording is opened, and refused, before any socket
expect_error "run: window past the end" 1 "win.cfg: the window 3.000000 to" \
    "$bin" run --comtrade "$tmp/win.cfg" --comtrade-window 3 --bind 127.0.0.1 --bip-port "$port" --no-panel --quiet
expect_error "run: --scenario and --comtrade" 2 "--scenario or --comtrade, not both" \
    "$bin" run --comtrade "$tmp/map.cfg" --scenario x.ini

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
