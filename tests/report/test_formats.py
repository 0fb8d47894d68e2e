#!/usr/bin/env python3
"""test_formats.py QIANSHOU GENDIR YEAR — the report's JSON, CSV, XLSX and
HTML hold the same numbers and verdicts, the same new sections (总结与评估 with
the operator's GB18030 narrative, 覆盖, 结对结构, 指标说明 with the plan's words),
the period and both recipients; a report dated mid-year is marked 年度未结束 in
every format and fails nothing still reachable; one dated after the year says
what the year-end one says; the HTML renders in headless
Chromium (when installed; html.parser otherwise) and shows every county;
`nodes --stale` exits 4 exactly when a county is stale; `metrics` is valid
Prometheus text exposition."""
import csv, html.parser, io, json, os, re, shutil, subprocess, sys, tempfile, zipfile
import xml.etree.ElementTree as ET

QS, GEN, YEAR = sys.argv[1], sys.argv[2], sys.argv[3]
PROV = os.path.join(GEN, "630000")
FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL:", msg)


def run(args, env=None, ok=(0,)):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([QS] + args, capture_output=True, env=e)
    if p.returncode not in ok:
        print(p.stderr.decode(errors="replace"))
    check(p.returncode in ok, f"{' '.join(args)}: exit {p.returncode}, wanted {ok}")
    return p


tmp = tempfile.mkdtemp()
# the reporting unit's own 总结与评估, in GB18030 as Notepad on a Chinese Windows saves it
NARRATIVE = ["本年度各结对机构克服高原气候和交通不便等困难，驻点开展服务。",
             "下一步：加强本地社工培养，督促经费按时足额到位。"]
narr = os.path.join(tmp, "narrative.txt")
with open(narr, "wb") as f:
    f.write("\r\n".join(NARRATIVE).encode("gb18030"))
base = ["-d", PROV, "report", "annual", "--year", YEAR, "--narrative", narr]
rep = json.loads(run(base + ["--format", "json"]).stdout)
for fmt, ext in (("csv", "csv"), ("xlsx", "xlsx"), ("html", "html")):
    run(base + ["--format", fmt, "-o", os.path.join(tmp, "r." + ext)] + (["--bom"] if fmt == "csv" else []))

LABEL = {"pass": "达标", "fail": "未达标", "no-data": "无数据", "n/a": "不适用", "in-progress": "进行中"}
CRITS = [c["key"] for c in rep["criteria"]]
check(CRITS == ["coverage", "structure", "dispatched_workers", "dispatched_days", "local_workers",
                "local_days", "funds", "cultivated"], f"the criteria table: {CRITS}")
HEADS = [c["label"] for c in rep["criteria"]]
PLAN = {c["label"]: c["plan"] for c in rep["criteria"]}
check(rep["period"] == {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}, f"period {rep['period']}")
check(rep["recipients"] == ["民政部慈善事业促进和社会工作司", "国家乡村振兴局社会帮扶司"], "recipients")
check(not rep["year_open"], "a year-end report is not open")
check(rep["narrative"] == "\n".join(NARRATIVE) or rep["narrative"] == "\r\n".join(NARRATIVE),
      "the narrative reaches the JSON")
check(any(l.startswith(f"报告期为{YEAR}年1月1日至12月31日") for l in rep["assessment"]), "assessment")
for c in rep["criteria"]:
    check(c["plan"] and c["counted"] and "pass" in c["rules"] and "n/a" in c["rules"],
          f"criteria table entry {c['key']}")
want = {}  # county -> dict of what every format must show
for p in rep["pairings"]:
    w = {"name": p["county_name"], "overall": LABEL[p["overall"]], "services": p["services"]["count"],
         "people": p["services"]["people_served"], "received": p["funds"]["received_fen"]}
    for c in CRITS:
        w[c] = LABEL[p["criteria"][c]["verdict"]]
        w[c + "_value"] = p["criteria"][c]["value"]
    want[p["county"]] = w
check(len(want) >= 1, "the JSON report lists pairings")


