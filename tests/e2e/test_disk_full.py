"""A full disk under the embedded stores (SQLite, and RocksDB with ERRATA_STORE=rocksdb:).

The promise: a fault such as disk full gets a 503 with a clear JSON error,
changes nothing, loses nothing that was acknowledged, and the service
recovers when space is back.

The server runs with --data-dir on a small tmpfs of its own (so the test
needs root, or at least the right to mount; otherwise it is skipped). Its log
goes outside the tmpfs, so it stays readable while the disk is full.

1. Learners, conversations and utterances are written (/v1/users,
   /v1/conversations, /v1/utterances, /v1/ingest); every 2xx is remembered.
2. A filler file takes all the space left on the tmpfs.
3. More writes of every kind: each answers 503 {"error":{"code":"unavailable",
   ...}} with Retry-After, or (right at the edge, where a page already held
   by the store still has room) a 2xx, which is then remembered as
   acknowledged. Never a 500, never a hang, and the server stays up. The
   filler is topped up before every write, so space the store frees (a WAL
   truncated by a checkpoint) is taken again at once.
4. While the disk is full, the learners' profiles, practice and
   conversations still read with 200, and show exactly what was acknowledged.
5. The filler goes: writes succeed again within RECOVERY seconds. Some of the
   writes that got 503 are retried with the same ids: each is applied now
   (201, not a replay: the 503 had applied nothing).
6. The server stops (exit 0) and starts again on the same data dir: every
   acknowledged write is there with exact per-learner, per-subcategory
   counts, every conversation holds exactly its acknowledged utterances, and
   the writes that got 503 and were never retried are absent (users and
   conversations 404).

Skipped in the PostgreSQL pass (the disk that fills is PostgreSQL's, not errata's).
"""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import STORE, Client, Server, main, server_errors, top_counts, unique_email
from workload import LABELS

TMPFS_SIZE = "160m"   # RocksDB resumes writes only once 64 MiB (its write buffer) are free
LEARNERS = 6
BASELINE_UTTERANCES = 4   # per learner, through /v1/utterances
FULL_WRITES = 48          # writes sent while the disk is full
RECOVERY = 20.0           # seconds for writes to succeed again once space is back
TIMEOUT = 15.0            # every request answers within this (a hang fails the test)
CONTENT_BYTES = 1500      # utterances big enough that the store needs new pages for each



def embedded_in_data_dir():
    """The store lives in --data-dir: SQLite (no ERRATA_STORE) or `rocksdb:`."""
    return STORE in ("", "rocksdb:")


def skip_reason():
    if STORE.startswith("postgres"):
        return ("disk full is checked on the embedded stores only: with ERRATA_STORE=postgres... "
                "the disk that fills is PostgreSQL's (test_store_outage.py covers its outages)")
    return f"ERRATA_STORE={STORE!r} does not keep the store in --data-dir"


def fill(path):
    """Appends to `path` until the filesystem has no byte left. Returns the bytes added."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    added = 0
    try:
        st = os.statvfs(path)
        free = st.f_bavail * st.f_frsize
        if free > 0:
            try:
                os.posix_fallocate(fd, os.fstat(fd).st_size, free)
                added += free
            except OSError:
                pass
        for chunk in (1 << 20, 64 << 10, 4096, 512, 1):
            block = b"\0" * chunk
            while True:
                try:
                    n = os.write(fd, block)
                except OSError as e:
                    if e.errno == errno.ENOSPC:
                        break
                    raise
                added += n
                if n < chunk:
                    break
    finally:
        os.close(fd)
    return added


def content(tag):
    text = f"{tag}: she go to school every day and he have two cat. "
    return (text * (CONTENT_BYTES // len(text) + 1))[:CONTENT_BYTES]


class Ledger:
    """What the server acknowledged, and what it refused with 503."""

    def __init__(self):
        self.users = {}            # user_id -> acknowledged (bool)
        self.convs = {}            # conversation_id -> (user_id, acknowledged)
        self.bodies = {}           # utterance_id -> body (everything sent)
        self.acked = set()         # utterance ids acknowledged
        self.refused = {}          # utterance_id -> what refused it (503)
        self.refused_users = set()
        self.refused_convs = set()

    def counts(self):
        """{user_id: {subcategory_id: n}} over the acknowledged utterances."""
        out = Counter()
        for u in self.acked:
            b = self.bodies[u]
            for e in b["errors"]:
                out[(b["user_id"], e["subcategory_id"])] += 1
        per = {}
        for (uid, sub), n in out.items():
            per.setdefault(uid, {})[sub] = n
        return per

    def conv_utterances(self, cid):
        return {u for u in self.acked if self.bodies[u]["conversation_id"] == cid}


def utterance(uid, cid, k, tag):
    labels = [LABELS[(k + j) % len(LABELS)] for j in range(1 + k % 3)]
    return {"utterance_id": str(uuid.uuid4()), "conversation_id": cid, "user_id": uid,
            "content": content(tag),
            "errors": [{"category": a, "subcategory": b, "subcategory_id": s}
                       for a, b, s in labels]}


def wire(body):
    """The body as sent: without the test's own subcategory_id."""
    out = dict(body)
    out["errors"] = [{"category": e["category"], "subcategory": e["subcategory"]}
                     for e in body["errors"]]
    return out


