# Which tests/test_*.c are the portable core's (sourced by scripts/target-tests.sh and
# scripts/be-tests.sh; needs $root and the associative array `excluded`): a test runs
# if what it includes is the C library, cmocka, src/core's headers, or another header
# of the checkout outside the host's code (src/app, src/sim, src/port) that itself
# includes nothing else (tests/wave.h, bench/accuracy_cases.h). Sets `selected` (the
# names) and `skipped` ("name: why").
std_headers=" assert.h ctype.h errno.h float.h inttypes.h limits.h math.h setjmp.h stdarg.h "
std_headers+=" stdbool.h stddef.h stdint.h stdio.h stdlib.h string.h cmocka.h "
portable() { # FILE: prints the first include that is not portable, if any
    local line h f
    while read -r line; do
        if [[ $line =~ \<([^>]+)\> ]]; then
            h=${BASH_REMATCH[1]}
            [[ $std_headers == *" $h "* ]] || { echo "<$h>"; return; }
        elif [[ $line =~ \"([^\"]+)\" ]]; then
            h=${BASH_REMATCH[1]}
            f=$(realpath -m "$(dirname "$1")/$h")
            [ -f "$f" ] || f=$(realpath -m "$root/src/core/$h")
            case $f in
                "$root"/src/core/*) [ -f "$f" ] && continue ;;
                "$root"/src/*) ;;
                "$root"/*.h) [ -f "$f" ] && [ -z "$(portable "$f")" ] && continue ;;
            esac
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
