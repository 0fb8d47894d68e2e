#!/usr/bin/env bash
# Authorization on every record, from the certificate. A test client with
# 632323's certificate pushes: a good record, one scoped to another county, a
# reference record (province level), and one with a forged revision hash: the
# three are rejected with a reason and not stored at the aggregator. Then the
# real-county path: the aggregator already holds a record with the same id
# under another scope, so 632322's version is refused; the refusal comes back
# with a reason, is counted in the county's status and listed by
# `qianshou list --rejected`, and the county keeps its record.
. "$(dirname "$0")/daemon_lib.sh"
make_pki
agg_conf "$T/agg.ini"; county_conf "$T/c1.ini" c1 632322
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
q agg add county code=632322 name=尖扎县 >/dev/null
start agg "$T/agg.ini"

out=$(probe_as c2 --hello 632323 --push-bad)
echo "$out"
res() { grep "^result $1 " <<<"$out" || fail "no result $1: $out"; }
grep -q "^result 0 applied" <<<"$out" || fail "the good record: $(res 0)"
for i in 1 2 3; do
    r=$(res $i)
    grep -q "^result $i rejected ." <<<"$r" || fail "record $i not rejected with a reason: $r"
done
grep -qi "scope\|write" <<<"$(res 1)" || fail "reason for another county's record: $(res 1)"
grep -qi "scope\|level\|write\|province" <<<"$(res 2)" || fail "reason for the reference record: $(res 2)"
grep -qi "hash\|revision" <<<"$(res 3)" || fail "reason for the forged hash: $(res 3)"
grep -q "recv DONE" <<<"$out" || fail "session did not finish: $out"
[ "$(count agg service)" = 1 ] || fail "aggregator holds $(count agg service) services, want 1"
[ "$(count agg county)" = 1 ] || fail "aggregator holds $(count agg county) county records, want 1"
[ "$(q agg list service --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["scope"])')" = 632323 ] \
    || fail "the stored record is not the good one"
ok "other county's scope, reference record, forged hash: rejected with reasons, not stored"

# the real-county path
id=$(q c1 add service date=2024-05-01 service_type=visit domain=elderly total=5)
q c1 add service date=2024-05-02 service_type=visit domain=elderly total=6 >/dev/null
out=$(probe_as c1 --hello 632322 --push-township "$id")
grep -q "^result 0 applied" <<<"$out" || fail "township version not applied: $out"
start c1 "$T/c1.ini"
r=$(q c1 sync --wait --json) || fail "sync: $r" # (the start-up sync may have done it already)
s=$(q c1 status --json)
[ "$(jget "$s" counters.rejected)" -ge 1 ] || fail "no refusal in the sessions' counters: $s"
[ "$(jget "$s" rejected)" -ge 1 ] || fail "status does not count the refusal: $s"
rj=$(q c1 list --rejected --json || true) # exits 4: there are refusals
python3 - "$rj" "$id" <<'PY' || fail "list --rejected: $rj"
import json, sys
rows, rid = json.loads(sys.argv[1]), sys.argv[2]
mine = [r for r in rows if r["id"] == rid and r.get("outgoing", r.get("direction") in ("outgoing", "ours", "up"))]
assert mine, rows
assert mine[0]["reason"], mine
PY
scope=$(q agg show "$id" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["scope"])')
[ "$scope" = 632322100 ] || fail "the aggregator's version of $id has scope $scope"
[ "$(count c1 service)" = 2 ] || fail "the county lost a record"
ok "real county: refusal counted in status ($(jget "$s" rejected)), listed with reason: $(python3 -c 'import json,sys; print([r["reason"] for r in json.loads(sys.argv[1])])' "$rj")"
stop c1; stop agg
