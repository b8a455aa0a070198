#!/bin/bash
# The portable core's unit tests on a Cortex-M4F: every tests/test_*.c that needs only
# src/core (and headers like tests/wave.h) is built with arm-none-eabi-gcc and newlib
# (tests/target/) and run under QEMU's mps2-an386 with semihosting, so that an alignment
# (misaligned accesses trap), int-width (32-bit long, size_t and pointers, unsigned char,
# short enums) or float (single-precision FPU, soft double) assumption cannot hide on x86.
# Not endianness: the M4, like x86, is little-endian.
#
#   scripts/target-tests.sh [BUILD_DIR]     (default: build-target in the checkout)
#
# Builds incrementally (CMake in BUILD_DIR; -O2, or S4100_TARGET_OPT), runs the tests two
# at a time (S4100_TARGET_JOBS), prints a summary and exits 1 on any failure, 77 if
# qemu-system-arm, arm-none-eabi-gcc or newlib is missing. Each QEMU run is bounded by
# CPU time, not by the clock, so that a loaded machine cannot fail a test:
# S4100_TARGET_CPU seconds (120; the longest run needs about 35), and 600 s of wall time
# as a backstop for a guest that sleeps forever.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
out=${1:-$root/build-target}
jobs=${S4100_TARGET_JOBS:-2}
cpu_limit=${S4100_TARGET_CPU:-120}
wall_limit=600

for tool in qemu-system-arm arm-none-eabi-gcc; do
    if ! command -v "$tool" >/dev/null; then
        echo "target tests: $tool not installed: skipped (scripts/install-deps.sh)"
        exit 77
    fi
done
if [ "$(arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 \
        -print-file-name=librdimon.a)" = librdimon.a ]; then
    echo "target tests: newlib's librdimon (libnewlib-arm-none-eabi) not installed: skipped"
    exit 77
fi

# Tests that need only the core but are not run on the target, with the reason (none at
# present: every such test passes, the longest run takes about 35 s of CPU).
declare -A excluded=(
)

# shellcheck source=../tests/target/select.sh
source "$root/tests/target/select.sh"

