#!/bin/bash
# The s4100 firmware (src/port/mps2): builds build-fw/s4100-fw.elf for QEMU's mps2-an386
# (Cortex-M4F) and, with --qemu, runs it with its MS/TP UART on a pty.
#
#   scripts/firmware.sh                     build and check: no heap, no router linked,
#                                           the budgets (build-fw/budget.txt)
#   scripts/firmware.sh --qemu --pty PATH [--mac N] [--device N] [--baud N]
#                       [--max-master N] [--nv FILE] [--tx-log FILE]
#
# --pty PATH   a symlink to QEMU's pty for UART0 (MS/TP), removed on exit
# --nv FILE    the emulated flash's backing file (created blank): NV across runs
# --tx-log F   every octet the meter sends, raw (QEMU's chardev log)
# Runs until QEMU stops or SIGINT/SIGTERM (QEMU is stopped cleanly). The firmware's
# console (semihosting) is this script's stdout. S4100_FW_BUILD overrides build-fw.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${S4100_FW_BUILD:-$root/build-fw}
qemu=0 pty= nv= txlog= words=()
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --qemu) qemu=1 ;;
    --pty) pty=${2:?}; shift ;;
    --nv) nv=${2:?}; shift ;;
    --tx-log) txlog=${2:?}; shift ;;
    --mac) words+=("mac=${2:?}"); shift ;;
    --device) words+=("device=${2:?}"); shift ;;
    --baud) words+=("baud=${2:?}"); shift ;;
    --max-master) words+=("max_master=${2:?}"); shift ;;
    -h|--help) usage ;;
    *) echo "firmware.sh: unknown option $1" >&2; usage ;;
    esac
    shift
done

for t in arm-none-eabi-gcc cmake; do
    command -v $t >/dev/null || { echo "firmware.sh: $t missing: run scripts/install-deps.sh" >&2; exit 1; }
done
if [ ! -f "$out/CMakeCache.txt" ]; then
    cmake -S "$root/src/port/mps2" -B "$out" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/arm-none-eabi.cmake" >/dev/null
fi
cmake --build "$out" -j2 >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
elf=$out/s4100-fw.elf
# A meter has no heap and is no router: either in the image is a build mistake.
bad=$(arm-none-eabi-nm "$elf" | awk '{print $NF}' | grep -E '^(malloc|_malloc_r|_sbrk|free|net_router_[a-z_]+|rdev_[a-z_]+)$' || true)
if [ -n "$bad" ]; then
    echo "firmware.sh: the image links $(echo $bad | tr '\n' ' ')" >&2
    exit 1
fi
# Stack depth, flash and RAM per module, no double-precision routine: scripts/fw-budget.txt.
if ! python3 "$root/scripts/fw-budget.py" -b "$root/scripts/fw-budget.txt" "$out" "$elf" \
        >"$out/budget.txt" 2>&1; then
    cat "$out/budget.txt" >&2
    echo "firmware.sh: over budget (above; the whole report in $out/budget.txt)" >&2
    exit 1
fi
[ $qemu -eq 1 ] || { arm-none-eabi-size "$elf"; grep '^fw-budget: stack' "$out/budget.txt"; exit 0; }

[ -n "$pty" ] || { echo "firmware.sh: --qemu needs --pty PATH" >&2; exit 2; }
command -v qemu-system-arm >/dev/null || { echo "firmware.sh: qemu-system-arm missing: run scripts/install-deps.sh" >&2; exit 1; }
for w in "$nv" "$txlog"; do
    case $w in *[[:space:],]*) echo "firmware.sh: no spaces or commas in paths: $w" >&2; exit 2 ;; esac
done
[ -n "$nv" ] && words+=("nv=$(realpath -m "$nv")")
chardev=pty,id=mstp
[ -n "$txlog" ] && chardev+=",logfile=$(realpath -m "$txlog")"
con=$(mktemp)
qpid= tpid=
stop() {
    if [ -n "$qpid" ]; then
        kill -TERM "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
        qpid=
    fi
    if [ -n "$tpid" ]; then kill "$tpid" 2>/dev/null || true; tpid=; fi
    if [ -L "$pty" ]; then rm -f "$pty"; fi
    rm -f "$con"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT
qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native \
    -kernel "$elf" -append "${words[*]:-}" \
    -chardev "$chardev" -serial chardev:mstp >"$con" 2>&1 &
qpid=$!
# QEMU names the pty as it starts: "char device redirected to /dev/pts/N (label mstp)";
# the firmware's semihosting console follows on the same stream.
dev=
for _ in $(seq 100); do
    dev=$(sed -n 's|^char device redirected to \(/dev/pts/[0-9]*\) (label mstp).*|\1|p' "$con")
    [ -n "$dev" ] && break
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$dev" ]; then
    cat "$con" >&2
    echo "firmware.sh: QEMU gave no pty" >&2
    exit 1
fi
ln -sfn "$dev" "$pty"
echo "firmware.sh: QEMU pid $qpid, MS/TP on $pty -> $dev"
tail -n +1 -f --pid="$qpid" "$con" | grep --line-buffered -v '^char device redirected' &
tpid=$!
rc=0
wait "$qpid" || rc=$?
qpid=
wait "$tpid" 2>/dev/null || true
tpid=
exit $rc
