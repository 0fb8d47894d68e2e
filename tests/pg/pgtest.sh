#!/usr/bin/env bash
# pgtest.sh — run a command beside a private PostgreSQL 15.
#
#   tests/pg/pgtest.sh CMD [ARGS...]
#
# Makes a cluster in a new temporary directory (initdb, trust authentication
# over a Unix socket in that directory, no TCP), starts it with pg_ctl, runs
# CMD with QS_PG_CONNINFO (a libpq conninfo for the database "qs", user "qs")
# and QS_PG_DIR in its environment, and stops and removes the cluster when CMD
# ends, however it ends (trap; a watcher process when this script is
# SIGKILLed, as by ctest's timeout). The exit status is CMD's.
#
# initdb refuses to run as root, and CI runs as root: then the cluster
# belongs to the unprivileged user QS_PG_USER (default nobody), which runs
# initdb, pg_ctl and postgres through setpriv; the test itself stays root and
# connects over the socket. Exit 77 (ctest: skipped) only when the server
# binaries are missing.
set -euo pipefail

PGBIN=${QS_PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
  echo "pgtest: no PostgreSQL server binaries in $PGBIN: skipped" >&2
  exit 77
fi
if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/qs-pg-XXXXXX")
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  user=${QS_PG_USER:-nobody}
  uid=$(id -u "$user")
  gid=$(id -g "$user")
  chown "$uid:$gid" "$dir"
  as_owner=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --)
fi
chmod 0711 "$dir"
data="$dir/data"

stop() {
  local rc=$?
  if [ -f "$data/postmaster.pid" ]; then
    (cd "$dir" && "${as_owner[@]}" "$PGBIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$dir"
  exit "$rc"
}
trap stop EXIT
trap 'exit 143' TERM INT HUP

cd "$dir"
if ! "${as_owner[@]}" "$PGBIN/initdb" -D "$data" -U qs --auth=trust -E UTF8 --locale=C.UTF-8 \
     --no-sync >"$dir/initdb.log" 2>&1; then
  cat "$dir/initdb.log" >&2
  echo "pgtest: initdb failed" >&2
  exit 3
fi
# No TCP (listen_addresses empty); the socket lives in the cluster's directory.
# fsync off: a test cluster is thrown away, durability is not what is tested
# here — unless QS_PG_FSYNC=1 (benchmarks: durable like SQLite's FULL).
durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${QS_PG_FSYNC:-0}" = 1 ] && durability="-c fsync=on -c synchronous_commit=on"
# QS_PG_OPTS: more server options, for profiling (e.g. "-c
# shared_preload_libraries=pg_stat_statements")
durability="$durability ${QS_PG_OPTS:-}"
if ! "${as_owner[@]}" "$PGBIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
     -o "-c listen_addresses= -k $dir $durability -c max_connections=60" \
     start >/dev/null 2>&1; then
  cat "$dir/server.log" >&2 || true
  echo "pgtest: the server did not start" >&2
  exit 3
fi
"${as_owner[@]}" "$PGBIN/createdb" -h "$dir" -U qs qs
# A watcher in a session of its own stops and removes the cluster should
# this script be killed without running its trap (ctest's timeout, a
# SIGKILL of the whole process group).
setsid bash -c '
    me=$1 dir=$2 data=$3 pgbin=$4; shift 4
    trap "" HUP INT TERM
    while kill -0 "$me" 2>/dev/null; do sleep 1; done
    if [ -f "$data/postmaster.pid" ]; then
        (cd "$dir" && "$@" "$pgbin/pg_ctl" -D "$data" -m immediate -w stop) >/dev/null 2>&1
    fi
    rm -rf "$dir"' _ "$$" "$dir" "$data" "$PGBIN" "${as_owner[@]}" </dev/null >/dev/null 2>&1 &

export QS_PG_DIR="$dir"
export QS_PG_BIN="$PGBIN"
export QS_PG_CONNINFO="host=$dir dbname=qs user=qs"
cd - >/dev/null
set +e
"$@"
rc=$?
set -e
if [ "$rc" -ne 0 ] && [ -n "${QS_PG_SHOW_LOG:-}" ]; then
  tail -n 50 "$dir/server.log" >&2 || true
fi
exit "$rc"
