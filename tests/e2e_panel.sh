#!/bin/bash
# The front panel as a commissioning technician uses it: s4100 run in a real terminal
# (tmux), keys pressed with send-keys, the screen read with capture-pane. The system type
# and the CT are changed on the panel, then checked over BACnet with the third-party
# client. Keys sent through the control socket and the display read back are checked too.
# The meter runs on virtual time: where a setting commits at the next 1 s cycle the test
# advances it (s4100 ctl advance). Its own tmux server, UDP ports claimed for this run
# (tests/interop/tools/ports.sh) and one temporary directory: runs can go side by side.
# Usage: e2e_panel.sh <s4100 binary> <repo root>
set -euo pipefail
bin=$1
root=$2
tmp=$(mktemp -d)
sess=panel
tmux() { command tmux -S "$tmp/tmux.sock" "$@"; }
meter2=""
cleanup() {
    tmux kill-server 2>/dev/null || true
    [ -n "$meter2" ] && kill "$meter2" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fails=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }

for t in tmux node flock; do command -v $t >/dev/null || { echo "$t missing: run scripts/install-interop-deps.sh"; exit 1; }; done
[ -d "$root/tests/interop/node_modules/@bacnet-js/client" ] || npm ci --prefix "$root/tests/interop" --no-audit --no-fund >/dev/null
# shellcheck source=interop/tools/ports.sh
source "$root/tests/interop/tools/ports.sh"
s4100_claim_ports 2
port=$PORT_BASE
cport=$((PORT_BASE + 1))

# The LCD's two rows (between the "| " and " |" of the drawn panel).
lcd() { tmux capture-pane -p -t "$sess" | sed -n '4,5p' | sed -E 's/^ *\| //; s/ \|$//'; }
# (Keys a quarter of a second apart: a lone Escape is told from a key sequence by time.)
key() { tmux send-keys -t "$sess" "$@"; sleep 0.25; }
expect_lcd() { # name, pattern (grep -E over both rows joined by /): the screen redrawn within 5 s
    local got i
    for i in $(seq 50); do
        got=$(lcd | paste -sd/)
        echo "$got" | grep -qE -- "$2" && break
        sleep 0.1
    done
    if echo "$got" | grep -qE -- "$2"; then ok "$1: [$got]"; else bad "$1: wanted /$2/, got [$got]"; fi
}
bacread() { node "$root/tests/interop/tools/bacread.mjs" $port $cport "$@"; }
ctl() { "$bin" ctl --control "$tmp/ctl.sock" "$@"; }
advance() { ctl advance "$1" >/dev/null || bad "ctl advance $1"; }

tmux new-session -d -s "$sess" -x 100 -y 20 \
    "TERM=xterm $bin run --bind 127.0.0.1 --bip-port $port --device-id 1234 --nv $tmp/p.nv --control $tmp/ctl.sock --virtual-time --scenario $root/scenarios/balanced-50hz.ini"
for i in $(seq 100); do [ -S "$tmp/ctl.sock" ] && break; sleep 0.1; done
advance 2 # a first measurement for the home screen
expect_lcd "home screen" "KWh +NET _PHASE/ +[0-9.]+ +k?Wh"

# Factory state over BACnet first: type 40, 100 A, 1 V CTs.
[ "$(bacread 2 2 85)" = "[40]" ] && [ "$(bacread 2 3 85)" = "[100]" ] && ok "factory AV2 40, AV3 100" || bad "factory AVs"

# SETUP with the default password.
key Up
expect_lcd "UP from home" "^SETUP"
key Enter
expect_lcd "password entry" "PASWD"
# (wrong passwords, cancelled edits and refused values: tests/test_ui.c walks them all)
key Enter
expect_lcd "default password 00000 accepted" "S BAC"

