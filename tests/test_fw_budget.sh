#!/bin/bash
# scripts/fw-budget.py on inputs with known answers (tests/fw_budget/README): the depth
# and the deepest path of a hand-made call graph, an indirect call resolved by the
# budget table (and its failure when not), recursion, unbounded dynamic frames, unknown
# frames, flash/RAM per module from a map, double routines; then a real Cortex-M4F image
# (tiny.c): roots from its vector table, library frames from its disassembly, the
# callers of double routines.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
fx=$root/tests/fw_budget
work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
failed=0

# run NAME RC ARGS...: the tool's output in $work/out (blanks squeezed), its exit status RC
run() {
    name=$1 want=$2
    shift 2
    (cd "$fx" && python3 "$root/scripts/fw-budget.py" "$@") >"$work/raw" 2>&1
    rc=$?
    tr -s ' ' <"$work/raw" >"$work/out"
    if [ "$rc" != "$want" ]; then
        echo "FAIL $name: exit $rc, want $want"; cat "$work/raw"; failed=1
    fi
}
has() {
    if ! grep -qF -- "$1" "$work/out"; then
        echo "FAIL $name: no line with: $1"; cat "$work/raw"; failed=1
    fi
}
hasnt() {
    if grep -qF -- "$1" "$work/out"; then
        echo "FAIL $name: unexpected: $1"; failed=1
    fi
}
budget() { # budget FILE LINE...: good.txt plus these lines
    cp "$fx/good.txt" "$work/$1"
    shift_file=$work/$1
    shift
    printf '%s\n' "$@" >>"$shift_file"
}
roots=(--roots main,Timer_IRQHandler,Uart_IRQHandler)

run good 0 -b good.txt "${roots[@]}" --map fw.map .
has "total: 180 thread + 104 Timer_IRQHandler + 108 frame = 392 bytes"
grep -A4 'deepest thread path' "$work/out" | sed 's/^ *//' >"$work/path"
printf '%s\n' 'deepest thread path, from main:' '32 main fx/a.c:10:5' \
    '8 dispatch fx/a.c:20:6' '100 cb_big fx/b.c:5:13' '40 leaf_b fx/b.c:1:6' >"$work/want"
diff -u "$work/want" "$work/path" || { echo "FAIL good: deepest path"; failed=1; }
has "80 vla_ok fx/b.c:30:6 (dynamic,bounded)"
has "dynamic frames on these paths: vla_ok fx/b.c:30:6 (dynamic,bounded)"
has "recursion: none"
has "dispatch fx/a.c:20:6 -> cb_small.constprop, cb_big"
has " core/metering 256 32 0 0 288 0"
has " port/mps2 128 64 8 24 200 32"
has " libgcc 80 0 0 0 80 0"
has " libc 268 0 0 0 268 0"
has " (reserved by the linker script: .bss) 0 0 0 1024 0 1024"
has " total 734 96 8 1048 838 1056"
has "__aeabi_dmul (= __muldf3)"
has "referenced by: core/metering"
has "fw-budget: within budget"

budget tight.txt "stack 391" "flash 837" "ram 1055" "double no" "flash core/metering 287" \
    "ram port/mps2 32"
run over 1 -b "$work/tight.txt" "${roots[@]}" --map fw.map .
has "stack: 392 bytes > budget 391"
has "flash: 838 bytes > budget 837"
has "ram: 1056 bytes > budget 1055"
has "flash of core/metering: 288 bytes > budget 287"
hasnt "ram of port/mps2"
has "double: 1 double-precision routines linked (budget: double no)"

# priorities: Uart_IRQHandler preempts Timer_IRQHandler; a HardFault preempts both
budget levels.txt "priority Timer_IRQHandler 2" "priority Uart_IRQHandler 1" "stack 4096"
run priorities 0 -b "$work/levels.txt" "${roots[@]}" .
has "total: 180 thread + 16 Uart_IRQHandler + 108 frame + 104 Timer_IRQHandler + 108 frame = 516 bytes"
run faults 0 -b "$work/levels.txt" "${roots[@]},HardFault_Handler" .
has "total: 180 thread + 40 HardFault_Handler + 108 frame + 16 Uart_IRQHandler + 108 frame + 104 Timer_IRQHandler + 108 frame = 664 bytes"

# a static of the same name in another file: the table names which one
budget statics.txt "indirect dispatch: b.c:helper" "stack 4096"
run statics 0 -b "$work/statics.txt" --roots main .
has "total: 240 thread = 240 bytes"
has "200 helper fx/b.c:9:13"

