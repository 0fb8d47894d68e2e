#!/usr/bin/python3
"""A real browser against qianshou-web: headless Chromium through WebDriver
(Debian's chromium-driver and python3-selenium).

Two nodes are served: a county (632322, clerks) whose store holds a real
conflict (two copies of the store edited apart and exchanged the way a sync
does, with qs_test_xfer), and the province (630000, an operator). The test
signs in, adds a record and sees the CLI's error sentences beside the fields,
uploads a sheet with a bad row, resolves the conflict, shows and downloads
the annual report, signs out; locks an account with wrong passwords; sends
a POST without the form token and a record with <script> in it; and checks
that a clerk cannot open the operator's pages. Screenshots must show Chinese
glyphs, not tofu boxes.

usage: test_browser.py QIANSHOU QIANSHOU_WEB QS_TEST_XFER
Screenshots go to $QS_WEB_SCREENSHOTS when it is set (the README's come from
there), else into the test's temporary directory.
"""
import http.cookiejar
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

QIANSHOU, WEB, XFER = sys.argv[1:4]
T = tempfile.mkdtemp(prefix="qs-web-")
SHOTS = os.environ.get("QS_WEB_SCREENSHOTS") or os.path.join(T, "shots")
os.makedirs(SHOTS, exist_ok=True)
PASSED = FAILED = 0
PROCS = []


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok:", what)
    else:
        FAILED += 1
        print("FAIL:", what)


