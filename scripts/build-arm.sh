#!/bin/bash
# Builds src/core for a Cortex-M4F (freestanding, -Os) and prints its sizes. Fails if the
# core needs anything from the C library beyond string and math functions, i.e. no heap,
# no stdio, no OS: what an MCU port would have to provide. Fails too if a core object
# needs double precision, which the M4F's FPU does not have: a soft-float routine
# (__aeabi_d*, __aeabi_*2d such as __aeabi_f2d), a double libm function (sqrt rather
# than sqrtf), or an implicit float -> double promotion (-Wdouble-promotion). Each
# offending object is named with what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${S4100_ARM_OUT:-build-arm} # another directory: S4100_ARM_OUT=dir
rm -rf "$out" && mkdir -p "$out"
flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -std=c11
       -ffreestanding -ffunction-sections -fdata-sections -Wall -Wextra -Wdouble-promotion
       -Werror -Isrc/core)
objs=()
for src in src/core/*/*.c; do
    obj="$out/$(basename "${src%.c}").o"
    arm-none-eabi-gcc "${flags[@]}" -c "$src" -o "$obj"
    objs+=("$obj")
done
arm-none-eabi-ld -r -o "$out/s4100_core.o" "${objs[@]}"
# Double precision, per object: the soft-float routines and the double math functions.
# (__aeabi_f2lz/__aeabi_f2ulz too: libgcc converts a float to 64 bits through a double.)
double_re='^(__aeabi_d[a-z0-9_]*|__aeabi_[a-z0-9]+2d|__aeabi_f2u?lz|(sqrt|tan|sin|cos|atan2|floor|ceil|fmod|fabs|fmin|fmax|round|lround|log10|pow|exp|hypot|frexp|ldexp|modf|trunc))$'
doubles=0
for obj in "${objs[@]}"; do
    need=$(arm-none-eabi-nm -u "$obj" | awk '{print $2}' | grep -E "$double_re" | tr '\n' ' ' || true)
    if [ -n "$need" ]; then
        echo "FAIL: $(basename "$obj") needs double precision: $need" >&2
        doubles=1
    fi
done
allowed='^(mem(cpy|set|move|cmp)|str(len|cmp|ncmp|ncpy|chr|nlen)|(sqrt|tan|sin|cos|atan2|floor|ceil|fmod|fabs|fmin|fmax|round|lround|log10|pow|exp|hypot)f?|__aeabi_[a-z0-9_]+)$'
bad=$(arm-none-eabi-nm -u "$out/s4100_core.o" | awk '{print $2}' | grep -Ev "$allowed" || true)
echo "Cortex-M4F build of src/core (arm-none-eabi-gcc -Os, freestanding):"
arm-none-eabi-size -t "${objs[@]}" | sed "s|$out/||"
echo "external symbols: $(arm-none-eabi-nm -u "$out/s4100_core.o" | awk '{print $2}' | tr '\n' ' ')"
if [ "$doubles" -ne 0 ]; then
    echo "FAIL: src/core must not use double arithmetic on the target (single-precision FPU)" >&2
    exit 1
fi
echo "double precision: none (no __aeabi_d*, __aeabi_*2d or double libm call in any object)"
if [ -n "$bad" ]; then
    echo "FAIL: src/core needs more than string/math from the C library: $bad" >&2
    exit 1
fi
echo "arm build: ok"