grep -v '^indirect' "$fx/good.txt" >"$work/notable.txt"
run uncovered 1 -b "$work/notable.txt" "${roots[@]}" .
has "stack: dispatch fx/a.c:20:6 calls through a pointer (fx/a.c:21:5) and the budget table does not say what it may call"

budget nosuch.txt "indirect dispatch: b.c:nosuch"
run nosuch 1 -b "$work/nosuch.txt" "${roots[@]}" .
has "budget table: indirect dispatch: target b.c:nosuch: no such function"

run recursion 1 -b good.txt --roots main,walk .
has "stack: recursion: walk -> inner -> walk (depth unbounded)"

run dynamic 1 -b good.txt --roots main,alloca_user .
has "stack: alloca_user fx/b.c:34:6 has a dynamic, unbounded frame"
budget bound.txt "frame alloca_user 64"
run dynamic_bound 0 -b "$work/bound.txt" --roots main,alloca_user .

# no --roots, no image: main and the *_Handler functions of the graph
run default_roots 1 -b good.txt .
has "total: 180 thread + 40 HardFault_Handler + 108 frame + 104 Timer_IRQHandler + 108 frame = 540 bytes"
has "stack: 540 bytes > budget 392"

# two programs' objects in one build directory: the map says which main is linked
cp -r "$fx/dup" "$work/dup" && touch "$work/dup/fw/a.o" "$work/dup/app_test/t.o"
run duplicates 0 --roots main --map "$work/dup/fw.map" "$work/dup"
has "total: 40 thread = 40 bytes"
has "the linker script reserves 1024 in .stack: ok"

printf 'stack lots\n' >"$work/bad.txt"
run bad_budget 2 -b "$work/bad.txt" .
has 'cannot read "stack lots"'

grep -v '^frame ext_fn' "$fx/good.txt" >"$work/noext.txt"
run unknown_frame 1 -b "$work/noext.txt" "${roots[@]}" .
has 'stack: ext_fn: frame size unknown'

# a real image: roots from its vector table, library code from its disassembly
if ! command -v arm-none-eabi-gcc >/dev/null; then
    echo "FAIL: arm-none-eabi-gcc missing: run scripts/install-deps.sh"; exit 1
fi
cflags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
mkdir "$work/tiny"
(cd "$work/tiny" && arm-none-eabi-gcc "${cflags[@]}" -Os -ffunction-sections -fdata-sections \
    -fstack-usage -fcallgraph-info=su -c "$fx/tiny.c" -o tiny.o &&
    arm-none-eabi-gcc "${cflags[@]}" -nostartfiles -T "$fx/tiny.ld" \
        -Wl,--gc-sections,--cref,-Map=tiny.map -o tiny.elf tiny.o -lgcc) ||
    { echo "FAIL: cannot build tiny.elf"; exit 1; }
run elf 1 -b tiny.txt "$work/tiny" "$work/tiny/tiny.elf"
has "SysTick_Handler 0 handler (vector 15)"
has "Reset_Handler"
has "__aeabi_dmul (no .ci: from the disassembly)"
has "main $fx/tiny.c:35:5 -> scale, twice"
has "__aeabi_dmul (= __muldf3)"
has "called by: scale (tiny.c)"
# the naked fault handler's tail branch, found in the disassembly
has "HardFault_Handler $fx/tiny.c"
has "120 fault_report $fx/tiny.c"
has " (reserved by the linker script: .bss) 0 0 0 2048 0 2048"
has "double: "
printf 'double yes\n' >"$work/yes.txt"
run elf_double_ok 0 -b tiny.txt -b "$work/yes.txt" "$work/tiny" "$work/tiny/tiny.elf"
grep -v '^indirect' "$fx/tiny.txt" >"$work/tiny-notable.txt"
# &file: every function whose address the file's object takes (here the vector table's
# too, so main may "call" Reset_Handler: an over-approximation, reported as recursion)
printf 'indirect main: &tiny.c\n' >"$work/taken.txt"
run elf_taken 1 -b "$work/tiny-notable.txt" -b "$work/taken.txt" "$work/tiny" "$work/tiny/tiny.elf"
has "main $fx/tiny.c:35:5 -> SysTick_Handler, scale, twice, HardFault_Handler, Reset_Handler"
has "stack: recursion: main -> Reset_Handler -> main"
run elf_uncovered 1 -b "$work/tiny-notable.txt" "$work/tiny" "$work/tiny/tiny.elf"
has "calls through a pointer"

[ "$failed" = 0 ] && echo "fw-budget: all checks passed"
exit "$failed"