def cli(*args, stdin=None, ok=(0,)):
    p = subprocess.run([QIANSHOU, *args], input=stdin, capture_output=True, text=True)
    if p.returncode not in ok:
        raise SystemExit(f"qianshou {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(path, node, role, data, web_lines):
    with open(path, "w") as f:
        f.write(f"[node]\nid = {node}\nrole = {role}\ndata_dir = {data}\n")
        if role == "county":
            f.write("[upstream]\nhost = agg.example\naddress = 127.0.0.1\nport = 7443\n"
                    f"ca = {T}/none/ca.crt\ncert = {T}/none/n.crt\nkey = {T}/none/n.key\n")
        else:
            f.write(f"[listen]\nport = 7443\nca = {T}/none/ca.crt\ncert = {T}/none/n.crt\n"
                    f"key = {T}/none/n.key\ncrl = {T}/none/crl.pem\n")
        f.write("[web]\n" + web_lines)


def start_web(cfg, log):
    p = subprocess.Popen([WEB, "-c", cfg], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    PROCS.append(p)
    return p


def wait_port(port, proc):
    for _ in range(100):
        if proc.poll() is not None:
            raise SystemExit(f"qianshou-web exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"qianshou-web did not listen on {port}")


# ---- the data ----------------------------------------------------------
A, B, P = f"{T}/a", f"{T}/b", f"{T}/p"
cli("-d", A, "init", "--node", "632322", "--role", "county", "--name", "尖扎县")
S1 = cli("-d", A, "add", "station", "township=632322100", "name=坎布拉镇社工站")
cli("-d", A, "backup", "-o", f"{T}/a.bak")
cli("-d", B, "restore", f"{T}/a.bak")
cli("-d", A, "edit", S1, "name=坎布拉社工站（县里）", "resident_workers=2")
cli("-d", B, "edit", S1, "name=坎布拉社工站（站里）")
subprocess.run([XFER, B, A, "up"], check=True, capture_output=True)
cli("-d", A, "conflicts", ok=(4,))
PW = {"clerk1": "清晨的雪山很安静啊啊", "clerk2": "another clerk pw", "op1": "province operator"}
cli("-d", A, "user", "add", "clerk1", "--role", "clerk", stdin=PW["clerk1"] + "\n")
cli("-d", A, "user", "add", "clerk2", "--role", "clerk", stdin=PW["clerk2"] + "\n")
PW["viewer1"] = "just looking around"
PW["clerk3"] = "a clerk who moves on"
cli("-d", A, "user", "add", "clerk3", "--role", "clerk", stdin=PW["clerk3"] + "\n")
cli("-d", A, "user", "add", "viewer1", "--role", "viewer", stdin=PW["viewer1"] + "\n")
cli("-d", P, "init", "--node", "630000", "--role", "aggregator", "--name", "青海省民政厅")
cli("-d", P, "user", "add", "op1", "--role", "admin", stdin=PW["op1"] + "\n")
# the county's reference data from the province (as a pull would): the county
# then knows its parent, and its home page can say what waits to go up even
# with no daemon running
cli("-d", P, "add", "county", "code=632322", "name=尖扎县", "prefecture=黄南州", "townships=9")
subprocess.run([XFER, P, A, "down"], check=True, capture_output=True)
# the province's own reference data beyond the county (not sent down here)
cli("-d", P, "add", "county", "code=632323", "name=同仁市", "prefecture=黄南州")
cli("-d", P, "add", "agency", "name=浙江某社工机构", "role=aiding", "province=浙江省",
    "contact=<b>王</b>")
cli("-d", P, "add", "agency", "name=尖扎县社工中心", "role=receiving", "county=632322")
cli("-d", P, "add", "pairing", "aiding=浙江某社工机构", "receiving=尖扎县社工中心",
    "county=632322", "type=cross_province", "start_year=2024", "end_year=2026")
p = subprocess.run([QIANSHOU, "-d", A, "user", "add", "weak", "--role", "clerk"],
                   input="short\n", capture_output=True, text=True)
check(p.returncode == 2 and "at least 10 characters" in p.stderr, "a short password is refused")

# ---- config: a LAN address without TLS is refused -----------------------
config(f"{T}/lan.conf", "632322", "county", A, "address = 0.0.0.0\nport = 8080\n")
p = subprocess.run([WEB, "-c", f"{T}/lan.conf", "--check"], capture_output=True, text=True)
check(p.returncode == 3 and "not a loopback address" in p.stderr and "cert and key" in p.stderr,
      "listening on 0.0.0.0 without TLS is refused: " + p.stderr.strip()[:120])

# ---- HTTPS: Secure cookie and HSTS ------------------------------------------
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", f"{T}/web.key", "-out", f"{T}/web.crt", "-subj", "/CN=localhost",
                "-days", "2"], check=True, capture_output=True)
TLS_PORT = free_port()
config(f"{T}/tls.conf", "632322", "county", A,
       f"address = 127.0.0.1\nport = {TLS_PORT}\ncert = {T}/web.crt\nkey = {T}/web.key\n")
tls = start_web(f"{T}/tls.conf", f"{T}/tls.log")
wait_port(TLS_PORT, tls)
ctx = ssl.create_default_context(cafile=f"{T}/web.crt")
ctx.check_hostname = False
r = urllib.request.urlopen(f"https://127.0.0.1:{TLS_PORT}/login", context=ctx)
cookie = r.headers.get("Set-Cookie", "")
check("Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie,
      "under TLS the session cookie is Secure, HttpOnly, SameSite=Strict")
check(r.headers.get("Strict-Transport-Security", "").startswith("max-age="), "HSTS under TLS")
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", TLS_PORT), timeout=10)) as sk:
    sk.sendall(b"POST /import HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
               b"Content-Length: 9000000\r\n\r\n")  # past the default max_upload, 8 MiB
    head = b""
    while b"\r\n\r\n" not in head:
        got = sk.recv(4096)
        if not got:
            break
        head += got
check(head.startswith(b"HTTP/1.1 413") and b"strict-transport-security: max-age=" in head.lower()
      and b"frame-ancestors 'none'" in head, "under TLS libh2o's 413 has HSTS and the CSP")
tls.terminate()
tls.wait(timeout=30)

# ---- the two web servers ------------------------------------------------
CP, PP = free_port(), free_port()
config(f"{T}/county.conf", "632322", "county", A, f"port = {CP}\nsession_timeout = 600\nmax_upload = 1048576\n")
config(f"{T}/prov.conf", "630000", "aggregator", P, f"port = {PP}\n")
county = start_web(f"{T}/county.conf", f"{T}/county.log")
prov = start_web(f"{T}/prov.conf", f"{T}/prov.log")
wait_port(CP, county)
wait_port(PP, prov)
CU, PU = f"http://127.0.0.1:{CP}", f"http://127.0.0.1:{PP}"

opts = Options()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
          "--lang=zh-CN", "--disable-dev-shm-usage"):
    opts.add_argument(a)
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
drv.set_page_load_timeout(30)