def money_fen(text):
    return round(float(text) * 100)


def check_sections(sections, src):
    """sections: {title: [rows as dicts header->text]}"""
    summary, detail, svc, funds = (sections.get(k, []) for k in ("总览", "指标明细", "服务", "经费"))
    heads = HEADS
    for title in ("总结与评估", "覆盖", "结对结构", "指标说明", "援派社工", "本地社工", "培训督导"):
        check(title in sections, f"{src}: section {title}")
    text = [r.get("内容", "") for r in sections.get("总结与评估", [])]
    for line in NARRATIVE:
        check(line in text, f"{src} 总结与评估 has the narrative line {line[:10]}…")
    check(any(t.startswith(f"报告期为{YEAR}年1月1日至12月31日") for t in text), f"{src} 总结与评估 period")
    rules = {r["指标"]: r for r in sections.get("指标说明", [])}
    for label, words in PLAN.items():
        check(rules.get(label, {}).get("方案要求") == words, f"{src} 指标说明 {label}: the plan's words")
    cov = {r["县代码"]: r for r in sections.get("覆盖", [])}
    for code in want:
        check(cov.get(code, {}).get("结论") == "达标", f"{src} 覆盖 {code}")
    unc = {u["code"] for u in rep["province"]["coverage"]["uncovered"]}
    for code in unc:
        check(cov.get(code, {}).get("结论") == "未达标", f"{src} 覆盖 names uncovered {code}")
    st = sections.get("结对结构", [])
    check(any("跨省" in r.get("援派机构", "") and "方案" in r.get("援派机构", "") for r in st),
          f"{src} 结对结构 shows the split")
    seen = set()
    for row in summary:
        code = row.get("县代码")
        if code not in want:
            continue
        seen.add(code)
        w = want[code]
        for c, h in zip(CRITS, heads):
            check(row[h] == w[c], f"{src} 总览 {code} {h}: {row[h]} != {w[c]}")
        check(row["综合结论"] == w["overall"], f"{src} 总览 {code} overall")
    check(seen == set(want), f"{src}: summary misses {set(want) - seen}")
    labels = dict(zip(heads, CRITS))
    n = 0
    for row in detail:
        code, crit = row.get("县代码"), labels.get(row.get("指标"))
        if code in want and crit:
            v = money_fen(row["数值"]) if crit == "funds" else int(float(row["数值"]))
            check(v == want[code][crit + "_value"], f"{src} 指标明细 {code} {crit}: {v}")
            n += 1
    check(n == len(want) * len(CRITS), f"{src}: {n} criterion rows")
    for row in svc:
        code = row.get("县代码")
        if code in want:
            check(int(float(row["服务次数"])) == want[code]["services"], f"{src} 服务 {code} count")
            check(int(float(row["服务人数"])) == want[code]["people"], f"{src} 服务 {code} people")
    for row in funds:
        code = row.get("县代码")
        if code in want:
            check(money_fen(row["到账合计（元）"]) == want[code]["received"], f"{src} 经费 {code}")


# CSV: BOM, sections "【title】" then header then rows until a blank line
raw = open(os.path.join(tmp, "r.csv"), "rb").read()
check(raw.startswith(b"\xef\xbb\xbf"), "CSV starts with a UTF-8 BOM with --bom")
rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
sections, cur, head = {}, None, None
for r in rows:
    if len(r) == 1 and r[0].startswith("【"):
        cur, head = r[0].strip("【】"), None
        sections[cur] = []
    elif not r or r == [""]:
        cur = None
    elif cur and head is None:
        head = r
    elif cur:
        sections[cur].append(dict(zip(head, r)))
check_sections(sections, "csv")

# XLSX: unzip, shared strings, one sheet per section (header on row 4)
z = zipfile.ZipFile(os.path.join(tmp, "r.xlsx"))
ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
sst = [("".join(t.text or "" for t in si.iter("{%s}t" % ns["m"])))
       for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns)]
