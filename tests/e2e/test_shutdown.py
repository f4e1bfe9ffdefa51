"""SIGTERM: the server drains what is in flight, exits 0, and every write it
acknowledged is there after a restart. Idle and half-sent connections do not
hold the exit up."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Client, Server, main, new_uuid, seed_triplet, simulate, top_counts,
                     v1_conversation, v1_user)
from workload import Workload

PROMPT_EXIT = 15.0  # seconds: well under any idle timeout of the server


def queue_depth(srv):
    c = Client(srv.port)
    try:
        st, _, text = c.get("/metrics")
    finally:
        c.close()
    m = re.search(r"(?m)^errata_write_queue_depth ([0-9.eE+]+)$", text)
    return float(m.group(1)) if m else -1


class Shutdown(unittest.TestCase):

    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)

    def test_sigterm_under_load(self):
        srv = self.srv
        load = Workload(v1_threads=16, seed_threads=8)
        load.setup(srv.client())
        for rnd in range(2):
            load.start(srv.port)
            time.sleep(0.8)
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            rc = srv.wait_exit(timeout=30)
            took = time.monotonic() - t0
            load.join(self)
            self.assertEqual(rc, 0, f"exit code after SIGTERM under load:\n{srv.log_tail()}")
            self.assertLess(took, PROMPT_EXIT, "shutdown took too long")
            self.assertGreater(len(load.acked_utterances), 0, "no load was acknowledged")
            # Writes refused while shutting down are 503s, never other errors.
            self.assertEqual(set(load.statuses) - {200, 201, 503}, set(), load.statuses)
            srv.start()
            api = load.verify(self, srv)
            print(f"\nround {rnd + 1} (exit in {took:.2f}s): {load.summary(sum(api.values()))}",
                  file=sys.stderr)
        srv.stop()

    def test_sigterm_answers_queued_writes(self):
        """Writes waiting in the group-commit queue at SIGTERM are committed and answered."""
        # The user and conversation first, on a normal server; then the same data dir
        # again with a writer that lingers 3 s to fill each group commit.
        srv = self.srv
        c = srv.client()
        uid = v1_user(c)["user_id"]
        cid = v1_conversation(c, uid)["conversation_id"]
        srv.stop()
        srv.extra_args = ["--flush-interval-us", "3000000", "--max-batch", "1000"]
        srv.start()
        results = {}
        lock = threading.Lock()
        bodies = [{"utterance_id": new_uuid(), "conversation_id": cid, "user_id": uid,
                   "content": f"queued {i}", "errors": [{"code": "PREP"}, {"code": "DET"}]}
                  for i in range(8)]

        def post(i):
            cl = Client(srv.port, retry_stale=False)
            try:
                st, _, out = cl.post("/v1/utterances", bodies[i])
                with lock:
                    results[i] = (st, out.get("replayed") if isinstance(out, dict) else out)
            except Exception as e:  # noqa: BLE001 - recorded
                with lock:
                    results[i] = (type(e).__name__, None)
            finally:
                cl.close()

        threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        # Wait until all 8 are queued (the writer lingers 3 s to fill the batch).
        deadline = time.monotonic() + 10
        while queue_depth(srv) < 8:
            self.assertLess(time.monotonic(), deadline, f"queued: {queue_depth(srv)}; {results}")
            time.sleep(0.02)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(timeout=30)
        for t in threads:
            t.join(timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, srv.log_tail())
        # No other connection is open: only these 8, all waiting for the commit.
        self.assertEqual(results, {i: (201, False) for i in range(8)},
                         f"queued writes not answered at shutdown (exit after {took:.1f}s)")
        self.assertLess(took, 8.0, "the drain did not end when the batch committed")
        srv.start()
        c = srv.client()
        self.assertEqual(top_counts(c, uid), {"prepositions": 8, "articles-determiners": 8})
        st, _, view = c.get(f"/v1/conversations/{cid}")
        self.assertEqual(sorted(u["utterance_id"] for u in view["utterances"]),
                         sorted(b["utterance_id"] for b in bodies))

    def test_sigterm_with_idle_keepalive_connection(self):
        srv = self.srv
        c = srv.client()
        ids = seed_triplet(c)
        self.assertEqual(simulate(c, ids, [("Grammar", "Pronouns")])[0], 200)
        idle = socket.create_connection(("127.0.0.1", srv.port))
        self.addCleanup(idle.close)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200", idle.recv(4096).split(b"\r\n")[0])  # kept alive, now idle
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(timeout=30)
        self.assertEqual(rc, 0, srv.log_tail())
        self.assertLess(time.monotonic() - t0, PROMPT_EXIT)
        srv.start()
        self.assertEqual(top_counts(srv.client(), ids[0]), {"pronouns": 1})

    def test_sigterm_with_half_sent_request(self):
        srv = self.srv
        c = srv.client()
        ids = seed_triplet(c)
        half = socket.create_connection(("127.0.0.1", srv.port))
        self.addCleanup(half.close)
        half.sendall(b"POST /simulate-and-generate HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 400\r\n\r\n"
                     b'{"user_id": "' + ids[0].encode() + b'", ')
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(timeout=30)
        self.assertEqual(rc, 0, srv.log_tail())
        self.assertLess(time.monotonic() - t0, PROMPT_EXIT)
        srv.start()
        c = srv.client()
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}")
        self.assertEqual((st, body), (404, {"detail": "No errors found for the given user"}))

    def test_sigterm_and_sigint_when_idle(self):
        srv = self.srv
        c = srv.client()
        ids = seed_triplet(c)
        self.assertEqual(simulate(c, ids, [("Vocabulary", "Word Choice")] * 2)[0], 200)
        for sig in (signal.SIGTERM, signal.SIGINT):
            t0 = time.monotonic()
            srv.signal(sig)
            rc = srv.wait_exit(timeout=30)
            self.assertEqual(rc, 0, f"{sig!r}: {srv.log_tail()}")
            self.assertLess(time.monotonic() - t0, 5.0)
            srv.start()  # the same port is free again at once
            c = srv.client()
            self.assertEqual(top_counts(c, ids[0]), {"word-choice": 2})
        srv.stop()

    def test_a_signal_while_starting_stops_it_cleanly(self):
        # A signal that comes while the server starts (data loading, store
        # opening) is held until it has started; it then stops as on any
        # SIGTERM. Before, it killed the process (exit -15), and a SIGTERM
        # right after the first /healthz answer could too.
        self.srv.stop()
        cmd = [a if a != "warn" else "info" for a in self.srv.command()]
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
            with open(self.srv.log_path, "w+b") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
                try:
                    deadline = time.monotonic() + 30
                    while b'"msg":"starting"' not in read_from(log, 0):
                        self.assertIsNone(proc.poll(), read_from(log, 0))
                        self.assertLess(time.monotonic(), deadline, "no \"starting\" line")
                        time.sleep(0.001)
                    proc.send_signal(sig)
                    rc = proc.wait(timeout=30)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                text = read_from(log, 0).decode(errors="replace")
                self.assertEqual(rc, 0, f"{sig!r}: {text}")
                self.assertIn('"msg":"stopped"', text)


def read_from(f, offset):
    f.seek(offset)
    return f.read()


if __name__ == "__main__":
    main()
