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
      status counts), resets the server's VmHWM before (clear_refs) and reads
      VmHWM/VmRSS after, takes the CPU the server, wrk and everything else
      used over the run (/proc/stat, /proc/PID/stat, wrk's rusage), then
      waits for the writes wrk left queued to commit; appends one JSON record
      to --results. The record fails on non-2xx (other than an allowed 501),
      socket errors, 0 requests, a server count of answers that disagrees
      with wrk's (more than one per connection beyond it: answers wrk never
      got; fewer: answers from someone else), or server connections still
      open after wrk exited (requests never answered). Exit 1 if the record
      failed (reasons on stderr). --w0 NAME: the row's "x W0" is against the
      W0 runs named NAME (default: those named W0).
      Several nodes behind a proxy (bench/scale_out.sh): one --url and one
      --pid per node (their /metrics are summed, their write queues drained,
      their VmHWM/VmRSS summed) and --target URL, where wrk sends requests
      (default: the first --url). --setup names the setup the record belongs
      to (see rows).
  measure.py record --name N --desc TEXT --results FILE [--pid PID ...]
                    [--load FILE] [--set k=v ...] [--failed] [--setup NAME]
      Appends a non-wrk record (a load, a restart) to --results.
  measure.py last --results FILE FIELD...
      Prints the named fields of the last record, space-separated (0 when
      missing): for the one-server scripts (ab.sh, ceiling.sh).
  measure.py rows --results FILE --out FILE --command TEXT [--label TEXT]
                  [--provenance TEXT] [--baseline SETUP]
      Appends one markdown table row per record to --out (writing the table
      header first if --out has none), prints a summary, and exits 1 if any
      record failed (see wrk above; a loader failure). --provenance: what
      ran (harness commit, binary), after the command in its column. Records with a --setup show it first in the
      workload column, and their "x W0" is against the W0 of the same setup.
      --baseline SETUP: every other setup's record gets a note "R x SETUP",
      its req/s (loads: errors/s) over the same workload's in SETUP.
"""

import argparse
import datetime
import json
import os
import re
import resource
import subprocess
import sys
import time
import urllib.error
import urllib.request

TABLE_MARK = "<!-- bench rows: bench/run.sh appends below -->"
HEADER = (
    "| date (UTC) | command | machine | label | workload | conns | dur s | req/s | x W0 "
    "| p50 ms | p99 ms | p99.9 ms | non-2xx | peak RSS MiB (VmHWM over the row) | notes |\n"
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
    the nodes at urls (one URL or a list). errata counts a request when it
    answers it, so a request it never answers is in no count."""
    out = {}
    for url in as_list(urls):
        _, body = http_get(url + "/metrics", timeout=30)
        for m in re.finditer(r'^errata_http_requests_total\{route="([^"]*)",status="(\d+)"\} (\S+)$',
                             body.decode(), re.M):
            key = (m.group(1), m.group(2))
            out[key] = out.get(key, 0) + float(m.group(3))
    return out


def gauge(urls, name):
    """A metric without labels, summed over the nodes at urls; None if a node
    lacks it."""
    total = 0.0
    for url in as_list(urls):
        _, body = http_get(url + "/metrics", timeout=30)
        m = re.search(rf"^{name} (\S+)$", body.decode(), re.M)
        if not m:
            return None
        total += float(m.group(1))
    return total


def reset_hwm(pids):
    """Resets each process's VmHWM to its VmRSS ("5" to /proc/PID/clear_refs,
    Linux >= 4.0; needs the right to ptrace it: same user or root), so that
    the VmHWM read after a workload is that workload's peak. True if every
    reset took."""
    ok = True
    for pid in as_list(pids):
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok


