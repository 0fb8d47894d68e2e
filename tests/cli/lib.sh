# Shared helpers for the CLI tests. Source after `set -euo pipefail`.
#   $1 = the qianshou binary, $2 = qs_test_xfer
QS=${1:?usage: test_X.sh QIANSHOU XFER}
XFER=${2:?usage: test_X.sh QIANSHOU XFER}
T=$(mktemp -d /tmp/qs-cli-test.XXXXXX)
chmod 0755 "$T"
trap 'rm -rf "$T"' EXIT
unset QIANSHOU_DATA

fail() { echo "FAIL: $*" >&2; echo "--- stdout:" >&2; cat "$T/out" >&2 || true;
         echo "--- stderr:" >&2; cat "$T/err" >&2 || true; exit 1; }

# run EXPECTED_RC ARGS...: run qianshou, keep stdout in $T/out and stderr in
# $T/err, and fail unless the exit code is EXPECTED_RC.
run() {
    local want=$1; shift
    local rc=0
    "$QS" "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "qianshou $* exited $rc, expected $want"
}

out() { cat "$T/out"; }
# grep the last stdout / stderr for a fixed string
has_out() { grep -qF -- "$1" "$T/out" || fail "stdout lacks: $1"; }
has_err() { grep -qF -- "$1" "$T/err" || fail "stderr lacks: $1"; }
lacks_out() { ! grep -qF -- "$1" "$T/out" || fail "stdout should not have: $1"; }

# py EXPR: evaluate a python expression with j = the JSON on stdout of the last run
py() { python3 -c "import json,sys; j=json.load(open('$T/out')); print($1)"; }

# A province (630000) with a county, two agencies and one pairing for 632322,
# and a county store 632322 that has received them. Sets $P and $C.
setup_nodes() {
    P=$T/province C=$T/county
    run 0 -d "$P" init --node 630000 --role aggregator --name 青海省民政厅
    run 0 -d "$P" add county code=632322 name=尖扎县 prefecture=黄南藏族自治州 townships=9
    run 0 -d "$P" add agency name=浙江某社工机构 role=aiding province=浙江
    run 0 -d "$P" add agency name=尖扎县社会工作服务中心 role=receiving county=632322
    run 0 -d "$P" add pairing aiding=浙江某社工机构 receiving=尖扎县社会工作服务中心 \
        county=632322 type=cross_province start_year=2021 end_year=2035
    run 0 -d "$C" init --node 632322 --role county
    "$XFER" "$P" "$C" down >"$T/out" 2>"$T/err" || fail "xfer down"
    has_out "applied 4 "
}
