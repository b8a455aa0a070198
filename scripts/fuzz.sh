#!/bin/bash
# Builds the libFuzzer targets (fuzz/fuzz_*.c) with clang and runs each for SECONDS
# (default $FUZZ_SECONDS, else 20) from its seeds (fuzz/seeds/TARGET) and dictionary
# (fuzz/dict/TARGET.dict), into a corpus kept in the build dir between runs
# ($FUZZ_BUILD_DIR, default build-fuzz).
# By hand, longer: scripts/fuzz.sh 600   or one target: scripts/fuzz.sh 600 fuzz_server
# Figures and coverage per target: docs/fuzzing.md (fuzz/coverage.sh measures them).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${FUZZ_SECONDS:-20}}
only=${2:-}
dir=${FUZZ_BUILD_DIR:-build-fuzz}
CC=clang cmake -S . -B "$dir" -DS4100_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j2 >/dev/null
for bin in "$dir"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    [ -n "$only" ] && [ "$name" != "$only" ] && continue
    corpus=$dir/corpus-$name
    mkdir -p "$corpus"
    # A hang is a finding too: no input may take 25 s, even under ASan on a busy machine.
    args=(-max_total_time="$secs" -timeout=25 -print_final_stats=1 -artifact_prefix="$dir/")
    [ -f "fuzz/dict/$name.dict" ] && args+=(-dict="fuzz/dict/$name.dict")
    seeds=()
    [ -d "fuzz/seeds/$name" ] && seeds=("fuzz/seeds/$name")
    echo "fuzzing $name for ${secs}s"
    rc=0
    "$bin" "${args[@]}" "$corpus" "${seeds[@]}" >"$dir/$name.log" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        # libFuzzer exits non-zero on a finding and writes the input to $dir/crash-*
        tail -40 "$dir/$name.log" >&2
        echo "FAIL: $name found a crashing input (see $dir/)" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$name.log")
    echo "  $runs inputs ($((${runs:-0} / secs)) a second), corpus $(ls "$corpus" | wc -l)"
done
echo "fuzz: ok"
