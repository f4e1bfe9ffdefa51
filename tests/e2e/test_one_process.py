"""One process per embedded store: a second server (or a copy) on the data
dir a server holds is refused, because each process's cache assumes it is
the store's only writer (docs/write-path.md, "One process per store")."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import BIN, STORE, Server, free_port, main, new_uuid, top_counts

EMBEDDED = STORE in ("", "rocksdb:")


@unittest.skipUnless(EMBEDDED, "PostgreSQL is shared by design: nodes on one database are the "
                               "multi-node set-up (test_multinode.py)")
class OneProcessPerStore(unittest.TestCase):

    def test_a_second_server_on_the_same_data_dir_is_refused(self):
        first = Server()
        try:
            c = first.client()
            uid = new_uuid()

            def one_error():
                st, _, out = c.post("/v1/ingest", raw=json.dumps({
                    "user_id": uid, "conversation_id": new_uuid(), "errors": [{"code": "DET"}]}))
                self.assertEqual((st, out["applied"]), (200, 1), out)

            one_error()
            cmd = [BIN, "serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", first.data_dir]
            if STORE:
                cmd += ["--store", STORE]
            second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            self.assertNotEqual(second.returncode, 0, second.stderr[-2000:])
            self.assertIn("is a server running on it? stop it first", second.stderr)
            # The first goes on, its learner intact.
            self.assertEqual(sum(top_counts(c, uid).values()), 1)
            one_error()
            self.assertEqual(sum(top_counts(c, uid).values()), 2)
            # A copy from it is refused the same way, and writes nothing.
            with tempfile.TemporaryDirectory(prefix="errata-e2e-copy-") as target:
                src = f"sqlite:{first.data_dir}/errata.db" if not STORE else f"rocksdb:{first.data_dir}/rocksdb"
                copy = subprocess.run([BIN, "copy", "--from", src, "--to", f"sqlite:{target}/copy.db"],
                                      capture_output=True, text=True, timeout=60)
                self.assertNotEqual(copy.returncode, 0, copy.stdout + copy.stderr)
                self.assertIn("stop it first", copy.stdout + copy.stderr)
                self.assertEqual(os.listdir(target), [])
            first.stop()
            # Stopped, the data dir is free again.
            again = Server(data_dir=first.data_dir)
            try:
                self.assertEqual(sum(top_counts(again.client(), uid).values()), 2)
                again.stop()
            finally:
                again.cleanup()
        finally:
            first.cleanup()


if __name__ == "__main__":
    main()
