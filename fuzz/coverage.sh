#!/bin/bash
# Measure the fuzz targets: each runs SECONDS from its seeds (and dictionary) into a fresh
# corpus, then that corpus is replayed through a clang source-based coverage build and the
# line coverage of the files the target is for is reported, with the target's execs/s.
#   fuzz/coverage.sh [SECONDS=60] [TARGET...]
# FUZZ_DIR (default build-fuzz) and COV_DIR (default build-cov) are the build dirs. One
# target at a time: each libFuzzer run uses one core.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
fz=${FUZZ_DIR:-build-fuzz}
cov=${COV_DIR:-build-cov}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for src in fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi

# The files each target is for.
files_of() {
    case $1 in
    fuzz_bac_codec) echo src/core/bacnet/bac_buf.c src/core/bacnet/bac_tag.c src/core/bacnet/bac_pdu.c ;;
    fuzz_bip) echo src/core/bip/bip.c src/core/bacnet/bac_server.c src/core/objects/obj.c \
        src/core/objects/obj_props.c src/core/trendlog/tl.c ;;
    fuzz_server) echo src/core/bacnet/bac_server.c src/core/objects/obj.c \
        src/core/objects/obj_props.c src/core/trendlog/tl.c ;;
    fuzz_mstp) echo src/core/mstp/mstp.c src/core/mstp/mstp_frame.c src/core/bacnet/bac_server.c \
        src/core/objects/obj_props.c ;;
    fuzz_nv) echo src/core/nv/nv.c ;;
    fuzz_csv) echo src/sim/replay.c src/sim/source.c ;;
    fuzz_scenario) echo src/sim/scenario.c src/sim/synth.c ;;
    fuzz_ctl) echo src/app/control.c ;;
    fuzz_net) echo src/core/net/net_router.c src/core/net/net_msg.c ;;
    fuzz_rdev) echo src/core/rdev/rdev.c ;;
    fuzz_site) echo src/app/site_cfg.c ;;
    fuzz_comtrade) echo src/sim/comtrade.c ;;
    fuzz_verify) echo src/sim/testpoint.c ;;
    *) echo "" ;;
    esac
}

CC=clang cmake -S . -B "$fz" -DS4100_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
CC=clang cmake -S . -B "$cov" -DS4100_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
    -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
cmake --build "$fz" -j2 --target "${targets[@]}" >/dev/null
cmake --build "$cov" -j2 --target "${targets[@]}" >/dev/null

for t in "${targets[@]}"; do
    corpus=$fz/cov-corpus-$t
    rm -rf "$corpus" "$cov/$t".prof*
    mkdir -p "$corpus"
    args=(-max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$fz/")
    [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
    seeds=()
    [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
    # CPU seconds as well as wall ones: on a shared machine the wall rate says more
    # about the neighbours than about the target.
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f "%U %S" -o "$fz/cov-$t.time" \
        "$fz/fuzz/$t" "${args[@]}" "$corpus" "${seeds[@]}" >"$fz/cov-$t.log" 2>&1 || {
        echo "$t: the run failed (see $fz/cov-$t.log)" >&2
        continue
    }
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$fz/cov-$t.log")
    LLVM_PROFILE_FILE="$cov/$t.profraw" "$cov/fuzz/$t" -runs=0 "$corpus" "${seeds[@]}" \
        >"$cov/replay-$t.log" 2>&1
    llvm-profdata-14 merge -sparse "$cov/$t.profraw" -o "$cov/$t.profdata"
    cpu=$(awk '{ print $1 + $2 }' "$fz/cov-$t.time")
    echo "== $t: $runs runs in ${secs} s = $((runs / secs)) execs/s" \
        "($(awk -v r="$runs" -v c="$cpu" 'BEGIN { printf "%d", r / c }') per CPU second," \
        "load $load), corpus $(ls "$corpus" | wc -l) inputs"
    # shellcheck disable=SC2046
    llvm-cov-14 report "$cov/fuzz/$t" -instr-profile="$cov/$t.profdata" $(files_of "$t") |
        awk 'NR > 2 && NF >= 10 && $1 != "---" { printf "   %-36s lines %6s of %5s\n", $1, $10, $8 }'
done
