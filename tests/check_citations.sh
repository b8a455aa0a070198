#!/bin/bash
# Every citation of a settled decision or of the BACnet facts must resolve in
# docs/decisions.md, the repository's own copy (a clone has nothing else to look in).
#
# Cited forms, found across line breaks and comment leaders (" * ", "// ", "# "):
#   DECISIONS M8   DECISIONS O1..O12, M13, M14   DECISIONS M13/M14   decision O9
#   a bare ID in parentheses: (M14)  (M1, M2, M5)  (datasheet AV1, AV11; M13)
#   ID lists with slashes anywhere: M1/M2
#   links: docs/decisions.md#M8, decisions.md#bacnet-device-bits
#   BACNET-NOTES, BACNET-NOTES "Trend Log and ReadRange", METERING-NOTES
# An ID (O, M or P and a number) is defined by a heading "### M8. ..." with the anchor
# <a id="M8"></a> before it; a BACNET-NOTES section by a "### Name" heading in the
# "BACnet facts" part. Unresolved citations fail, each named with file and line.
# Mentions of the old, out-of-tree notes (shared/spec/...) are listed as notes; with
# --strict they fail too.
#
# Usage: check_citations.sh <repo root> [--strict] [--no-self-test]
# Without --no-self-test it also checks itself on a tree of known-bad citations.
set -euo pipefail
root=$1
shift
strict=0 selftest=1
for a in "$@"; do
    case $a in
    --strict) strict=1 ;;
    --no-self-test) selftest=0 ;;
    *) echo "usage: check_citations.sh ROOT [--strict] [--no-self-test]" >&2; exit 2 ;;
    esac
done
doc=$root/docs/decisions.md
if [ ! -f "$doc" ]; then
    echo "FAIL - $doc is missing"
    exit 1
fi

files=()
for d in src docs tests README.md scenarios data tools bench fuzz scripts CMakeLists.txt; do
    [ -e "$root/$d" ] || continue
    while IFS= read -r -d '' f; do
        files+=("$f")
    done < <(find "$root/$d" -type d \( -name node_modules -o -name 'build*' -o -name seeds \) -prune -o \
        -type f ! -name check_citations.sh -print0)
done

