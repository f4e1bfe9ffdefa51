#!/usr/bin/env python3
"""A learner's records as a whole (docs/conversations.md, docs/erasure.md):
how long a page of a learner's conversations takes, and how long erasing a
learner takes, by the learner's size (stdlib only).

  bench/learner_records.py --url URL [--sizes 100,1000,10000] [--repeat 20]
                           [--background N]

For each size S a learner gets S utterances with 2 errors each, spread over
S/10 conversations, through POST /v1/ingest (plus --background learners of
one utterance each first, so the store is not empty). Then, per size: the
median and worst milliseconds of the first page (limit=20) and of the last
page of their conversations over `--repeat` runs, the milliseconds and size
of GET /v1/users/{id}/export, and the milliseconds of DELETE
/v1/users/{id} with what it reported. An erase is committed alone
(docs/erasure.md): its time is how long it holds the write queue.
"""
import argparse
import http.client
import json
import statistics
import sys
import time
import uuid
from urllib.parse import urlparse


def request(conn, method, path, body=None):
    conn.request(method, path, body=body,
                 headers={"Content-Type": "application/x-ndjson"} if body else {})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        sys.exit(f"{method} {path}: {resp.status} {data[:300]!r}")
    return json.loads(data)


def ingest(conn, lines):
    for at in range(0, len(lines), 1000):
        chunk = lines[at:at + 1000]
        out = request(conn, "POST", "/v1/ingest", ("\n".join(chunk) + "\n").encode())
        if out.get("applied") != len(chunk):
            sys.exit(f"ingest applied {out.get('applied')} of {len(chunk)}")


def learner(size):
    """The ingest lines of one learner of `size` utterances."""
    user = str(uuid.uuid4())
    conversations = [str(uuid.uuid4()) for _ in range(max(1, size // 10))]
    return user, [json.dumps({"user_id": user, "conversation_id": conversations[i % len(conversations)],
                              "content": f"She go to school {i}.",
                              "errors": [{"code": "R:VERB:SVA"}, {"code": "M:DET"}]})
                  for i in range(size)]


def timed(conn, method, path):
    t0 = time.perf_counter()
    out = request(conn, method, path)
    return (time.perf_counter() - t0) * 1000, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--background", type=int, default=10000)
    a = ap.parse_args()
    u = urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    t0 = time.perf_counter()
    ingest(conn, [json.dumps({"user_id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4()),
                              "content": "x", "errors": [{"code": "R:PREP"}]})
                  for _ in range(a.background)])
    sizes = [int(s) for s in a.sizes.split(",")]
    users = {}
    for size in sizes:
        user, lines = learner(size)
        ingest(conn, lines)
        users[size] = user
    print(f"loaded {a.background} background learners and learners of {sizes} utterances"
          f" in {time.perf_counter() - t0:.1f} s")
    for size in sizes:
        user = users[size]
        base = f"/v1/users/{user}/conversations"
        first = [timed(conn, "GET", base)[0] for _ in range(a.repeat)]
        # The last page: follow `next` to the end once, then time that page.
        page, after = request(conn, "GET", base), None
        while page["next"] is not None:
            after = page["next"]
            page = request(conn, "GET", f"{base}?after={after}")
        last_path = f"{base}?after={after}" if after else base
        last = [timed(conn, "GET", last_path)[0] for _ in range(a.repeat)]
        t0 = time.perf_counter()
        conn.request("GET", f"/v1/users/{user}/export")
        resp = conn.getresponse()
        exported = resp.read()
        export_ms = (time.perf_counter() - t0) * 1000
        if resp.status != 200:
            sys.exit(f"export: {resp.status} {exported[:300]!r}")
        ms, out = timed(conn, "DELETE", f"/v1/users/{user}")
        print(f"{size:>6} utterances, {max(1, size // 10):>5} conversations:"
              f" first page {statistics.median(first):.2f} ms (worst {max(first):.2f}),"
              f" last page {statistics.median(last):.2f} ms (worst {max(last):.2f});"
              f" export {export_ms:.1f} ms ({len(exported) / 1e6:.2f} MB);"
              f" erase {ms:.1f} ms: {json.dumps(out['erased'])}")


if __name__ == "__main__":
    main()
