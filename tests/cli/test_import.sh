#!/usr/bin/env bash
# CSV import: UTF-8 with and without BOM, GB18030, Chinese headers, CRLF,
# quoted commas, quotes and line breaks; every bad row reported as
# FILE:LINE: field: reason; all-or-nothing vs --partial; a sheet imported twice.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
setup_nodes
run 0 -d "$C" add station township=632322100 name=坎布拉镇社工站

count() { run 0 -d "$C" --json list "$1"; py 'len(j)'; }

# 1. UTF-8, field-name headers, LF, quoted comma / quote / line break
S1=$T/s1.csv
cat >"$S1" <<'CSV'
date,station,service_type,domain,total,minors,content
2024-03-01,632322100,个案工作,children,3,1,"家访, 了解 ""困难"" 情况
第二行"
2024-03-02,632322100,groupwork,elderly,10,0,小组活动
CSV
run 0 -d "$C" import service "$S1"
has_out "imported 2 service records"; has_out "(UTF-8)"
run 0 -d "$C" --json list service
[ "$(py 'j[0]["fields"]["content"]')" = "$(printf '家访, 了解 "困难" 情况\n第二行')" ] \
    || fail "quoted cell content: $(py 'repr(j[0]["fields"]["content"])')"

# 2. the same sheet again is refused with its date, unless --again
run 2 -d "$C" import service "$S1"
has_err "was already imported on $(date +%Y-%m-%d)"; has_err "--again"
[ "$(count service)" = 2 ] || fail "re-import added rows"
run 0 -d "$C" import service "$S1" --again
[ "$(count service)" = 4 ] || fail "--again did not import"

# 3. UTF-8 with BOM, Chinese headers, CRLF line ends
S2=$T/s2.csv
printf '\xef\xbb\xbf服务日期,社工站,服务类型,服务领域,服务人数,服务内容\r\n2024-03-05,632322100,走访探视,养老服务,2,"入户走访,\r\n送温暖"\r\n\r\n2024-03-06,632322100,政策宣传,社会救助,30,宣传\r\n' >"$S2"
run 0 -d "$C" import service "$S2"
has_out "imported 2 service records"; has_out "(UTF-8 with BOM)"
run 0 -d "$C" --json list service date=2024-03-05
[ "$(py 'j[0]["fields"]["content"]')" = "$(printf '入户走访,\n送温暖')" ] || fail "CRLF in a cell"
[ "$(py 'j[0]["fields"]["service_type"]')" = visit ] || fail "label → code"

# 4. GB18030 (what Chinese Excel saves), Chinese headers
S3=$T/s3.csv
printf '服务日期,社工站,服务类型,服务领域,服务人数,服务内容\r\n2024-03-07,632322100,心理疏导,儿童关爱,1,"谈心，疏导"\r\n' \
    | iconv -f UTF-8 -t GB18030 >"$S3"
python3 -c "open('$S3','rb').read().decode('utf-8')" 2>/dev/null && fail "test sheet is not GB18030"
run 0 -d "$C" import service "$S3"
has_out "(GB18030)"
run 0 -d "$C" --json list service date=2024-03-07
[ "$(py 'j[0]["fields"]["content"]')" = "谈心，疏导" ] || fail "GB18030 text"

# 5. bad rows: every one reported as FILE:LINE: field: reason, nothing imported
S4=$T/s4.csv
cat >"$S4" <<'CSV'
date,station,service_type,domain,total,content
2024-04-01,632322100,casework,children,2,"好的一行,
跨两行"
2024-04-31,632322100,casework,children,2,日期错
2024-04-02,632322999,casework,children,2,站点不存在
2024-04-03,632322100,跳舞,children,many,两个错
2024-04-04,632322100,casework,children,5,又一个好行
CSV
before=$(count service)
run 2 -d "$C" import service "$S4"
has_err "$S4:4: date (服务日期)"
has_err "$S4:5: station (社工站): station 632322999 does not exist — add it with \`qianshou add station township=632322999 name=…\`"
has_err "$S4:6: service_type (服务类型)"
has_err "$S4:6: total (服务人数)"
has_err "3 of 5 rows have problems"; has_err "nothing was imported"
[ "$(count service)" = "$before" ] || fail "all-or-nothing imported something"
# --json lists the errors too
run 2 -d "$C" --json import service "$S4"
py 'j["exit"]' | grep -qx 2 || fail "json exit"

