#!/usr/bin/env bash
# Lists in people's words: references in list, show and export (CSV) as the
# station's township code, the person's or agency's name, the pairing's county
# code — the record id only where that text would name several records; the
# JSON keeps ids. Date filters by day, month (date=2024-03) and year.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
setup_nodes
UUID='[0-9a-f]\{8\}-[0-9a-f]\{4\}-'
run 0 -d "$C" add station township=632322100 name=坎布拉镇社工站
run 0 -d "$C" add person agency=浙江某社工机构 name=王芳 role=dispatched
run 0 -d "$C" add person agency=浙江某社工机构 name=李明 role=local
run 0 -d "$C" add service date=2024-02-29 station=632322100 workers=王芳,李明 service_type=visit domain=elderly total=1
run 0 -d "$C" add service date=2024-03-01 station=632322100 service_type=visit domain=elderly total=2
run 0 -d "$C" add service date=2024-03-31 station=632322100 service_type=visit domain=elderly total=3
run 0 -d "$C" add service date=2025-03-15 station=632322100 service_type=visit domain=elderly total=4
run 0 -d "$C" add workday person=王芳 pairing=632322 date=2024-03-02
WD=$(out)

# list: codes and names, no ids but the record's own
run 0 -d "$C" list service
[ "$(grep -c "$UUID" "$T/out")" = 4 ] || fail "list service shows ids beyond the first column: $(out)"
has_out "632322100"; has_out "王芳,李明"
run 0 -d "$C" list workday
has_out "王芳"; has_out "632322"
run 0 -d "$C" list person
has_out "浙江某社工机构"
run 0 -d "$P" list pairing
has_out "浙江某社工机构  尖扎县社会工作服务中心  632322"
# show
run 0 -d "$C" show "$WD"
has_out "person (社工)    王芳"; has_out "pairing (结对)   632322"
# export: the same words, and they import again
run 0 -d "$C" export workday -o "$T/wd.csv"
grep -q ",王芳,632322,20\?24-03-02" "$T/wd.csv" || fail "export workday: $(cat "$T/wd.csv")"
run 0 -d "$C" import workday "$T/wd.csv"   # a duplicate day warns but is kept
has_err "already has 1 work day on 2024-03-02"
# --json keeps the ids (for scripts)
run 0 -d "$C" --json list workday
py 'j[0]["fields"]["person"]' | grep -q "^$UUID" || fail "json person: $(py 'j[0]["fields"]["person"]')"

# a name two people share: the id, since the name would not say which
run 0 -d "$C" add person agency=浙江某社工机构 name=王芳 role=local
run 0 -d "$C" list workday
grep -q "王芳" "$T/out" && fail "an ambiguous name shown: $(out)"
[ "$(grep -c "$UUID.*$UUID" "$T/out")" = 2 ] || fail "ambiguous person not shown as an id: $(out)"

# dates: a day, a month, a year
count() { run 0 -d "$C" --json list service "$@"; py 'len(j)'; }
[ "$(count date=2024-03-01)" = 1 ] || fail "one day"
[ "$(count date=2024-03)" = 2 ] || fail "March 2024: $(count date=2024-03)"
[ "$(count date=2024-02)" = 1 ] || fail "February 2024 (a leap day)"
[ "$(count date=2024)" = 3 ] || fail "2024: $(count date=2024)"
[ "$(count date=2025-03 total=4)" = 1 ] || fail "a month and another filter"
[ "$(count date=2023-03)" = 0 ] || fail "no service in March 2023"
run 0 -d "$C" list service date=2024-03
has_out "(2 service records)"
run 2 -d "$C" list service date=2024-13
run 2 -d "$C" list service date=24-03
echo "ok: references as codes and names, ids where ambiguous; months and years"
