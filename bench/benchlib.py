#!/usr/bin/env python3
"""Helpers for bench/run: turns fio JSON plus the harness' own measurements into records,
and records into the markdown report and summary JSON.  stdlib only, so a fresh Debian
with just python3 can run it.

Subcommands:
  stat PID                 print utime+stime (clock ticks) of PID, all threads
  vmstat                   print busy and total jiffies of the whole machine
  info FILE                print an erafs info/status file as JSON (key: value lines)
  qmp SOCKET               print qsd's dirty bitmaps as JSON
  record OUT.jsonl k=v...  append one job record (fio=FILE names the fio JSON)
  rss OUT.jsonl k=v...     append one RSS/mount-time record
  report RESULTS_DIR       print the markdown report, write summary.json and table.md
"""
import json
import os
import socket
import statistics
import sys

JOBS = [
    ("randwrite4k_qd1", "4k randwrite QD1", "iops"),
    ("randwrite4k_qd32", "4k randwrite QD32", "iops"),
    ("randread4k_qd32", "4k randread QD32", "iops"),
    ("seqwrite1m_qd8", "1M seqwrite QD8", "mbps"),
    ("seqread1m_qd8", "1M seqread QD8", "mbps"),
]
JOB_TITLE = {j: t for j, t, _ in JOBS}
JOB_METRIC = {j: m for j, _, m in JOBS}
CONTESTANT_ORDER = ["raw", "c-passthrough", "qsd", "erafs", "erafs-dev", "erafs-fresh", "erafs-mirror", "erafs-before"]


def proc_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    # comm may hold spaces and parentheses; fields after the last ')' are fixed.
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def vm_jiffies():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts[:8]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals), vals[7]


def parse_kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    out[k.strip()] = v.strip()
    except OSError:
        pass
    return out


def qmp_bitmaps(sock_path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock_path)
    f = s.makefile("rw")
    f.readline()

    def cmd(name):
        f.write(json.dumps({"execute": name}) + "\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "return" in r or "error" in r:
                return r

    cmd("qmp_capabilities")
    r = cmd("query-named-block-nodes")
    out = []
    for n in r.get("return", []):
        for b in n.get("dirty-bitmaps") or []:
            out.append({"node": n["node-name"], "name": b["name"], "recording": b["recording"],
                        "persistent": b.get("persistent"), "dirty_bytes": b["count"]})
    s.close()
    return out


def kv_args(args):
    d = {}
    for a in args:
        k, _, v = a.partition("=")
        d[k] = v
    return d


def fio_metrics(path):
    with open(path) as f:
        text = f.read()
    # fio may print warnings before the JSON document.
    doc = json.loads(text[text.index("{"):])
    job = doc["jobs"][0]
    if job.get("error"):
        raise SystemExit(f"fio reported error {job['error']} in {path}")
    side = job["write"] if job["write"]["total_ios"] > 0 else job["read"]
    pct = side.get("clat_ns", {}).get("percentile", {})
    p99 = pct.get("99.000000")
    runtime_s = side["runtime"] / 1000.0 if side["runtime"] else 0.0
    return {
        "iops": side["iops"],
        "mbps": side["bw_bytes"] / 1e6,
        "ios": side["total_ios"],
        "p99_us": p99 / 1000.0 if p99 is not None else None,
        "mean_us": side["clat_ns"]["mean"] / 1000.0,
        "runtime_s": runtime_s,
    }


def cmd_record(out, args):
    a = kv_args(args)
    rec = {k: a[k] for k in ("run", "contestant", "loop_dio", "loop_dio_effective", "job", "pass")}
    if a.get("cache_state"):
        rec["cache_state"] = a["cache_state"]
    rec.update(fio_metrics(a["fio"]))
    rec["fio_json"] = os.path.basename(a["fio"])
    ticks = a.get("cpu_ticks", "")
    hz = os.sysconf("SC_CLK_TCK")
    if ticks not in ("", "-"):
        cpu_s = int(ticks) / hz
        rec["daemon_cpu_s"] = cpu_s
        rec["daemon_cpu_us_per_io"] = cpu_s * 1e6 / rec["ios"] if rec["ios"] else None
        rec["daemon_cpu_pct"] = 100.0 * cpu_s / float(a["wall_s"]) if float(a["wall_s"]) > 0 else None
    else:
        rec["daemon_cpu_s"] = rec["daemon_cpu_us_per_io"] = rec["daemon_cpu_pct"] = None
    if a.get("vm_busy") and a.get("vm_total") and int(a["vm_total"]) > 0:
        # Out of 100 % per core, like top: 200 % is a fully busy 2-vCPU machine.
        rec["vm_busy_pct"] = 100.0 * os.cpu_count() * int(a["vm_busy"]) / int(a["vm_total"])
    with open("/proc/loadavg") as f:
        rec["load1"] = float(f.read().split()[0])
    for k in ("info_before", "info_after", "qsd_bitmaps"):
        if a.get(k):
            try:
                rec[k] = json.loads(a[k])
            except ValueError:
                rec[k] = a[k]
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    m = JOB_METRIC[rec["job"]]
    val = f"{rec['iops']:.0f} IOPS" if m == "iops" else f"{rec['mbps']:.0f} MB/s"
    cpu = f", {rec['daemon_cpu_us_per_io']:.1f} CPU-us/io" if rec["daemon_cpu_us_per_io"] is not None else ""
    print(f"  {rec['contestant']:<14} dio={rec['loop_dio']:<3} {rec.get('cache_state', ''):<11} {JOB_TITLE[rec['job']]:<18} {val}, "
          f"p99 {rec['p99_us']:.0f} us{cpu}")


def cmd_rss(out, args):
    a = kv_args(args)
    rec = {"kind": "rss"}
    for k, v in a.items():
        try:
            rec[k] = int(v)
        except ValueError:
            try:
                rec[k] = float(v)
            except ValueError:
                rec[k] = v
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")


def fmt_val(v, metric):
    if v is None:
        return "–"
    if metric == "iops":
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}"


