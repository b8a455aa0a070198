#!/bin/bash
# Two sites on two IP subnets and a head end on a third, each in a network namespace of
# its own, joined by an IP router R (a namespace with forwarding on) through veth pairs:
#
#   A 10.77.1.1 ---+-- .254 R .254 --- 10.77.2.1 B    (sites/site-a.ini, site-b.ini)
#   L 10.77.1.20 --/       .254
#                           |
#                     10.77.3.10 C  (the client: @bacnet-js/client, a foreign device of A)
#
# (R bridges A's and L's veths into one subnet: L is a head end on A's own subnet.)
#
# 1. Both sites BBMDs (the shipped files, each bound to its address, each in the other's
#    BDT). 2. A a BBMD bound to 0.0.0.0 (it must find itself in its BDT among its
#    namespace's addresses), B a foreign device of A (bound to 0.0.0.0, it takes the
#    address its packets to A leave from). Both times the client registers with A as a
#    foreign device, finds every meter of both sites (networks 100, 101 and 200, 201)
#    with a global Who-Is sent as Distribute-Broadcast-To-Network, each at the right
#    network, MAC and router address and no device more often than asked, reads each one's
#    Object_Name (AI1 too for meters) through the IP router and the site's router, and
#    reads A's BDT and FDT (raw BVLC), where its own registration must be. A capture in
#    C is decoded by tshark with nothing malformed. Then L, on A's subnet, sends a
#    global Who-Is as an Original-Broadcast and must find the same 18 devices through A:
#    checked in 2; in 1 only noted, as the shipped files bind A to 10.77.1.1, and a
#    socket bound to a unicast address hears no subnet broadcast on Linux.
# Network: only addresses inside namespaces this script creates and removes (names and
# interfaces carry this shell's PID, so two runs can go side by side); nothing touches
# the host's own namespace. Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): without it the
# test says why and exits 77 (skipped). S4100_NETNS_KEEP=DIR keeps the captures, site
# files, outputs and the client's JSON there.
# Usage: e2e_netns.sh <s4100 binary> <repo root>
set -uo pipefail
bin=$1
root=$2
tag="s4100e2e-$$"
nsA="$tag-a" nsB="$tag-b" nsC="$tag-c" nsL="$tag-l" nsR="$tag-r"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/$tag.XXXXXX")
pids=()
sites=()
made=()
pass=0
fails=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; exit 77; }

# Whatever still runs in namespace $1 (ours by name) is stopped, then the name removed.
drop_ns() {
    local p
    for p in $(ip netns pids "$1" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$1" 2>/dev/null
}
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    pids=()
}
cleanup() {
    [ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null
    [ -e "$tmp/overtime" ] && echo "FAIL - stopped after $budget s (the test's time budget)"
    stop_all
    # Removing a namespace removes the veth ends in it, and with them their peers.
    for n in "${made[@]}"; do drop_ns "$n"; done
    [ -n "${S4100_NETNS_KEEP:-}" ] && mkdir -p "$S4100_NETNS_KEEP" && cp -r "$tmp"/. "$S4100_NETNS_KEEP"/
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
for t in node tshark dumpcap; do command -v $t >/dev/null || { echo "$t missing: run scripts/install-interop-deps.sh"; exit 1; }; done
[ -d "$root/tests/interop/node_modules/@bacnet-js/client" ] || { echo "npm ci in tests/interop first (scripts/install-interop-deps.sh)"; exit 1; }

if ! why=$(ip netns add "$nsR" 2>&1); then
    skip "cannot create a network namespace (uid $(id -u); needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN): $why"
fi
made+=("$nsR")

# Namespaces and temporary directories left by a run that was killed outright (no trap
# runs on SIGKILL): ours by name, their PID gone. (What such a run started stops by
# itself within 60 s: the sites run --seconds 60, dumpcap -a duration:60, the clients
# under timeout; drop_ns stops it at once.)
for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^s4100e2e-[0-9]+-[abclr]$'); do
    p=${n#s4100e2e-}
    p=${p%-*}
    [ -d "/proc/$p" ] || drop_ns "$n"
done
for d in "${TMPDIR:-/tmp}"/s4100e2e-*.*; do
    p=${d##*/s4100e2e-}
    p=${p%%.*}
    [ -d "$d" ] && [[ $p =~ ^[0-9]+$ ]] && [ ! -d "/proc/$p" ] && rm -rf "$d"
done

# R routes between the three subnets; X's interface is xPID, its peer in R rxPID; A's
# and L's peers are ports of R's bridge brPID, which has R's address on subnet 1.
topology() {
    local x n i net host
    ip -n "$nsR" link add "br$$" type bridge && ip -n "$nsR" link set "br$$" up &&
        ip -n "$nsR" addr add 10.77.1.254/24 dev "br$$" || return 1
    for x in a l b c; do
        n="$tag-$x" i="$x$$"
        case $x in a) net=1 host=1 ;; l) net=1 host=20 ;; b) net=2 host=1 ;; c) net=3 host=10 ;; esac
        ip netns add "$n" || return 1
        made+=("$n")
        ip link add "$i" netns "$n" type veth peer name "r$i" netns "$nsR" || return 1
        ip -n "$n" addr add "10.77.$net.$host/24" dev "$i" &&
            ip -n "$n" link set lo up && ip -n "$n" link set "$i" up &&
            ip -n "$n" route add default via "10.77.$net.254" &&
            ip -n "$nsR" link set "r$i" up || return 1
        if [ $net = 1 ]; then
            ip -n "$nsR" link set "r$i" master "br$$" || return 1
        else
            ip -n "$nsR" addr add "10.77.$net.254/24" dev "r$i" || return 1
        fi
    done
    ip -n "$nsR" link set lo up && ip netns exec "$nsR" sysctl -qw net.ipv4.ip_forward=1
}
# The whole run stays under 90 s whatever hangs: the trap cleans up and the test fails.
# (S4100_NETNS_BUDGET=SECONDS: another budget, to test this.)
budget=${S4100_NETNS_BUDGET:-85}
(
    sleep "$budget" &
    s=$!
    trap 'kill $s 2>/dev/null; exit 0' TERM
    wait $s && touch "$tmp/overtime" && kill -TERM $$
) 2>/dev/null &
watchdog=$!
echo "== topology: namespaces $nsA, $nsB, $nsC, $nsL, $nsR"
topology || { bad "could not build the topology"; exit 1; }
ok "5 namespaces, 4 veth pairs, R bridging and forwarding: $(ip -4 -n "$nsR" -br addr | awk '$1 != "lo" {printf "%s %s; ", $1, $3}')"

