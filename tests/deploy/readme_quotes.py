#!/usr/bin/env python3
"""readme_quotes.py README DIR: every line the README quotes from the software
is checked against what the software really printed (the files under DIR:
*.log, *.out, *.err).

Which lines: in code blocks, every line that starts like our output does
("LEVEL component: ", "qianshou: ", "qianshoud: ", "qianshoud --check: ",
"qs-pki: ", "connect: ", "children: "), and the same in inline `code` spans of
the prose (a span may run over a line break). A quote may say what it is after
two or more spaces, "   (county)": that is not part of it.

How they match: a quote is a pattern in which the example values stand for any
value of their kind — numbers, dates and times, IP addresses and ports, host
and file names, absolute paths, UUIDs — and "…" for anything; the rest is
literal. A quote must match a whole printed line (a daemon's local timestamp
"YYYY-mm-dd HH:MM:SS " in front of a printed line is dropped first, unless
the quote starts with one itself).

Exit 0 when every quote matched; else each one that did not, with the printed
line most like it. QS_QUOTES_ALLOW: quotes (substrings) that may stay unmatched
(this run cannot make them: the root warning when not run as root)."""
import difflib
import os
import re
import sys

PREFIX = re.compile(r"^(?:(?:DEBUG|INFO|WARN|ERROR) [a-z]+: |qianshou: |qianshoud: |"
                    r"qianshoud --check: |qs-pki: |connect: |children: )")
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")

# example values, most specific first; each stands for any value of its kind
VALUES = [
    (r"…|\.\.\.", r".*"),
    (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", r"[0-9a-f-]{36}"),
    (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?Z?", r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?Z?"),
    (r"\d{4}-\d\d-\d\d", r"\d{4}-\d\d-\d\d"),
    (r"(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?", r"[0-9a-fA-F.:\[\]]+"),
    (r"(?<![\w/])/[^\s:),;`'\"]+", r"/[^\s:),;`'\"]+"),
    (r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", r"[A-Za-z0-9.-]+"),
    (r"\d+", r"\d+"),
]
TOKEN = re.compile("|".join("(%s)" % v for v, _ in VALUES))


def pattern(q):
    out, i = [], 0
    for m in TOKEN.finditer(q):
        out.append(re.escape(q[i:m.start()]))
        g = next(k for k in range(len(VALUES)) if m.group(k + 1) is not None)
        out.append(VALUES[g][1])
        i = m.end()
    out.append(re.escape(q[i:]))
    return re.compile("".join(out))


def quotes(text):
    found = []
    lines = text.split("\n")
    block, prose = False, []
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            block = not block
            continue
        if block:
            found.append((n, line.strip()))
        else:
            prose.append((n, line))
    # inline spans over the prose (joined, so a span may cross a line break)
    joined, where = "", []
    for n, line in prose:
        where.append((len(joined), n))
        joined += line + "\n"
    for m in re.finditer(r"`([^`]+)`", joined):
        n = max(w for w in where if w[0] <= m.start())[1]
        found.append((n, re.sub(r"\s*\n\s*", " ", m.group(1)).strip()))
    out = []
    for n, q in found:
        q = re.sub(r"\s{2,}\([^()]*\)$", "", q)
        if PREFIX.match(STAMP.sub("", q, count=1)):
            out.append((n, q))
    return out


def printed(root):
    raw = set()
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".log", ".out", ".err")):
                try:
                    with open(os.path.join(d, f), encoding="utf-8", errors="replace") as fp:
                        raw.update(l.rstrip("\n") for l in fp)
                except OSError:
                    pass
    return raw, {STAMP.sub("", l, count=1) for l in raw}


def main():
    readme, root = sys.argv[1], sys.argv[2]
    allow = [a for a in os.environ.get("QS_QUOTES_ALLOW", "").split("\n") if a]
    raw, lines = printed(root)
    qs = quotes(open(readme, encoding="utf-8").read())
    bad = allowed = 0
    for n, q in qs:
        p = pattern(q)
        pool = raw if STAMP.match(q) else lines
        if any(p.fullmatch(l) for l in pool):
            continue
        if any(a in q for a in allow):
            allowed += 1
            print("README:%d: not made by this run (allowed): %s" % (n, q))
            continue
        bad += 1
        near = difflib.get_close_matches(STAMP.sub("", q), lines, n=1, cutoff=0.3)
        print("README:%d: no printed line matches:\n    quoted:  %s\n    nearest: %s"
              % (n, q, near[0] if near else "(none)"))
    print("%d quoted lines, %d matched, %d not made here, %d wrong"
          % (len(qs), len(qs) - bad - allowed, allowed, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
