#!/bin/bash
# cmake --install as a user or a packager runs it: into a prefix, and staged under
# DESTDIR. Checks the installed files (binary, every shipped scenario, docs, LICENSE,
# the man page), the version the binary reports, measure on the installed default
# scenario, run finding that scenario by itself from any directory, and that the man
# page renders and names every option and ctl command the program's --help prints.
# Usage: e2e_install.sh <s4100 binary in its build tree> <repo root>
set -euo pipefail
bin=$1
root=$2
build=$(cd "$(dirname "$bin")" && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }
check() { # name, command...: ok when the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

# 1. Install into a prefix, and staged (DESTDIR) into another.
p=$tmp/prefix
if cmake --install "$build" --prefix "$p" >"$tmp/install.log" 2>&1; then
    ok "cmake --install --prefix"
else
    bad "cmake --install --prefix: $(cat "$tmp/install.log")"
fi
if DESTDIR=$tmp/stage cmake --install "$build" --prefix /opt/s4100 >"$tmp/stage.log" 2>&1; then
    ok "DESTDIR=... cmake --install --prefix /opt/s4100"
else
    bad "DESTDIR install: $(cat "$tmp/stage.log")"
fi

# 2. The files.
check "bin/s4100 is executable" test -x "$p/bin/s4100"
missing=
for f in "$root"/scenarios/*.ini; do
    [ -f "$p/share/s4100/scenarios/$(basename "$f")" ] || missing="$missing $(basename "$f")"
done
for f in "$root"/docs/*.md; do
    [ -f "$p/share/doc/s4100/$(basename "$f")" ] || missing="$missing $(basename "$f")"
done
for f in README.md LICENSE; do
    [ -f "$p/share/doc/s4100/$f" ] || missing="$missing $f"
done
[ -f "$p/share/man/man1/s4100.1" ] || missing="$missing s4100.1"
[ -z "$missing" ] && ok "scenarios, docs, README, LICENSE and the man page installed" ||
    bad "not installed:$missing"
check "LICENSE is MIT" grep -q "^MIT License" "$p/share/doc/s4100/LICENSE"
check "the staged tree has the binary and the default scenario" \
    test -x "$tmp/stage/opt/s4100/bin/s4100" -a -f "$tmp/stage/opt/s4100/share/s4100/scenarios/default.ini"

# 3. The version: "s4100 X.Y.Z...", the same from --version and version, starting with
#    the project version of CMakeLists.txt unless a tag names it; a commit from git
#    when built from a checkout.
want=$(sed -n 's/^project(s4100 VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
v1=$("$p/bin/s4100" --version)
v2=$("$p/bin/s4100" version)
if [ "$v1" = "$v2" ] && [[ "$v1" =~ ^s4100\ [0-9]+\.[0-9]+\.[0-9]+ ]] && [ -n "$want" ]; then
    ok "--version and version: '$v1'"
else
    bad "version: '$v1' / '$v2' (project version '$want')"
fi
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1 && ! git -C "$root" describe --tags >/dev/null 2>&1; then
    # No tag: PROJECT_VERSION-g<commit>[-dirty]. The commit must be one of the repo's
    # (HEAD may have moved on since the build).
    hash=$(sed -n "s/^s4100 $want-g\([0-9a-f]\{7,\}\)\(-dirty\)\?$/\1/p" <<<"$v1")
    if [ -n "$hash" ] && git -C "$root" cat-file -e "$hash^{commit}" 2>/dev/null; then
        ok "the version names commit $hash"
    else
        bad "'$v1' is not '$want-g<commit of this repository>[-dirty]'"
    fi
fi
# Without git (a source tarball) the build's version step falls back to the project's.
mkdir "$tmp/nogit"
cmake -DSRC="$tmp/nogit" -DOUT="$tmp/nogit/v.h" -DFALLBACK="$want" -P "$build/s4100_version.cmake"
check "no git: the version is the project version" grep -qx "#define S4100_VERSION \"$want\"" "$tmp/nogit/v.h"

# 4. measure on the installed default scenario.
if "$p/bin/s4100" measure --scenario "$p/share/s4100/scenarios/default.ini" --seconds 2 \
    >"$tmp/m.jsonl" 2>"$tmp/m.err" &&
    python3 - "$tmp/m.jsonl" <<'EOF'; then
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["t"] for r in rows] == [1, 2], rows
assert abs(rows[-1]["Volts_AN"] - 277) < 3 and rows[-1]["Frequency"] > 59, rows[-1]
EOF
    ok "installed measure --seconds 2 on the installed default.ini"
else
    bad "installed measure: $(cat "$tmp/m.err")"
fi

# 5. run, started from a directory without scenarios/, finds the installed default
#    scenario (also in the staged tree, which was installed for /opt). One second of
#    meter time on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$tmp/elsewhere"
for tree in "$p" "$tmp/stage/opt/s4100"; do
    rc=0
    (cd "$tmp/elsewhere" && timeout 60 "$tree/bin/s4100" run --seconds 1 --no-panel \
        --bind 127.0.0.1 --bip-port "$port" --nv "$tmp/m.nv" </dev/null >"$tmp/run.out" 2>"$tmp/run.err") || rc=$?
    used=$(sed -n 's/.*, scenario \(.*\)$/\1/p' "$tmp/run.out" | head -1)
    if [ "$rc" -eq 0 ] && [ -n "$used" ] && [ "$(realpath "$used")" = "$(realpath "$tree/share/s4100/scenarios/default.ini")" ]; then
        ok "run from elsewhere uses the installed default scenario ($used)"
    else
        bad "run in $tree: exit $rc, scenario '$used': $(cat "$tmp/run.out" "$tmp/run.err")"
    fi
done

# 6. The man page renders, without warnings, and names every option and ctl command.
page=$p/share/man/man1/s4100.1
if LC_ALL=C MANWIDTH=200 man --nh --nj -l "$page" >"$tmp/man.txt" 2>"$tmp/man.err" &&
    [ ! -s "$tmp/man.err" ] && grep -q "^S4100 RUN" "$tmp/man.txt"; then
    ok "man -l renders the page ($(wc -l <"$tmp/man.txt") lines)"
else
    bad "man -l: $(cat "$tmp/man.err")"
fi
if groff -man -ww -z "$page" 2>"$tmp/groff.err" && [ ! -s "$tmp/groff.err" ]; then
    ok "groff -ww: no warnings"
else
    bad "groff warnings: $(cat "$tmp/groff.err")"
fi
for cmd in run measure site ctl verify; do
    "$p/bin/s4100" "$cmd" --help >"$tmp/help.txt"
    absent=
    for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$tmp/help.txt" | sort -u); do
        grep -qF -- "$opt" "$tmp/man.txt" || absent="$absent $opt"
    done
    if [ "$cmd" = ctl ]; then
        for word in $(sed -n '/^commands:/,/^Exit/p' "$tmp/help.txt" | sed -n 's/^  \([a-z][a-z]*\).*/\1/p'); do
            grep -qE "^ +$word( |$)" "$tmp/man.txt" || absent="$absent '$word'"
        done
    fi
    [ -z "$absent" ] && ok "the man page names every option of s4100 $cmd --help" ||
        bad "s4100 $cmd: missing from the man page:$absent"
done

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