wb = ET.fromstring(z.read("xl/workbook.xml"))
rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
xsections = {}
for sh in wb.find("m:sheets", ns):
    x = ET.fromstring(z.read("xl/" + rels[sh.get(rel)]))
    grid = {}
    for c in x.iter("{%s}c" % ns["m"]):
        m = re.match(r"([A-Z]+)(\d+)", c.get("r"))
        v = c.find("m:v", ns)
        val = "" if v is None else (sst[int(v.text)] if c.get("t") == "s" else v.text)
        col = 0
        for ch in m.group(1):
            col = col * 26 + ord(ch) - 64
        grid.setdefault(int(m.group(2)), {})[col] = val
    head = grid.get(4, {})
    xsections[sh.get("name")] = [{head[k]: r.get(k, "") for k in head}
                                 for i, r in sorted(grid.items()) if i > 4]
check(len(xsections) >= 15, f"XLSX has one sheet per section ({len(xsections)})")
check_sections(xsections, "xlsx")
styles = z.read("xl/styles.xml").decode()
check("FFC7CE" in styles and "C6EFCE" in styles, "XLSX has pass/fail fills")


# HTML: tables parsed back; rendered text shows every county
class Tables(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.title, self.row, self.cell, self.head, self.text = {}, None, None, None, None, []
        self.in_h2 = False

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self.in_h2, self.title = True, ""
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "h2":
            self.in_h2 = False
            self.sections[self.title], self.head = [], None
        elif tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.title:
            if self.head is None:
                self.head = self.row
            else:
                self.sections[self.title].append(dict(zip(self.head, self.row)))
            self.row = None

    def handle_data(self, d):
        self.text.append(d)
        if self.in_h2:
            self.title += d
        elif self.cell is not None:
            self.cell += d


src = open(os.path.join(tmp, "r.html"), encoding="utf-8").read()
check("<script" not in src and "http://" not in src.replace("http://www.w3.org/2000/svg", ""),
      "HTML is self-contained")
check(src.count("<svg") >= 2 and "@page" in src and "A4" in src, "HTML has charts and A4 print CSS")
t = Tables()
t.feed(src)
check_sections(t.sections, "html")
chromium = shutil.which("chromium")
if chromium:
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--user-data-dir=" + tempfile.mkdtemp(),
                        "--dump-dom", "file://" + os.path.join(tmp, "r.html")],
                       capture_output=True, timeout=120)
    dom = Tables()
    dom.feed(p.stdout.decode("utf-8", errors="replace"))
    text = "".join(dom.text)
    print("html: rendered by chromium")
else:
    text = "".join(t.text)
    print("html: chromium not installed, checked with html.parser only")
for code, w in want.items():
    check(w["name"] in text, f"the rendered HTML shows {w['name']}")
for words in ("民政部慈善事业促进和社会工作司", "国家乡村振兴局社会帮扶司", f"报告期：{YEAR}年1月1日至12月31日"):
    check(words in text, f"the rendered HTML shows {words}")
    check(words in raw.decode("utf-8-sig"), f"the CSV shows {words}")
check("民政部慈善事业促进和社会工作司" in " ".join(sst), "the XLSX shows the recipients")

# a report dated mid-year: marked open in every format, nothing fails that can still be reached
mid = ["-d", PROV, "report", "annual", "--year", YEAR, "--as-of", f"{YEAR}-06-30"]
mj = json.loads(run(mid + ["--format", "json"]).stdout)
check(mj["year_open"] and mj["period"]["to"] == f"{YEAR}-06-30", "mid-year: open, to 30 June")
for p in mj["pairings"]:
    for k, c in p["criteria"].items():
        if k not in ("coverage", "structure"):
            check(c["verdict"] != "fail", f"mid-year {p['county']} {k} fails")
