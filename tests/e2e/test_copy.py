"""`errata copy --from STORE --to STORE`: every record into another, empty store.

Learners are written over HTTP to a server on this run's store (SQLite, RocksDB
or PostgreSQL); the server stops, `errata copy` moves everything into a fresh
SQLite file and a fresh RocksDB directory, and a server on each copy must
answer every read about those learners exactly as the source did: users,
conversations, top points (counts, recency score, mastery at a fixed time),
timelines, practice, search. A replayed utterance is still a replay there, a
taken email still taken. A second copy into a store that now holds records
must refuse and change nothing.

`errata copy --verify` and `errata compare` say the copy holds the source's
records; once the source takes a learner and an error more, compare names
those two records and exits 1.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (BIN, STORE, Server, StoreServer, days_ago, expect, iso, main, new_uuid,
                     seed_triplet, simulate, unique_email, v1_conversation, v1_user)

AS_OF = "2031-01-01T00:00:00Z"  # a fixed "now" for every time-dependent read

SUMMARY = re.compile(r"copied (?P<from>\S+) to (?P<to>\S+): (?P<users>\d+) users, "
                     r"(?P<conversations>\d+) conversations, (?P<utterances>\d+) utterances, "
                     r"(?P<errors>\d+) errors, (?P<attempts>\d+) attempts in [0-9.]+ s")


def close(a, b):
    """a == b, but floats need only agree to 1e-9 relative."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


SAME = re.compile(r"same records in (?P<from>\S+) and (?P<to>\S+): (?P<users>\d+) users, "
                  r"(?P<conversations>\d+) conversations, (?P<utterances>\d+) utterances, "
                  r"(?P<errors>\d+) errors, (?P<attempts>\d+) attempts \(compared in [0-9.]+ s\)")


def run_copy(*args):
    return subprocess.run([BIN, "copy", "--no-progress", *args], capture_output=True, text=True,
                          timeout=300)


def run_compare(*args):
    return subprocess.run([BIN, "compare", "--no-progress", *args], capture_output=True,
                          text=True, timeout=300)


def psql(url, sql):
    subprocess.run(["psql", "-q", "-X", url, "-c", sql], check=True, capture_output=True,
                   timeout=60)


class CopyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="errata-e2e-copy-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        source_dir = os.path.join(self.tmp, "source")
        os.mkdir(source_dir)
        if STORE.startswith("postgres"):
            # A database of its own, so the copy holds this test's learners only.
            db = "copy_" + uuid.uuid4().hex[:12]
            psql(STORE, f"CREATE DATABASE {db}")
            self.addCleanup(psql, STORE, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            self.source_store = STORE[:STORE.rindex("/") + 1] + db
        elif STORE == "rocksdb:":
            self.source_store = f"rocksdb:{os.path.join(source_dir, 'rocksdb')}"
        else:
            self.source_store = f"sqlite:{os.path.join(source_dir, 'errata.db')}"
        self.source = StoreServer(self.source_store, data_dir=source_dir)
        self.addCleanup(self.source.cleanup)

    def write_learners(self, c):
        """Three learners with every kind of record. Returns what to read back."""
        ann = v1_user(c, username="Ann Copy", email=unique_email("Ann.Copy"))
        conv = v1_conversation(c, ann["user_id"])["conversation_id"]
        utt_id = new_uuid()
        replayable = {"utterance_id": utt_id, "conversation_id": conv, "user_id": ann["user_id"],
                      "content": "She go to the school yesterday.",
                      "created_at": iso(days_ago(3)),
                      "errors": [{"code": "R:VERB:SVA", "original": "go", "correction": "goes",
                                  "span": {"start": 4, "end": 6}},
                                 {"category": "Grammar", "subcategory": "verb tense"}]}
        expect(c.post("/v1/utterances", replayable), 201, "POST /v1/utterances")
        for i in range(4):
            expect(c.post("/v1/utterances", {
                "conversation_id": conv, "user_id": ann["user_id"], "content": f"I has {i} cat.",
                "created_at": iso(days_ago(2 - i * 0.1)),
                "errors": [{"code": "R:VERB:SVA", "original": "has", "correction": "have"},
                           {"code": "R:SPELL", "original": "cat", "correction": "cats"}]}),
                   201, "POST /v1/utterances")
        # The original routes: a user, a conversation, an utterance and a simulated batch.
        bob, bob_conv, bob_utt = seed_triplet(c, "I goed.")
        expect(simulate(c, (bob, bob_conv, bob_utt), [("Grammar", "Verb Tense"),
                                                     ("Vocabulary", "Word Choice")]),
               200, "POST /simulate-and-generate")
        # Ingest: a learner and a conversation made on first sight.
        carl, carl_conv = new_uuid(), new_uuid()
        lines = [json.dumps({"user_id": carl, "conversation_id": carl_conv, "username": "carl-copy",
                             "content": f"He don't {i}.", "created_at": iso(days_ago(5 - i)),
                             "errors": [{"code": "R:VERB:SVA"}]}) for i in range(3)]
        out = expect(c.post("/v1/ingest", raw=("\n".join(lines) + "\n").encode(),
                            headers={"Content-Type": "application/x-ndjson"}), 200, "ingest")
        self.assertEqual(out["applied"], 3, out)
        # Practice: attempts, right and wrong, then an error on a practised point.
        items = expect(c.get(f"/v1/users/{ann['user_id']}/exercises?n=4"), 200, "exercises")
        for n, item in enumerate(items["exercises"][:3]):
            expect(c.post(f"/v1/users/{ann['user_id']}/attempts",
                          {"exercise_id": item["exercise_id"], "correct": n != 1}),
                   201, "POST attempt")
        expect(c.post("/v1/utterances", {
            "conversation_id": conv, "user_id": ann["user_id"], "content": "He have it.",
            "errors": [{"code": "R:VERB:SVA", "original": "have", "correction": "has"}]}),
               201, "POST /v1/utterances")
        return {"users": [ann["user_id"], bob, carl],
                "conversations": [conv, bob_conv, carl_conv],
                "ann_email": ann["email"], "replayable": replayable,
                "bob": (bob, bob_conv, bob_utt)}

    def reads(self, c, w):
        """Every read about the learners, as (path, status, body)."""
        out = []
        paths = []
        for uid in w["users"]:
            paths += [f"/v1/users/{uid}",
                      f"/v1/users/{uid}/errors/top?n=20&as_of={AS_OF}",
                      f"/v1/users/{uid}/errors/top?n=20&since=2020-01-01T00:00:00Z&as_of={AS_OF}",
                      f"/v1/users/{uid}/errors/timeline?days=30&as_of={AS_OF}",
                      f"/v1/users/{uid}/exercises?n=10&seed=42&as_of={AS_OF}"]
        paths += [f"/v1/conversations/{cid}" for cid in w["conversations"]]
        paths += ["/v1/users/search?q=ann%20copy", "/v1/users/search?q=carl-copy"]
        for path in paths:
            st, _, body = c.get(path)
            out.append((path, st, body))
        return out

    def assertSameReads(self, got, want):
        self.assertEqual(len(got), len(want))
        for (path, st, body), (_, want_st, want_body) in zip(got, want):
            self.assertEqual(st, want_st, path)
            # Recency scores are sums folded in the store's order: equal to
            # the last few bits. Everything else is equal exactly.
            if not close(body, want_body):
                self.assertEqual(body, want_body, path)  # shows the difference

    def test_a_copy_answers_as_the_source(self):
        c = self.source.client()
        w = self.write_learners(c)
        before = self.reads(c, w)
        for path, st, _ in before:
            self.assertEqual(st, 200, path)
        self.source.stop()
        source = self.source_store

        for target in (f"sqlite:{os.path.join(self.tmp, 'copy.db')}",
                       f"rocksdb:{os.path.join(self.tmp, 'copy-rocksdb')}"):
            with self.subTest(target=target):
                proc = run_copy("--from", source, "--to", target, "--batch", "7", "--verify")
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                self.assertRegex(proc.stdout, SAME)
                m = SUMMARY.search(proc.stdout)
                self.assertIsNotNone(m, proc.stdout)
                counts = {k: int(m.group(k))
                          for k in ("users", "conversations", "utterances", "errors", "attempts")}
                want = {"users": 3, "conversations": 3, "utterances": 10, "errors": 16,
                        "attempts": 3}
                self.assertEqual(counts, want)

                copy = StoreServer(target)
                try:
                    cc = copy.client()
                    self.assertSameReads(self.reads(cc, w), before)
                    st, _, body = cc.post("/v1/utterances", w["replayable"])
                    self.assertEqual(st, 200, body)  # a replay answers 200 with the stored one
                    changed = dict(w["replayable"], content="Something else.")
                    st, _, body = cc.post("/v1/utterances", changed)
                    self.assertEqual(st, 409, body)
                    st, _, body = cc.post("/v1/users", {"username": "x",
                                                        "email": w["ann_email"].upper()})
                    self.assertEqual(st, 409, body)
                    copy.stop()
                finally:
                    copy.cleanup()

                # The copy now holds records: a second copy into it refuses.
                again = run_copy("--from", source, "--to", target)
                self.assertEqual(again.returncode, 1, again.stdout)
                self.assertIn("already holds records", again.stderr)
                # The replay and the refused email above wrote nothing.
                proc = run_compare("--from", source, "--to", target)
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                m = SAME.search(proc.stdout)
                self.assertIsNotNone(m, proc.stdout)
                self.assertEqual({k: int(m.group(k)) for k in want}, want)

    def test_compare_names_what_the_source_took_after_the_copy(self):
        c = self.source.client()
        w = self.write_learners(c)
        self.source.stop()
        target = f"sqlite:{os.path.join(self.tmp, 'copy.db')}"
        proc = run_copy("--from", self.source_store, "--to", target)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # The source serves again (its copy was taken while it was stopped)
        # and takes a learner and one more error on an utterance it had.
        self.source.start()
        c = self.source.client()
        zoe = v1_user(c, username="Zoe Late", email=unique_email("zoe.late"))
        expect(simulate(c, w["bob"], [("Grammar", "Articles")]), 200,
               "POST /simulate-and-generate")
        self.source.stop()

        proc = run_compare("--from", self.source_store, "--to", target)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("the stores differ", proc.stdout)
        self.assertRegex(proc.stdout, r"--from \S+: 4 users, 3 conversations, 10 utterances, "
                                      r"17 errors, 3 attempts")
        self.assertRegex(proc.stdout, r"--to   \S+: 3 users, 3 conversations, 10 utterances, "
                                      r"16 errors, 3 attempts")
        differences = re.findall(r"^  (user|conversation|utterance|attempt) (\S+): (.+)$",
                                 proc.stdout, re.M)
        self.assertEqual(differences, [("user", zoe["user_id"], "only in --from"),
                                       ("utterance", w["bob"][2], "differs")])
        # Either way round.
        proc = run_compare("--from", target, "--to", self.source_store)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn(f"  user {zoe['user_id']}: only in --to", proc.stdout)

    def test_a_copy_keeps_an_erased_learners_id_taken(self):
        """The source's tombstones go with the copy (docs/erasure.md): the
        copy's summary counts them, and a late ingest line for the erased
        learner is refused by a server on the copy too."""
        c = self.source.client()
        gone = v1_user(c, username="Gone Copy", email=unique_email("gone.copy"))["user_id"]
        kept = v1_user(c, username="Kept Copy", email=unique_email("kept.copy"))["user_id"]
        expect(c.request("DELETE", f"/v1/users/{gone}"), 200, "erase")
        self.source.stop()
        target = f"sqlite:{os.path.join(self.tmp, 'copy.db')}"
        proc = run_copy("--from", self.source_store, "--to", target, "--verify")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"1 users, 0 conversations, 0 utterances, 0 errors, "
                                      r"0 attempts, 1 erased learners in ")
        self.assertRegex(proc.stdout, r"same records in .*, 1 erased learners \(compared")
        copy = StoreServer(target)
        try:
            cc = copy.client()
            expect(cc.get(f"/v1/users/{kept}"), 200, "the kept learner")
            line = json.dumps({"user_id": gone, "conversation_id": new_uuid(),
                               "content": "late", "errors": [{"code": "R:PREP"}]})
            out = expect(cc.post("/v1/ingest", raw=(line + "\n").encode()), 200, "ingest")
            self.assertEqual((out["applied"], out["rejected"]), (0, 1), out)
            self.assertEqual(out["results"][0]["error"]["code"], "conflict", out)
            self.assertEqual(cc.get(f"/v1/users/{gone}")[0], 404)
        finally:
            copy.cleanup()

    def test_bad_arguments(self):
        self.source.stop()
        db = f"sqlite:{os.path.join(self.tmp, 'same.db')}"
        proc = run_copy("--from", db, "--to", db)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("same store", proc.stderr)
        proc = run_copy("--from", db)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("--to", proc.stderr)
        proc = run_copy("--from", "mysql://x", "--to", f"sqlite:{os.path.join(self.tmp, 'b.db')}")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("--from", proc.stderr)
        proc = run_compare("--from", db, "--to", db)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("same store", proc.stderr)
        # A store that is not there is not made by comparing with it.
        missing = os.path.join(self.tmp, "missing.db")
        proc = run_compare("--from", db, "--to", f"sqlite:{missing}")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("no such store", proc.stderr)
        self.assertFalse(os.path.exists(missing))
        # Nor by copying from it: that made an empty store, copied nothing
        # and exited 0.
        for source in (f"sqlite:{missing}", f"rocksdb:{os.path.join(self.tmp, 'missing')}"):
            with self.subTest(source=source):
                target = os.path.join(self.tmp, "target.db")
                proc = run_copy("--from", source, "--to", f"sqlite:{target}")
                self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                self.assertIn("--from", proc.stderr)
                self.assertIn("no such store", proc.stderr)
                self.assertFalse(os.path.exists(missing))
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "missing")))
                self.assertFalse(os.path.exists(target))

    def test_from_defaults_to_the_servers_store(self):
        # As serve, import and backup take ERRATA_STORE and ERRATA_DATA_DIR,
        # so does copy's --from: with the server's environment, a copy
        # copies the server's store (it copied an empty SQLite file).
        c = self.source.client()
        v1_user(c, username="Env Copy", email=unique_email("env.copy"))
        self.source.stop()
        target = f"sqlite:{os.path.join(self.tmp, 'copy.db')}"
        env = dict(os.environ, ERRATA_STORE=self.source_store,
                   ERRATA_DATA_DIR=os.path.join(self.tmp, "elsewhere"))
        proc = subprocess.run([BIN, "copy", "--no-progress", "--to", target, "--verify"],
                              capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        m = SUMMARY.search(proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        self.assertEqual(m.group("users"), "1", proc.stdout)
        self.assertRegex(proc.stdout, SAME)

    def test_a_rocksdb_store_in_use_is_named(self):
        self.source.stop()
        rocks = f"rocksdb:{os.path.join(self.tmp, 'busy')}"
        busy = StoreServer(rocks)
        try:
            proc = run_copy("--from", rocks, "--to", f"sqlite:{os.path.join(self.tmp, 'c.db')}")
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn("is a server running on it? stop it first", proc.stderr)
            busy.stop()
        finally:
            busy.cleanup()


if __name__ == "__main__":
    main()
