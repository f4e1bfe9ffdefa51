#!/usr/bin/env python3
"""Benchmark datasets for errata, loaded through POST /v1/ingest (stdlib only).

  gen_dataset.py synth --url URL --users N --errors E --ids-out FILE
      N synthetic learners, one conversation each, E errors in total (every
      learner gets at least one), in utterances of --errors-per-utterance
      errors. Writes FILE: one "user_id<TAB>conversation_id<TAB>utterance_id"
      line per learner (an utterance of that learner), for the wrk scripts.

  gen_dataset.py m2 --url URL --file wi.dev.gold.bea19.m2 --copies 100
      Imports an M2 corpus --copies times, each copy under its own learners
      (--users-per-copy learners, contiguous runs of sentences), then checks
      through GET /v1/users/{id}/errors/top?n=100 that each learner's error
      count (sum of frequency) equals what was sent.

Both first write every request body to a file (--bodies-dir: the ids file's
directory for synth, else $TMPDIR; removed at the end), then send the bodies
over --connections keep-alive connections: "seconds" and "errors_per_s" time
the sending only, as generating the NDJSON in Python cost more CPU than the
server's work (2M errors: ~6 s of a core) on the same cores. "gen_seconds" is
the generation, "client_cpu_s" the loader's CPU while sending, and
"server_cpu_s" the server's (--server-pid, once per node; else absent).

Both print progress to stderr and, last, one machine-readable line on stdout:
  LOAD {"utterances": ..., "errors": ..., "seconds": ..., "errors_per_s": ..., ...}
Exit status: 0 when every line was applied (and, for m2, every count checked
out), 1 otherwise.
"""

import argparse
import http.client
import json
import os
import queue
import random
import re
import resource
import sys
import tempfile
import threading
import time
import urllib.parse

# (category, subcategory) pairs of the taxonomy, as a client would send them.
PAIRS = [
    ("Grammar", "Subject-Verb Agreement"),
    ("Grammar", "Verb Tense"),
    ("Grammar", "Articles & Determiners"),
    ("Grammar", "Prepositions"),
    ("Grammar", "Pronouns"),
    ("Vocabulary", "Word Choice"),
    ("Vocabulary", "Collocation"),
    ("Mechanics", "Spelling"),
    ("Mechanics", "Punctuation"),
    ("Pronunciation", "Vowel Sounds"),
    ("Fluency", "Filler Words"),
]
PAIR_JSON = [json.dumps({"category": c, "subcategory": s}, separators=(",", ":")) for c, s in PAIRS]

SENTENCES = [
    "Yesterday I go to the market with my sister",
    "She don't like coffee in the morning",
    "I am agree with you about this problem",
    "He have been living here since three years",
    "We discussed about the project on the meeting",
    "My friend recommended me a very good book",
    "I didn't went to school because I was sick",
    "There is many people in the park today",
    "Um, I think, like, the weather is nice",
    "She is more taller than her brother",
]


def uuid_from(rng):
    """A random RFC 4122 version-4 UUID, lower-case canonical, from rng."""
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


COUNTS = re.compile(rb'\{"applied":(\d+),"replayed":(\d+),"rejected":(\d+)')


