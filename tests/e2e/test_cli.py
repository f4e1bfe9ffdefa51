"""Command-line arguments the binary refuses before it touches a store.

Bad usage exits 2, whichever check finds it (CLI11's own, or a command's),
and makes no store: no file or directory appears in the data dir.
"""
import os
import subprocess
import tempfile
import unittest

from harness import BIN, Server, StoreServer, expect, main, v1_user


def run(*args, timeout=60):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)


class HalfLife(unittest.TestCase):
    def test_a_half_life_that_is_not_a_positive_finite_number_is_refused(self):
        # 0 made NaN scores and refused writes; a huge one overflowed.
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:{os.path.join(tmp, 'a.db')}"
            other = f"sqlite:{os.path.join(tmp, 'b.db')}"
            commands = [
                ["serve", "--data-dir", tmp, "--listen", "127.0.0.1:1"],
                ["copy", "--no-progress", "--from", db, "--to", other],
                ["compare", "--no-progress", "--from", db, "--to", other],
                ["backup", "--no-progress", "--store", db, "--to", os.path.join(tmp, "c.db")],
                ["import", "m2", os.path.join(tmp, "x.m2"), "--no-progress", "--store", db],
            ]
            for command in commands:
                for days in ("0", "-1", "nan", "inf", "1e300", "36501", "x", ""):
                    with self.subTest(command=command[0], days=days):
                        proc = run(*command, "--half-life-days", days)
                        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                        self.assertIn("--half-life-days", proc.stderr)
                        if days not in ("x", ""):  # CLI11 says why for those
                            self.assertIn("above 0 and at most 36500", proc.stderr)
                # 1e-12 days is 0 microseconds: a division by zero (NaN scores).
                with self.subTest(command=command[0], days="1e-12"):
                    proc = run(*command, "--half-life-days", "1e-12")
                    self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                    self.assertIn("at least one second", proc.stderr)
            self.assertEqual(sorted(os.listdir(tmp)), [])  # no store was made

    def test_a_fractional_half_life_serves(self):
        server = Server(extra_args=("--half-life-days", "0.5"))
        try:
            c = server.client()
            user = v1_user(c)
            conv = expect(c.post("/v1/conversations", {"user_id": user["user_id"]}), 201)
            for _ in range(2):
                expect(c.post("/v1/utterances", {
                    "user_id": user["user_id"], "conversation_id": conv["conversation_id"],
                    "content": "She go.", "errors": [{"code": "R:VERB:SVA"}]}), 201)
            top = expect(c.get(f"/v1/users/{user['user_id']}/errors/top"), 200)
            self.assertEqual(top["errors"][0]["frequency"], 2, top)
            self.assertGreater(top["errors"][0]["recent_score"], 0, top)
            server.stop()
        finally:
            server.cleanup()


class ServeOptions(unittest.TestCase):
    """serve's options are checked before the store is opened (or made, or
    upgraded). Each case would otherwise start a server: the run's timeout
    then fails the test."""

    def refused(self, *args, says):
        with tempfile.TemporaryDirectory() as tmp:
            listen = () if "--listen" in args else ("--listen", "127.0.0.1:0")
            proc = run("serve", "--data-dir", tmp, *listen, *args, timeout=15)
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertIn(says, proc.stderr)
            self.assertEqual(os.listdir(tmp), [], "a store was made")

    def test_writer_sizes_must_be_at_least_one(self):
        # --max-batch 0 read as "stopping" to the writer: its thread ended,
        # and every write waited for ever while /readyz said ready.
        for flag in ("--max-batch", "--queue-capacity", "--queue-ops-capacity"):
            for value in ("0", "-1", "1x", "1.5"):
                with self.subTest(flag=flag, value=value):
                    self.refused(flag, value, says=flag)

    def test_a_port_must_be_all_digits(self):
        for listen in ("127.0.0.1:0x", "127.0.0.1:0 ", "127.0.0.1:", "127.0.0.1:65536",
                       "127.0.0.1:-0", "127.0.0.1:+0", "127.0.0.1"):
            with self.subTest(listen=listen):
                self.refused("--listen", listen, says="bad --listen")

    def test_an_idle_timeout_is_at_most_a_day(self):
        for value in ("1e19", "86401", "nan", "inf", "0", "-1"):
            with self.subTest(value=value):
                self.refused("--idle-timeout-s", value, says="--idle-timeout-s")

    def test_threads_and_cache_memory_are_bounded(self):
        # -1 threads were read as the default; 2^44 MiB overflowed the
        # cache's bytes to a small number.
        for flag, value in (("--threads", "-1"), ("--threads", "1025"),
                            ("--cache-mb", "17592186044416"), ("--cache-mb", "-1")):
            with self.subTest(flag=flag, value=value):
                self.refused(flag, value, says=flag)

    def test_a_bad_cache_url_is_refused_before_the_store_opens(self):
        self.refused("--cache", "memcached://127.0.0.1", says="bad --cache")

    def test_an_unknown_option_is_bad_usage(self):
        self.refused("--no-such-option", says="--no-such-option")


class StorePaths(unittest.TestCase):
    """One embedded store is one store however its path is spelt."""

    def test_one_rocksdb_directory_spelt_two_ways_is_the_same_store(self):
        with tempfile.TemporaryDirectory() as tmp:
            store = os.path.join(tmp, "r")
            with StoreServer(f"rocksdb:{store}") as server:
                v1_user(server.client())
            for command in ("compare", "copy"):
                for other in (store + "/", os.path.join(tmp, ".", "x", "..", "r")):
                    with self.subTest(command=command, other=other):
                        proc = run(command, "--no-progress", "--from", f"rocksdb:{store}",
                                   "--to", f"rocksdb:{other}")
                        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                        self.assertIn("same store", proc.stderr)

    def test_a_trailing_slash_keeps_the_warm_restart_file_beside_the_store(self):
        with tempfile.TemporaryDirectory() as tmp:
            store = os.path.join(tmp, "r")
            with StoreServer(f"rocksdb:{store}/") as server:
                c = server.client()
                user = v1_user(c)["user_id"]
                expect(c.get(f"/v1/users/{user}/errors/top"), 200, "a cached learner")
            self.assertFalse(os.path.exists(os.path.join(store, ".hot-learners")),
                             "written inside the RocksDB directory")
            self.assertTrue(os.path.exists(store + ".hot-learners"), sorted(os.listdir(tmp)))


if __name__ == "__main__":
    main()
