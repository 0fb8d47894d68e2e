#!/usr/bin/env python3
"""readme_commands.py README: every command the README shows, one per line,
normalized — code-block lines ("$ " prompts dropped, backslash continuations
joined, "# comments" cut) and inline `code` spans of the prose (which may
cross a line break) — with runs of blanks as one space. tests/deploy/test_walkthrough.sh runs only commands in this list."""
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
out, block, cont, prose = set(), False, "", []
for line in text.split("\n"):
    if line.lstrip().startswith("```"):
        block = not block
        continue
    if not block:
        prose.append(line)
        continue
    line = cont + line.strip()
    if line.endswith("\\"):
        cont = line[:-1] + " "
        continue
    cont = ""
    out.add(line)
for m in re.finditer(r"`([^`]+)`", "\n".join(prose)):
    out.add(m.group(1))
for c in sorted(out):
    c = re.sub(r"^\$ ", "", c.strip())
    c = re.sub(r"\s+#\s.*$", "", c)          # a trailing comment
    c = re.sub(r"\s+", " ", c).strip()
    if c:
        print(c)