def el(css):
    return drv.find_element(By.CSS_SELECTOR, css)


def els(css):
    return drv.find_elements(By.CSS_SELECTOR, css)


def shot(name):
    path = os.path.join(SHOTS, name + ".png")
    drv.save_screenshot(path)
    return path


def cjk_renders():
    """Chinese glyphs render from a real font: two different characters give
    different pixels, and neither looks like the box of a code point no font
    has (U+10FFFD)."""
    return drv.execute_script("""
        const c = document.createElement('canvas'); c.width = 120; c.height = 60;
        const x = c.getContext('2d');
        const fam = getComputedStyle(document.body).fontFamily;
        function draw(t) { x.clearRect(0, 0, 120, 60); x.font = '40px ' + fam;
            x.fillStyle = '#000'; x.fillText(t, 5, 45);
            return Array.from(x.getImageData(0, 0, 120, 60).data).join(','); }
        const a = draw('牵'), b = draw('手'), tofu = draw('\\u{10FFFD}');
        const tofu2 = draw('\\u{10FFFC}');
        const ink = a.split(',').filter((v, i) => i % 4 == 3 && v > 0).length;
        return {differ: a !== b, notofu: a !== tofu && b !== tofu, ink: ink,
                boxes_alike: tofu === tofu2,
                font: document.fonts.check('16px "Noto Sans CJK SC"', '牵手')};
    """)


def login(base, user, pw):
    drv.get(base + "/login")
    el("#user").clear()
    el("#user").send_keys(user)
    el("#password").send_keys(pw)
    submit(el("#login"))


def submit(button):
    """Click and wait for the next page (so that a following get() cannot
    cut the form's POST short): the button's node is gone from the page."""
    button.click()

    def gone(_):
        try:
            button.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:  # asked while the old page is torn down
            return "does not belong to the document" in str(e)
    WebDriverWait(drv, 20).until(gone)


SIDS = []


def session_opener():
    jar = http.cookiejar.CookieJar()
    c = drv.get_cookie("qs_sid")
    SIDS.append(c["value"])
    jar.set_cookie(http.cookiejar.Cookie(0, "qs_sid", c["value"], None, False, "127.0.0.1", False,
                                         False, "/", True, False, None, False, None, None, {}))
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def csrf_of(body):
    m = re.search(rb'name="csrf" value="([0-9a-f]{64})"', body)
    return m.group(1).decode() if m else ""


def status_of(opener, url, data=None):
    try:
        r = opener.open(url, data=data)
        return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