if [ ${#selected[@]} -eq 0 ]; then
    echo "target tests: FAIL (no test needs only src/core?)"
    exit 1
fi
list=$(IFS=';'; echo "${selected[*]}")
mkdir -p "$out/logs"
echo "target tests: building ${#selected[@]} tests for the Cortex-M4F in $out"
if ! cmake -S "$root/tests/target" -B "$out" -DCMAKE_TOOLCHAIN_FILE="$root/tests/target/toolchain.cmake" \
        "-DS4100_TARGET_TESTS=$list" "-DS4100_TARGET_OPT=${S4100_TARGET_OPT:--O2}" \
        >"$out/logs/configure.log" 2>&1; then
    cat "$out/logs/configure.log"
    echo "target tests: FAIL (configure)"
    exit 1
fi
if ! cmake --build "$out" -j2 >"$out/logs/build.log" 2>&1; then
    grep -E 'error|Error' "$out/logs/build.log" | head -40
    echo "target tests: FAIL (build; $out/logs/build.log)"
    exit 1
fi
grep -E 'warning:' "$out/logs/build.log" | sort -u | sed 's/^/  /'

# shellcheck disable=SC2054 # the commas are QEMU's
qemu=(qemu-system-arm -M mps2-an386 -nographic -monitor none -serial null
      -semihosting-config enable=on,target=native)

# The runtime first: a harness that cannot fail would pass anything. Its selftest must
# report exactly its planted failures (and their count as the exit status), and a
# misaligned word access and a stack overflow must fault.
check_runtime() {
    local log=$out/logs/target_selftest.log rc
    timeout 60 "${qemu[@]}" -kernel "$out/target_selftest.elf" </dev/null >"$log" 2>&1
    rc=$?
    [ "$rc" -eq 7 ] || { echo "exit $rc, want 7"; return 1; }
    for want in '[       OK ] test_passes' '[       OK ] test_state' '[  SKIPPED ] test_skips' \
        '[  FAILED  ] 7 test(s), listed below:' '[  FAILED  ] test_fails_teardown' \
        '[  ERROR   ] --- 0x1 != 0x2' 'ERROR: failed on purpose: 42'; do
        grep -qF -- "$want" "$log" || { echo "no \"$want\" in $log"; return 1; }
    done
    log=$out/logs/target_selftest.unaligned.log
    timeout 60 "${qemu[@]}" -kernel "$out/target_selftest.elf" -append unaligned \
        </dev/null >"$log" 2>&1
    rc=$?
    [ "$rc" -eq 1 ] && grep -qE '^\[  FAULT   \].* cfsr=.[13579bdf]' "$log" ||
        { echo "a misaligned load did not fault with CFSR.UNALIGNED (exit $rc, $log)"; return 1; }
    log=$out/logs/target_selftest.overflow.log
    timeout 60 "${qemu[@]}" -kernel "$out/target_selftest.elf" -append overflow \
        </dev/null >"$log" 2>&1
    rc=$?
    [ "$rc" -eq 1 ] && grep -qF '(stack overflow)' "$log" ||
        { echo "a stack overflow did not fault in the MPU guard (exit $rc, $log)"; return 1; }
}
if ! why=$(check_runtime); then
    echo "target tests: FAIL (the runtime's selftest: $why)"
    exit 1
fi

# The programs whose fixtures synthesize their waveforms in double precision (wave.h's
# sin(), soft-float on the M4F: over 95 % of their time) run one QEMU per test case, so
# that no single run comes near the timeout and the cases spread over the cores. Each
# case then also runs on its own, which shows any dependence on an earlier case.
split=" test_metering test_metering_accuracy test_trendlog "

# The runs: "PROGRAM" or "PROGRAM CASE", longest first by the last run's CPU times.
runs=()
for name in "${selected[@]}"; do
    if [[ $split == *" $name "* ]]; then
        if ! cases=$("${qemu[@]}" -kernel "$out/$name.elf" -append --list </dev/null 2>/dev/null) ||
            [ -z "$cases" ]; then
            runs+=("$name") # its failure will show when it runs whole
            continue
        fi
        for c in $cases; do
            runs+=("$name $c")
        done
    else
        runs+=("$name")
    fi
done
times=$out/logs/times.txt
touch "$times"
order=$(for r in "${runs[@]}"; do
    t=$(awk -v r="$r" '{ k = $1 ($2 == "-" ? "" : " " $2) } k == r { print $4 }' "$times")
    [ -z "$t" ] && { [[ $r == *" "* ]] && t=999 || t=500; } # not run yet: the cases first
    echo "$t $r"
done | LC_ALL=C sort -k1,1gr | cut -d' ' -f2-)

# One run under QEMU: its output in logs/PROGRAM[.CASE].log; prints
# "PROGRAM CASE|- EXIT CPU-SECONDS" (exit 124: wall backstop; 152 or 137: CPU limit).
run_one() {
    local name=$1 case=${2:-} log rc
    log=$out/logs/$name${case:+.$case}.log
    (
        ulimit -t "$cpu_limit"
        TIMEFORMAT='%U %S'
        { time timeout "$wall_limit" "${qemu[@]}" -kernel "$out/$name.elf" \
            ${case:+-append "$case"} </dev/null >"$log" 2>&1; } 2>"$log.time"
    )
    rc=$?
    echo "$name ${case:--} $rc $(awk '/^[0-9.]+ [0-9.]+$/ { s = $1 + $2 } END { printf "%.2f", s }' "$log.time")"
}
export -f run_one
export out cpu_limit wall_limit
export qemu_flat="${qemu[*]}"

t0=$EPOCHREALTIME
results=$(echo "$order" | xargs -P "$jobs" -L1 bash -c 'qemu=($qemu_flat); run_one "$@"' run_one)
echo "$results" | sort >"$times"

# Where a fault was: the stacked pc and lr as functions and lines. A CFSR.UNALIGNED fault
# in a newlib function is newlib's own misaligned load (it is built to make them): give
# that function an alignment-safe version in tests/target/strict.c.
fault_where() { # PROGRAM LOG
    local pc lr
    read -r pc lr < <(sed -nE 's/^\[  FAULT   \].* pc=([0-9a-f]+) lr=([0-9a-f]+).*/0x\1 0x\2/p' "$2" | head -1)
    [ -n "$pc" ] || return 0
    arm-none-eabi-addr2line -f -p -e "$out/$1.elf" "$pc" "$lr" | sed 's/^/      at /'
}

# The summary: one line a program (its runs' CPU seconds added), the failed runs' assertions.
failed=0
echo "target tests under qemu-system-arm -M mps2-an386 (${#runs[@]} runs, $jobs at a time):"
for name in "${selected[@]}"; do
    mine=$(awk -v n="$name" '$1 == n' <<<"$results")
    n=$(wc -l <<<"$mine")
    secs=$(awk '{ s += $4 } END { printf "%.1f", s }' <<<"$mine")
    longest=$(awk '$4 > m { m = $4 } END { printf "%.1f", m }' <<<"$mine")
    bad=$(awk '$3 != 0' <<<"$mine")
    if [ -z "$bad" ]; then
        status=ok
    elif awk '$3 == 124 || $3 == 137 || $3 == 152' <<<"$bad" | grep -q .; then
        status=TIMEOUT
    else
        status=FAILED
    fi
    detail=""
    [ "$n" -gt 1 ] && detail=" ($n runs, longest $longest s)"
    printf '  %-26s %-8s %7.1f s CPU%s\n' "$name" "$status" "$secs" "$detail"
    [ -z "$bad" ] && continue
    failed=$((failed + 1))
    while read -r _ case rc _; do
        log=$out/logs/$name.log what=$name
        [ "$case" != - ] && log=$out/logs/$name.$case.log what="$name $case"
        case $rc in
            124) echo "      $what: still running after $wall_limit s" ;;
            137 | 152) echo "      $what: over $cpu_limit s of CPU" ;;
        esac
        lines=$(grep -E '^\[  (ERROR|FAILED|FAULT) |^\[   LINE|ERROR:' "$log" | head -20)
        [ -n "$lines" ] || lines=$(tail -5 "$log")
        sed 's/^/      /' <<<"$lines"
        fault_where "$name" "$log"
    done <<<"$bad"
done
echo "not on the target:"
printf '  %s\n' "${skipped[@]}"
echo "target tests: ${#selected[@]} programs, $failed failed, $(awk '{ s += $4 } END { printf "%.0f", s }' <<<"$results") s of CPU," \
    "$(awk "BEGIN { printf \"%.0f\", $EPOCHREALTIME - $t0 }") s (logs in $out/logs)"
[ "$failed" -eq 0 ]
