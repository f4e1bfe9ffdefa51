#!/usr/bin/env python3
"""Measurement helpers for bench/run.sh and bench/scale_out.sh (stdlib only).

  measure.py wait-ready --url URL --since EPOCH_S [--timeout S]
      Polls GET /healthz until 200; prints the seconds since --since. (run.sh
      polls with curl instead: python's start-up would inflate the figure.)
  measure.py wait-idle --url URL [--timeout S]
      Waits until the writes already sent have committed (barrier writes
      through the writer's FIFO queue), so that stopping the server or the
      next workload does not race writes wrk left in flight.
  measure.py wrk --name W4a --desc TEXT --url URL --pid PID --results FILE
                 --log FILE --duration S --connections C --threads T
                 [--timeout S] [--allow-501 ROUTE] [--target URL] [--setup NAME]
                 --script F.lua [-- ARGS...]
      Runs one wrk workload; snapshots /metrics before and after (per-route
      status counts) and the server's VmHWM/VmRSS after; appends one JSON
      record to --results. Exit 1 if wrk failed or printed no BENCH_RESULT.
      Several nodes behind a proxy (bench/scale_out.sh): one --url and one
      --pid per node (their /metrics are summed, their write queues drained,
      their VmHWM/VmRSS summed) and --target URL, where wrk sends requests
      (default: the first --url). --setup names the setup the record belongs
      to (see rows).
  measure.py record --name N --desc TEXT --results FILE [--pid PID ...]
                    [--load FILE] [--set k=v ...] [--failed] [--setup NAME]
      Appends a non-wrk record (a load, a restart) to --results.
  measure.py rows --results FILE --out FILE --command TEXT [--label TEXT]
                  [--baseline SETUP]
      Appends one markdown table row per record to --out (writing the table
      header first if --out has none), prints a summary, and exits 1 if any
      record failed (non-2xx other than an allowed 501, socket errors, a wrk
      or loader failure). Records with a --setup show it first in the
      workload column, and their "x W0" is against the W0 of the same setup.
      --baseline SETUP: every other setup's record gets a note "R x SETUP",
      its req/s (loads: errors/s) over the same workload's in SETUP.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

TABLE_MARK = "<!-- bench rows: bench/run.sh appends below -->"
HEADER = (
    "| date (UTC) | command | machine | label | workload | conns | dur s | req/s | x W0 "
    "| p50 ms | p99 ms | p99.9 ms | non-2xx | peak RSS MiB | notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def as_list(x):
    return x if isinstance(x, list) else [x]


def scrape(urls):
    """{(route, status): count} from errata_http_requests_total, summed over
    the nodes at urls (one URL or a list)."""
    out = {}
    for url in as_list(urls):
        _, body = http_get(url + "/metrics", timeout=30)
        for m in re.finditer(r'^errata_http_requests_total\{route="([^"]*)",status="(\d+)"\} (\S+)$',
                             body.decode(), re.M):
            key = (m.group(1), m.group(2))
            out[key] = out.get(key, 0) + float(m.group(3))
    return out


def proc_status(pid):
    """(VmHWM, VmRSS, RssAnon) in KiB, or (None, None, None). RssAnon is the
    memory the process allocated; VmRSS adds the file pages it maps (SQLite's
    readers map the database file: docs/read-path.md)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None, None, None
    get = lambda k: int(re.search(rf"^{k}:\s+(\d+) kB", text, re.M).group(1))
    return get("VmHWM"), get("VmRSS"), get("RssAnon")


def procs_status(pids):
    """(VmHWM, VmRSS, RssAnon) summed over pids (one or a list), and a note
    giving each node's VmRSS when there are several; all None if any is gone."""
    pids = as_list(pids)
    got = [proc_status(p) for p in pids]
    if len(pids) == 1:
        return got[0] + (None,)
    if any(h is None for h, _, _ in got):
        return None, None, None, None
    note = (f"{len(pids)} nodes: VmHWM, VmRSS and RssAnon summed (VmRSS "
            + " + ".join(f"{r / 1024:,.0f}" for _, r, _ in got) + " MiB)")
    return sum(h for h, _, _ in got), sum(r for _, r, _ in got), sum(a for _, _, a in got), note


