#!/usr/bin/env bash
# Help on every command, usage errors (exit 1), schema output, unknown things.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

run 0 --help
has_out "exit codes:"
# The tool loads no libcrypto (its own SHA-256), libxlsxwriter only for an
# xlsx report and libpq only for a store on PostgreSQL (store/pq.h): at start,
# libcrypto cost a one-record `add` ~4 ms of its ~12, and libpq (with libssl,
# Kerberos and LDAP) made it three times as slow. Checked on everything the
# loader maps, not only the direct NEEDED entries.
if command -v readelf >/dev/null; then
    needed=$(readelf -d "$QS" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    [ -n "$needed" ] || fail "readelf lists no NEEDED libraries"
    case "$needed" in *libcrypto*|*libssl*|*libxlsxwriter*|*libpq*) fail "qianshou links $needed" ;; esac
fi
if command -v ldd >/dev/null; then
    mapped=$(ldd "$QS" | awk '{print $1}' | tr '\n' ' ')
    case "$mapped" in
    *libcrypto*|*libssl*|*libxlsxwriter*|*libpq*|*libgssapi*|*libldap*) fail "qianshou loads $mapped" ;;
    esac
fi
for n in 0 1 2 3 4; do has_out "  $n  "; done
for cmd in init schema add edit delete show list import export conflicts digest backup restore; do
    run 0 "$cmd" --help
    has_out "usage: qianshou $cmd"
done
run 1                                   # no command
run 1 frobnicate
has_err 'there is no command "frobnicate"'
run 1 --bogus
[ "$(cat "$T/err")" = 'qianshou: unknown option --bogus (see `qianshou --help`)' ] || fail "--bogus"
run 1 --json frobnicate
py 'j["exit"]' | grep -qx 1 || fail "json error lacks exit 1"

# schema: every kind, as text and JSON
run 0 schema
for k in county agency pairing station person workday service training expense output beneficiary; do
    has_out "$k"
done
run 0 --json schema
py 'len(j["kinds"])' | grep -qx 11 || fail "schema --json does not list 11 kinds"
py 'sorted(k["name"] for k in j["kinds"])' | grep -qF "'beneficiary', 'county', 'expense'" \
    || fail "schema --json kind names"
run 0 schema service --json
py '[f["name"] for f in j["fields"] if f["required"]]' | grep -qF "'date'" || fail "required"
py '[v["label"] for f in j["fields"] if f["name"]=="service_type" for v in f["values"]][0]' \
    | grep -qx 个案工作 || fail "enum labels"
run 0 schema 服务记录                    # a kind by its Chinese label
has_out "service_type"
run 1 schema nosuchkind
has_err "the kinds are:"

# commands that need a store, without one: environment error with a way out
run 3 -d "$T/none" list station
has_err "qianshou -d $T/none init"
run 3 --json -d "$T/none" list station
py 'j["exit"]' | grep -qx 3 || fail "json exit 3"
# QIANSHOU_DATA is the default directory
run 0 -d "$T/d" init --node 632322 --role county
QIANSHOU_DATA=$T/d "$QS" list station >"$T/out" 2>"$T/err" || fail "QIANSHOU_DATA not used"
has_out "no station records"
# init where a store is (qianshoud made it at its first start): the same node
# and role change nothing but the name; another node or role is refused
run 0 -d "$T/d" init --node 632322 --role county
has_out "the county store of node 632322 is already in $T/d: nothing to do"
run 0 -d "$T/d" init --node 632322 --role county --name 尖扎县
has_out "its name is now 尖扎县"
run 0 -d "$T/d" init --name 尖扎县社会工作服务中心
run 0 -d "$T/d" digest
has_out "node 632322 (尖扎县社会工作服务中心), all records"
run 2 -d "$T/d" init --node 632323 --role county
has_err "already holds the county store of node 632322"
run 2 -d "$T/d" init --node 632322 --role aggregator
run 1 -d "$T/d3" init --name 尖扎县
has_err "give --node CODE and --role"
run 1 -d "$T/d2" init --node 12345 --role county
has_err "not a division code"
run 1 -d "$T/d2" init --node 632322 --role boss
# the directory is group-shared and setgid
[ "$(stat -c %a "$T/d")" = 2770 ] || fail "data dir mode is $(stat -c %a "$T/d")"
[ "$(stat -c %a "$T/d/qianshou.db")" = 660 ] || fail "db mode"
# options after the command, bad ids, bad filters
run 0 list station -d "$T/d" --json
py 'j' | grep -qx '\[\]' || fail "empty list json"
run 1 -d "$T/d" show not-an-id
has_err "is not a record id"
run 2 -d "$T/d" show 01890a5d-ac96-774b-bcce-b302099a8057
has_err "there is no record"
run 2 -d "$T/d" list station color=red
has_err 'a station has no field "color"'
run 1 -d "$T/d" list station --limit x
# every error line starts with qianshou: and names the field with its label
run 2 -d "$T/d" add station township=63232210 name=x
[ "$(cat "$T/err")" = "qianshou: township (乡镇代码): must be a township code (9 digits, e.g. 632322100)" ] \
    || fail "validation line: $(cat "$T/err")"
run 1 -d "$T/d" add station
has_err "qianshou: give the fields of the new station as FIELD=VALUE (its fields: \`qianshou schema station\`)"
# a sheet that is not there is the environment (3), with the system's reason
run 3 -d "$T/d" import station "$T/no-such.csv"
has_err "qianshou: cannot open $T/no-such.csv: No such file or directory"
printf 'township,name\n632322101,x\n6323221,y\n' >"$T/bad.csv"
run 2 -d "$T/d" import station "$T/bad.csv"
has_err "qianshou: $T/bad.csv:3: township (乡镇代码): "
# write failures say why
run 3 -d "$T/d" backup -o "$T/no-dir/x.db"
has_err "qianshou: cannot write the backup $T/no-dir/x.db: No such file or directory"
run 3 -d "$T/d" export station -o "$T/no-dir/x.csv"
has_err "No such file or directory"
# nodes is the aggregator's
run 1 -d "$T/d" nodes
has_err '`nodes` is for the aggregator'
# a duration is printed as it was written
run 0 -d "$T/p" init --node 630000 --role aggregator
run 0 -d "$T/p" nodes --stale 36h
has_out "0 node(s), 0 stale (limit 36h)"
run 0 -d "$T/p" nodes
has_out "(limit 3d)"
echo "ok"