def fmt_ratio(num, den):
    if num is None or den is None or den == 0:
        return None
    return num / den


def load(results_dir):
    jobs, rss = [], []
    path = os.path.join(results_dir, "records.jsonl")
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("kind") == "rss":
                rss.append(r)
                continue
            # A row of the tables is one loop mode and one cache state; runs before cache states
            # were recorded have the loop mode alone.
            r["mode"] = r["loop_dio"] + (f", {r['cache_state']}" if r.get("cache_state") else "")
            jobs.append(r)
    return jobs, rss


def cmd_report(results_dir):
    jobs, rss = load(results_dir)
    meta = {}
    mpath = os.path.join(results_dir, "meta.json")
    if os.path.exists(mpath):
        with open(mpath) as f:
            meta = json.load(f)
    contestants = [c for c in CONTESTANT_ORDER if any(r["contestant"] == c for r in jobs)]
    contestants += sorted({r["contestant"] for r in jobs} - set(contestants))
    # Loop mode off first, then the cache states in the order the run took them.
    modes = list(dict.fromkeys(r["mode"] for r in sorted(jobs, key=lambda r: r["loop_dio"] != "off")))
    job_ids = [j for j, _, _ in JOBS if any(r["job"] == j for r in jobs)]

    # One cell per (contestant, mode, job): every pass kept, the mean used for ratios.
    cells = {}
    for r in jobs:
        cells.setdefault((r["contestant"], r["mode"], r["job"]), []).append(r)

    def agg(c, m, j):
        rs = cells.get((c, m, j))
        if not rs:
            return None
        metric = JOB_METRIC[j]

        def mean(key):
            vals = [x[key] for x in rs if x.get(key) is not None]
            return statistics.mean(vals) if vals else None

        eff = sorted({x.get("loop_dio_effective", "?") for x in rs})
        return {
            "value": mean(metric), "passes": [x[metric] for x in rs], "iops": mean("iops"),
            "mbps": mean("mbps"), "p99_us": mean("p99_us"), "mean_us": mean("mean_us"),
            "cpu_us_per_io": mean("daemon_cpu_us_per_io"), "cpu_pct": mean("daemon_cpu_pct"),
            "vm_busy_pct": mean("vm_busy_pct"), "loop_dio_effective": ",".join(eff), "n": len(rs),
        }

    summary = {"meta": meta, "cells": [], "ratios": [], "targets": [], "rss": rss}
    A = {}
    for c in contestants:
        for m in modes:
            for j in job_ids:
                a = agg(c, m, j)
                if a:
                    A[(c, m, j)] = a
                    summary["cells"].append({"contestant": c, "loop_dio": m, "job": j, **a})

    def val(c, m, j):
        a = A.get((c, m, j))
        return a["value"] if a else None

    lines = []
    title = "# EraFs bench"
    lines.append(title)
    lines.append("")
    if meta:
        lines.append(f"Run `{meta.get('run')}` at {meta.get('date')} on commit `{meta.get('commit')}` "
                     f"({meta.get('kernel')}; {meta.get('nproc')} CPUs); SIZE={meta.get('size')}, "
                     f"RUNTIME={meta.get('runtime')} s per job, REPEATS={meta.get('repeats')}, "
                     f"fio {meta.get('fio')}, libfuse {meta.get('libfuse')}, qemu {meta.get('qemu')}.")
        lines.append("")
        if meta.get("enable_uring_used"):
            lines.append(f"`enable_uring` was {meta.get('enable_uring_before')} before the run and "
                         f"{meta.get('enable_uring_used')} during it (put back afterwards).")
            lines.append("")
    served = {}
    for r in jobs:
        ia = r.get("info_after")
        if r["contestant"].startswith("erafs") and isinstance(ia, dict) and ia.get("transport"):
            served.setdefault(r["contestant"], set()).add(f"{ia['transport']} ({ia.get('queues', '?')} "
                                                          f"{'queues' if ia['transport'] == 'io_uring' else 'threads'})")
    if served:
        lines.append("Transports: " + "; ".join(f"{c} over {', '.join(sorted(v))}" for c, v in sorted(served.items())) + ".")
        lines.append("")
    loads = [r["load1"] for r in jobs if r.get("load1") is not None]
    busy = [r["vm_busy_pct"] for r in jobs if r.get("vm_busy_pct") is not None]
    if loads:
        # Neighbours' builds share the CPUs; say how loud they were so nobody over-reads a figure.
        lines.append(f"Machine during the jobs: 1-min load average {min(loads):.1f}–{max(loads):.1f} "
                     f"(median {statistics.median(loads):.1f}) on {os.cpu_count()} CPUs; busy "
                     f"{statistics.median(busy):.0f} % median (100 % per core).")
        lines.append("")
    lines.append("Throughput: mean of passes (each pass in brackets). 4k jobs in IOPS, 1M jobs in MB/s.")
    lines.append("")
    hdr = "| contestant | loop dio, cache | " + " | ".join(JOB_TITLE[j] + (" IOPS" if JOB_METRIC[j] == "iops" else " MB/s") for j in job_ids) + " |"
    lines.append(hdr)
    lines.append("|" + "---|" * (2 + len(job_ids)))
    for m in modes:
        for c in contestants:
            row = []
            any_cell = False
            for j in job_ids:
                a = A.get((c, m, j))
                if not a:
                    row.append("–")
                    continue
                any_cell = True
                metric = JOB_METRIC[j]
                passes = "/".join(fmt_val(p, metric) for p in a["passes"])
                row.append(f"{fmt_val(a['value'], metric)} ({passes})" if a["n"] > 1 else fmt_val(a["value"], metric))
            if any_cell:
                lines.append(f"| {c} | {m} | " + " | ".join(row) + " |")
    lines.append("")
    lines.append("p99 completion latency (µs) / daemon CPU-µs per I/O (utime+stime of all daemon threads; "
                 "raw has no daemon) / whole-machine busy % (100 % per core).")
    lines.append("")
    lines.append(hdr.replace(" IOPS", "").replace(" MB/s", ""))
    lines.append("|" + "---|" * (2 + len(job_ids)))
    for m in modes:
        for c in contestants:
            row = []
            any_cell = False
            for j in job_ids:
                a = A.get((c, m, j))
                if not a:
                    row.append("–")
                    continue
                any_cell = True
                cpu = f"{a['cpu_us_per_io']:.1f}" if a["cpu_us_per_io"] is not None else "n/a"
                p99 = f"{a['p99_us']:.0f}" if a["p99_us"] is not None else "–"
                vm = f"{a['vm_busy_pct']:.0f}%" if a.get("vm_busy_pct") is not None else "–"
                row.append(f"{p99} / {cpu} / {vm}")
            if any_cell:
                lines.append(f"| {c} | {m} | " + " | ".join(row) + " |")
    lines.append("")

    # Ratios within the same run and the same loop mode only: the machine is shared and noisy.
    refs = [("raw", "raw"), ("c-passthrough", "c-pt"), ("qsd", "qsd"), ("erafs", "erafs")]
    lines.append("Ratios (mean of passes, same run, same loop mode and cache state).")
    lines.append("")
    lines.append("| contestant | loop dio, cache | " + " | ".join(JOB_TITLE[j] for j in job_ids) + " |")
    lines.append("|" + "---|" * (2 + len(job_ids)))
    for m in modes:
        for c in contestants:
            if c == "raw":
                continue
            row = []
            for j in job_ids:
                parts = []
                # The clustered log is compared with the single-host mirror it stands beside.
                for ref, short in refs + ([("erafs-mirror", "mirror")] if c == "erafs-cluster" else []):
                    if ref == c or (ref == "erafs" and not c.startswith("erafs")):
                        continue
                    r = fmt_ratio(val(c, m, j), val(ref, m, j))
                    if r is not None:
                        parts.append(f"{r:.2f} {short}")
                        summary["ratios"].append({"contestant": c, "loop_dio": m, "job": j, "vs": ref, "ratio": r})
                row.append(", ".join(parts) or "–")
            lines.append(f"| {c} | {m} | " + " | ".join(row) + " |")
    lines.append("")

    def cpu(c, m, j):
        a = A.get((c, m, j))
        return a["cpu_us_per_io"] if a else None

    targets = []
    for m in modes:
        for j in job_ids:
            small = "4k" in j
            for ref, need in (("c-passthrough", 1.3 if small else 1.1), ("qsd", 2.0)):
                r = fmt_ratio(val("erafs", m, j), val(ref, m, j))
                if r is not None:
                    targets.append((f"erafs >= {need}x {ref}", m, JOB_TITLE[j], r, need))
            r = fmt_ratio(val("erafs-dev", m, j), val("c-passthrough", m, j))
            if r is not None:
                targets.append(("erafs-dev >= 1.0x c-passthrough", m, JOB_TITLE[j], r, 1.0))
            if small:
                r = fmt_ratio(cpu("erafs", m, j), cpu("c-passthrough", m, j))
                if r is not None:
                    targets.append(("erafs CPU-us/io <= 1.0x c-passthrough's", m, JOB_TITLE[j], r, 1.0))
        j = "randwrite4k_qd32"
        r = fmt_ratio(val("erafs-cluster", m, j), val("erafs-mirror", m, j))
        if r is not None:
            targets.append(("erafs-cluster >= 0.9x erafs-mirror", m, JOB_TITLE[j], r, 0.9))
        r = fmt_ratio(val("erafs-fresh", m, j), val("erafs", m, j))
        if r is not None:
            targets.append(("erafs-fresh >= 0.8x erafs", m, JOB_TITLE[j], r, 0.8))
    for rec in rss:
        if rec.get("peak_rss_kib") is not None:
            limit = rec.get("rss_target_kib")
            targets.append((f"peak RSS <= 64 MiB + 2 bits/block ({rec['block_size']} B blocks)", "-",
                            "1 TiB sparse mount", rec["peak_rss_kib"] / 1024.0, limit / 1024.0 if limit else None))
            targets.append((f"1 TiB sparse mount < 1 s ({rec['block_size']} B blocks)", "-",
                            "mount time", rec["mount_s"], 1.0))
    if targets:
        lines.append("Targets.")
        lines.append("")
        lines.append("| target | loop dio, cache | job | measured | needed | met |")
        lines.append("|---|---|---|---|---|---|")
        for name, m, jt, r, need in targets:
            if "RSS" in name:
                met = r <= need
                meas, needs = f"{r:.1f} MiB", f"<= {need:.1f} MiB"
            elif "mount <" in name:
                met = r < need
                meas, needs = f"{r:.3f} s", f"< {need:.0f} s"
            elif "<=" in name:
                met = r <= need
                meas, needs = f"{r:.2f}x", f"<= {need}x"
            else:
                met = r >= need
                meas, needs = f"{r:.2f}x", f">= {need}x"
            summary["targets"].append({"target": name, "loop_dio": m, "job": jt, "measured": r, "needed": need, "met": met})
            lines.append(f"| {name} | {m} | {jt} | {meas} | {needs} | {'yes' if met else '**no**'} |")
        lines.append("")

    if rss:
        lines.append("EraFs on a 1 TiB sparse origin: `erafs create` time, `erafs mount` wall time (until it returns, "
                     "daemon serving), daemon VmHWM after mount and after 64 scattered 4 KiB writes.")
        lines.append("")
        lines.append("| block size | blocks | create s | mount s | VmHWM after mount MiB | VmHWM after writes MiB | target MiB | unmount s |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in rss:
            def mib(k):
                return f"{r[k] / 1024:.1f}" if isinstance(r.get(k), (int, float)) else "–"
            lines.append(f"| {r.get('block_size')} | {r.get('blocks')} | {r.get('create_s', '–')} | {r.get('mount_s', '–')} | "
                         f"{mib('peak_rss_kib')} | {mib('peak_rss_after_writes_kib')} | {mib('rss_target_kib')} | {r.get('unmount_s', '–')} |")
        lines.append("")

    # Evidence that the trackers really tracked (a benchmark of a tracker that is off is worthless).
    ev = []
    last_job = job_ids[-1] if job_ids else None
    for r in jobs:
        if r["contestant"].startswith("erafs") and isinstance(r.get("info_after"), dict):
            ia, ib = r["info_after"], r.get("info_before") or {}
            ev.append(f"{r['contestant']} dio={r['loop_dio']} pass {r['pass']} {r['job']}: commits "
                      f"{ib.get('commits', '?')}->{ia.get('commits', '?')}, blocks_written_this_era "
                      f"{ia.get('blocks_written_this_era', '?')}, largest_write_seen {ia.get('largest_write_seen', '?')}, "
                      f"largest_read_seen {ia.get('largest_read_seen', '?')}")
        if r["contestant"] == "qsd" and isinstance(r.get("qsd_bitmaps"), list) and r["job"] == last_job:
            ev.append(f"qsd dio={r['loop_dio']} pass {r['pass']}: bitmaps {r['qsd_bitmaps']}")
    if ev:
        lines.append("<details><summary>Tracking evidence</summary>")
        lines.append("")
        lines.extend("- " + e for e in ev)
        lines.append("")
        lines.append("</details>")
        lines.append("")

    text = "\n".join(lines)
    print(text)
    with open(os.path.join(results_dir, "table.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(results_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    c = sys.argv[1]
    if c == "stat":
        print(proc_ticks(int(sys.argv[2])))
    elif c == "vmstat":
        busy, total, steal = vm_jiffies()
        print(busy, total, steal)
    elif c == "info":
        print(json.dumps(parse_kv(sys.argv[2])))
    elif c == "qmp":
        try:
            print(json.dumps(qmp_bitmaps(sys.argv[2])))
        except (OSError, ValueError) as e:
            print(json.dumps(f"qmp failed: {e}"))
    elif c == "record":
        cmd_record(sys.argv[2], sys.argv[3:])
    elif c == "rss":
        cmd_rss(sys.argv[2], sys.argv[3:])
    elif c == "report":
        cmd_report(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