def append(results, record):
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")


def cmd_wait_ready(a):
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        try:
            status, _ = http_get(a.url + "/healthz", timeout=1)
            if status == 200:
                print(f"{time.time() - a.since:.3f}")
                return 0
        except OSError:
            pass
        time.sleep(0.01)
    log(f"server at {a.url} not ready after {a.timeout} s")
    return 1


def write_state(urls):
    """(write queue depth, ops committed), summed over the nodes at urls."""
    depth = ops = 0.0
    for url in as_list(urls):
        _, body = http_get(url + "/metrics", timeout=30)
        text = body.decode()
        get = lambda k: float(re.search(rf"^{k} (\S+)$", text, re.M).group(1))
        depth += get("errata_write_queue_depth")
        ops += get("errata_ops_committed_total")
    return depth, ops


# A write the store refuses (the utterance does not exist): it goes through the
# writer's FIFO queue, so its answer comes after every write queued before it
# has committed, and it changes nothing.
BARRIER = json.dumps({"user_id": "00000000-0000-4000-8000-0000000000b1",
                      "conversation_id": "00000000-0000-4000-8000-0000000000b2",
                      "utterance_id": "00000000-0000-4000-8000-0000000000b3",
                      "errors": [{"errorCategory": "Grammar", "errorSubCategory": "Verb Tense"}]}).encode()


