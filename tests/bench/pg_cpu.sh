# tests/bench/pg_cpu.sh — sourced by pg_sync.sh and pg_fanin.sh: CPU time of
# the benchmark's processes, from /proc (needs PY and, for the server,
# QS_PG_DIR from tests/pg/pgtest.sh).

# CPU seconds of the PostgreSQL server: the postmaster, its children that
# have ended (cutime/cstime: the front-ends' backends, once they close) and
# those still running (checkpointer, WAL writer...). 0 without a server.
server_cpu() {
    [ -n "${QS_PG_DIR:-}" ] || { echo 0; return; }
    local pm; pm=$(head -1 "$QS_PG_DIR/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
    "$PY" - "$pm" <<'EOP'
import os, sys
pm = sys.argv[1]
hz = os.sysconf("SC_CLK_TCK")
def f(pid):
    try:
        return open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return None
s = f(pm)
t = sum(int(x) for x in s[11:15]) if s else 0
try:
    kids = open("/proc/%s/task/%s/children" % (pm, pm)).read().split()
except OSError:
    kids = []
for k in kids:
    c = f(k)
    if c:
        t += int(c[11]) + int(c[12])
print("%.3f" % (t / hz))
EOP
}
# CPU seconds of processes (utime + stime), while they run
procs_cpu() {
    "$PY" - "$@" <<'EOP'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
t = 0
for pid in sys.argv[1:]:
    try:
        s = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        t += int(s[11]) + int(s[12])
    except OSError:
        pass
print("%.3f" % (t / hz))
EOP
}

# CPU seconds of the script's children that have ended and been waited for (call
# it from the main shell's functions, not a subshell's)
children_cpu() {
    "$PY" - "$$" <<'EOP'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
s = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print("%.3f" % ((int(s[13]) + int(s[14])) / hz))
EOP
}
# ceiling CORES RATE1 CPU_US_PER_RECORD: the rate two front-ends could reach
# at most on CORES cores, each record costing all processes CPU_US of CPU,
# and that as a multiple of one front-end's RATE1
ceiling() {
    "$PY" -c "import sys; c, r, u = map(float, sys.argv[1:]); m = c * 1e6 / u; print('%.0f %.2f' % (m, m / r))" "$@"
}
