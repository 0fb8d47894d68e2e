#!/usr/bin/env bash
# export → import into a second node of the same county gives the same records.
#
# Import creates new records (new ids: the store API creates ids itself), so
# the two nodes' digests — over (id, revision) — cannot be equal. What must be
# equal is every record's scope and fields, in the same order: compare the two
# nodes' exports with the id column left out. References keep their ids: to
# province data they are the same ids on every node (it arrives by sync); to
# county records they are copied as they are. Digests are compared where they
# can be equal: the exporting node's digest is unchanged by an export.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
setup_nodes
C2=$T/county2 C3=$T/county3
for d in "$C2" "$C3"; do
    run 0 -d "$d" init --node 632322 --role county
    "$XFER" "$P" "$d" down >/dev/null || fail "xfer"
done

run 0 -d "$C" add station township=632322100 name='坎布拉镇社工站, 一站'
run 0 -d "$C" add station township=632322101 name=尖扎滩社工站 opened=2023-01-09 resident_workers=3
run 0 -d "$C" add person agency=浙江某社工机构 name=王芳 role=dispatched cert_level=assistant \
    service_since=2021-05-01
run 0 -d "$C" add workday person=王芳 pairing=632322 date=2024-04-02 summary='入户 "走访"'
run 0 -d "$C" add service date=2024-04-02 station=632322100 workers=王芳 service_type=casework \
    domain=children categories=孤儿,留守儿童 total=2 minors=2 female=1 \
    pseudonyms=632322201001011225 content="$(printf '第一行\n第二行, 有逗号')" followup=2024-05-01
run 0 -d "$C" add training date=2024-04-03 type=training topic=伦理 minutes=90 participants=12
run 0 -d "$C" add expense pairing=632322 date=2024-04-05 direction=received amount=50000 source=省级财政
run 0 -d "$C" add expense pairing=632322 date=2024-04-06 direction=spent amount=12.5 category=meals
run 0 -d "$C" add output type=document name=个案管理制度 date=2024-06-01
run 0 -d "$C" add beneficiary name=李四 id_number=632322201001011225 gender=女

KINDS="station person workday service training expense output beneficiary"
run 0 -d "$C" digest
D_BEFORE=$(out)
for k in $KINDS; do
    run 0 -d "$C" export "$k" -o "$T/$k.csv"
    run 0 -d "$C2" import "$k" "$T/$k.csv"
    run 0 -d "$C" export "$k" --bom --labels -o "$T/$k-zh.csv"
    head -c3 "$T/$k-zh.csv" | od -An -tx1 | grep -q 'ef bb bf' || fail "--bom"
    run 0 -d "$C3" import "$k" "$T/$k-zh.csv"
done
run 0 -d "$C" digest
[ "$(out)" = "$D_BEFORE" ] || fail "export changed the digest"

# same records field by field: exports without the id column are equal.
# A beneficiary's pseudonym is an HMAC under each store's own county secret,
# so a second store derives a different one from the same ID number: compare
# beneficiaries without that column (id,scope,name,id_number,pseudonym,...).
cols() { if [ "$1" = beneficiary ]; then echo 2-4,6-; else echo 2-; fi; }
for k in $KINDS; do
    run 0 -d "$C" export "$k"; cut -d, -f"$(cols "$k")" "$T/out" >"$T/a"
    [ "$(wc -l <"$T/a")" -ge 2 ] || fail "$k: empty export"
    for d in "$C2" "$C3"; do
        run 0 -d "$d" export "$k"; cut -d, -f"$(cols "$k")" "$T/out" >"$T/b"
        diff "$T/a" "$T/b" >"$T/diff" || { cat "$T/diff" >&2; fail "$k differs after re-import into $d"; }
    done
done
# the ids are new ones
run 0 -d "$C" export station; cut -d, -f1 "$T/out" >"$T/a"
run 0 -d "$C2" export station; cut -d, -f1 "$T/out" >"$T/b"
cmp -s "$T/a" "$T/b" && fail "import reused ids"

# json export: every record, every field
run 0 -d "$C" export service --format json
[ "$(py 'len(j)')" = 1 ] || fail "json export"
[ "$(py 'sorted(j[0]["fields"]["categories"])')" = "['left_behind_child', 'orphan']" ] \
    || fail "json categories"
run 0 -d "$C" --json export expense -o "$T/e.json"
py 'j["records"]' | grep -qx 2 || fail "export --json -o summary"
python3 -c "import json; assert len(json.load(open('$T/e.json'))) == 2" || fail "e.json"

# filters (those of list): only the matching records, with the header line
run 0 -d "$C" export expense date=2024-04-05
[ "$(grep -c '^[0-9a-f]\{8\}-' "$T/out")" = 1 ] && grep -q '2024-04-05' "$T/out" \
    && ! grep -q '2024-04-06' "$T/out" && head -1 "$T/out" | grep -q '^id,scope,' \
    || fail "export expense date=2024-04-05"
run 0 -d "$C" export expense date=2024-04 direction=spent
[ "$(grep -c '^[0-9a-f]\{8\}-' "$T/out")" = 1 ] && grep -q '2024-04-06' "$T/out" \
    || fail "export expense date=2024-04 direction=spent"
run 0 -d "$C" export expense date=2024-05
[ "$(wc -l <"$T/out")" = 1 ] || fail "export with no match: the header alone"
run 2 -d "$C" export expense date=2024-13
grep -q '2024-13' "$T/err" || fail "a bad filter value is named"
echo ok
