#!/bin/bash
# The portable core's unit tests on a Cortex-M4F: every tests/test_*.c that needs only
# src/core (and tests/wave.h) is built with arm-none-eabi-gcc and newlib (tests/target/)
# and run under QEMU's mps2-an386 with semihosting, so that an endianness, alignment,
# int-width or float assumption cannot hide on x86.
#
#   scripts/target-tests.sh [BUILD_DIR]     (default: build-target in the checkout)
#
# Builds incrementally (CMake in BUILD_DIR), runs the tests two at a time (S4100_TARGET_JOBS),
# each bounded by S4100_TARGET_TIMEOUT seconds (120), prints a summary and exits 1 on any
# failure, 77 if qemu-system-arm or arm-none-eabi-gcc is missing.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-target}
jobs=${S4100_TARGET_JOBS:-2}
limit=${S4100_TARGET_TIMEOUT:-120}

for tool in qemu-system-arm arm-none-eabi-gcc; do
    if ! command -v "$tool" >/dev/null; then
        echo "target tests: $tool not installed: skipped (scripts/install-deps.sh)"
        exit 77
    fi
done

# Tests that need only the core but are not run on the target, with the reason.
declare -A excluded=(
)

# A test runs on the target if what it includes is the C library, cmocka, src/core's
# headers, or a tests/ header that itself includes nothing else (wave.h).
std_headers=" assert.h ctype.h errno.h float.h inttypes.h limits.h math.h setjmp.h stdarg.h "
std_headers+=" stdbool.h stddef.h stdint.h stdio.h stdlib.h string.h cmocka.h "
portable() { # FILE: prints the first include that is not portable, if any
    local line h
    while read -r line; do
        if [[ $line =~ \<([^>]+)\> ]]; then
            h=${BASH_REMATCH[1]}
            [[ $std_headers == *" $h "* ]] || { echo "<$h>"; return; }
        elif [[ $line =~ \"([^\"]+)\" ]]; then
            h=${BASH_REMATCH[1]}
            if [ -f "$root/src/core/$h" ]; then
                continue
            elif [ -f "$root/tests/$h" ] && [ -z "$(portable "$root/tests/$h")" ]; then
                continue
            fi
            echo "\"$h\""
            return
        fi
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$1")
}

selected=() skipped=()
for src in "$root"/tests/test_*.c; do
    name=$(basename "$src" .c)
    bad=$(portable "$src")
    if [ -n "$bad" ]; then
        skipped+=("$name: host only (includes $bad)")
    elif [ -n "${excluded[$name]:-}" ]; then
        skipped+=("$name: ${excluded[$name]}")
    else
        selected+=("$name")
    fi
done

if [ ${#selected[@]} -eq 0 ]; then
    echo "target tests: FAIL (no test needs only src/core?)"
    exit 1
fi
list=$(IFS=';'; echo "${selected[*]}")
mkdir -p "$out/logs"
echo "target tests: building ${#selected[@]} tests for the Cortex-M4F in $out"
if ! cmake -S "$root/tests/target" -B "$out" -DCMAKE_TOOLCHAIN_FILE="$root/tests/target/toolchain.cmake" \
        "-DS4100_TARGET_TESTS=$list" >"$out/logs/configure.log" 2>&1; then
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

# One test under QEMU: its output in logs/NAME.log, "NAME STATUS SECONDS" on stdout.
run_one() {
    local name=$1 t0 rc
    t0=$EPOCHREALTIME
    timeout "$limit" qemu-system-arm -M mps2-an386 -nographic -monitor none -serial null \
        -semihosting-config enable=on,target=native -kernel "$out/$name.elf" \
        </dev/null >"$out/logs/$name.log" 2>&1
    rc=$?
    echo "$name $rc $(awk "BEGIN { print $EPOCHREALTIME - $t0 }")"
}
export -f run_one
export out limit

t0=$(date +%s)
results=$(printf '%s\n' "${selected[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' | sort)
failed=0
echo "target tests under qemu-system-arm -M mps2-an386:"
while read -r name rc secs; do
    case $rc in
        0) status=ok ;;
        124) status="TIMEOUT (over $limit s)" ;;
        *) status="FAILED (exit $rc)" ;;
    esac
    printf '  %-26s %-22s %6.1f s\n' "$name" "$status" "$secs"
    if [ "$rc" != 0 ]; then
        failed=$((failed + 1))
        grep -E '^\[  (ERROR|FAILED|FAULT) |^\[   LINE|ERROR:' "$out/logs/$name.log" | head -20 | sed 's/^/      /'
    fi
done <<<"$results"
echo "not on the target:"
printf '  %s\n' "${skipped[@]}"
echo "target tests: ${#selected[@]} run, $failed failed, $(($(date +%s) - t0)) s (logs in $out/logs)"
[ "$failed" -eq 0 ]
