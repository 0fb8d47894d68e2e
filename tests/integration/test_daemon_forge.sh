#!/usr/bin/env bash
# Forged records a county's certificate can still sign, each refused by a
# real aggregator with a reason, and after each one the aggregator and a real
# county (632322) still sync and hold equal digests:
# - generations: an edit of a parent at 2^64 - 3 (the wrap of issue 17) and
#   one of a parent at the bound 2^53 - 1 are rejected; an edit of 2^53 - 2
#   (so at the bound, the last generation) is kept, and then neither the
#   aggregator nor the county can edit it: refused with a clear error;
# - the author: 632322 pushing a record credited to 630000/province-admin, or
#   to a sibling, or with no division code, is rejected;
# - a reused id: 632322 pushing a record under the id of 632323's record hears
#   that the id is taken, not that record's kind or scope (the aggregator's
#   rejections keep both for the operator).
. "$(dirname "$0")/daemon_lib.sh"
make_pki
agg_conf "$T/agg.ini"; county_conf "$T/c1.ini" c1 632322
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
q agg add county code=632322 name=尖扎县 >/dev/null
q agg add county code=632323 name=泽库县 >/dev/null
start agg "$T/agg.ini"
add_services c1 3

# in_step: the real county syncs and holds what the aggregator holds
in_step() {
    start c1 "$T/c1.ini"
    local r; r=$(q c1 sync --wait --json) || fail "sync after $1: $r"
    local dc da; dc=$(digest c1 632322); da=$(digest agg 632322)
    [ "$dc" = "$da" ] || fail "after $1: county digest $dc, aggregator $da"
    stop c1
    ok "after $1: synced, digests equal ($dc)"
}
# push_as NAME NODE OPTS...: one probe PUSH (the county's daemon is stopped);
# sets OUT, ID (the record pushed) and RES (its ACK result line)
push_as() {
    local n=$1 node=$2; shift 2
    OUT=$(probe_as "$n" --hello "$node" "$@")
    grep -q "recv DONE" <<<"$OUT" || fail "session did not finish: $OUT"
    ID=$(sed -n 's/^push 0 \([^ ]*\) .*/\1/p' <<<"$OUT")
    RES=$(grep "^result 0 " <<<"$OUT") || fail "no result: $OUT"
}
absent() { # ID: not held at the aggregator
    q agg show "$1" >/dev/null 2>&1 && fail "the aggregator holds $1: $(q agg show "$1")"
    return 0
}
in_step "the first sync"

# --- generations
push_as c1 632322 --push-gen 18446744073709551613
grep -q "^result 0 rejected .*generation" <<<"$RES" || fail "parent at 2^64 - 3: $RES"
absent "$ID"
ok "edit of a parent at generation 2^64 - 3: ${RES#result 0 }"
in_step "the generation near 2^64"

push_as c1 632322 --push-gen 9007199254740991
grep -q "^result 0 rejected .*2^53 - 1" <<<"$RES" || fail "parent at the bound: $RES"
absent "$ID"
ok "edit of a parent at the bound 2^53 - 1: rejected"
in_step "the parent at the bound"

push_as c1 632322 --push-gen 9007199254740990
grep -q "^result 0 applied" <<<"$RES" || fail "an edit reaching the bound, not past it: $RES"
last=$ID
grep -q "^push 0 $last 9007199254740991-" <<<"$OUT" || fail "not at the bound: $OUT"
in_step "a record at the last generation"
for n in agg c1; do
    err=$(q $n edit "$last" total=5 2>&1) && fail "$n edited a record at the last generation"
    grep -q "last generation" <<<"$err" || fail "$n: unclear refusal: $err"
    q $n delete "$last" >/dev/null 2>&1 && fail "$n deleted a record at the last generation"
done
ok "a record at generation 2^53 - 1: kept; the aggregator and the county refuse to edit it ($err)"
in_step "the refused edits"

# --- authors
for author in 630000/province-admin 632323/sibling 632300/prefecture zhangsan; do
    push_as c1 632322 --push-author "$author"
    grep -q "^result 0 rejected .*author" <<<"$RES" || fail "author $author: $RES"
    absent "$ID"
    ok "author $author from 632322: ${RES#result 0 }"
done
push_as c1 632322 --push-author 632322100/station-clerk
grep -q "^result 0 rejected .*632322100.*may not write" <<<"$RES" \
    || fail "a township credited with a county record: $RES"
push_as c1 632322 --push-author 632322/zhangsan
grep -q "^result 0 applied" <<<"$RES" || fail "the county's own author: $RES"
in_step "the forged authors"

# --- a reused id
push_as c2 632323 --push-author 632323/probe
grep -q "^result 0 applied" <<<"$RES" || fail "632323's record: $RES"
theirs=$ID
push_as c1 632322 --push-reuse "$theirs"
grep -q "^result 0 rejected ." <<<"$RES" || fail "reused id not rejected: $RES"
reason=${RES#result 0 rejected }
grep -q "632323\|13/\|service" <<<"$reason" && fail "the reason tells 632322 about 632323's record: $reason"
[ "$reason" = "record id already in use by another record" ] || fail "reason: $reason"
[ "$(jget "$(q agg show "$theirs" --json)" scope)" = 632323 ] || fail "632323's record changed"
rj=$(q agg list --rejected --json || true)
python3 - "$rj" "$theirs" <<'PY' || fail "the aggregator's rejections: $rj"
import json, sys
rows, rid = json.loads(sys.argv[1]), sys.argv[2]
mine = [r for r in rows if r["id"] == rid]
assert mine and "13/632323" in mine[0]["reason"], mine
PY
ok "reused id of 632323's record: 632322 hears \"$reason\"; the aggregator's list keeps the scope"
in_step "the reused id"
[ "$(count c1 service)" = 5 ] || fail "county holds $(count c1 service) services, want 5"
stop agg