mcsv = run(mid + ["--format", "csv"]).stdout.decode()
check("年度未结束" in mcsv, "mid-year CSV says 年度未结束")
run(mid + ["--format", "html", "-o", os.path.join(tmp, "mid.html")])
check("年度未结束" in open(os.path.join(tmp, "mid.html"), encoding="utf-8").read(), "mid-year HTML")
run(mid + ["--format", "xlsx", "-o", os.path.join(tmp, "mid.xlsx")])
mz = zipfile.ZipFile(os.path.join(tmp, "mid.xlsx"))
check("年度未结束" in mz.read("xl/sharedStrings.xml").decode(), "mid-year XLSX")
mtab = run(mid).stdout.decode()
check("年度未结束" in mtab and "进行中" in mtab, "mid-year table")
# dated after the year: the year is the year
aj = json.loads(run(["-d", PROV, "report", "annual", "--year", YEAR, "--as-of",
                     f"{int(YEAR) + 1}-03-01", "--format", "json"]).stdout)
check(aj["period"]["to"] == f"{YEAR}-12-31" and not aj["year_open"], "after the year: to 31 December")
for p, q in zip(rep["pairings"], aj["pairings"]):
    check({k: c["verdict"] for k, c in p["criteria"].items()} ==
          {k: c["verdict"] for k, c in q["criteria"].items()}, f"after the year {p['county']} same verdicts")
    check(p["outputs"] == q["outputs"], f"after the year {p['county']} same outputs")
# the options' errors
run(base + ["--funds-sources", "金条"], ok=(1,))
run(["-d", PROV, "report", "annual", "--year", YEAR, "--narrative", os.path.join(tmp, "none.txt")], ok=(3,))
sj = json.loads(run(["-d", PROV, "report", "annual", "--year", YEAR, "--funds-sources",
                     "省级财政,福彩公益金,自筹", "--format", "json"]).stdout)
check(sj["settings"]["funds_sources"] == (1 << 1) | (1 << 2) | (1 << 4), "--funds-sources")

# nodes and metrics on a copy of the province store (they only read)
copy = os.path.join(tmp, "630000")
shutil.copytree(PROV, copy)
run(["-d", copy, "nodes"], ok=(0,))
run(["-d", copy, "nodes"], env={"QIANSHOU_CLOCK_OFFSET": "10d"}, ok=(4,))
run(["-d", copy, "nodes", "--stale", "30d"], env={"QIANSHOU_CLOCK_OFFSET": "10d"}, ok=(0,))
run(["-d", copy, "nodes", "--stale", "bogus"], ok=(1,))
nj = json.loads(run(["-d", copy, "--json", "nodes"], env={"QIANSHOU_CLOCK_OFFSET": "10d"}, ok=(4,)).stdout)
check(nj["stale"] == len(want) and all(n["stale"] for n in nj["nodes"]), "every county stale after 10 days")
m = run(["-d", copy, "metrics"], env={"QIANSHOU_CLOCK_OFFSET": "10d"}).stdout.decode()
typed, samples = set(), {}
for line in m.splitlines():
    if line.startswith("# HELP "):
        continue
    mt = re.match(r"# TYPE ([a-z_:][a-z0-9_:]*) (gauge|counter)$", line)
    if mt:
        typed.add(mt.group(1))
        continue
    ms = re.match(r'([a-z_:][a-z0-9_:]*)(\{node="\d+"\})? (-?[0-9]+(\.[0-9]+)?)$', line)
    check(ms is not None, f"metrics line is not exposition format: {line!r}")
    if ms:
        check(ms.group(1) in typed, f"{ms.group(1)} sampled before its TYPE line")
        samples.setdefault(ms.group(1), []).append(float(ms.group(3)))
check(samples.get("qianshou_peer_stale") == [1.0] * len(want), "metrics: every county stale")
check(len(samples.get("qianshou_peer_last_ok_timestamp_seconds", [])) == len(want), "metrics: one per county")
check(sum(samples.get("qianshou_peer_open_conflicts", [])) == 1, "metrics: the one open conflict")

shutil.rmtree(tmp, ignore_errors=True)
print(f"{len(FAILS)} failed" if FAILS else "formats: all checks passed")
sys.exit(1 if FAILS else 0)
