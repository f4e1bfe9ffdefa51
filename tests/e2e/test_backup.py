"""`errata backup --to PATH`: a backup of the embedded store a server is serving on.

Clients write utterances while `errata backup` runs beside the server. A server
on the backup must hold every utterance acknowledged before the backup began,
nothing that was never acknowledged, and profiles that agree with the records
it holds (the backup is one moment of the store). The live store loses nothing.
A backup refuses a path that exists, a store that is not there, and
PostgreSQL, and leaves nothing behind when it fails.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (BIN, STORE, Server, StoreServer, expect, main, new_uuid, top_counts,
                     v1_conversation, v1_user)

ROCKSDB = STORE.startswith("rocksdb:")
POSTGRES = STORE.startswith("postgres")
CODES = ["R:VERB:SVA", "M:DET"]  # two errors in every utterance


def run_backup(*args):
    return subprocess.run([BIN, "backup", "--no-progress", *args], capture_output=True, text=True,
                          timeout=300)


def backup_url(path):
    return ("rocksdb:" if ROCKSDB else "sqlite:") + path


@unittest.skipIf(POSTGRES, "PostgreSQL is backed up with its own tools")
class BackupUnderWrites(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="errata-backup-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.server = Server()
        self.addCleanup(self.server.cleanup)

    def store_args(self):
        return ["--data-dir", self.server.data_dir] + (["--store", STORE] if STORE else [])

    def test_a_backup_holds_every_write_acknowledged_before_it(self):
        c = self.server.client()
        learners = []
        for _ in range(12):
            uid = v1_user(c)["user_id"]
            learners.append((uid, v1_conversation(c, uid)["conversation_id"]))
        acked = []  # (learner index, utterance id, monotonic time of the answer)
        lock = threading.Lock()
        stop = threading.Event()
        failures = []

        def write(t):
            client = self.server.client()
            i = t
            while not stop.is_set():
                uid, conv = learners[i % len(learners)]
                utt = new_uuid()
                st, _, body = client.post("/v1/utterances", {
                    "user_id": uid, "conversation_id": conv, "utterance_id": utt,
                    "content": "She go to the school.", "errors": [{"code": k} for k in CODES]})
                if st != 201:
                    failures.append((st, body))
                    return
                with lock:
                    acked.append((i % len(learners), utt, time.monotonic()))
                i += 1

        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        try:
            while len(acked) < 300 and not failures:
                time.sleep(0.01)
            began = time.monotonic()
            path = os.path.join(self.tmp, "backup")
            args = ["--to", path] + (["--verify"] if ROCKSDB else [])
            done = run_backup(*self.store_args(), *args)
            ended = len(acked)
            time.sleep(0.2)  # and writes go on after it
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertRegex(done.stdout, r"^backed up (sqlite|rocksdb):\S+ to (sqlite|rocksdb):" +
                         path.replace("/", r"\/"))
        if ROCKSDB:
            # Named by where the backup is, not by PATH.partial, where it was compared.
            self.assertRegex(done.stdout, r"same records in \S+ and rocksdb:" + re.escape(path) + ": ")
        else:
            self.assertRegex(done.stdout, r"checked in [0-9.]+ s")
        self.assertGreater(len(acked), ended, "no write was acknowledged after the backup")
        self.assertEqual(sorted(os.listdir(self.tmp)), ["backup"], "a .partial was left")
        before = {u for _, u, t in acked if t < began}
        every = {u for _, u, _ in acked}
        self.server.stop()

        held = set()
        with StoreServer(backup_url(path)) as restored:
            rc = restored.client()
            for i, (uid, conv) in enumerate(learners):
                view = expect(rc.get(f"/v1/conversations/{conv}"), 200, "conversation")
                mine = {u["utterance_id"] for u in view["utterances"]}
                held |= mine
                # The profile agrees with the records: both are of one moment.
                counts = top_counts(rc, uid) or {}
                self.assertEqual(sum(counts.values()), len(CODES) * len(mine), uid)
            # The backup is a store to serve on: it takes writes.
            uid, conv = learners[0]
            expect(rc.post("/v1/utterances", {"user_id": uid, "conversation_id": conv,
                                              "utterance_id": new_uuid(), "content": "x",
                                              "errors": [{"code": "M:DET"}]}), 201, "write")
        self.assertEqual(before - held, set(), "acknowledged before the backup, not in it")
        self.assertEqual(held - every, set(), "in the backup, never acknowledged")
        self.assertLess(len(held), len(every), "the backup holds the writes made after it")

        # The live store lost nothing.
        self.server.start()
        c = self.server.client()
        live = set()
        for uid, conv in learners:
            live |= {u["utterance_id"] for u in
                     expect(c.get(f"/v1/conversations/{conv}"), 200, "conversation")["utterances"]}
        self.assertEqual(live, every)


class BackupRefusals(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="errata-backup-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_postgresql_is_refused(self):
        done = run_backup("--store", "postgres://errata@127.0.0.1:1/errata", "--to",
                          os.path.join(self.tmp, "b"))
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("pg_dump", done.stderr)
        self.assertEqual(os.listdir(self.tmp), [])

    @unittest.skipIf(POSTGRES, "PostgreSQL is backed up with its own tools")
    def test_a_path_that_exists_is_refused_and_left_as_it_is(self):
        with Server() as server:
            v1_user(server.client())
            taken = os.path.join(self.tmp, "taken")
            with open(taken, "w") as f:
                f.write("mine")
            args = ["--data-dir", server.data_dir] + (["--store", STORE] if STORE else [])
            done = run_backup(*args, "--to", taken)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn("already exists", done.stderr)
            with open(taken) as f:
                self.assertEqual(f.read(), "mine")
            # --to naming the store itself
            store = os.path.join(server.data_dir, "rocksdb" if ROCKSDB else "errata.db")
            done = run_backup(*args, "--to", store)
            self.assertEqual(done.returncode, 2, done.stderr)
            # A dangling symlink is there too: the backup's rename would
            # have replaced the link (SQLite) or failed after the whole copy.
            link = os.path.join(self.tmp, "link")
            os.symlink(os.path.join(self.tmp, "nowhere"), link)
            done = run_backup(*args, "--to", link)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn("already exists", done.stderr)
            self.assertTrue(os.path.islink(link))
            self.assertFalse(os.path.exists(os.path.join(self.tmp, "nowhere")))

    @unittest.skipIf(POSTGRES, "PostgreSQL is backed up with its own tools")
    def test_no_store_there_fails_and_leaves_nothing(self):
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        to = os.path.join(self.tmp, "b")
        args = ["--data-dir", empty] + (["--store", "rocksdb:"] if ROCKSDB else [])
        done = run_backup(*args, "--to", to)
        # Usage, as copy and compare answer a store that is not there.
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("no such store", done.stderr)
        self.assertEqual(os.listdir(self.tmp), ["empty"])
        self.assertEqual(os.listdir(empty), [])
        # A file that is not an errata store.
        other = os.path.join(self.tmp, "other.db")
        subprocess.run(["python3", "-c", "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]);"
                        "db.execute('create table t(x)'); db.commit()", other], check=True)
        done = run_backup("--store", "sqlite:" + other, "--to", to)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("not an errata store", done.stderr)
        self.assertFalse(os.path.exists(to))
        self.assertFalse(os.path.exists(to + ".partial"))


class BackupVerify(unittest.TestCase):
    """--verify on each embedded store, on a store of its own (whatever
    $ERRATA_STORE is), and "backed up" said only of a backup that is made."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="errata-backup-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_sqlite_verify_runs_the_full_integrity_check(self):
        # --verify was ignored on SQLite: the same quick_check ran.
        store = os.path.join(self.tmp, "errata.db")
        with StoreServer(f"sqlite:{store}") as server:
            v1_user(server.client())
            for verify, says in (((), "checked in"), (("--verify",), "verified (integrity_check) in")):
                to = os.path.join(self.tmp, f"b{len(verify)}.db")
                done = run_backup("--store", f"sqlite:{store}", "--to", to, *verify)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertIn(says, done.stdout)
                self.assertTrue(os.path.exists(to))

    def test_a_rocksdb_backup_that_is_not_made_is_not_said_to_be(self):
        # "backed up ... to rocksdb:PATH" came once the records were copied,
        # before --verify and the rename into PATH. Here PATH is a dangling
        # symbolic link, which a directory cannot replace: the rename failed
        # after the whole copy (session 26); since session 27 the link is
        # found before anything is copied.
        store = os.path.join(self.tmp, "r")
        with StoreServer(f"rocksdb:{store}") as server:
            v1_user(server.client())
            to = os.path.join(self.tmp, "backup")
            os.symlink(os.path.join(self.tmp, "nowhere"), to)
            done = run_backup("--store", f"rocksdb:{store}", "--to", to, "--verify")
            self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
            self.assertIn("already exists", done.stderr)
            self.assertNotIn("backed up", done.stdout)
            self.assertNotIn("same records", done.stdout)
            self.assertFalse(os.path.exists(to + ".partial"))
            # Once it can be made, it is said, with the comparison after it.
            os.unlink(to)
            done = run_backup("--store", f"rocksdb:{store}", "--to", to, "--verify")
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
            self.assertRegex(done.stdout, r"^backed up rocksdb:\S+ to rocksdb:" + re.escape(to)
                             + r": 1 users.*\nsame records in \S+ and rocksdb:" + re.escape(to))


if __name__ == "__main__":
    main()
