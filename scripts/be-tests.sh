#!/bin/bash
# The portable core's unit tests on a big-endian CPU: the tests/test_*.c that
# scripts/target-tests.sh runs on the Cortex-M4F (those that need only src/core), built
# with Debian's cross compiler for s390x as static Linux executables (tests/target/hosted:
# the target's small cmocka with a hosted runtime) and run under qemu-user, so that a
# byte-order assumption (a word stored and read back as octets, a cast of a wire buffer)
# cannot hide on x86 and the M4, which are both little-endian. s390x: Debian 12's one
# big-endian release architecture (its cross libc and qemu-s390x are maintained with it);
# it is also LP64 with an unsigned char and a 128-bit long double.
#
#   scripts/be-tests.sh [BUILD_DIR]     (default: build-be in the checkout)
#
# Builds incrementally (CMake in BUILD_DIR, -O2), runs the tests two at a time
# (S4100_BE_JOBS), prints a summary and exits 1 on any failure, 77 if s390x-linux-gnu-gcc,
# its libc or qemu-s390x is missing. Each run is bounded by CPU time, not by the clock, so
# that a loaded machine cannot fail a test: S4100_BE_CPU seconds (120), and 600 s of wall
# time as a backstop for a guest that sleeps forever.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
out=${1:-$root/build-be}
jobs=${S4100_BE_JOBS:-2}
cpu_limit=${S4100_BE_CPU:-120}
wall_limit=600
cc=s390x-linux-gnu-gcc

for tool in qemu-s390x "$cc"; do
    if ! command -v "$tool" >/dev/null; then
        echo "big-endian tests: $tool not installed: skipped (scripts/install-deps.sh)"
        exit 77
    fi
done
if [ "$($cc -print-file-name=libc.a)" = libc.a ]; then
    echo "big-endian tests: the s390x libc (libc6-dev-s390x-cross) not installed: skipped"
    exit 77
fi

# Tests that need only the core but are not run here, with the reason (none at present).
declare -A excluded=(
)
# Cases left out of a program that runs otherwise ("PROGRAM" -> "CASE ..."), and why
# (none at present).
declare -A excluded_cases=(
)

# shellcheck source=../tests/target/select.sh
source "$root/tests/target/select.sh"

