#!/usr/bin/env bash
# The reference data templates (deploy/reference/*.csv) load into a fresh
# aggregator store in the documented order, with their Chinese headers, and
# give what the README promises: 15 counties, 30 agencies, 15 pairings, each
# pairing naming its agencies and county; a county pulls them. Out of order
# (pairings before agencies) nothing is imported and the row says why; a
# second import of the same sheet is refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
REF=$QS_SOURCE_DIR/deploy/reference
P=$T/province C=$T/county
run 0 -d "$P" init --node 630000 --role aggregator

# pairings first: refused, nothing imported, the line and the field named
run 2 -d "$P" import pairing "$REF/pairing.csv"
has_err "pairing.csv:2: aiding (援派机构): there is no agency named 援派机构01（浙江，待填写）"
has_err "nothing was imported"

run 0 -d "$P" import county "$REF/county.csv"
has_out "imported 15 county records"; has_out "(UTF-8 with BOM)"
run 0 -d "$P" import agency "$REF/agency.csv"
has_out "imported 30 agency records"
run 0 -d "$P" import pairing "$REF/pairing.csv"
has_out "imported 15 pairing records"
run 2 -d "$P" import county "$REF/county.csv"
has_err "was already imported"

run 0 -d "$P" --json list county
[ "$(py 'sorted(r["fields"]["code"] for r in j)[:3]')" = "['632301', '632322', '632323']" ] \
    || fail "county codes: $(py '[r["fields"]["code"] for r in j]')"
[ "$(py '[r["fields"]["name"] for r in j if r["fields"]["code"]=="632322"][0]')" = 尖扎县 ] \
    || fail "尖扎县"
run 0 -d "$P" --json list agency role=receiving
[ "$(py 'len(j)')" = 15 ] || fail "receiving agencies: $(py 'len(j)')"
run 0 -d "$P" --json list pairing type=跨省
[ "$(py 'len(j)')" = 5 ] || fail "cross-province pairings: $(py 'len(j)')"
# every template county has exactly one pairing, 2021-2025
run 0 -d "$P" --json list pairing
[ "$(py 'sorted(set(r["fields"]["county"] for r in j)) == sorted(r for r in ["632301","632322","632323","632522","632525","632622","632623","632624","632625","632626","632722","632723","632724","632725","632726"])')" = True ] \
    || fail "pairing counties: $(py '[r["fields"]["county"] for r in j]')"
[ "$(py 'set((r["fields"]["start_year"], r["fields"]["end_year"]) for r in j)')" = "{(2021, 2025)}" ] \
    || fail "pairing years"
# the counts match the data file the templates were made from
want=$(($(wc -l <"$REF/county.csv") - 1))
[ "$want" = 15 ] || fail "county.csv has $want rows"

# a county receives them with a sync
run 0 -d "$C" init --node 632322 --role county
"$XFER" "$P" "$C" down >"$T/out" 2>"$T/err" || fail "xfer down"
has_out "applied 60 "
echo "ok: templates import in order (15 counties, 30 agencies, 15 pairings) and reach a county"
