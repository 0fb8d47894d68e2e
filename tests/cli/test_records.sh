#!/usr/bin/env bash
# add / list / show / edit / delete round trips for every kind, JSON output,
# the helpful reference forms and their error sentences, duplicate work days.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
setup_nodes

# round_trip DIR KIND FILTER EDIT CHECK_FIELD CHECK_VALUE ADD-ARGS...
#   add, find with FILTER, edit with EDIT, check the edit in show --json,
#   delete, check it is gone from list and marked deleted in show.
round_trip() {
    local dir=$1 kind=$2 filter=$3 edit=$4 field=$5 value=$6; shift 6
    run 0 -d "$dir" add "$kind" "$@"
    local id; id=$(out)
    [[ $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] \
        || fail "add $kind printed '$id', not a UUIDv7"
    run 0 -d "$dir" list "$kind" "$filter"
    has_out "$id"
    run 0 -d "$dir" --json list "$kind" "$filter"
    py "[r['id'] for r in j]" | grep -qF "$id" || fail "list --json $kind"
    run 0 -d "$dir" edit "$id" "$edit"
    has_out "updated $kind $id"
    run 0 -d "$dir" --json show "$id"
    [ "$(py "j['fields'].get('$field')")" = "$value" ] \
        || fail "$kind: $field is '$(py "j['fields'].get('$field')")', expected '$value'"
    py "j['rev']" | grep -q '^2-' || fail "$kind: the edit is not generation 2"
    run 0 -d "$dir" show "$id" --history
    has_out "version 1:"; has_out "version 2:"; has_out "superseded"
    run 0 -d "$dir" delete "$id"
    run 0 -d "$dir" list "$kind" "$filter"
    lacks_out "$id"
    run 0 -d "$dir" --json show "$id"
    [ "$(py "j['deleted']")" = True ] || fail "$kind: not deleted"
    run 2 -d "$dir" edit "$id" "$edit"
    has_err "was deleted"
    # add it again for later use
    run 0 -d "$dir" add "$kind" "$@"
    LAST=$(out)
}

# reference kinds, at the province
round_trip "$P" county code=632321 name=泽库县 name 泽库县 code=632321 name=泽库 townships=7
round_trip "$P" agency role=aiding name=某机构乙 name 某机构乙 name=某机构 role=援派机构
round_trip "$P" pairing county=632322 end_year=2030 end_year 2030 \
    aiding=浙江某社工机构 receiving=尖扎县社会工作服务中心 county=632322 type=省内 \
    start_year=2022 end_year=2025

# a pairing serves a county of the plan in this province, or it is refused
run 2 -d "$P" add pairing aiding=浙江某社工机构 receiving=尖扎县社会工作服务中心 \
    county=620102 type=cross_province start_year=2022 end_year=2025
has_err "outside this pairing's area"
run 2 -d "$P" add pairing aiding=浙江某社工机构 receiving=尖扎县社会工作服务中心 \
    county=632399 type=cross_province start_year=2022 end_year=2025
has_err "is not a county of the plan"

# county kinds, at the county (reference data came down with setup_nodes)
round_trip "$C" station township=632322100 name=坎布拉镇社工站 name 坎布拉镇社工站 \
    township=632322100 name=坎布拉社工站 opened=2022-03-01 resident_workers=2
STATION=$LAST
round_trip "$C" person name=王芳 cert_level=社会工作师 cert_level social_worker \
    agency=浙江某社工机构 name=王芳 role=dispatched service_since=2020-09-01
round_trip "$C" workday person=王芳 summary=入户 summary 入户 \
    person=王芳 pairing=632322 date=2024-04-02 township=632322100 mode=驻点
round_trip "$C" service station=632322100 total=9 total 9 \
    date=2024-04-02 station=632322100 workers=王芳 service_type=小组工作 domain=children \
    categories=留守儿童,困境儿童 total=8 minors=8 female=4 minutes=90 content=课后辅导
round_trip "$C" training type=督导 topic=个案督导 topic 个案督导 \
    date=2024-04-03 type=supervision topic=个案 minutes=120 participants=6 pairing=632322
round_trip "$C" expense direction=spent amount=88.5 amount 88.50 \
    pairing=632322 date=2024-04-05 direction=支出 amount=1,234.56 category=交通补贴 voucher=V-001
round_trip "$C" output type=brand note=x note x \
    type=服务品牌项目 name=牵手护苗 date=2024-05-01 pairing=632322
round_trip "$C" beneficiary name=李四 township=632322100 township 632322100 \
    name=李四 id_number=632322201001011225 gender=女 birth=2010-01-01 categories=孤儿

# the plan's own words are accepted and shown with the schema's labels
run 0 -d "$C" add expense pairing=632322 date=2024-04-06 direction=spent amount=10 \
    category=活动费用 voucher=V-002
run 0 -d "$C" add expense pairing=632322 date=2024-04-06 direction=spent amount=12 \
    category=餐补 voucher=V-003
run 0 -d "$C" --json list expense voucher=V-003
[ "$(py 'j[0]["fields"]["category"]')" = "meals" ] || fail "餐补 is 伙食补助"
run 0 -d "$C" add training date=2024-04-07 type=项目指导 topic=项目设计 minutes=90
run 0 -d "$C" add person agency=尖扎县社会工作服务中心 name=周敏 role=本地社工 \
    cert_level=社工师 exam_year=2024
run 0 -d "$C" --json list person name=周敏
[ "$(py 'j[0]["fields"]["cert_level"]')" = "social_worker" ] || fail "社工师 is 社会工作师"

# money is stored in fen and shown in yuan
run 0 -d "$C" --json list expense
[ "$(py 'j[0]["fields"]["amount"]')" = "1234.56" ] || fail "money 1,234.56 yuan"
run 2 -d "$C" add expense pairing=632322 date=2024-04-05 direction=spent amount=1.234 category=meals
has_err "amount"

# a beneficiary's pseudonym comes from its ID number, and a service that names
# the same ID number stores the same pseudonym (never the number itself)
run 0 -d "$C" --json list beneficiary
PS=$(py 'j[0]["fields"]["pseudonym"][0]')
[[ $PS =~ ^[0-9a-f]{32}$ ]] || fail "beneficiary pseudonym '$PS'"
run 0 -d "$C" add service date=2024-04-09 service_type=visit domain=elderly total=1 \
    pseudonyms=632322201001011225
SID=$(out)
run 0 -d "$C" --json show "$SID"
[ "$(py 'j["fields"]["pseudonyms"][0]')" = "$PS" ] || fail "service pseudonym differs"
grep -q 632322201001011225 "$T/out" && fail "the ID number is in the service record"
run 0 -d "$C" list service pseudonyms=632322201001011225
has_out "$SID"

# helpful references: sentences a clerk can act on (exit 2)
run 2 -d "$C" add service date=2024-04-02 station=632322199 service_type=visit domain=elderly total=1
has_err 'station 632322199 does not exist — add it with `qianshou add station township=632322199 name=…`'
run 2 -d "$C" add workday person=赵六 pairing=632322 date=2024-04-02
has_err "there is no person named 赵六"
run 2 -d "$C" add workday person=王芳 pairing=632321 date=2024-04-02
has_err "county 632321 has no active pairing"
run 2 -d "$C" add person agency=无此机构 name=x role=local
has_err "there is no agency named 无此机构"
run 2 -d "$C" add workday person="$STATION" pairing=632322 date=2024-04-02
has_err "is a station record, not a person"
# every bad field is reported, not only the first
run 2 -d "$C" add service date=2024-02-30 service_type=nope domain=elderly total=-1
has_err "date (服务日期)"; has_err "service_type (服务类型)"
# required fields
run 2 -d "$C" add station name=无代码
has_err "qianshou: township (乡镇代码): is required"
# a county may not write province data
run 2 -d "$C" add county code=632323 name=x
# the province must say which county owns a county record
run 0 -d "$P" add station township=632322101 name=省里录入 --scope 632322

# a duplicate work day warns and is kept
run 0 -d "$C" add workday person=王芳 pairing=632322 date=2024-06-01
run 0 -d "$C" add workday person=王芳 pairing=632322 date=2024-06-01
has_err "warning: person"; has_err "already has 1 work day on 2024-06-01"
run 0 -d "$C" --json list workday date=2024-06-01
[ "$(py 'len(j)')" = 2 ] || fail "both work days kept"

# filters and --limit
run 0 -d "$C" --json list workday --limit 1
[ "$(py 'len(j)')" = 1 ] || fail "--limit 1"
run 0 -d "$C" --json list service categories=留守儿童
[ "$(py 'len(j)')" = 1 ] || fail "enumset filter"
run 0 -d "$C" list station --deleted
has_out "(deleted)"
# nothing rejected here
run 0 -d "$C" list --rejected
has_out "no refused records"
echo ok