@unittest.skipUnless(embedded_in_data_dir(), skip_reason())
class DiskFull(unittest.TestCase):

    def setUp(self):
        self.t0 = time.monotonic()
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root (this test fills a small filesystem)")
        self.mnt = tempfile.mkdtemp(prefix="errata-diskfull-")
        self.addCleanup(self._rmdir, self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs",
                            self.mnt], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs on {self.mnt}: "
                          f"{(r.stderr or r.stdout).strip() or 'exit ' + str(r.returncode)}")
        self.addCleanup(self._umount)
        self.logdir = tempfile.mkdtemp(prefix="errata-diskfull-log-")
        self.addCleanup(shutil.rmtree, self.logdir, True)
        self.data_dir = os.path.join(self.mnt, "data")
        os.mkdir(self.data_dir)
        self.fillers = [os.path.join(self.mnt, "filler"), os.path.join(self.mnt, "filler-top-up")]
        self.server = Server(data_dir=self.data_dir, start=False)
        self.server.log_path = os.path.join(self.logdir, "server.log")
        self.addCleanup(self._stop_server)   # cleanups run last-in first-out: before the umount
        self.server.start()
        self.c = Client(self.server.port, timeout=TIMEOUT, retry_stale=False)
        self.addCleanup(self.c.close)
        self.ledger = Ledger()

    # -- clean-up

    def _stop_server(self):
        if self.server.running():
            try:
                self.server.stop(check=False)
            except AssertionError as e:      # did not exit on SIGTERM: it was killed
                print(f"cleanup: {e}", file=sys.stderr)
        self.server.cleanup()
        lines = [line for line in self.server.log_tail(n=1 << 22).splitlines() if line.strip()]
        # The per-request lines (a 503 is logged at warn) are counted, the rest shown.
        others = [line for line in lines if '"msg":"request"' not in line]
        if lines:
            print(f"--- server log: {len(lines) - len(others)} request lines; "
                  f"{len(others)} others, the last 15:", file=sys.stderr)
            for line in others[-15:]:
                print("  " + line[:400], file=sys.stderr)
        print(f"{self.id()} [{STORE or 'sqlite'}]: {time.monotonic() - self.t0:.1f}s",
              file=sys.stderr)

    def _umount(self):
        r = subprocess.run(["umount", self.mnt], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"cleanup: umount {self.mnt}: {r.stderr.strip()}; lazy unmount", file=sys.stderr)
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)

    @staticmethod
    def _rmdir(path):
        try:
            os.rmdir(path)
        except OSError as e:
            print(f"cleanup: rmdir {path}: {e}", file=sys.stderr)

    # -- helpers

    def log(self):
        return "\n--- server log:\n" + self.server.log_tail()

    def assert_alive(self, what):
        if not self.server.running():
            self.fail(f"the server exited ({what}), code {self.server.proc.returncode}" + self.log())

    def assert_unavailable(self, resp, what):
        """A 503 {"error":{"code":"unavailable","message":str}} with Retry-After."""
        st, headers, body = resp
        self.assertEqual(st, 503, f"{what}: {body!r}")
        self.assertIsInstance(body, dict, f"{what}: not a JSON object: {body!r}")
        self.assertEqual(set(body), {"error"}, f"{what}: {body!r}")
        self.assertEqual(body["error"].get("code"), "unavailable", f"{what}: {body!r}")
        self.assertIsInstance(body["error"].get("message"), str, f"{what}: {body!r}")
        self.assertTrue(body["error"]["message"], f"{what}: empty message")
        self.assertIsNotNone(headers.get("Retry-After"), f"{what}: 503 without Retry-After")
        if not hasattr(self, "first_503"):
            self.first_503 = f"{what}: {json.dumps(body)}"
            print(f"first 503: {self.first_503}"[:400], file=sys.stderr)

    def post(self, path, body=None, raw=None):
        try:
            if raw is not None:
                return self.c.request("POST", path, raw=raw,
                                      headers={"Content-Type": "application/x-ndjson"})
            return self.c.post(path, body)
        except OSError as e:   # includes timeouts: the server hung or closed the connection
            try:
                self.server.proc.wait(timeout=3)   # a crash: let it finish dying, then say so
            except subprocess.TimeoutExpired:
                pass
            self.assert_alive(f"POST {path} raised {e!r}")
            self.fail(f"POST {path}: no answer within {TIMEOUT}s or connection lost: {e!r}"
                      + self.log())

    def new_user(self):
        uid = str(uuid.uuid4())
        return uid, {"user_id": uid, "username": "full-" + uid[:8], "email": unique_email("full")}

    def post_utterance(self, body, expect_new=True):
        """Returns the status; records a 201 as acknowledged, checks a 503."""
        self.ledger.bodies[body["utterance_id"]] = body
        resp = self.post("/v1/utterances", wire(body))
        st, _, out = resp
        if st == 201:
            if expect_new:
                self.assertIs(out.get("replayed"), False,
                              f"utterance {body['utterance_id']}: {out!r}")
            self.ledger.acked.add(body["utterance_id"])
            self.ledger.refused.pop(body["utterance_id"], None)
        elif st == 503:
            self.assert_unavailable(resp, "POST /v1/utterances")
        return st, out

    def check_refused_absent(self, L, what):
        """Every user and conversation whose creation got a 503 is absent (404)."""
        for uid in L.refused_users:
            st, _, out = self.c.get(f"/v1/users/{uid}")
            self.assertEqual(st, 404, f"user {uid} got 503 but exists {what}: {out!r}")
        for cid in L.refused_convs:
            st, _, out = self.c.get(f"/v1/conversations/{cid}")
            self.assertEqual(st, 404, f"conversation {cid} got 503 but exists {what}: {out!r}")

    def check_reads(self, users, what):
        """Profiles, practice and conversations read with 200 and show exactly
        what was acknowledged."""
        want = self.ledger.counts()
        for uid, cid in users:
            got = top_counts(self.c, uid)
            self.assertEqual(got, want.get(uid, {}), f"{what}: error counts of {uid}" + self.log())
            st, _, ex = self.c.get(f"/generate-exercise?user_id={uid}&top_n=5")
            self.assertEqual(st, 200, f"{what}: GET /generate-exercise: {ex!r}")
            top = {e["errorSubCategory"] for e in ex["top_errors"]}
            self.assertTrue(top and len(top) <= 5, f"{what}: top_errors {ex!r}")
            st, _, view = self.c.get(f"/v1/conversations/{cid}")
            self.assertEqual(st, 200, f"{what}: GET /v1/conversations/{cid}: {view!r}")
            stored = {u["utterance_id"]: u for u in view["utterances"]}
            want_ids = self.ledger.conv_utterances(cid)
            self.assertEqual(set(stored) - want_ids, set(),
                             f"{what}: utterances stored that were never acknowledged "
                             f"(refused: {[self.ledger.refused.get(u) for u in set(stored) - want_ids]})")
            self.assertEqual(want_ids - set(stored), set(),
                             f"{what}: acknowledged utterances missing from {cid}")
            for u, rec in stored.items():
                self.assertEqual(len(rec["errors"]), len(self.ledger.bodies[u]["errors"]),
                                 f"{what}: utterance {u} half stored")

    # -- the test

    def test_disk_full_then_space_back(self):
        L = self.ledger

        # 1. Learners and their utterances, every write acknowledged.
        users = []
        for i in range(LEARNERS):
            uid, body = self.new_user()
            st, _, out = self.post("/v1/users", body)
            self.assertEqual(st, 201, out)
            L.users[uid] = True
            cid = str(uuid.uuid4())
            st, _, out = self.post("/v1/conversations", {"conversation_id": cid, "user_id": uid})
            self.assertEqual(st, 201, out)
            L.convs[cid] = (uid, True)
            users.append((uid, cid))
            for k in range(BASELINE_UTTERANCES):
                st, out = self.post_utterance(utterance(uid, cid, i + k, f"base {i}.{k}"))
                self.assertEqual(st, 201, out)
        lines = []
        for i, (uid, cid) in enumerate(users):
            b = utterance(uid, cid, i, f"ingest {i}")
            L.bodies[b["utterance_id"]] = b
            lines.append(json.dumps(wire(b)))
        st, _, out = self.post("/v1/ingest", raw="\n".join(lines) + "\n")
        self.assertEqual(st, 200, out)
        self.assertEqual((out["applied"], out["rejected"]), (len(lines), 0), out)
        for r in out["results"]:
            L.acked.add(r["utterance_id"])
        self.check_reads(users, "before the disk is full")

        # 2. The filesystem fills up.
        fill(self.fillers[0])
        free = os.statvfs(self.mnt)
        self.assertEqual(free.f_bavail, 0, "the filler did not take all the space")

        # 3. Writes of every kind while the disk is full.
        statuses = Counter()
        bad = []            # (what, status, body): anything but 2xx or 503
        edge = []           # writes acknowledged while the disk was full
        for n in range(FULL_WRITES):
            fill(self.fillers[1])     # take again what the store may have freed
            kind = ("utterance", "utterance", "ingest", "user", "conversation", "utterance")[n % 6]
            uid, cid = users[n % len(users)]
            if kind == "utterance":
                b = utterance(uid, cid, n, f"full {n}")
                st, out = self.post_utterance(b)
                if st == 503:
                    L.refused[b["utterance_id"]] = f"POST /v1/utterances #{n}"
                elif st == 201:
                    edge.append(("utterance", b["utterance_id"]))
            elif kind == "ingest":
                bs = [utterance(u, c, n + j, f"full ingest {n}.{j}")
                      for j, (u, c) in enumerate(users[:3])]
                for b in bs:
                    L.bodies[b["utterance_id"]] = b
                resp = self.post("/v1/ingest", raw="".join(json.dumps(wire(b)) + "\n" for b in bs))
                st, _, out = resp
                if st == 503:
                    self.assert_unavailable(resp, "POST /v1/ingest")
                    for b in bs:
                        L.refused[b["utterance_id"]] = f"POST /v1/ingest #{n}"
                elif st == 200:
                    self.assertEqual((out["applied"], out["rejected"]), (len(bs), 0), out)
                    for r in out["results"]:
                        L.acked.add(r["utterance_id"])
                        edge.append(("ingest", r["utterance_id"]))
            elif kind == "user":
                new_uid, body = self.new_user()
                resp = self.post("/v1/users", body)
                st, _, out = resp
                if st == 503:
                    self.assert_unavailable(resp, "POST /v1/users")
                    L.refused_users.add(new_uid)
                elif st == 201:
                    L.users[new_uid] = True
                    edge.append(("user", new_uid))
            else:
                new_cid = str(uuid.uuid4())
                resp = self.post("/v1/conversations", {"conversation_id": new_cid, "user_id": uid})
                st, _, out = resp
                if st == 503:
                    self.assert_unavailable(resp, "POST /v1/conversations")
                    L.refused_convs.add(new_cid)
                elif st == 201:
                    L.convs[new_cid] = (uid, True)
                    edge.append(("conversation", new_cid))
            statuses[(kind, st)] += 1
            if not (200 <= st < 300 or st == 503):
                bad.append((kind, st, out))
            self.assert_alive(f"after write #{n} ({kind}) on a full disk")
        print(f"disk full: {dict(statuses)}; acknowledged at the edge: {len(edge)}",
              file=sys.stderr)
        self.assertEqual(bad, [], "writes on a full disk must answer 503 (or 2xx at the edge)"
                         + self.log())
        refused = sum(v for (k, st), v in statuses.items() if st == 503)
        self.assertGreaterEqual(refused, FULL_WRITES * 3 // 4,
                                f"the store did not hit the full disk: {dict(statuses)}")
        st, _, ready = self.c.get("/readyz")
        print(f"GET /readyz while full: {st} {ready!r}"[:300], file=sys.stderr)
        five = {k: v for k, v in server_errors(self.server).items() if k[1] != "503"}
        self.assertEqual(five, {}, "5xx other than 503 while the disk was full" + self.log())

        # 4. Reads keep working, and show exactly what was acknowledged.
        self.check_reads(users, "while the disk is full")
        self.check_refused_absent(L, "while the disk is full")
        self.assert_alive("reads on a full disk")

        # 5. Space is back: writes succeed again. Half of the refused
        # utterances are retried with their ids: applied now, not replayed.
        for f in self.fillers:
            os.unlink(f)
        t_space = time.monotonic()
        retry = sorted(L.refused)[: len(L.refused) // 2]
        keep_refused = set(L.refused) - set(retry)
        first_ok = None
        recovery_statuses = Counter()
        i = 0
        while i < len(retry):
            if time.monotonic() > t_space + RECOVERY:
                self.fail(f"writes still fail {RECOVERY}s after space came back: "
                          f"{dict(recovery_statuses)}" + self.log())
            st, out = self.post_utterance(L.bodies[retry[i]])
            recovery_statuses[st] += 1
            if st == 201:
                if first_ok is None:
                    first_ok = time.monotonic() - t_space
                i += 1
            elif st == 503:
                time.sleep(0.2)
            else:
                self.fail(f"retry after space came back: {st} {out!r}" + self.log())
        print(f"space back: first write acknowledged after {first_ok:.2f}s; "
              f"retried {len(retry)} refused utterances {dict(recovery_statuses)}",
              file=sys.stderr)
        for uid, cid in users:    # and new writes go through at once
            st, out = self.post_utterance(utterance(uid, cid, 7, "after"))
            self.assertEqual(st, 201, f"a new write after recovery: {out!r}" + self.log())
        if L.refused_users:
            uid = sorted(L.refused_users)[0]
            st, _, out = self.post("/v1/users", {"user_id": uid, "username": "full-" + uid[:8],
                                                 "email": unique_email("full")})
            self.assertEqual((st, out.get("replayed")), (201, False), out)
            L.refused_users.discard(uid)
            L.users[uid] = True
        self.check_reads(users, "after space came back")
        five = {k: v for k, v in server_errors(self.server).items() if k[1] != "503"}
        self.assertEqual(five, {}, "5xx other than 503" + self.log())

        # 6. A clean restart on the same data dir: all acknowledged, nothing refused.
        self.c.close()
        self.server.stop()        # asserts exit code 0
        self.server.start()
        self.check_reads(users, "after the restart")
        for uid in L.users:
            st, _, out = self.c.get(f"/v1/users/{uid}")
            self.assertEqual(st, 200, f"acknowledged user {uid} after the restart: {out!r}")
        for cid, (uid, _) in L.convs.items():
            st, _, out = self.c.get(f"/v1/conversations/{cid}")
            self.assertEqual(st, 200, f"acknowledged conversation {cid}: {out!r}")
            self.assertEqual({u["utterance_id"] for u in out["utterances"]},
                             L.conv_utterances(cid), f"utterances of {cid} after the restart")
        self.check_refused_absent(L, "after the restart")
        self.assertTrue(keep_refused.isdisjoint(L.acked))
        print(f"after restart: {len(L.acked)} acknowledged utterances exact, "
              f"{len(keep_refused)} refused ones absent", file=sys.stderr)
        five = server_errors(self.server)
        self.assertEqual(five, {}, "5xx after the restart" + self.log())


if __name__ == "__main__":
    main()
