#!/usr/bin/env python3
"""web_pages.py BUILD_DIR [N]: qianshou-web's page times on a county store of
N service logs (default 1,000,000; the issue's target is 50 ms a page).

Makes the store (10 stations, N rows of gen_csv.py imported with `qianshou
import`, 500,000 a sheet), a clerk, starts qianshou-web on loopback and signs in,
then fetches each page REPS times and prints the median and the slowest, in
ms, as seen by a client on the same machine (loopback adds well under 1 ms).
The work directory is removed at the end unless QS_KEEP is set."""
import http.cookiejar
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

BUILD = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
REPS = 20
HERE = os.path.dirname(os.path.abspath(__file__))
Q = os.path.join(BUILD, "client", "qianshou")
WEB = os.path.join(BUILD, "web", "qianshou-web")
W = tempfile.mkdtemp(prefix="qs-bench-web-")
D = os.path.join(W, "d")


def q(*args, stdin=None):
    p = subprocess.run([Q, "-d", D, *args], input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"qianshou {' '.join(args)}: exit {p.returncode}: {p.stderr[-2000:]}")


t0 = time.time()
q("init", "--node", "632322", "--role", "county", "--name", "尖扎县")
for i in range(10):
    q("add", "station", f"township=632322{100 + i}", f"name=站{i}")
# sheets of at most 500,000 rows (a sheet may have at most 1,000,000 lines)
left, part = N, 0
while left > 0:
    n = min(left, 500000)
    path = os.path.join(W, f"rows{part}.csv")
    with open(path, "w") as f:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_csv.py"), str(n), str(7 + part)],
                       stdout=f, check=True)
    q("import", "service", path)
    os.unlink(path)
    left -= n
    part += 1
q("user", "add", "clerk", "--role", "clerk", stdin="bench clerk password\n")
print(f"store: {N} service logs in {time.time() - t0:.0f} s")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
with open(os.path.join(W, "web.conf"), "w") as f:
    f.write(f"[node]\nid = 632322\nrole = county\ndata_dir = {D}\n[upstream]\nhost = a\n"
            "address = 127.0.0.1\nport = 7443\nca = /x/ca\ncert = /x/c\nkey = /x/k\n"
            f"[web]\nport = {port}\n")
web = subprocess.Popen([WEB, "-c", os.path.join(W, "web.conf")], stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
for _ in range(100):
    try:
        page = op.open(base + "/login").read().decode()
        break
    except OSError:
        time.sleep(0.1)
csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
op.open(base + "/login", urllib.parse.urlencode(
    {"csrf": csrf, "user": "clerk", "password": "bench clerk password"}).encode()).read()
listing = op.open(base + "/records?kind=service").read().decode()
rid = re.search(r'/record\?id=([0-9a-f-]{36})', listing).group(1)

PAGES = [
    ("home (counts this month, daemon status)", "/"),
    ("list, first page", "/records?kind=service"),
    ("list, page 100", "/records?kind=service&page=100"),
    ("list, month + station", "/records?kind=service&month=2023-06&station=632322105"),
    ("list, month + station, page 3", "/records?kind=service&month=2023-06&station=632322105&page=3"),
    ("show a record with history", f"/record?id={rid}"),
    ("new-record form", "/new?kind=service"),
    ("conflicts", "/conflicts"),
]
worst = 0.0
try:
    print(f"{'page':44} {'median ms':>10} {'max ms':>8}")
    for name, path in PAGES:
        times = []
        for _ in range(REPS):
            t = time.perf_counter()
            op.open(base + path).read()
            times.append((time.perf_counter() - t) * 1000)
        med, mx = statistics.median(times), max(times)
        worst = max(worst, med)
        print(f"{name:44} {med:10.1f} {mx:8.1f}")
finally:
    web.terminate()
    web.wait()
    if not os.environ.get("QS_KEEP"):
        shutil.rmtree(W, ignore_errors=True)
print(f"slowest median {worst:.1f} ms (target 50 ms): {'met' if worst <= 50 else 'MISSED'}")