def pid_cpu_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def cpu_snapshot(pids):
    """The machine's busy and steal ticks (/proc/stat), the servers' CPU
    ticks, and this process's and its waited-for children's CPU seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    ticks = [pid_cpu_ticks(p) for p in as_list(pids)]
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"t": time.monotonic(),
            "busy": v[0] + v[1] + v[2] + v[5] + v[6],  # user nice system irq softirq
            "steal": v[7] if len(v) > 7 else 0,
            "server": None if None in ticks else sum(ticks),
            "self": me.ru_utime + me.ru_stime, "children": kids.ru_utime + kids.ru_stime}


def cpu_over(a, b):
    """Cores used between two cpu_snapshot()s, by errata (the servers), by
    the children waited for in between (wrk), by every other process on the
    machine (busy minus those and this process), and stolen by the
    hypervisor."""
    hz = os.sysconf("SC_CLK_TCK")
    wall = max(b["t"] - a["t"], 1e-6)
    busy = (b["busy"] - a["busy"]) / hz
    server = (b["server"] - a["server"]) / hz if a["server"] is not None and b["server"] is not None else 0.0
    wrk = b["children"] - a["children"]
    me = b["self"] - a["self"]
    return {"wall_s": round(wall, 3), "busy_cores": round(busy / wall, 3), "errata_cores": round(server / wall, 3),
            "wrk_cores": round(wrk / wall, 3), "other_cores": round((busy - server - wrk - me) / wall, 3),
            "steal_cores": round((b["steal"] - a["steal"]) / hz / wall, 3),
            "server_known": a["server"] is not None and b["server"] is not None}


def cpu_note(c):
    note = (f"CPU over the run, cores: other processes {max(0.0, c['other_cores']):.2f}, "
            f"steal {c['steal_cores']:.2f}; errata {c['errata_cores']:.2f}, wrk {c['wrk_cores']:.2f}")
    return note if c.get("server_known", True) else note + " (errata's CPU unknown: counted as other)"


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


def open_connections(urls, baseline, timeout):
    """errata_http_connections summed over urls, polled until it is at most
    baseline or timeout seconds passed; the last value (None: no gauge)."""
    deadline = time.time() + timeout
    while True:
        n = gauge(urls, "errata_http_connections")
        if n is None or n <= baseline or time.time() >= deadline:
            return n
        time.sleep(0.1)


def cmd_wrk(a):
    urls = a.url if len(a.url) > 1 else a.url[0]
    pids = a.pid if len(a.pid) > 1 else a.pid[0]
    before = scrape(urls)
    # Connections open before the run (the scrape's own among them). Behind a
    # proxy (--target) the proxy keeps its own connections to the nodes open,
    # so the check after the run is left out.
    conns_before = None if a.target else gauge(urls, "errata_http_connections")
    cmd = ["wrk", f"-t{a.threads}", f"-c{a.connections}", f"-d{a.duration}s", f"--timeout={a.timeout}s",
           "-s", a.script, a.target or a.url[0]]
    if a.args:
        cmd += ["--"] + a.args
    log(f"{a.name}: {' '.join(cmd)}")
    _, ops_before = write_state(urls)
    hwm_reset = reset_hwm(pids)
    cpu0 = cpu_snapshot(pids)
    p = subprocess.run(cmd, capture_output=True, text=True)
    cpu = cpu_over(cpu0, cpu_snapshot(pids))
    hwm, rss, anon, mem_note = procs_status(pids)
    after = scrape(urls)
    # Let the writes wrk left queued commit before the next workload; for bulk
    # workloads this also gives the sustained rate (all work sent / time to
    # finish it).
    barriers = drain_all(urls)
    drained_s = time.monotonic() - cpu0["t"]
    _, ops_after = write_state(urls)
    with open(a.log, "a") as f:
        f.write(f"### {a.name}: {' '.join(cmd)}\n{p.stdout}{p.stderr}\n")
    m = re.search(r"^BENCH_RESULT (\{.*\})$", p.stdout, re.M)
    rec = {"kind": "wrk", "name": a.name, "desc": a.desc, "connections": a.connections,
           "duration": a.duration, "hwm_kib": hwm, "rss_kib": rss, "anon_kib": anon, "hwm_reset": hwm_reset,
           "failed": False, "notes": list(a.note), "cpu": cpu}
    if a.setup:
        rec["setup"] = a.setup
    if a.w0:
        rec["w0_name"] = a.w0
    if mem_note:
        rec["mem_note"] = mem_note
    if p.returncode != 0 or not m:
        rec["failed"] = True
        rec["notes"].append(f"wrk failed (exit {p.returncode}): {p.stderr.strip()[:200]}")
        append(a.results, rec)
        log(f"{a.name}: FAILED: wrk failed (exit {p.returncode}): {p.stderr.strip()[:500]}")
        return 1
    r = json.loads(m.group(1))
    rec.update(r)
    reasons = []  # why the record failed, for the log
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
    if unexpected:
        reasons.append(f"{unexpected:,} non-2xx")
    if sock:
        reasons.append("socket errors " + json.dumps(r["socket_errors"]))
    if r["non2xx"]:
        bad = {f"{route} {s}": n for route, st in delta.items() for s, n in st.items() if int(s) >= 300}
        rec["notes"].append("non-2xx: " + ", ".join(f"{k} x{n}" for k, n in sorted(bad.items())))
    if sock:
        rec["notes"].append("socket errors: " + json.dumps(r["socket_errors"]))
    # wrk counts a request when its answer arrives, and its timeout counter
    # only counts answers that came late: a request never answered is in no
    # wrk figure. Against the server: 0 requests; the server's answers (its
    # errata_http_requests_total, counted as it answers) beyond wrk's by more
    # than one per connection (the answers in flight when wrk stopped); wrk's
    # beyond the server's (someone else answered); and connections the
    # server still holds after wrk exited and the writes drained (requests
    # it never answered).
    if r["requests"] == 0:
        reasons.append("wrk completed 0 requests")
        rec["notes"].append("wrk completed 0 requests (no answer in the whole run)")
    served = sum(n for st in delta.values() for n in st.values())
    rec["server_answered"] = served
    slack = max(8, r["requests"] // 1000)
    if served > r["requests"] + a.connections + slack:
        reasons.append(f"server answered {served - r['requests']:,} more requests than wrk completed")
        rec["notes"].append(f"the server answered {served:,} requests, wrk completed {r['requests']:,}: "
                            f"{served - r['requests']:,} answers wrk never counted (more than its "
                            f"{a.connections} connections had in flight)")
    elif r["requests"] > served + slack:
        reasons.append(f"wrk completed {r['requests'] - served:,} more requests than the server answered")
        rec["notes"].append(f"wrk completed {r['requests']:,} requests, the server counted {served:,} answers "
                            f"(errata_http_requests_total): answers from elsewhere?")
    if conns_before is not None:
        left = open_connections(urls, conns_before, timeout=10)
        if left is not None and left > conns_before:
            n = int(left - conns_before)
            reasons.append(f"{n} server connections still open after wrk exited")
            rec["notes"].append(f"{n} connections still open on the server 10 s after wrk exited and the writes "
                                f"drained: requests it never answered")
    c = r.get("counters", {})
    if "errors_applied" in c:
        secs = r["duration_s"]
        rec["errors_per_s"] = c["errors_applied"] / secs
        rec["notes"].append(f"answered within the run: {c['errors_applied'] / secs:,.0f} errors/s "
                            f"({c['applied']:,} utterances applied, {c['replayed']} replayed, "
                            f"{c['rejected']} rejected)")
        if c["replayed"] or c["rejected"] or c.get("bad_status"):
            reasons.append("bulk lines replayed/rejected or bad status")
    if barriers is None:
        reasons.append("writes still queued 600 s after the run")
        rec["notes"].append("writes still queued 600 s after the run")
    elif a.errors_per_op and ops_after - ops_before - barriers > 0:
        ops = ops_after - ops_before - barriers
        rec["drained_errors_per_s"] = ops * a.errors_per_op / drained_s
        rec["notes"].insert(0, f"sustained {ops * a.errors_per_op / drained_s:,.0f} errors/s = {ops:,.0f} utterances "
                               f"committed x {a.errors_per_op:g} errors in {drained_s:.1f} s (run + drain of the backlog)")
    if a.errors_per_request:
        rec["notes"].append(f"~{r['rps'] * a.errors_per_request:,.0f} errors/s")
    rec["failed"] = bool(reasons)
    append(a.results, rec)
    log(f"{a.name}: {r['rps']:,.0f} req/s p50 {r['p50_ms']:.3f} ms p99 {r['p99_ms']:.3f} ms "
        f"p99.9 {r['p999_ms']:.3f} ms non-2xx {r['non2xx']} (allowed 501: {allowed}) socket errors {sock}; "
        f"{r['requests']:,} requests, server answered {served:,}; {cpu_note(cpu)}")
    if reasons:
        log(f"{a.name}: FAILED: " + "; ".join(reasons))
        return 1
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


def cmd_last(a):
    with open(a.results) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    r = recs[-1] if recs else {}
    print(" ".join(str(r.get(k) if r.get(k) is not None else 0) for k in a.fields))
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
    usable, online = len(os.sched_getaffinity(0)), os.cpu_count()
    cpus = f"{usable} cpu" if usable == online else f"{usable} of {online} cpu"
    return f"{cpus}, {mem / 1048576:.0f} GiB" + (f", {cpu}" if cpu else "")


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

    # A record with a w0_name (W6's reads) is against the W0 runs of that
    # name instead: a W0 on the same server just before it.
    def w0_of(r):
        if not r.get("w0_name"):
            return w0s.get(r.get("setup"))
        runs = [x["rps"] for x in recs if x["name"] == r["w0_name"] and x.get("setup") == r.get("setup")
                and not x["failed"] and x.get("rps")]
        return sum(runs) / len(runs) if runs else None
    # --baseline: the same workload's figure in the baseline setup.
    def figure(r):
        return r.get("rps") or (r.get("load") or {}).get("errors_per_s")
    base = {r["name"]: r for r in recs if a.baseline and r.get("setup") == a.baseline
            and not r["failed"] and figure(r)}
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    mach = machine()
    rows = []
    for r in recs:
        w0 = w0_of(r)
        mib = lambda k: f"{r[k] / 1024:,.0f}" if r.get(k) else "—"
        notes = list(r.get("notes", []))
        if r.get("rss_kib"):
            anon = f", RssAnon {r['anon_kib'] / 1024:,.0f} MiB" if r.get("anon_kib") else ""
            notes.append(f"VmRSS {r['rss_kib'] / 1024:,.0f} MiB{anon}")
        if r.get("mem_note"):
            notes.append(r["mem_note"])
        if r.get("hwm_reset") is False:
            notes.append("peak RSS since the server started (clear_refs refused: VmHWM not reset)")
        if r.get("w0_name") and r["name"] != r["w0_name"]:
            notes.append(f"x W0 against {r['w0_name']} (same server, just before)")
        if r.get("cpu"):
            notes.append(cpu_note(r["cpu"]))
        load = r.get("load")
        if load:
            timed = (f"sent in {load['seconds']:,.1f} s = {load['errors_per_s']:,.0f} errors/s (bodies built "
                     f"beforehand in {load['gen_seconds']:,.1f} s; loader CPU {load['client_cpu_s']:,.1f} s"
                     + (f", server CPU {load['server_cpu_s']:,.1f} s" if "server_cpu_s" in load else "") + ")"
                     if "gen_seconds" in load else
                     f"in {load['seconds']:,.1f} s = {load['errors_per_s']:,.0f} errors/s")
            notes.insert(0, f"{load['utterances']:,} utterances / {load['errors']:,} errors / "
                            f"{load['users']:,} learners {timed}; applied {load['applied']:,}, "
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
        command = f"`{a.command}`" + (f" ({a.provenance})" if a.provenance else "")
        cells = [date, command, mach, a.label, desc,
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
        w0 = w0_of(r)
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
    k.add_argument("--w0", help="the name of the W0 runs this row's x W0 is against (default W0)")
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
    o.add_argument("--provenance", default="", help="what ran: harness commit, binary (after the command)")
    la = sub.add_parser("last")
    la.add_argument("--results", required=True)
    la.add_argument("fields", nargs="+")
    o.add_argument("--baseline", help="setup whose figures the other setups' rows are compared with")
    a = p.parse_args()
    return {"wait-ready": cmd_wait_ready, "wait-idle": cmd_wait_idle, "wrk": cmd_wrk, "record": cmd_record, "rows": cmd_rows,
            "last": cmd_last}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