def barrier(url):
    req = urllib.request.Request(url + "/simulate-and-generate", data=BARRIER, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def drain(url, timeout=600):
    """Waits until the writes already sent have committed: the write queue is
    empty and three barrier writes in a row saw no other commit. Returns the
    number of barrier ops (each counts in errata_ops_committed_total), or None
    on timeout."""
    deadline = time.time() + timeout
    sent, stable, last = 0, 0, None
    while time.time() < deadline:
        depth, ops = write_state(url)
        if depth > 0:
            stable, last = 0, None
            time.sleep(0.05)
            continue
        barrier(url)
        sent += 1
        depth, ops2 = write_state(url)
        stable = stable + 1 if depth == 0 and last is not None and ops2 - last <= 1 else 0
        last = ops2
        if stable >= 3:
            return sent
        time.sleep(0.05)
    return None


def cmd_wait_idle(a):
    if drain(a.url, a.timeout) is None:
        log(f"writes still going on after {a.timeout} s")
        return 1
    return 0


def drain_all(urls, timeout=600):
    """drain() on each node in turn; the barrier ops in total, or None."""
    total = 0
    deadline = time.time() + timeout
    for url in as_list(urls):
        n = drain(url, max(1.0, deadline - time.time()))
        if n is None:
            return None
        total += n
    return total


def cmd_wrk(a):
    with open("/proc/loadavg") as f:
        load1 = f.read().split()[0]
    urls = a.url if len(a.url) > 1 else a.url[0]
    pids = a.pid if len(a.pid) > 1 else a.pid[0]
    before = scrape(urls)
    cmd = ["wrk", f"-t{a.threads}", f"-c{a.connections}", f"-d{a.duration}s", f"--timeout={a.timeout}s",
           "-s", a.script, a.target or a.url[0]]
    if a.args:
        cmd += ["--"] + a.args
    log(f"{a.name}: {' '.join(cmd)}")
    _, ops_before = write_state(urls)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    hwm, rss, anon, mem_note = procs_status(pids)
    after = scrape(urls)
    # Let the writes wrk left queued commit before the next workload; for bulk
    # workloads this also gives the sustained rate (all work sent / time to
    # finish it).
    barriers = drain_all(urls)
    drained_s = time.time() - t0
    _, ops_after = write_state(urls)
    with open(a.log, "a") as f:
        f.write(f"### {a.name}: {' '.join(cmd)}\n{p.stdout}{p.stderr}\n")
    m = re.search(r"^BENCH_RESULT (\{.*\})$", p.stdout, re.M)
    rec = {"kind": "wrk", "name": a.name, "desc": a.desc, "connections": a.connections,
           "duration": a.duration, "hwm_kib": hwm, "rss_kib": rss, "anon_kib": anon, "failed": False, "notes": list(a.note),
           "loadavg_before": float(load1)}
    if a.setup:
        rec["setup"] = a.setup
    if mem_note:
        rec["mem_note"] = mem_note
    if p.returncode != 0 or not m:
        rec["failed"] = True
        rec["notes"].append(f"wrk failed (exit {p.returncode}): {p.stderr.strip()[:200]}")
        append(a.results, rec)
        log(f"{a.name}: wrk failed: {p.stderr.strip()[:500]}")
        return 1
    r = json.loads(m.group(1))
    rec.update(r)
    delta = {}
    for key, v in after.items():
        d = v - before.get(key, 0)
        if d > 0 and not key[0].startswith("GET /metrics"):
            delta.setdefault(key[0], {})[key[1]] = int(d)
    rec["route_status"] = delta
    allowed = sum(st.get("501", 0) for route, st in delta.items() if route in a.allow_501)
    rec["allowed_501"] = allowed
    sock = sum(r["socket_errors"].values())
    unexpected = max(0, r["non2xx"] - allowed)
    if unexpected or sock:
        rec["failed"] = True
    if r["non2xx"]:
        bad = {f"{route} {s}": n for route, st in delta.items() for s, n in st.items() if int(s) >= 300}
        rec["notes"].append("non-2xx: " + ", ".join(f"{k} x{n}" for k, n in sorted(bad.items())))
    if sock:
        rec["notes"].append("socket errors: " + json.dumps(r["socket_errors"]))
    c = r.get("counters", {})
    if "errors_applied" in c:
        secs = r["duration_s"]
        rec["errors_per_s"] = c["errors_applied"] / secs
        rec["notes"].append(f"answered within the run: {c['errors_applied'] / secs:,.0f} errors/s "
                            f"({c['applied']:,} utterances applied, {c['replayed']} replayed, "
                            f"{c['rejected']} rejected)")
        if c["replayed"] or c["rejected"] or c.get("bad_status"):
            rec["failed"] = True
    if barriers is None:
        rec["failed"] = True
        rec["notes"].append("writes still queued 600 s after the run")
    elif a.errors_per_op and ops_after - ops_before - barriers > 0:
        ops = ops_after - ops_before - barriers
        rec["drained_errors_per_s"] = ops * a.errors_per_op / drained_s
        rec["notes"].insert(0, f"sustained {ops * a.errors_per_op / drained_s:,.0f} errors/s = {ops:,.0f} utterances "
                               f"committed x {a.errors_per_op:g} errors in {drained_s:.1f} s (run + drain of the backlog)")
    if a.errors_per_request:
        rec["notes"].append(f"~{r['rps'] * a.errors_per_request:,.0f} errors/s")
    append(a.results, rec)
    log(f"{a.name}: {r['rps']:,.0f} req/s p50 {r['p50_ms']:.3f} ms p99 {r['p99_ms']:.3f} ms "
        f"p99.9 {r['p999_ms']:.3f} ms non-2xx {r['non2xx']} (allowed 501: {allowed}) socket errors {sock}")
    return 0


def parse_value(v):
    try:
        return json.loads(v)
    except ValueError:
        return v


def cmd_record(a):
    rec = {"kind": "record", "name": a.name, "desc": a.desc, "failed": a.failed, "notes": list(a.note)}
    if a.setup:
        rec["setup"] = a.setup
    if a.pid:
        rec["hwm_kib"], rec["rss_kib"], rec["anon_kib"], mem_note = procs_status(a.pid if len(a.pid) > 1 else a.pid[0])
        if mem_note:
            rec["mem_note"] = mem_note
    if a.load:
        try:
            with open(a.load) as f:
                line = [l for l in f if l.startswith("LOAD ")][-1]
            rec["load"] = json.loads(line[5:])
        except (OSError, IndexError, ValueError) as e:
            rec["failed"] = True
            rec["notes"].append(f"loader printed no LOAD line ({e})")
    for kv in a.set:
        k, _, v = kv.partition("=")
        rec[k] = parse_value(v)
    append(a.results, rec)
    return 0


def fmt(x, digits=2):
    if x is None:
        return "—"
    if isinstance(x, float) and x >= 100:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}" if isinstance(x, float) else f"{x:,}"