# start_site NAME NAMESPACE FILE: runs it in the namespace, waits for "running" (bounded).
start_site() {
    ip netns exec "$2" "$bin" site "$3" --seconds 60 >"$tmp/$1.out" 2>&1 &
    pids+=($!)
    sites+=($!)
    for _ in $(seq 100); do
        grep -q ": running" "$tmp/$1.out" && return 0
        kill -0 $! 2>/dev/null || break
        sleep 0.1
    done
    bad "site $1 did not start: $(cat "$tmp/$1.out")"
    return 1
}

# check_discovery VARIANT RESULT-FILE WANT: the devices found, their addresses and reads.
check_discovery() {
    local v=$1 f=$2 want=$3 got rounds
    got=$(grep '"dev"' "$f" | node -e '
      const l = require("fs").readFileSync(0, "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
      console.log(l.map((x) => `${x.dev}@${x.at}`).sort().join(" "))')
    [ "$got" = "$want" ] &&
        ok "$v: global Who-Is through A found both routers and all 16 meters, each at its network, MAC and router" ||
        bad "$v: found '$got', want '$want'"
    local r
    r=$(grep '"dev"' "$f" | node -e '
      const l = require("fs").readFileSync(0, "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
      const m = l.filter((x) => !x.dev.startsWith("0:"));
      const bad = l.filter((x) => x.error || !/^Leviton S4100|^site /.test(x.name ?? "") ||
        (!x.dev.startsWith("0:") && typeof x.ai1 !== "number"));
      console.log(bad.length ? "bad " + JSON.stringify(bad[0]) : l.length !== 18 ? `bad: ${l.length} devices, want 18` : `${l.length} names, ${m.length} AI1 values; e.g. ` +
        JSON.stringify(m.find((x) => x.dev.startsWith("200:")) ?? {}))')
    [[ $r == bad* ]] && bad "$v: reads: $r" || ok "$v: read through the IP router and the site routers: $r"
    rounds=$(grep -o '"whois_rounds":[0-9]*' "$f" | cut -d: -f2)
    local dup
    dup=$(grep '"dev"' "$f" | node -e '
      const l = require("fs").readFileSync(0, "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
      const r = Number(process.argv[1]);
      console.log(l.filter((x) => x.iams > r + (x.announced ? 0 : 1)).map((x) => x.dev + " x" + x.iams).join(" "))' "${rounds:-0}")
    [ -n "$rounds" ] && [ -z "$dup" ] &&
        ok "$v: $rounds Who-Is round(s), the last answer $(grep -o '"last_ms":[0-9]*' "$f" | cut -d: -f2) ms after the first; no device answered more often than asked" ||
        bad "$v: duplicate I-Ams ($rounds rounds): $dup"
    # The library's Who-Is through the BBMD has no DNET: local to the B/IP network, so
    # the routers answer it and pass it to no trunk (a meter already heard from must not).
    local lib ann leak
    lib=$(grep -o '"lib_dbtn":\[[^]]*\]' "$f" | sed 's/.*\[//; s/\]//; s/"//g; s/,/ /g')
    ann=$(grep -o '"announced":\[[^]]*\]' "$f" | sed 's/.*\[//; s/\]//; s/"//g; s/,/ /g')
    leak=$(for d in $lib; do [[ $d == 0:* ]] || ! grep -qw -- "$d" <<<"$ann" || echo -n "$d "; done)
    [[ " $lib " == *" 0:null:4194001 "* ]] && [[ " $lib " == *" 0:null:4194002 "* ]] && [ -z "$leak" ] &&
        ok "$v: whoIsThroughBBMD (no DNET) reached the routers only ($lib; $(wc -w <<<"$ann") start-up I-Ams seen before)" ||
        bad "$v: whoIsThroughBBMD reached '$lib'; meters that had announced and answered a local Who-Is: '$leak'"
}

# Both routers and every meter, at the router each answers through.
want_devs="0:null:4194001@10.77.1.1:47808 0:null:4194002@10.77.2.1:47808"
for n in 100 101; do for m in 1 2 3 4; do want_devs+=" $n:$m:${n}00$m@10.77.1.1:47808"; done; done
for n in 200 201; do for m in 1 2 3 4; do want_devs+=" $n:$m:${n}00$m@10.77.2.1:47808"; done; done
want_devs=$(tr ' ' '\n' <<<"$want_devs" | sort | tr '\n' ' ' | sed 's/ $//')

# run_variant NAME SITE-A SITE-B WANT-BDT-OF-A WANT-FDT-OF-A MORE-CHECKS note|check
# (the last: whether L's discovery is checked or only noted)
run_variant() {
    local v=$1 fa=$2 fb=$3 wbdt=$4 wfdt=$5 t0=$SECONDS
    echo "== $v"
    ip netns exec "$nsC" dumpcap -q -a duration:60 -i "c$$" -w "$tmp/$v.pcapng" >"$tmp/$v.dumpcap" 2>&1 &
    local cap=$!
    pids+=($cap)
    for _ in $(seq 100); do grep -q "Capturing on" "$tmp/$v.dumpcap" 2>/dev/null && break; sleep 0.1; done
    start_site "$v-a" "$nsA" "$fa" && start_site "$v-b" "$nsB" "$fb" || return 1
    ip netns exec "$nsC" timeout 30 node "$root/tests/interop/tools/fdwho.mjs" 10.77.1.1:47808 47808 60 18 10000 \
        10.77.1.1:47808 10.77.2.1:47808 >"$tmp/$v.json" 2>"$tmp/$v.err" &
    local cl=$! rc
    pids+=($cl)
    wait $cl # (in the background, so that a signal's trap runs at once)
    rc=$?
    sed 's/^/  /' "$tmp/$v.json"
    [ $rc -eq 0 ] && grep -q '"register":"10.77.1.1:47808","ttl":60' "$tmp/$v.json" &&
        ok "$v: the client registered with A as a foreign device, read everything (rc 0)" ||
        bad "$v: client rc $rc: $(head -c 300 "$tmp/$v.err") $(grep -m1 '"register"' "$tmp/$v.json")"
    check_discovery "$v" "$tmp/$v.json" "$want_devs"
    grep -q "^{\"bdt\":\"10.77.1.1:47808\",\"entries\":\[$wbdt\]}" "$tmp/$v.json" &&
        ok "$v: Read-BDT at A: $wbdt" || bad "$v: A's BDT, want $wbdt: $(grep '"bdt":"10.77.1.1' "$tmp/$v.json")"
    local fdt
    fdt=$(grep '^{"fdt":"10.77.1.1:47808"' "$tmp/$v.json" | node -e '
      const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
      console.log((o.entries ?? []).map((e) => `${e.addr}/${e.ttl}/${e.remaining > 0 && e.remaining <= e.ttl + 30 ? "ok" : e.remaining}`).sort().join(","))')
    [ "$fdt" = "$wfdt" ] && ok "$v: Read-FDT at A (address/TTL/remaining in 1..TTL+30): $fdt" ||
        bad "$v: A's FDT '$fdt', want '$wfdt'"
    "$6"
    # L: an Original-Broadcast global Who-Is on A's subnet.
    ip netns exec "$nsL" timeout 12 node "$root/tests/interop/tools/localwho.mjs" 10.77.1.255:47808 47808 18 6000 \
        >"$tmp/$v.local" 2>&1 &
    cl=$!
    pids+=($cl)
    wait $cl
    local lgot
    lgot=$(grep '"dev"' "$tmp/$v.local" | node -e '
      const l = require("fs").readFileSync(0, "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
      console.log(l.map((x) => `${x.dev}@${x.at}`).sort().join(" "))')
    if [ "$lgot" = "$want_devs" ]; then
        ok "$v: L on A's subnet found all 18 with an Original-Broadcast global Who-Is"
    elif [ "$7" = note ]; then
        echo "NOTE - $v: L on A's subnet found $(wc -w <<<"$lgot") of 18 devices ($lgot): A bound to its unicast address hears no subnet broadcast (known, reported)"
    else
        bad "$v: L on A's subnet found '$lgot', want all 18"
    fi
    local src=""
    for p in "${sites[@]}"; do kill -TERM "$p"; wait "$p"; src+="$? "; done
    sites=()
    [ "$src" = "0 0 " ] && ok "$v: both sites stop cleanly on SIGTERM" || bad "$v: sites' exit status $src"
    stop_all
    local frames malformed
    frames=$(tshark -r "$tmp/$v.pcapng" -Y bvlc 2>/dev/null | wc -l)
    malformed=$(tshark -r "$tmp/$v.pcapng" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null)
    [ "$frames" -gt 30 ] && [ -z "$malformed" ] &&
        ok "$v: tshark decodes $frames BVLC datagrams in C's capture, nothing malformed ($(tshark -r "$tmp/$v.pcapng" -Y bvlc -T fields -e bvlc.function 2>/dev/null | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}'))" ||
        bad "$v: tshark: $frames BVLC datagrams; $malformed"
    grep -q "^0x09 " <(tshark -r "$tmp/$v.pcapng" -Y 'bvlc.function == 0x09 && ip.dst == 10.77.1.1 && bacnet.dnet == 0xffff' -T fields -e bvlc.function 2>/dev/null | sed 's/$/ /') &&
        ok "$v: the client's global Who-Is left C as Distribute-Broadcast-To-Network (DNET 0xFFFF) to A" ||
        bad "$v: no Distribute-Broadcast-To-Network with DNET 0xFFFF in C's capture"
    echo "  ($v: $((SECONDS - t0)) s)"
}

bdt_b_both() {
    grep -q '^{"bdt":"10.77.2.1:47808","entries":\["10.77.1.1:47808/255.255.255.255","10.77.2.1:47808/255.255.255.255"\]}' "$tmp/bbmds.json" &&
        ok "bbmds: Read-BDT at B: the same table" || bad "bbmds: B's BDT: $(grep '"bdt":"10.77.2.1' "$tmp/bbmds.json")"
}
run_variant bbmds "$root/sites/site-a.ini" "$root/sites/site-b.ini" \
    '"10.77.1.1:47808/255.255.255.255","10.77.2.1:47808/255.255.255.255"' "10.77.3.10:47808/60/ok" bdt_b_both check

# The same sites, but A bound to all addresses with only itself in its BDT, and B a
# foreign device of A instead of a BBMD.
sed -e 's/^bind = .*/bind = 0.0.0.0:47808/' -e 's/^bdt = .*/bdt = 10.77.1.1:47808/' \
    "$root/sites/site-a.ini" >"$tmp/fd-a.ini"
sed -e '/^bbmd = /d' -e '/^bdt = /d' -e '/^fd_accept = /d' \
    -e 's/^bind = .*/bind = 0.0.0.0:47808\nforeign = 10.77.1.1:47808\nforeign_ttl = 60/' \
    "$root/sites/site-b.ini" >"$tmp/fd-b.ini"
fd_b_plain() {
    grep -q '^{"bdt":"10.77.2.1:47808","nak":32}' "$tmp/fd.json" &&
        ok "fd: B, not a BBMD, answers Read-BDT with NAK 0x0020" || bad "fd: B's Read-BDT answer: $(grep '"bdt":"10.77.2.1' "$tmp/fd.json")"
    grep -q "foreign device" "$tmp/fd-b.out" && echo "  B: $(grep -m1 -i "foreign" "$tmp/fd-b.out")"
}
run_variant fd "$tmp/fd-a.ini" "$tmp/fd-b.ini" '"10.77.1.1:47808/255.255.255.255"' \
    "10.77.2.1:47808/60/ok,10.77.3.10:47808/60/ok" fd_b_plain check

echo "$pass passed, $fails failed ($SECONDS s)"
[ "$fails" -eq 0 ]