perl -0777 -e '
use strict; use warnings;
my ($doc, $root, $strict, @files) = @ARGV;
open(my $dh, "<", $doc) or die "$doc: $!";
my $d = do { local $/; <$dh> };
my (%id, %anchor, %section);
$id{$1} = 1 while $d =~ /^###\s+([OMP]\d{1,2})\.\s/mg;
$anchor{$1} = 1 while $d =~ /<a id="([^"]+)"><\/a>/g;
my ($facts) = $d =~ /(<a id="bacnet-facts"><\/a>.*)\z/s;
$facts //= "";
$section{lc $1} = 1 while $facts =~ /^###\s+(.+?)\s*$/mg;
my ($bad, $notes, $count) = (0, 0, 0);
for my $i (sort keys %id) {
    unless ($anchor{$i}) { print "FAIL - docs/decisions.md: $i has a heading but no <a id=\"$i\"></a>\n"; $bad++; }
}
my $SEP = qr{(?:[ \t]*\n[ \t]*(?:\*|//|\#|;|--)?[ \t]*|[ \t]+)};
my $ID  = qr{[OMP]\d{1,2}};
my $LIST = qr{$ID(?:[ \t]*(?:\.\.|/|,|&|and)[ \t]*$ID)*};
for my $f (@files) {
    open(my $fh, "<", $f) or next;
    my $t = do { local $/; <$fh> };
    next if $t =~ /\0/;                        # binary
    (my $rel = $f) =~ s{^\Q$root\E/?}{};
    my @cites;                                 # [offset, text, [ids]]
    # [offset of the ID list, the citation as written, the ID list]; one ID list found
    # by two forms ("(DECISIONS M8)") is checked once.
    while ($t =~ /\b(decisions?(?:\.md)?)[:,]?$SEP($LIST)/gi) {
        push @cites, [$-[2], "$1 $2", $2];
    }
    while ($t =~ /\(([^()\n]*)\)/g) {
        my ($in, $at) = ($1, $-[1]);
        while ($in =~ /(?:^|(?<=[\s,;\/]))($ID)(?=$|[\s,;:\/)]|\.\.)/g) {
            push @cites, [$at + $-[1], "($in)", $1];
        }
    }
    while ($t =~ /(?<![\w&*.\-])($ID(?:\/$ID)+)(?!\w)/g) {
        push @cites, [$-[0], $1, $1];
    }
    while ($t =~ /decisions\.md#([\w-]+)/gi) {
        my $a = $1;
        $count++;
        next if $anchor{$a};
        report($rel, \$t, $-[0], "decisions.md#$a", "no anchor \"$a\" in docs/decisions.md");
    }
    while ($t =~ /\b(BACNET|METERING)-NOTES(?:\.md)?(?:[ \t]*"([^"\n]+)")?/g) {
        my ($which, $name, $at) = ($1, $2, $-[0]);
        $count++;
        if ($which eq "METERING") {
            report($rel, \$t, $at, "METERING-NOTES", "docs/decisions.md has no metering facts part: put them in docs/ and cite that");
        } elsif (!$facts) {
            report($rel, \$t, $at, "BACNET-NOTES", "docs/decisions.md has no \"BACnet facts\" part");
        } elsif (defined $name && !$section{lc $name}) {
            report($rel, \$t, $at, "BACNET-NOTES \"$name\"", "no section \"$name\" under BACnet facts in docs/decisions.md");
        }
    }
    while ($t =~ m{shared/spec/[\w.-]+}g) {
        my $line = 1 + (substr($t, 0, $-[0]) =~ tr/\n//);
        print(($strict ? "FAIL" : "note") . " - $rel:$line: \"$&\" is outside the repository; docs/decisions.md has what it held\n");
        $strict ? $bad++ : $notes++;
    }
    my %seen;
    for my $c (@cites) {
        my ($at, $text, $list) = @$c;
        for my $e (expand($list)) {
            my ($i, $off) = @$e;
            next if $seen{($at + $off) . " $i"}++;
            $count++;
            next if $id{$i};
            report($rel, \$t, $at, $text, "$i is not defined in docs/decisions.md");
        }
    }
}
# The IDs of a list, each with the offset where it is written (the inner IDs of a range at
# the offset of the first one).
sub expand {
    my ($l) = @_;
    my @out;
    while ($l =~ /([OMP])(\d+)(?:[ \t]*\.\.[ \t]*([OMP])(\d+))?/g) {
        my ($a, $n, $b, $m, $off) = ($1, $2, $3, $4, $-[0]);
        if (!defined $b) {
            push @out, ["$a$n", $off];
        } elsif ($a eq $b && $n <= $m) {
            push @out, (map { ["$a$_", $off] } $n .. $m - 1), ["$b$m", $-[3]];
        } else {
            push @out, ["$a$n", $off], ["$b$m", $-[3]];
        }
    }
    return @out;
}
sub report {
    my ($rel, $t, $at, $text, $why) = @_;
    my $line = 1 + (substr($$t, 0, $at) =~ tr/\n//);
    $text =~ s/\s+/ /g;
    print "FAIL - $rel:$line: $text: $why\n";
    $bad++;
}
print "$count citations checked in " . scalar(@files) . " files, $bad unresolved, $notes notes\n";
exit($bad ? 1 : 0);
' "$doc" "$root" "$strict" "${files[@]}"
rc=$?
[ "$rc" -ne 0 ] && exit "$rc"
[ "$selftest" -eq 0 ] && exit 0

# Self-test: a tree whose every bad citation must be named, and whose good ones not.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs" "$tmp/src" "$tmp/tests"
cp "$doc" "$tmp/docs/"
cat >"$tmp/src/x.c" <<'EOF'
/* Good: DECISIONS M8, (DECISIONS
 * O9), DECISIONS O1..O12, M13, M14, (M1, M2, M5), M13/M14, decision P2,
 * docs/decisions.md#M8, BACNET-NOTES "Device bits", start(&M2, 40), Cortex-M4. */
/* Bad: DECISIONS M99 */
/* Bad: (a word, DECISIONS
 * O77) */
// Bad: decision P9 and (see M1, M55) and O1/O88 and docs/decisions.md#M66
EOF
cat >"$tmp/tests/y.mjs" <<'EOF'
// BACNET-NOTES "No Such Section"; METERING-NOTES; DECISIONS M3..M18
EOF
out=$(bash "$0" "$tmp" --no-self-test) && { echo "FAIL - self-test: bad citations passed"; exit 1; }
want=(M99 O77 P9 M55 O88 "#M66" '"No Such Section"' METERING-NOTES M18)
missed=
for w in "${want[@]}"; do
    grep -qF -- "$w" <<<"$out" || missed="$missed $w"
done
nfail=$(grep -c '^FAIL' <<<"$out" || true)
if [ -n "$missed" ] || [ "$nfail" -ne ${#want[@]} ]; then
    echo "FAIL - self-test: expected exactly ${#want[@]} failures (${want[*]}), missed:$missed; got:"
    echo "$out"
    exit 1
fi
echo "ok - self-test: all ${#want[@]} kinds of bad citation named, no good one"