if [ ${#selected[@]} -eq 0 ]; then
    echo "big-endian tests: FAIL (no test needs only src/core?)"
    exit 1
fi
list=$(IFS=';'; echo "${selected[*]}")
mkdir -p "$out/logs"
echo "big-endian tests: building ${#selected[@]} tests for s390x in $out"
if ! cmake -S "$root/tests/target/hosted" -B "$out" -DCMAKE_SYSTEM_NAME=Linux \
        -DCMAKE_SYSTEM_PROCESSOR=s390x "-DCMAKE_C_COMPILER=$cc" "-DS4100_BE_TESTS=$list" \
        >"$out/logs/configure.log" 2>&1; then
    cat "$out/logs/configure.log"
    echo "big-endian tests: FAIL (configure)"
    exit 1
fi
if ! cmake --build "$out" -j2 >"$out/logs/build.log" 2>&1; then
    grep -E 'error|Error' "$out/logs/build.log" | head -40
    echo "big-endian tests: FAIL (build; $out/logs/build.log)"
    exit 1
fi
grep -E 'warning:' "$out/logs/build.log" | sort -u | sed 's/^/  /'

# The runtime first: a harness that cannot fail would pass anything. Its selftest must
# report exactly its planted failures, and their count as the exit status.
check_runtime() {
    local log=$out/logs/be_selftest.log rc
    timeout 60 qemu-s390x "$out/be_selftest" </dev/null >"$log" 2>&1
    rc=$?
    [ "$rc" -eq 7 ] || { echo "exit $rc, want 7"; return 1; }
    for want in '[       OK ] test_passes' '[       OK ] test_state' '[  SKIPPED ] test_skips' \
        '[  FAILED  ] 7 test(s), listed below:' '[  FAILED  ] test_fails_teardown' \
        '[  ERROR   ] --- 0x1 != 0x2' 'ERROR: failed on purpose: 42'; do
        grep -qF -- "$want" "$log" || { echo "no \"$want\" in $log"; return 1; }
    done
    timeout 60 qemu-s390x "$out/be_selftest" test_passes test_skips </dev/null >"$log.named" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] || ! grep -qF '[==========] 2 test(s) run.' "$log.named"; then
        echo "running two tests by name: exit $rc ($log.named)"
        return 1
    fi
}
if ! why=$(check_runtime); then
    echo "big-endian tests: FAIL (the runtime's selftest: $why)"
    exit 1
fi

# A program with excluded cases runs the others by name (a failed --list runs it whole,
# where its failure shows).
declare -A cases=()
for name in "${!excluded_cases[@]}"; do
    [ -x "$out/$name" ] || continue
    all=$(qemu-s390x "$out/$name" --list </dev/null 2>/dev/null) || continue
    keep=() left=()
    for c in $all; do
        if [[ " ${excluded_cases[$name]} " == *" $c "* ]]; then
            left+=("$c")
        else
            keep+=("$c")
        fi
    done
    cases[$name]="${keep[*]}"
    [ ${#left[@]} -gt 0 ] && skipped+=("$name: ${left[*]} (see excluded_cases)")
done

# The runs, longest first by the last run's CPU times (new programs first).
times=$out/logs/times.txt
touch "$times"
order=$(for name in "${selected[@]}"; do
    t=$(awk -v n="$name" '$1 == n { print $3 }' "$times")
    echo "${t:-999} $name${cases[$name]:+ ${cases[$name]}}" # no trailing blank: xargs -L
done | LC_ALL=C sort -k1,1gr | cut -d' ' -f2-)

# One run under qemu-user (PROGRAM [CASE...]): its output in logs/PROGRAM.log; prints
# "PROGRAM EXIT CPU-SECONDS" (exit 124: wall backstop; 152 or 137: CPU limit).
run_one() {
    local name=$1 log=$out/logs/$1.log rc
    shift
    (
        ulimit -t "$cpu_limit"
        TIMEFORMAT='%U %S'
        { time timeout "$wall_limit" qemu-s390x "$out/$name" "$@" </dev/null >"$log" 2>&1; } 2>"$log.time"
    )
    rc=$?
    echo "$name $rc $(awk '/^[0-9.]+ [0-9.]+$/ { s = $1 + $2 } END { printf "%.2f", s }' "$log.time")"
}
export -f run_one
export out cpu_limit wall_limit

t0=$EPOCHREALTIME
results=$(echo "$order" | xargs -P "$jobs" -L1 bash -c 'run_one "$@"' run_one)
echo "$results" | sort >"$times"

# The summary: one line a program, the failed runs' assertions.
failed=0
echo "big-endian tests under qemu-s390x (${#selected[@]} programs, $jobs at a time):"
for name in "${selected[@]}"; do
    read -r _ rc secs < <(awk -v n="$name" '$1 == n' <<<"$results")
    rc=${rc:-1} secs=${secs:-0} # not run at all: a failure of this script
    case $rc in
        0) status=ok ;;
        124 | 137 | 152) status=TIMEOUT ;;
        *) status=FAILED ;;
    esac
    printf '  %-26s %-8s %7.1f s CPU\n' "$name" "$status" "$secs"
    [ "$rc" -eq 0 ] && continue
    failed=$((failed + 1))
    case $rc in
        124) echo "      still running after $wall_limit s" ;;
        137 | 152) echo "      over $cpu_limit s of CPU" ;;
    esac
    lines=$(grep -E '^\[  (ERROR|FAILED) |^\[   LINE|ERROR:' "$out/logs/$name.log" | head -20)
    [ -n "$lines" ] || lines=$(tail -5 "$out/logs/$name.log")
    # shellcheck disable=SC2001 # every line indented
    sed 's/^/      /' <<<"$lines"
done
echo "not run big-endian:"
printf '  %s\n' "${skipped[@]}"
echo "big-endian tests: ${#selected[@]} programs, $failed failed, $(awk '{ s += $3 } END { printf "%.0f", s }' <<<"$results") s of CPU," \
    "$(awk "BEGIN { printf \"%.0f\", $EPOCHREALTIME - $t0 }") s (logs in $out/logs)"
[ "$failed" -eq 0 ]