# S CT: 1/3 V CTs of 200 A.
key Down
expect_lcd "S CT menu" "S CT"
key Enter
expect_lcd "CT V" "CT V"
key Up
expect_lcd "CT V .33" "\.33"
key Enter
expect_lcd "CT SZ 00100" "CT SZ.*/ *00100"
key Down
key Down
key Up
expect_lcd "CT SZ 00200" "00200"
key Enter
expect_lcd "back at S CT" "S CT"
# S SYS: split phase 2L+1n (12).
key Down
expect_lcd "S SYS menu" "S SYS"
key Enter
expect_lcd "SYSTM 3L+1n" "SYSTM.*/.*3L\+1n"
key Up
key Up
key Up
expect_lcd "SYSTM 2L+1n" "2L\+1n"
key Enter
key Escape
key Escape
advance 2 # the writes commit at the end of the next 1 s cycle

# Over BACnet with the third-party client: the same state.
v2=$(bacread 2 2 85)
v3=$(bacread 2 3 85)
v4=$(bacread 2 4 85)
[ "$v2" = "[12]" ] && ok "BACnet AV2 System_Type = 12 after the panel" || bad "AV2 = $v2"
[ "$v3" = "[200]" ] && ok "BACnet AV3 CT primary = 200 after the panel" || bad "AV3 = $v3"
[ "$v4" = "[3]" ] && ok "BACnet AV4 CT secondary = 3 (1/3 V) after the panel" || bad "AV4 = $v4"
rel=$(bacread 2 3 103)
[ "$rel" = "[0]" ] && ok "AV3 Reliability no-fault-detected once committed" || bad "AV3 Reliability $rel"

# Keys by script through the control socket, and the display read back.
out=$(ctl display)
echo "$out" | head -1 | grep -q "KWh" && ok "ctl display: $(echo "$out" | paste -sd/)" || bad "ctl display: $out"
out=$(ctl key down)
[ "$(echo "$out" | wc -l)" -eq 2 ] && ok "ctl key down: $(echo "$out" | paste -sd/)" || bad "ctl key: $out"
ctl key sideways 2>"$tmp/e" && bad "ctl key sideways accepted" ||
    ok "ctl key sideways refused: $(cat "$tmp/e")"
# A BACnet write shows on the panel: the data screens follow AV7 (IEC labels).
ctl key back >/dev/null
node -e "
const B=require('$root/tests/interop/node_modules/@bacnet-js/client').default;
const c=new B({port:$cport,interface:'127.0.0.1',reuseAddr:false,apduTimeout:2000});
c.on('listening',async()=>{try{await c.writeProperty({address:'127.0.0.1:$port'},{type:2,instance:7},85,[{type:4,value:0}],{});c.close();process.exit(0);}catch(e){console.error(e.message);process.exit(1);}});
setTimeout(()=>process.exit(1),5000);" && ok "BACnet write AV7 = 0 (IEC)" || bad "write AV7"
advance 2 # committed at the next cycle
key Down   # home -> next group
expect_lcd "panel shows IEC labels after the BACnet write" "^[^/]*(KQh|KSh|KPh|P |Q |S )"

tmux send-keys -t "$sess" q
for i in $(seq 50); do tmux has-session -t "$sess" 2>/dev/null || break; sleep 0.1; done
tmux has-session -t "$sess" 2>/dev/null && bad "q did not quit" || ok "q quits the panel and the meter"

# What the panel set is non-volatile: a restart on the same NV file keeps it (with a
# scenario that has no [meter] section: one that has recommissions the meter).
"$bin" run --bind 127.0.0.1 --bip-port $port --device-id 1234 --nv $tmp/p.nv --quiet --no-panel \
    --virtual-time --control "$tmp/ctl2.sock" --scenario $root/tests/interop/steady.ini >/dev/null 2>&1 &
meter2=$!
for i in $(seq 100); do [ -S "$tmp/ctl2.sock" ] && break; sleep 0.1; done
v2=$(bacread 2 2 85 || bacread 2 2 85)
v3=$(bacread 2 3 85)
[ "$v2" = "[12]" ] && [ "$v3" = "[200]" ] && ok "after a restart: AV2 $v2, AV3 $v3 (kept in NV)" || bad "after restart: AV2 $v2 AV3 $v3"
kill "$meter2"
wait "$meter2" || true
meter2=""

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
