"""The profile cache's memory budget (--cache-mb, docs/profile-memory.md): a
cache over its budget evicts, stays within it, and every learner still reads
exactly what was written, evicted or not."""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, main, new_uuid, top_counts

BATCHES = 4
PER_BATCH = 1000
CODES = ["PREP", "DET", "R:VERB:SVA", "SPELL"]
BUDGET = 1 << 20  # --cache-mb 1


class CacheMemory(unittest.TestCase):

    def metric(self, c, name):
        st, _, text = c.get("/metrics")
        self.assertEqual(st, 200)
        return float(re.search(rf"(?m)^{name} (\S+)$", text).group(1))

    def test_a_cache_over_its_budget_evicts_and_counts_stay_exact(self):
        srv = Server(extra_args=["--cache-mb", "1"])
        self.addCleanup(srv.cleanup)
        c = srv.client()
        want = {}  # user_id: errors written, one per code
        for _ in range(BATCHES):
            lines = []
            for i in range(PER_BATCH):
                uid = new_uuid()
                n = 1 + i % len(CODES)
                want[uid] = n
                lines.append(json.dumps({"user_id": uid, "conversation_id": new_uuid(),
                                         "content": "x",
                                         "errors": [{"code": code} for code in CODES[:n]]}))
            st, _, out = c.post("/v1/ingest", raw=("\n".join(lines) + "\n").encode())
            self.assertEqual((st, out["applied"]), (200, PER_BATCH), out)
        for uid, n in want.items():
            counts = top_counts(c, uid)
            self.assertEqual((len(counts), sum(counts.values())), (n, n), uid)
        entries = self.metric(c, "errata_profile_cache_entries")
        held = self.metric(c, "errata_profile_cache_bytes")
        # 4,000 learners of ~0.7 KB do not fit in 1 MiB: some were evicted
        # and read back from the store, and the cache stayed within budget.
        self.assertLess(entries, len(want))
        self.assertGreater(entries, 500)
        self.assertGreater(held, 0)
        self.assertLessEqual(held, BUDGET)
        self.assertGreater(self.metric(c, "errata_profile_cache_misses_total"), 0)


if __name__ == "__main__":
    main()
