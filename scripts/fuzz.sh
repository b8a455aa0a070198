#!/bin/bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 20).
# By hand, longer: scripts/fuzz.sh 600   or one target: scripts/fuzz.sh 600 fuzz_bac_codec
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
only=${2:-}
CC=clang cmake -S . -B build-fuzz -DS4100_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j2 >/dev/null
for bin in build-fuzz/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    [ -n "$only" ] && [ "$name" != "$only" ] && continue
    corpus=build-fuzz/corpus-$name
    mkdir -p "$corpus"
    seeds=()
    [ -d "fuzz/seeds/$name" ] && seeds=("fuzz/seeds/$name")
    echo "fuzzing $name for ${secs}s"
    rc=0
    "$bin" -max_total_time="$secs" -artifact_prefix=build-fuzz/ "$corpus" "${seeds[@]}" \
        >build-fuzz/$name.log 2>&1 || rc=$?
    grep -E "^Done [0-9]+ runs" build-fuzz/$name.log || true
    if [ $rc -ne 0 ]; then
        # libFuzzer exits non-zero on a finding and writes the input to build-fuzz/crash-*
        tail -40 build-fuzz/$name.log >&2
        echo "FAIL: $name found a crashing input (see build-fuzz/)" >&2
        exit 1
    fi
done
echo "fuzz: ok"