def machine():
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1).strip() if m else ""
    except OSError:
        pass
    return f"{os.cpu_count()} cpu, {mem / 1048576:.0f} GiB" + (f", {cpu}" if cpu else "")


def cmd_rows(a):
    with open(a.results) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    # "x W0": over the mean of the W0 runs of the same setup (records without
    # one: run.sh), which measures W0 before and after the reads.
    w0_runs = {}
    for r in recs:
        if r["name"] == "W0" and not r["failed"] and r.get("rps"):
            w0_runs.setdefault(r.get("setup"), []).append(r["rps"])
    w0s = {k: sum(v) / len(v) for k, v in w0_runs.items()}
    # --baseline: the same workload's figure in the baseline setup.
    def figure(r):
        return r.get("rps") or (r.get("load") or {}).get("errors_per_s")
    base = {r["name"]: r for r in recs if a.baseline and r.get("setup") == a.baseline
            and not r["failed"] and figure(r)}
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    mach = machine()
    rows = []
    for r in recs:
        w0 = w0s.get(r.get("setup"))
        mib = lambda k: f"{r[k] / 1024:,.0f}" if r.get(k) else "—"
        notes = list(r.get("notes", []))
        if r.get("rss_kib"):
            anon = f", RssAnon {r['anon_kib'] / 1024:,.0f} MiB" if r.get("anon_kib") else ""
            notes.append(f"VmRSS {r['rss_kib'] / 1024:,.0f} MiB{anon}")
        if r.get("mem_note"):
            notes.append(r["mem_note"])
        if r.get("loadavg_before") is not None:
            notes.append(f"loadavg {r['loadavg_before']:.1f} before")
        load = r.get("load")
        if load:
            notes.insert(0, f"{load['utterances']:,} utterances / {load['errors']:,} errors / "
                            f"{load['users']:,} learners in {load['seconds']:,.1f} s = "
                            f"{load['errors_per_s']:,.0f} errors/s; applied {load['applied']:,}, "
                            f"rejected {load['rejected']}, replayed {load['replayed']}; counts checked for "
                            f"{load['verified_users']:,} learners, {load['count_mismatches']} mismatched")
            for fail in load.get("failures", [])[:2]:
                notes.append("loader: " + fail[:160])
        if a.baseline and r.get("setup") and figure(r):
            what = "errors/s" if r.get("load") and not r.get("rps") else "req/s"
            if r["setup"] == a.baseline:
                notes.insert(0, f"baseline of the x {a.baseline} notes")
            elif r["failed"]:
                pass  # no ratio from a failed row
            elif r["name"] in base:
                b = base[r["name"]]
                notes.insert(0, f"**{figure(r) / figure(b):.2f}x {a.baseline}** ({what}; "
                                f"{a.baseline} {r['name']}: {fmt(float(figure(b)))} {what})")
            else:
                notes.insert(0, f"no x {a.baseline} ratio (the {a.baseline} {r['name']} row failed or is missing)")
        if r["failed"]:
            notes.insert(0, "**FAILED**")
        desc = r["name"] + (f": {r['desc']}" if r.get("desc") else "")
        if r.get("setup"):
            desc = f"{r['setup']}: {desc}"
        ratio = f"{r['rps'] / w0:.2f}" if r.get("rps") and w0 else "—"
        non2xx = "—"
        if r["kind"] == "wrk":
            non2xx = f"{r['non2xx']:,}" if "non2xx" in r else "—"
        elif load:
            non2xx = f"{load['rejected']:,} rejected"
        cells = [date, f"`{a.command}`", mach, a.label, desc,
                 str(r.get("connections", "—")), str(r.get("duration", "—")),
                 fmt(r.get("rps")), ratio, fmt(r.get("p50_ms"), 3), fmt(r.get("p99_ms"), 3),
                 fmt(r.get("p999_ms"), 3), non2xx, mib("hwm_kib"), "; ".join(notes).replace("|", "\\|")]
        rows.append("| " + " | ".join(cells) + " |\n")
    text = ""
    if os.path.exists(a.out):
        with open(a.out) as f:
            text = f.read()
    with open(a.out, "a") as f:
        if TABLE_MARK not in text:
            f.write(("\n" if text and not text.endswith("\n") else "") + "\n" + TABLE_MARK + "\n\n" + HEADER)
        elif not text.endswith("\n"):
            f.write("\n")
        f.writelines(rows)
    failed = [(f"{r['setup']}: " if r.get("setup") else "") + r["name"] for r in recs if r["failed"]]
    print(f"appended {len(rows)} rows to {a.out}")
    for r in recs:
        w0 = w0s.get(r.get("setup"))
        extra = f" x W0 {r['rps'] / w0:.2f}" if r.get("rps") and w0 else ""
        if (a.baseline and r.get("setup") not in (None, a.baseline) and r["name"] in base and figure(r)
                and not r["failed"]):
            extra += f" ({figure(r) / figure(base[r['name']]):.2f}x {a.baseline})"
        name = f"{r['setup']}: {r['name']}" if r.get("setup") else r["name"]
        print(f"  {name:<10} {'FAILED ' if r['failed'] else ''}"
              + (f"{r['rps']:>10,.0f} req/s{extra} p99 {r['p99_ms']:.3f} ms non-2xx {r['non2xx']}"
                 if r.get("rps") is not None else "; ".join(r.get("notes", []))[:150]))
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait-ready")
    w.add_argument("--url", required=True)
    w.add_argument("--since", type=float, required=True)
    w.add_argument("--timeout", type=float, default=600)
    i = sub.add_parser("wait-idle")
    i.add_argument("--url", required=True)
    i.add_argument("--timeout", type=float, default=300)
    k = sub.add_parser("wrk")
    for x in ("--name", "--results", "--log", "--script"):
        k.add_argument(x, required=True)
    k.add_argument("--url", action="append", required=True,
                   help="a node's URL (its /metrics and write queue); once per node")
    k.add_argument("--pid", action="append", required=True, help="a node's pid; once per node")
    k.add_argument("--target", help="the URL wrk sends requests to (default: the first --url)")
    k.add_argument("--setup", help="the setup this record belongs to (rows)")
    k.add_argument("--desc", default="")
    k.add_argument("--duration", type=int, default=10)
    k.add_argument("--connections", type=int, default=64)
    k.add_argument("--threads", type=int, default=2)
    k.add_argument("--timeout", type=int, default=10)
    k.add_argument("--allow-501", action="append", default=[], help="route whose 501s are expected")
    k.add_argument("--errors-per-request", type=float, default=0, help="for an errors/s note")
    k.add_argument("--errors-per-op", type=float, default=0,
                   help="errors per committed op, for the sustained errors/s note (W3)")
    k.add_argument("--note", action="append", default=[])
    k.add_argument("args", nargs="*")
    r = sub.add_parser("record")
    r.add_argument("--name", required=True)
    r.add_argument("--desc", default="")
    r.add_argument("--results", required=True)
    r.add_argument("--pid", action="append", help="a node's pid; once per node")
    r.add_argument("--setup", help="the setup this record belongs to (rows)")
    r.add_argument("--load")
    r.add_argument("--set", action="append", default=[])
    r.add_argument("--note", action="append", default=[])
    r.add_argument("--failed", action="store_true")
    o = sub.add_parser("rows")
    o.add_argument("--results", required=True)
    o.add_argument("--out", required=True)
    o.add_argument("--command", required=True)
    o.add_argument("--label", default="")
    o.add_argument("--baseline", help="setup whose figures the other setups' rows are compared with")
    a = p.parse_args()
    return {"wait-ready": cmd_wait_ready, "wait-idle": cmd_wait_idle, "wrk": cmd_wrk, "record": cmd_record, "rows": cmd_rows}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
