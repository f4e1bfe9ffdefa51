"""kill -9 under load: every acknowledged write survives the restart, nothing is
half-written, and the frequencies agree with the errors table."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, main
from workload import Workload, user_counts

LOAD_SECONDS = 1.2
ROUNDS = 2


class Durability(unittest.TestCase):

    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)

    def test_kill9_under_load(self):
        srv = self.srv
        load = Workload(v1_threads=16, seed_threads=8)
        load.setup(srv.client())
        for rnd in range(ROUNDS):
            load.start(srv.port)
            time.sleep(LOAD_SECONDS)
            srv.kill9()
            load.join(self)
            self.assertGreater(len(load.acked_utterances), 0, "no load was acknowledged")
            srv.start()  # same data dir, same port
            api = load.verify(self, srv)
            print(f"\nround {rnd + 1}: {load.summary(sum(api.values()))}", file=sys.stderr)
        self.assertEqual(set(load.statuses) - {200, 201}, set(), load.statuses)

        # A client that retries everything after the crash gets exactly-once.
        c = srv.client()
        for utt, body in load.bodies.items():
            st, _, out = c.post("/v1/utterances", body)
            self.assertIn(st, (200, 201), out)
            if utt in load.acked_utterances:
                self.assertEqual((st, out["replayed"]), (200, True), utt)
        for uid, cid in load.v1_users:
            st, _, top = c.get(f"/v1/users/{uid}/errors/top?n=100")
            self.assertEqual({e["subcategory_id"]: e["frequency"] for e in top["errors"]},
                             user_counts(load.attempted, uid))
        srv.stop()


if __name__ == "__main__":
    main()