try:
    # sign in; the first page asks for it
    drv.get(CU + "/")
    check(drv.current_url.endswith("/login"), "a page without sign-in leads to /login")
    g = cjk_renders()
    shot("01-login")
    check(g["boxes_alike"], "the tofu probe works: two code points no font has draw alike")
    check(g["differ"] and g["notofu"] and g["ink"] > 50 and g["font"],
          f"Chinese glyphs render, not tofu ({g})")
    login(CU, "clerk1", PW["clerk1"])
    check(drv.current_url.rstrip("/") == CU and el("#c-conflicts .big").text == "1",
          "signed in; the home page counts 1 open conflict")
    check(not els("a[href='/fleet']"), "a clerk's menu has no operator pages")
    check(int(el("#c-pending .big").text) >= 1 and el("#c-last .big").text == "—",
          "without a daemon the home page still says what waits to sync (from the store)")
    shot("02-home")

    # security headers on a page
    op = session_opener()
    st, hd, body = status_of(op, CU + "/")
    csp = hd.get("Content-Security-Policy", "")
    check("frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and
          "default-src 'none'" in csp, "CSP without inline script: " + csp)
    check(hd.get("X-Content-Type-Options") == "nosniff" and hd.get("Cache-Control") == "no-store"
          and hd.get("Referrer-Policy") == "no-referrer", "nosniff, no-store, Referrer-Policy")
    check(b"<script" not in body and b"style=" not in body, "no inline script or style in a page")

    # add a service log: first with mistakes, the CLI's sentences beside the fields
    drv.get(CU + "/new?kind=service")
    drv.execute_script("arguments[0].value = '2024-03-01'", el("#f-date"))
    el("#f-station").send_keys("632322199")
    Select(el("#f-service_type")).select_by_visible_text("个案工作")
    Select(el("#f-domain")).select_by_visible_text("儿童关爱")
    el("#f-total").send_keys("两人")
    submit(el("#save"))
    err_station = els("#err-station")
    err_total = els("#err-total")
    check(err_station and "632322199 does not exist" in err_station[0].text,
          "unknown station: the CLI's sentence beside the field")
    check(err_total and '"两人" is not a whole number' in err_total[0].text,
          "bad number: the CLI's sentence beside the field")
    check(el("#f-total").get_attribute("value") == "两人", "what was typed is kept")
    shot("03-form-errors")
    el("#f-station").clear()
    el("#f-station").send_keys("632322100")
    el("#f-total").clear()
    el("#f-total").send_keys("3")
    el("#f-minors").send_keys("2")
    el("#f-content").send_keys("入户走访，了解困难")
    submit(el("#save"))
    check(els("#flash") and "/record?id=" in drv.current_url, "the corrected record is saved")
    rid = el("#record-id").text
    rec = cli("-d", A, "--json", "show", rid)
    check('"author": "632322/clerk1"' in rec.replace('":"', '": "'),
          "the record's author is NODE/USER (632322/clerk1)")

    # edit it: the form comes filled in; the history shows both versions
    submit(el("#edit"))
    check(el("#f-total").get_attribute("value") == "3" and
          Select(el("#f-service_type")).first_selected_option.text == "个案工作",
          "the edit form comes filled in")
    el("#f-total").clear()
    el("#f-total").send_keys("4")
    submit(el("#save"))
    hist = els("#history tr")
    check(len(hist) == 3 and "服务人数：4" in hist[2].text and "632322/clerk1" in hist[2].text,
          f"the history shows both versions ({len(hist) - 1})")

    # sync now without a daemon: the daemon's absence is said, not hidden
    drv.get(CU + "/")
    check("qianshoud" in el("#daemon").text, "the home page says the daemon does not answer")
    submit(el("#sync"))
    check("没有开始同步" in el("#flash").text and "is qianshoud running?" in el("#flash").text,
          "sync now without a daemon: " + el("#flash").text[:80])

    # XSS: a record with markup shows as text
    drv.get(CU + "/new?kind=station")
    el("#f-township").send_keys("632322101")
    el("#f-name").send_keys("<script>window.__xss=1</script><img src=x onerror=window.__xss=2>")
    submit(el("#save"))
    check(drv.execute_script("return window.__xss") is None, "the script in a record did not run")
    check("<script>window.__xss=1</script>" in el("#fields").text, "the record shows it as text")
    check("&lt;script&gt;" in drv.page_source, "escaped in the page source")
    drv.get(CU + "/records?kind=station")
    check(drv.execute_script("return window.__xss") is None and len(els("#records img")) == 0,
          "the list shows it escaped too")
    # delete it: a tombstone, shown as deleted, gone from the list
    drv.get(CU + "/records?kind=station")
    n_before = len(els("#records tbody tr"))
    els("#records tbody tr a")[-1].click()
    submit(el("#delete"))
    check("已删除" in el("h1").text and els("#flash"), "deleted; the page says so")
    drv.get(CU + "/records?kind=station")
    check(len(els("#records tbody tr")) == n_before - 1, "the list has one station less")

    # the web process outlives the CLI's lookup caches: a station deleted and
    # made again (at the command line) is the new one in the next form
    def add_service(station):
        drv.get(CU + "/new?kind=service")
        drv.execute_script("arguments[0].value = '2024-03-03'", el("#f-date"))
        el("#f-station").send_keys(station)
        Select(el("#f-service_type")).select_by_visible_text("个案工作")
        Select(el("#f-domain")).select_by_visible_text("儿童关爱")
        el("#f-total").send_keys("1")
        submit(el("#save"))
        return el("#record-id").text
    cli("-d", A, "add", "station", "township=632322108", "name=旧站")
    add_service("632322108")
    old = cli("-d", A, "list", "station", "township=632322108", "--json")
    old_id = re.search(r'"id": *"([0-9a-f-]{36})"', old).group(1)
    cli("-d", A, "delete", old_id)
    new_id = cli("-d", A, "add", "station", "township=632322108", "name=新站")
    sid = add_service("632322108")
    shown = cli("-d", A, "--json", "show", sid)
    check(new_id in shown and old_id not in shown and "632322108" in el("#fields").text,
          "a re-made station is the one the next form refers to (no stale lookup)")

    # CSRF: a POST without the form's token is refused and changes nothing
    before = cli("-d", A, "list", "service")
    form = urllib.parse.urlencode({"kind": "service", "date": "2024-03-02",
                                   "service_type": "1", "domain": "1", "total": "1"}).encode()
    st1, _, b1 = status_of(op, CU + "/new", form)
    st2, _, _ = status_of(op, CU + "/new", form + b"&csrf=" + b"0" * 64)
    check(st1 == 403 and st2 == 403, f"POST without / with a wrong token refused ({st1}, {st2})")
    check(cli("-d", A, "list", "service") == before, "nothing was written by those POSTs")

    # upload a sheet (GB18030, as Chinese Excel saves it) with a bad row
    sheet = os.path.join(T, "三月服务记录.csv")
    with open(sheet, "w", encoding="gb18030", newline="") as f:
        f.write("服务日期,社工站,服务类型,服务领域,服务人数,服务内容\r\n"
                "2024-03-05,632322100,小组工作,养老服务,12,老年人小组\r\n"
                "2024-03-06,632322100,政策宣传,社会救助,两人,低保政策宣讲\r\n")
    drv.get(CU + "/import")
    el("#file").send_keys(sheet)
    submit(el("#upload"))
    probs = el("#import-problems").text
    check("三月服务记录.csv:3: total (服务人数)" in probs and "nothing was imported" in probs,
          "the bad row is named with its line number; nothing imported")
    shot("04-import-problem")
    el("#file").send_keys(sheet)
    el("#partial").click()
    submit(el("#upload"))
    check("imported 1 service record" in el("#import-problems").text,
          "--partial through the page imports the good row")

    # list with filters and the show page with history
    drv.get(CU + "/records?kind=service&month=2024-03&station=632322100")
    rows = els("#records tbody tr")
    check(len(rows) == 2, f"list filtered by month and station: {len(rows)} rows")
    # export downloads what the list shows (its filters), not the whole kind
    href = el("#export").get_attribute("href")
    check("month=2024-03" in href and "station=632322100" in href,
          "the list's export link carries its filters: " + href)
    st, hd, body = status_of(op, href)
    lines = [x for x in body.decode("utf-8-sig").split("\r\n")[1:] if x]
    check(st == 200 and len(lines) == 2 and all(",632322100," in x or "坎布拉" in x for x in lines),
          f"the filtered export has the list's {len(lines)} rows")
    st, hd, body = status_of(op, CU + "/export?kind=service")
    n_all = len([x for x in body.decode("utf-8-sig").split("\r\n")[1:] if x])
    check(st == 200 and n_all > 2, f"without filters the export has all {n_all} service logs")
    st, _, body = status_of(op, CU + "/export?kind=service&month=2024-13")
    check(st == 400 and "2024-13" in body.decode(), f"a bad month in an export is refused ({st})")
    drv.get(CU + "/records?kind=service&month=2024-04")
    check(len(els("#records tbody tr")) == 0, "another month: no rows")

    # the conflict: both versions side by side, take one
    drv.get(CU + "/conflicts")
    submit(el("#conflicts a"))
    cells = el("#versions").text
    check("坎布拉社工站（县里）" in cells and "坎布拉社工站（站里）" in cells,
          "the conflict's versions side by side")
    shot("05-conflict")
    submit(el("#take-1"))
    check(els("#no-conflicts") and els("#flash"), "resolved in the page")
    check(subprocess.run([QIANSHOU, "-d", A, "conflicts"], capture_output=True).returncode == 0,
          "the CLI sees no open conflict")

    # a clerk cannot open the operator's pages
    for page in ("/fleet", "/report", "/users", "/rejected", "/reference", "/audit"):
        drv.get(CU + page)
        check(els("#page-error") and status_of(op, CU + page)[0] == 403,
              f"clerk gets 403 on {page}")
    # not by a POST with the session's own token either
    tok = csrf_of(status_of(op, CU + "/records")[2])
    check(len(tok) == 64, "the clerk's page carries the session's form token")
    st, _, _ = status_of(op, CU + "/users", urllib.parse.urlencode(
        {"csrf": tok, "action": "add", "name": "mallory", "role": "admin",
         "password": "mallory's long password"}).encode())
    check(st == 403 and "mallory" not in cli("-d", A, "user", "list"),
          f"a clerk's POST to /users with a valid token is refused ({st}), no user made")
    # export
    st, hd, body = status_of(op, CU + "/export?kind=service")
    check(st == 200 and "attachment" in hd.get("Content-Disposition", "") and
          "入户走访" in body.decode("utf-8-sig"), "export downloads the CSV")

    # sign out
    submit(el("#logout"))
    check(drv.current_url.endswith("/login"), "signed out")
    drv.get(CU + "/records")
    check(drv.current_url.endswith("/login"), "after sign-out pages need a sign-in again")
    st, hd, body = status_of(op, CU + "/records")
    check(b'id="records"' not in body, "the old session cookie no longer works")

    # limits: a body past max_upload, headers past 16 KiB, a target past 4 KiB
    with socket.create_connection(("127.0.0.1", CP), timeout=10) as sk:
        # announced, not sent: the server answers before reading a byte of it
        sk.sendall(b"POST /import HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                   b"Content-Length: 1048586\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            got = sk.recv(4096)
            if not got:
                break
            head += got
        line = head.split(b"\r\n")[0]
    check(line.startswith(b"HTTP/1.1 413"), f"a body past max_upload is refused ({line})")
    lhead = head.lower()
    check(b"content-security-policy: default-src 'none'" in lhead and
          b"frame-ancestors 'none'" in lhead and b"x-content-type-options: nosniff" in lhead and
          b"cache-control: no-store" in lhead and lhead.count(b"content-security-policy") == 1,
          "libh2o's own 413 has the security headers too")
    req = urllib.request.Request(CU + "/login", headers={"X-Pad": "y" * 20000})
    st, _, _ = status_of(op, req)
    check(st == 431, f"headers past 16 KiB are refused ({st})")
    st, _, _ = status_of(op, CU + "/records?kind=" + "z" * 5000)
    check(st == 414, f"a target past 4 KiB is refused ({st})")

    # a viewer reads but writes nothing
    login(CU, "viewer1", PW["viewer1"])
    check(not els("#sync") and not els("a[href='/import']"), "a viewer has no sync button or import")
    drv.get(CU + "/new?kind=service")
    check(els("#page-error"), "a viewer gets 403 on the new-record form")
    vop = session_opener()
    st, _, body = status_of(vop, CU + "/records?kind=service")
    check(st == 200, "a viewer reads the list")
    # every writing POST, with the viewer's valid token: 403, nothing changed
    tok = csrf_of(body)
    check(len(tok) == 64, "the viewer's page carries the session's form token (sign-out form)")
    before = cli("-d", A, "list", "service")
    for page, fields in (("/new", {"kind": "service", "date": "2024-03-09", "station": "632322100",
                                   "service_type": "1", "domain": "1", "total": "1"}),
                         ("/edit", {"id": rid, "total": "9"}), ("/delete", {"id": rid}),
                         ("/resolve", {"id": rid, "take": "1"}), ("/sync", {}),
                         ("/import", {"kind": "service"})):
        st, _, _ = status_of(vop, CU + page, urllib.parse.urlencode({"csrf": tok, **fields}).encode())
        check(st == 403, f"a viewer's POST to {page} with a valid token is refused ({st})")
    check(cli("-d", A, "list", "service") == before, "the viewer's POSTs changed nothing")
    submit(el("#logout"))

    # a signed-in session follows its account: a role taken away applies at
    # the next request, a disabled account is signed out
    login(CU, "clerk3", PW["clerk3"])
    op3 = session_opener()
    st, _, _ = status_of(op3, CU + "/new?kind=service")
    check(st == 200, f"clerk3 opens the new-record form ({st})")
    cli("-d", A, "user", "role", "clerk3", "viewer")
    st, _, _ = status_of(op3, CU + "/new?kind=service")
    check(st == 403, f"made a viewer: the same session gets 403 on the form ({st})")
    cli("-d", A, "user", "role", "clerk3", "admin")
    st, _, _ = status_of(op3, CU + "/users")
    check(st == 200, f"made an admin: the same session opens /users ({st})")
    # a new password (here at the command line) ends the sessions of the old one
    PW["clerk3"] = "a new password for clerk3"
    cli("-d", A, "user", "passwd", "clerk3", stdin=PW["clerk3"] + "\n")
    st, _, body = status_of(op3, CU + "/records?kind=service")
    check(b'id="records"' not in body and b'id="login"' in body,
          "a new password: the session signed in with the old one is signed out")
    login(CU, "clerk3", PW["clerk3"])
    op3 = session_opener()
    st, _, body = status_of(op3, CU + "/records?kind=service")
    check(b'id="records"' in body, "signed in again with the new password")
    cli("-d", A, "user", "disable", "clerk3")
    st, _, body = status_of(op3, CU + "/records?kind=service")
    check(b'id="records"' not in body and b'id="login"' in body,
          "disabled: the live session is signed out")
    cli("-d", A, "user", "enable", "clerk3")
    st, _, body = status_of(op3, CU + "/records?kind=service")
    check(b'id="records"' not in body, "enabled again: the ended session stays ended")

    # lockout: five wrong passwords, then even the right one is refused
    for i in range(5):
        login(CU, "clerk2", f"wrong password {i}")
    msg = el("#login-error").text
    check("锁定" in msg, "locked after 5 failures: " + msg)
    login(CU, "clerk2", PW["clerk2"])
    check(drv.current_url.endswith("/login") and "锁定" in el("#login-error").text,
          "the right password is refused while locked")
    shot("06-locked")

    # the province: an operator, the report in the page and its downloads
    login(PU, "op1", PW["op1"])
    check(els("a[href='/fleet']") and els("a[href='/report']"), "an admin's menu has them")
    drv.get(PU + "/fleet")
    check(els("#fleet"), "fleet page")
    drv.get(PU + "/report?year=2024")
    check("2024年度“牵手计划”社会工作服务实施情况报告" in el("main").text, "the report in the page")
    g = cjk_renders()
    check(g["differ"] and g["notofu"], "Chinese glyphs on the report page")
    shot("07-report")
    op2 = session_opener()
    st, hd, body = status_of(op2, PU + "/report?year=2024&format=csv")
    check(st == 200 and "report-2024.csv" in hd.get("Content-Disposition", "") and
          "牵手计划" in body.decode("utf-8-sig"), "CSV download")
    st, hd, body = status_of(op2, PU + "/report?year=2024&format=xlsx")
    check(st == 200 and body[:2] == b"PK", "XLSX download")
    st, hd, body = status_of(op2, PU + "/report?year=2024&format=html")
    check(st == 200 and b"<html" in body[:500].lower() and "attachment" in
          hd.get("Content-Disposition", ""), "HTML download (as an attachment)")
    # reference data: a page of counties, agencies and pairings, cross-referenced
    drv.get(PU + "/reference")
    rows = {r.find_elements(By.TAG_NAME, "td")[2].text: r.text for r in els("#ref-county tbody tr")}
    check(set(rows) == {"尖扎县", "同仁市"} and "黄南州" in rows["尖扎县"] and
          rows["尖扎县"].endswith(" 1") and rows["同仁市"].endswith(" 0"),
          f"counties with their prefecture and number of pairings: {rows}")
    ag = {r.find_elements(By.TAG_NAME, "td")[1].text: r.text for r in els("#ref-agency tbody tr")}
    check(len(ag) == 2 and "援派机构" in ag.get("浙江某社工机构", "") and
          ag.get("浙江某社工机构", "").endswith(" 1") and "<b>王</b>" in ag["浙江某社工机构"] and
          not els("#ref-agency b"), f"agencies, their pairings, a contact shown as text: {ag}")
    pr = [r.text for r in els("#ref-pairing tbody tr")]
    check(len(pr) == 1 and all(x in pr[0] for x in ("浙江某社工机构", "尖扎县社工中心", "跨省",
                                                   "2024", "2026")) and pr[0].endswith("尖扎县"),
          f"the pairing names its agencies and its county: {pr}")
    shot("09-reference")
    submit(els("#ref-pairing tbody tr a")[0])
    check("浙江某社工机构" in el("#fields").text, "a reference row opens the record's page")
    drv.get(PU + "/users")
    check("op1" in el("#users").text, "users page")
    shot("08-users")
finally:
    drv.quit()
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
        p.wait(timeout=30)

# SIGTERM ends each server cleanly (under ASan: nothing leaked)
check(all(p.returncode == 0 for p in PROCS),
      f"qianshou-web exits 0 on SIGTERM: {[p.returncode for p in PROCS]}")

# the audit trail and the logs
db = sqlite3.connect(os.path.join(A, "qianshou.db"))
acts = db.execute("SELECT user, action, record FROM web_audit").fetchall()
check(("clerk1", "login_ok", "") in acts and ("clerk1", "logout", "") in acts, "audit: sign-in/out")
check(("clerk1", "add", rid) in acts, "audit: the add, with the record id")
ended = db.execute("SELECT detail FROM web_audit WHERE user = 'clerk3' AND action = 'session_ended'"
                   " ORDER BY rowid").fetchall()
check(ended == [("new password",), ("account disabled",)],
      f"audit: clerk3's sessions ended by the new password and the disabling: {ended}")
check(sum(1 for a in acts if a[:2] == ("clerk2", "login_failed")) == 5, "audit: 5 failures")
check(any(a[1] == "resolve" for a in acts), "audit: the resolve")
check(any(a[1] == "edit" for a in acts) and any(a[1] == "delete" for a in acts),
      "audit: the edit and the delete")
logs = open(f"{T}/county.log").read() + open(f"{T}/prov.log").read()
check(not any(pw in logs for pw in PW.values()) and "qs_sid=" not in logs and
      not any(sid in logs for sid in SIDS),
      "no password or session id in the logs")

print(f"{PASSED} passed, {FAILED} failed")
if FAILED == 0:
    shutil.rmtree(T, ignore_errors=True)
else:
    print("kept for a look:", T)
sys.exit(1 if FAILED else 0)
