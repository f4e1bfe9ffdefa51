"""Warm restart (docs/warm-restart.md): the learners cached at a clean shutdown
are loaded back in the background after the next start, so their first reads
come from memory and answer what was written. With PostgreSQL (a shared store,
nodes with a TTL) nothing is saved or preloaded."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import STORE, Server, main, new_uuid, top_counts, v1_conversation, v1_user

LEARNERS = 12
CODES = ["PREP", "DET", "VERB:SVA"]
EMBEDDED = not STORE.startswith(("postgres://", "postgresql://"))


class WarmRestart(unittest.TestCase):

    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)

    def metric(self, c, name):
        st, _, text = c.get("/metrics")
        self.assertEqual(st, 200)
        return float(re.search(rf"(?m)^{name} (\S+)$", text).group(1))

    def write_learners(self, c):
        """LEARNERS learners with 1..3 errors each; returns {user_id: expected top counts}."""
        want = {}
        for i in range(LEARNERS):
            uid = v1_user(c)["user_id"]
            cid = v1_conversation(c, uid)["conversation_id"]
            errors = [{"code": CODES[j % len(CODES)]} for j in range(1 + i % 3)]
            st, _, out = c.post("/v1/utterances", {"user_id": uid, "conversation_id": cid,
                                                   "content": "x", "errors": errors})
            self.assertEqual(st, 201, out)
            want[uid] = top_counts(c, uid)
            self.assertEqual(sum(want[uid].values()), 1 + i % 3)
        return want

    def wait_preloaded(self, c, n):
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.metric(c, "errata_profile_cache_preloaded_total") >= n:
                return
            time.sleep(0.05)
        self.fail(f"fewer than {n} learners preloaded in 20 s")

    def test_cached_learners_are_read_from_memory_after_a_clean_restart(self):
        want = self.write_learners(self.srv.client())
        self.srv.restart()  # SIGTERM, then the same data dir
        c = self.srv.client()
        if not EMBEDDED:
            time.sleep(0.5)
            self.assertEqual(self.metric(c, "errata_profile_cache_preloaded_total"), 0)
            return
        self.wait_preloaded(c, LEARNERS)
        misses = self.metric(c, "errata_profile_cache_misses_total")
        for uid, counts in want.items():
            self.assertEqual(top_counts(c, uid), counts, uid)
        self.assertEqual(self.metric(c, "errata_profile_cache_misses_total"), misses)
        # Writes after the preload still land on the cached profiles.
        uid = next(iter(want))
        cid = v1_conversation(c, uid)["conversation_id"]
        st, _, out = c.post("/v1/utterances", {"user_id": uid, "conversation_id": cid,
                                               "content": "y", "errors": [{"code": "PREP"}]})
        self.assertEqual(st, 201, out)
        want[uid]["prepositions"] = want[uid].get("prepositions", 0) + 1
        self.assertEqual(top_counts(c, uid), want[uid])
        # The counter does move: a learner nobody cached is a miss.
        self.assertIsNone(top_counts(c, new_uuid()))
        self.assertEqual(self.metric(c, "errata_profile_cache_misses_total"), misses + 1)

    def test_no_warm_restart_starts_cold(self):
        want = self.write_learners(self.srv.client())
        self.srv.stop()
        cold = Server(data_dir=self.srv.data_dir, extra_args=["--no-warm-restart"])
        self.addCleanup(cold.cleanup)
        c = cold.client()
        time.sleep(0.5)
        self.assertEqual(self.metric(c, "errata_profile_cache_preloaded_total"), 0)
        uid, counts = next(iter(want.items()))
        misses = self.metric(c, "errata_profile_cache_misses_total")
        self.assertEqual(top_counts(c, uid), counts)
        self.assertEqual(self.metric(c, "errata_profile_cache_misses_total"), misses + 1)


if __name__ == "__main__":
    main()