# 6. --partial: the good rows go in, the bad ones are listed, exit 4
run 4 -d "$C" import service "$S4" --partial
has_out "imported 2 service records"; has_out "skipped 3 rows"
has_err "$S4:4: date (服务日期)"
[ "$(count service)" = $((before + 2)) ] || fail "--partial count"
# ...and the sheet counts as imported
run 2 -d "$C" import service "$S4" --partial
has_err "already imported"

# 7. a sheet that is neither UTF-8 nor GB18030, an unclosed quote, a missing column
printf 'date,total\n\x81\x20\n' >"$T/bad.csv"
run 2 -d "$C" import service "$T/bad.csv"
has_err "neither UTF-8 nor GB18030"
printf 'date,service_type,domain,total,content\n2024-01-01,visit,elderly,1,"open\n' >"$T/q.csv"
run 2 -d "$C" import service "$T/q.csv"
has_err "$T/q.csv:2: a quoted field is never closed"
printf 'date,domain,total\n2024-01-01,elderly,1\n' >"$T/m.csv"
run 2 -d "$C" import service "$T/m.csv"
has_err "no column for service_type (服务类型)"
run 3 -d "$C" import service "$T/missing.csv"   # the environment, not the command line

# 8. duplicate work days within a sheet warn, and are imported
run 0 -d "$C" add person agency=浙江某社工机构 name=王芳 role=dispatched
printf '社工,结对,工作日期\n王芳,632322,2024-05-01\n王芳,632322,2024-05-01\n' >"$T/w.csv"
run 0 -d "$C" import workday "$T/w.csv"
has_err "$T/w.csv:3: person"; has_err "already has 1 work day on 2024-05-01"
[ "$(count workday)" = 2 ] || fail "duplicate work days not both kept"

# 9. beneficiaries: the ID number gives the pseudonym
printf 'name,id_number,gender\n李四,632322201001011225,女\n' >"$T/b.csv"
run 0 -d "$C" import beneficiary "$T/b.csv"
run 0 -d "$C" --json list beneficiary
[[ $(py 'j[0]["fields"]["pseudonym"][0]') =~ ^[0-9a-f]{32}$ ]] || fail "imported pseudonym"

# 10. rows naming two stations in turn, by township code and by id: each row
# gets its own station (the import remembers resolved references)
run 0 -d "$C" add station township=632322101 name=第二社工站
S2ID=$(out)
{
    echo 'date,station,service_type,domain,total,content'
    for i in 1 2 3; do
        echo "2024-07-0$i,632322100,visit,elderly,1,双站$i"
        echo "2024-07-0$i,632322101,visit,elderly,2,双站$i"
        echo "2024-07-0$i,$S2ID,visit,elderly,3,双站$i"
    done
} >"$T/two.csv"
run 0 -d "$C" import service "$T/two.csv"
has_out "imported 9 service records"
run 0 -d "$C" --json list service station=$S2ID
[ "$(py 'sorted(r["fields"]["total"] for r in j if r["fields"]["content"].startswith("双站"))')" = \
    "[2, 2, 2, 3, 3, 3]" ] || fail "rows of the second station: $(out)"

# 11. the sheet is read row by row: a malformed row after good ones (an
# unclosed quote on line 4) still leaves nothing imported
before=$(count service)
printf 'date,station,service_type,domain,total,content\n2024-08-01,632322100,visit,elderly,1,好\n2024-08-02,632322100,visit,elderly,1,好\n2024-08-03,632322100,visit,elderly,1,"未闭合\n' >"$T/broken.csv"
run 2 -d "$C" import service "$T/broken.csv"
has_err "broken.csv:4: a quoted field is never closed"; has_err "nothing was imported"
[ "$(count service)" = "$before" ] || fail "a malformed sheet imported rows"
echo ok