class Loader:
    """Posts NDJSON bodies to /v1/ingest over `connections` keep-alive
    connections, retrying 503s, and tallies the answers."""

    def __init__(self, url, connections, expect_lines=True):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.q = queue.Queue(maxsize=connections * 2)
        self.lock = threading.Lock()
        self.applied = self.replayed = self.rejected = 0
        self.requests = 0
        self.failures = []  # first few problems, for the report
        self.retries = 0
        self.dead = False  # set when the server stopped answering
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(connections)]
        for t in self.threads:
            t.start()

    def _fail(self, msg):
        with self.lock:
            if len(self.failures) < 5:
                self.failures.append(msg)
                log("loader: " + msg)

    def _run(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        while True:
            item = self.q.get()
            if item is None:
                self.q.task_done()
                break
            body, lines = item
            if self.dead:  # the server is gone: do not retry every body
                with self.lock:
                    self.rejected += lines
                self.q.task_done()
                continue
            for attempt in range(30):
                try:
                    conn.request("POST", "/v1/ingest", body=body,
                                 headers={"Content-Type": "application/x-ndjson"})
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
                    if attempt == 29:
                        self._fail(f"connection error: {e}")
                        self.dead = True
                    time.sleep(0.2)
                    continue
                if resp.status == 503:
                    with self.lock:
                        self.retries += 1
                    time.sleep(0.05 * (attempt + 1))
                    continue
                if resp.status != 200:
                    self._fail(f"HTTP {resp.status}: {data[:300]!r}")
                    with self.lock:
                        self.rejected += lines
                    break
                # The counts lead the answer; the per-line results after them
                # are only read when something was not applied.
                m = COUNTS.match(data)
                r = ({"applied": int(m.group(1)), "replayed": int(m.group(2)), "rejected": int(m.group(3))}
                     if m else json.loads(data))
                with self.lock:
                    self.requests += 1
                    self.applied += r["applied"]
                    self.replayed += r["replayed"]
                    self.rejected += r["rejected"]
                if r["rejected"] or r["replayed"]:
                    bad = [x for x in json.loads(data)["results"] if x.get("status") != "applied"][:2]
                    self._fail(f"{r['rejected']} rejected, {r['replayed']} replayed: {json.dumps(bad)[:400]}")
                break
            else:
                with self.lock:
                    self.rejected += lines
            self.q.task_done()
        conn.close()

    def put(self, body, lines):
        self.q.put((body, lines))

    def close(self):
        for _ in self.threads:
            self.q.put(None)
        for t in self.threads:
            t.join()


class BodyFile:
    """The request bodies, built before the clock starts: one file of bodies
    back to back (under directory), and their (offset, length, lines)."""

    def __init__(self, directory):
        fd, self.path = tempfile.mkstemp(prefix="bodies.", suffix=".ndjson", dir=directory)
        self.f = os.fdopen(fd, "wb")
        self.index = []

    def put(self, body, lines):
        self.index.append((self.f.tell(), len(body), lines))
        self.f.write(body)

    def close(self):
        self.f.close()

    def remove(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass


def server_cpu(pids):
    """utime + stime of the server processes, in seconds (None if any is gone)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def send(url, bodies, connections, pids):
    """Sends the bodies of a BodyFile; (Loader, seconds, client CPU s, server
    CPU s or None)."""
    bodies.close()
    fd = os.open(bodies.path, os.O_RDONLY)
    loader = Loader(url, connections)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    srv0 = server_cpu(pids) if pids else None
    start = time.monotonic()
    last = start
    try:
        for n, (offset, length, lines) in enumerate(bodies.index):
            if loader.dead:
                log("loader: the server stopped answering; giving up")
                break
            loader.put(os.pread(fd, length, offset), lines)
            now = time.monotonic()
            if now - last > 10:
                last = now
                log(f"send: {n + 1}/{len(bodies.index)} requests, {now - start:.0f} s")
        loader.close()
    finally:
        os.close(fd)
    seconds = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    srv1 = server_cpu(pids) if pids else None
    client = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return loader, seconds, client, (srv1 - srv0 if srv0 is not None and srv1 is not None else None)


class Batcher:
    """Groups NDJSON lines into bodies of at most `batch` lines and `max_bytes`."""

    def __init__(self, sink, batch, max_bytes=900_000):
        self.loader, self.batch, self.max_bytes = sink, batch, max_bytes
        self.lines, self.size = [], 0

    def add(self, line):
        if getattr(self.loader, "dead", False):
            raise SystemExit("loader: the server stopped answering; giving up")
        if self.lines and (len(self.lines) >= self.batch or self.size + len(line) > self.max_bytes):
            self.flush()
        self.lines.append(line)
        self.size += len(line)

    def flush(self):
        if self.lines:
            self.loader.put("".join(self.lines).encode(), len(self.lines))
            self.lines, self.size = [], 0


def get_json(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, (json.loads(data) if data else None)


def verify_counts(url, expected, sample=None, seed=0):
    """Checks sum(frequency) of GET /v1/users/{id}/errors/top?n=100 against
    expected[user]. Returns (checked, mismatches, first few mismatch texts)."""
    users = list(expected)
    if sample is not None and sample < len(users):
        users = random.Random(seed).sample(users, sample)
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
    bad, notes = 0, []
    for user in users:
        try:
            status, body = get_json(conn, f"/v1/users/{user}/errors/top?n=100")
        except (OSError, http.client.HTTPException, ValueError) as e:
            return len(users), len(users), notes + [f"count check failed: {e}"]
        got = sum(e["frequency"] for e in body["errors"]) if status == 200 else None
        if got != expected[user]:
            bad += 1
            if len(notes) < 5:
                notes.append(f"user {user}: sent {expected[user]} errors, server counts {got} (HTTP {status})")
    conn.close()
    return len(users), bad, notes


def cmd_synth(a):
    if a.errors < a.users:
        sys.exit("--errors must be >= --users: every learner needs errors")
    rng = random.Random(f"synth:{a.seed}")
    bodies = BodyFile(a.bodies_dir or os.path.dirname(os.path.abspath(a.ids_out)))
    try:
        return synth_into(a, rng, bodies)
    finally:
        bodies.remove()


def synth_into(a, rng, bodies):
    batcher = Batcher(bodies, a.batch)
    per_user, extra = divmod(a.errors, a.users)
    epu = a.errors_per_utterance
    expected = {}
    utterances = 0
    start = time.monotonic()
    last = start
    with open(a.ids_out, "w") as ids:
        for i in range(a.users):
            user, conv = uuid_from(rng), uuid_from(rng)
            n = per_user + (1 if i < extra else 0)
            expected[user] = n
            favourite = rng.randrange(len(PAIRS))  # each learner has a weak spot
            first = None
            while n > 0:
                k = min(epu, n)
                n -= k
                errs = ",".join(PAIR_JSON[favourite if rng.random() < 0.5 else rng.randrange(len(PAIRS))]
                                for _ in range(k))
                utt = uuid_from(rng)
                first = first or utt
                content = f"{SENTENCES[rng.randrange(len(SENTENCES))]} ({utterances})"
                batcher.add(f'{{"user_id":"{user}","conversation_id":"{conv}","utterance_id":"{utt}",'
                            f'"content":"{content}","errors":[{errs}]}}\n')
                utterances += 1
            ids.write(f"{user}\t{conv}\t{first}\n")
            now = time.monotonic()
            if now - last > 10:
                last = now
                log(f"synth: built {i + 1}/{a.users} learners, {utterances} utterances, {now - start:.0f} s")
    batcher.flush()
    gen_seconds = time.monotonic() - start
    loader, seconds, client_cpu, server_cpu_s = send(a.url, bodies, a.connections, a.server_pid)
    checked, bad, notes = verify_counts(a.url, expected, sample=a.verify_sample, seed=a.seed)
    for n in notes:
        log("verify: " + n)
    out = {"mode": "synth", "users": a.users, "utterances": utterances, "errors": a.errors,
           "applied": loader.applied, "replayed": loader.replayed, "rejected": loader.rejected,
           "requests": loader.requests, "retries_503": loader.retries, "seconds": round(seconds, 3),
           "utterances_per_s": round(utterances / seconds, 1), "errors_per_s": round(a.errors / seconds, 1),
           "verified_users": checked, "count_mismatches": bad, "failures": loader.failures + notes}
    timing(out, gen_seconds, client_cpu, server_cpu_s, bodies)
    print("LOAD " + json.dumps(out), flush=True)
    return 0 if loader.applied == utterances and bad == 0 and not loader.failures else 1


def timing(out, gen_seconds, client_cpu, server_cpu_s, bodies):
    out["gen_seconds"] = round(gen_seconds, 3)
    out["body_bytes"] = sum(n for _, n, _ in bodies.index)
    out["client_cpu_s"] = round(client_cpu, 3)
    if server_cpu_s is not None:
        out["server_cpu_s"] = round(server_cpu_s, 3)


def parse_m2(path):
    """[(tokens, [(start, end, type, correction)])], noop edits left out, UNK kept."""
    out, tokens, edits = [], None, []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("S "):
                tokens, edits = line[2:].split(" "), []
            elif line.startswith("S") and line.strip() == "S":
                tokens, edits = [], []
            elif line.startswith("A "):
                fields = line[2:].split("|||")
                start, end = (int(x) for x in fields[0].split())
                if fields[1] == "noop" or start < 0:
                    continue
                edits.append((start, end, fields[1], fields[2]))
            elif not line.strip() and tokens is not None:
                out.append((tokens, edits))
                tokens = None
    if tokens is not None:
        out.append((tokens, edits))
    return out


def char_span(tokens, start, end):
    """Character offsets (as errata's spans count) in " ".join(tokens) of the token span [start, end)."""
    pos = sum(len(t) + 1 for t in tokens[:start])
    if start == end:
        return min(pos, len(" ".join(tokens))), min(pos, len(" ".join(tokens)))
    return pos, pos + len(" ".join(tokens[start:end]))


def cmd_m2(a):
    sentences = parse_m2(a.file)
    total_edits = sum(len(e) for _, e in sentences)
    log(f"m2: {len(sentences)} sentences, {total_edits} edits (noop left out) in {a.file}")
    # The part of each line that is the same in every copy.
    tails = []
    for tokens, edits in sentences:
        errs = []
        for start, end, typ, corr in edits:
            s, e = char_span(tokens, start, end)
            errs.append({"code": typ, "original": " ".join(tokens[start:end]), "correction": corr,
                         "span": {"start": s, "end": e}})
        tails.append((json.dumps(" ".join(tokens), ensure_ascii=False),
                      json.dumps(errs, ensure_ascii=False, separators=(",", ":")), len(edits)))
    rng = random.Random(f"m2:{a.seed}")
    bodies = BodyFile(a.bodies_dir or tempfile.gettempdir())
    try:
        return m2_into(a, rng, bodies, tails)
    finally:
        bodies.remove()


def m2_into(a, rng, bodies, tails):
    batcher = Batcher(bodies, a.batch)
    sentences = tails
    expected = {}
    n, upc = len(sentences), a.users_per_copy
    utterances = errors = 0
    start = time.monotonic()
    for copy in range(a.copies):
        users = [(uuid_from(rng), uuid_from(rng)) for _ in range(upc)]
        for user, _ in users:
            expected[user] = 0
        for i, (content, errs, k) in enumerate(tails):
            user, conv = users[i * upc // n]
            expected[user] += k
            batcher.add(f'{{"user_id":"{user}","conversation_id":"{conv}","utterance_id":"{uuid_from(rng)}",'
                        f'"content":{content},"errors":{errs}}}\n')
            utterances += 1
            errors += k
    batcher.flush()
    gen_seconds = time.monotonic() - start
    loader, seconds, client_cpu, server_cpu_s = send(a.url, bodies, a.connections, a.server_pid)
    vstart = time.monotonic()
    checked, bad, notes = verify_counts(a.url, expected)
    for note in notes:
        log("verify: " + note)
    out = {"mode": "m2", "copies": a.copies, "users": len(expected), "utterances": utterances,
           "errors": errors, "applied": loader.applied, "replayed": loader.replayed,
           "rejected": loader.rejected, "requests": loader.requests, "retries_503": loader.retries,
           "seconds": round(seconds, 3), "utterances_per_s": round(utterances / seconds, 1),
           "errors_per_s": round(errors / seconds, 1), "verified_users": checked,
           "count_mismatches": bad, "verify_seconds": round(time.monotonic() - vstart, 3),
           "failures": loader.failures + notes}
    timing(out, gen_seconds, client_cpu, server_cpu_s, bodies)
    print("LOAD " + json.dumps(out), flush=True)
    return 0 if loader.applied == utterances and bad == 0 and not loader.failures else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("synth", help="synthetic learners")
    s.add_argument("--url", required=True)
    s.add_argument("--users", type=int, required=True)
    s.add_argument("--errors", type=int, required=True, help="errors in total")
    s.add_argument("--errors-per-utterance", type=int, default=3)
    s.add_argument("--ids-out", required=True)
    s.add_argument("--verify-sample", type=int, default=200, help="learners whose counts are checked")
    m = sub.add_parser("m2", help="an M2 corpus, many times over")
    m.add_argument("--url", required=True)
    m.add_argument("--file", required=True)
    m.add_argument("--copies", type=int, default=100)
    m.add_argument("--users-per-copy", type=int, default=20)
    for x in (s, m):
        x.add_argument("--batch", type=int, default=1000, help="lines per request")
        x.add_argument("--connections", type=int, default=4)
        x.add_argument("--seed", type=int, default=1)
        x.add_argument("--bodies-dir", help="where the request bodies are built before sending "
                       "(default: the ids file's directory for synth, else $TMPDIR)")
        x.add_argument("--server-pid", type=int, action="append", default=[],
                       help="a server process whose CPU time the load reports; once per node")
    a = p.parse_args()
    return cmd_synth(a) if a.cmd == "synth" else cmd_m2(a)


if __name__ == "__main__":
    sys.exit(main())
