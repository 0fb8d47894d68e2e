#!/usr/bin/env bash
# Permissions (DESIGN.md "Daemon and CLI on one county machine"), run as real
# unprivileged users — CI runs as root, where every check would pass anyway:
#   a clerk in group qianshou can add records; a user outside it cannot;
#   root is refused against a data directory it does not own.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root to create the test users and switch to them" >&2
    exit 0
fi
ensure_user() { # NAME [GROUP]
    id -u "$1" >/dev/null 2>&1 && return 0
    if [ -n "${2:-}" ]; then useradd --system --no-create-home -G "$2" "$1"
    else useradd --system --no-create-home "$1"; fi
}
if ! { getent group qianshou >/dev/null || groupadd --system qianshou; } ||
   ! ensure_user qs_clerk qianshou || ! ensure_user qs_other; then
    echo "SKIP: cannot create the group qianshou and users qs_clerk, qs_other (useradd failed)" >&2
    exit 0
fi
id -nG qs_clerk | grep -qw qianshou || usermod -aG qianshou qs_clerk
id -nG qs_other | grep -qw qianshou && fail "qs_other must not be in group qianshou"

# the binary must be reachable by the test users
BIN=$T/bin; mkdir -p "$BIN"; cp "$QS" "$BIN/qianshou"; chmod 0755 "$BIN" "$BIN/qianshou"
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$BIN/qianshou" "$@"; }
run_as() { # EXPECTED USER ARGS...
    local want=$1 u=$2; shift 2
    local rc=0
    as "$u" "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "as $u: qianshou $* exited $rc, expected $want"
}

# root sets up the directory for the group, as the install would
D=$T/data
run 0 -d "$D" init --node 632322 --role county --group qianshou
[ "$(stat -c '%a %G' "$D")" = "2770 qianshou" ] || fail "dir is $(stat -c '%a %G' "$D")"
[ "$(stat -c '%a %G' "$D/qianshou.db")" = "660 qianshou" ] || fail "db is $(stat -c '%a %G' "$D/qianshou.db")"

# a clerk in the group can add and list, and what the clerk creates stays group-writable
run_as 0 qs_clerk -d "$D" add station township=632322100 name=坎布拉镇社工站
S=$(out)
run_as 0 qs_clerk -d "$D" list station
grep -qF "$S" "$T/out" || fail "clerk cannot see the record"
for f in "$D"/qianshou.db*; do
    [ "$(stat -c %G "$f")" = qianshou ] || fail "$f is not group qianshou"
    [ $(( 0$(stat -c %a "$f") & 060 )) -eq $((060)) ] || fail "$f is not group read-write"
done
# root (which owns this directory) still can; the record is authored by the clerk
run 0 -d "$D" --json show "$S"
py 'j["author"]' | grep -qx 632322/qs_clerk || fail "author is $(py 'j["author"]')"

# a user outside the group cannot, and is told why (exit 3, a sentence)
run_as 3 qs_other -d "$D" add station township=632322101 name=x
has_err "you (qs_other) may not use"; has_err "add you to group qianshou"
grep -qE '(^| )[0-9]+$|errno' "$T/err" && fail "a bare number in the message"
run_as 3 qs_other -d "$D" list station

# the clerk creates a data directory of their own; root is refused there
CD=$T/clerkdata; mkdir -p "$CD"; chown qs_clerk:qianshou "$CD"; chmod 02770 "$CD"
run_as 0 qs_clerk -d "$CD" init --node 632322 --role county
run 3 -d "$CD" list station
has_err "you are root"; has_err "qs_clerk"
run 3 -d "$CD" add station township=632322100 name=x
run 3 -d "$CD" init --node 632322 --role county
# ...and root changed nothing there: the clerk still owns every file
[ -z "$(find "$CD" -user root)" ] || fail "root created files in the clerk's directory"
echo ok
