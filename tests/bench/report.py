#!/usr/bin/env python3
"""report.py RESULTS.jsonl OUT.json SMALL SECONDS: the benchmark table.

Each line of RESULTS.jsonl is one benchmark (written by run.sh's `result` or
`not_measured`). Per run i the ratio is figure_i / baseline_i ("f/b"); the
table shows the median ratio, the median figure and baseline, and the
figures' min/median/max. The JSON keeps every run and the machine."""
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def machine():
    cpu, cores = "?", 0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and cpu == "?":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("processor"):
                cores += 1
    mem = subprocess.run(["free", "-m"], capture_output=True, text=True).stdout
    total = next((l.split()[1] for l in mem.splitlines() if l.startswith("Mem:")), "?")
    import sqlite3
    # qs-bench-fault's line (run.sh): microseconds per page fault, per page
    # populated by the kernel, per system call
    costs = {k: float(v) for k, v in (kv.split("=", 1) for kv in
                                      os.environ.get("QS_BENCH_COSTS", "").split() if "=" in kv)}
    return {"cpu": cpu, "cores": cores, "memory_mib": int(total) if total.isdigit() else total,
            "kernel": platform.release(), "sqlite": sqlite3.sqlite_version,
            "load_avg_at_end": os.getloadavg(), "costs_us": costs}


def fmt(x):
    if x is None:
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def main():
    res_path, out_path, small, secs = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
    rows = [json.loads(l) for l in open(res_path, encoding="utf-8") if l.strip()]
    table = []
    for r in rows:
        if "not_measured" in r:
            table.append(r)
            continue
        f, b = r["figures"], r["baselines"]
        r["runs"] = len(f)
        r["figure"] = statistics.median(f)
        r["min"], r["max"] = min(f), max(f)
        r["baseline"] = statistics.median(b) if b else None
        ratios = None
        if r["ratio"] == "f/b" and b:
            ratios = [x / y for x, y in zip(f, b)]
        r["ratios"] = ratios
        r["ratio_median"] = statistics.median(ratios) if ratios else None
        kind, t = r["target_kind"], r["target"]
        if kind == "ratio>=":
            r["met"] = r["ratio_median"] >= t
            r["target_text"] = f"≥ {t:g}× baseline"
        elif kind == "ratio<=":
            r["met"] = r["ratio_median"] <= t
            r["target_text"] = f"≤ {t:g}× baseline"
        elif kind == "figure<=":
            r["met"] = r["figure"] <= t
            r["target_text"] = f"≤ {t:g} {r['unit']}"
        else:
            r["met"] = None
            r["target_text"] = "—"
        table.append(r)

    head = ["#", "what", "figure", "baseline", "ratio", "target", "met?", "runs", "min / median / max"]
    lines = []
    for r in table:
        if "not_measured" in r:
            lines.append([r["id"], r["what"], "not measured: " + r["not_measured"], "", "", "", "", "", ""])
            continue
        met = {True: "yes", False: "NO", None: "—"}[r["met"]]
        lines.append([r["id"], r["what"], f"{fmt(r['figure'])} {r['unit']}",
                      f"{fmt(r['baseline'])} {r['baseline_unit']}" if r["baseline"] is not None else "—",
                      fmt(r["ratio_median"]) if r["ratio_median"] is not None else "—",
                      r["target_text"], met, str(r["runs"]),
                      f"{fmt(r['min'])} / {fmt(r['figure'])} / {fmt(r['max'])}"])
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for l in lines:
        print("| " + " | ".join(l) + " |")
    print()
    print("baselines:")
    for r in table:
        if "not_measured" not in r and r.get("baseline_what"):
            print(f"  #{r['id']}: {r['baseline_what']}" + (f" — {r['note']}" if r.get("note") else ""))
    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB, Linux {m['kernel']}, "
          f"SQLite {m['sqlite']}; load average at the end {m['load_avg_at_end'][0]:.2f}")
    c = m["costs_us"]
    if c:
        print(f"machine costs: a page fault {c.get('fault_us', 0):.1f} µs (populated by the kernel "
              f"{c.get('populate_us', 0):.2f} µs a page), a system call {c.get('syscall_us', 0):.2f} µs"
              " (qs-bench-fault)")
    print("durability: product and raw baseline both WAL + synchronous=FULL")
    if small:
        print("NOTE: --small: every size divided by 10; not the issue's figures")
    print(f"driver time: {secs} s")
    doc = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "small": small,
           "seconds": secs, "machine": m, "synchronous": "FULL", "journal_mode": "WAL",
           "results": table}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"results: {out_path}")


main()
