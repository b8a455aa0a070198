#!/bin/bash
# Builds src/core for a Cortex-M4F (freestanding, -Os) and prints its sizes. Fails if the
# core needs anything from the C library beyond string and math functions, i.e. no heap,
# no stdio, no OS: what an MCU port would have to provide.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-arm
rm -rf "$out" && mkdir -p "$out"
flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -std=c11
       -ffreestanding -ffunction-sections -fdata-sections -Wall -Wextra -Werror -Isrc/core)
objs=()
for src in src/core/*/*.c; do
    obj="$out/$(basename "${src%.c}").o"
    arm-none-eabi-gcc "${flags[@]}" -c "$src" -o "$obj"
    objs+=("$obj")
done
arm-none-eabi-ld -r -o "$out/s4100_core.o" "${objs[@]}"
allowed='^(mem(cpy|set|move|cmp)|str(len|cmp|ncmp|ncpy|chr|nlen)|(sqrt|tan|sin|cos|atan2|floor|ceil|fmod|fabs|fmin|fmax|round|lround|log10|pow|exp|hypot)f?|__aeabi_[a-z0-9_]+)$'
bad=$(arm-none-eabi-nm -u "$out/s4100_core.o" | awk '{print $2}' | grep -Ev "$allowed" || true)
echo "Cortex-M4F build of src/core (arm-none-eabi-gcc -Os, freestanding):"
arm-none-eabi-size -t "${objs[@]}" | sed 's|build-arm/||'
echo "external symbols: $(arm-none-eabi-nm -u "$out/s4100_core.o" | awk '{print $2}' | tr '\n' ' ')"
if [ -n "$bad" ]; then
    echo "FAIL: src/core needs more than string/math from the C library: $bad" >&2
    exit 1
fi
echo "arm build: ok"
