"""A write load for the crash and shutdown tests: threads post /v1/utterances
(client utterance ids) and /simulate-and-generate until told to stop or until
their connection fails, and keep a ledger of what was sent and acknowledged.
verify() then checks a restarted server against the ledger."""

import random
import threading
import time
from collections import Counter

from harness import Client, new_uuid, seed_triplet, v1_conversation, v1_user

LABELS = [
    ("Grammar", "Subject-Verb Agreement", "subject-verb-agreement"),
    ("Grammar", "Verb Tense", "verb-tense"),
    ("Grammar", "Articles & Determiners", "articles-determiners"),
    ("Grammar", "Prepositions", "prepositions"),
    ("Vocabulary", "Word Choice", "word-choice"),
    ("Mechanics", "Spelling", "spelling"),
    ("Fluency", "Filler Words", "filler-words"),
]


def user_counts(counter, uid):
    return {s: n for (u, s), n in counter.items() if u == uid and n}


class Workload:
    """What the clients sent and what the server acknowledged."""

    def __init__(self, v1_threads=16, seed_threads=8):
        self.v1_threads, self.seed_threads = v1_threads, seed_threads
        self.lock = threading.Lock()
        self.attempted = Counter()          # (user_id, subcategory_id) -> errors sent
        self.acked = Counter()              # (user_id, subcategory_id) -> errors acknowledged
        self.bodies = {}                    # utterance_id -> body (v1)
        self.acked_utterances = set()
        self.statuses = Counter()
        self.failures = Counter()           # exception type names
        self.v1_users = []                  # (user_id, conversation_id)
        self.seed_users = []                # (user_id, conversation_id, utterance_id)
        self.threads = []
        self.stop_event = threading.Event()

    def setup(self, c):
        for _ in range(self.v1_threads):
            uid = v1_user(c)["user_id"]
            self.v1_users.append((uid, v1_conversation(c, uid)["conversation_id"]))
        self.seed_users = [seed_triplet(c) for _ in range(self.seed_threads)]

    def _sent(self, uid, sids):
        with self.lock:
            for s in sids:
                self.attempted[(uid, s)] += 1

    def _failed(self, e):
        with self.lock:
            self.failures[type(e).__name__] += 1

    def _v1_writer(self, port, i, uid, cid, started):
        c = Client(port, retry_stale=False)
        rng = random.Random(f"v1-{i}-{time.time_ns()}")
        started.wait()
        try:
            while not self.stop_event.is_set():
                labels = [rng.choice(LABELS) for _ in range(rng.randint(1, 5))]
                utt = new_uuid()
                body = {"utterance_id": utt, "conversation_id": cid, "user_id": uid,
                        "content": f"durable {utt[:8]}",
                        "errors": [{"category": a, "subcategory": b} for a, b, _ in labels]}
                sids = [s for _, _, s in labels]
                with self.lock:
                    self.bodies[utt] = body
                self._sent(uid, sids)
                try:
                    st, _, out = c.post("/v1/utterances", body)
                except Exception as e:  # reset, refused, closed: unacknowledged
                    self._failed(e)
                    return
                with self.lock:
                    self.statuses[st] += 1
                    if st in (200, 201):
                        for s in sids:
                            self.acked[(uid, s)] += 1
                        self.acked_utterances.add(utt)
        finally:
            c.close()

    def _seed_writer(self, port, i, ids, started):
        c = Client(port, retry_stale=False)
        rng = random.Random(f"seed-{i}-{time.time_ns()}")
        started.wait()
        try:
            while not self.stop_event.is_set():
                labels = [rng.choice(LABELS) for _ in range(rng.randint(1, 5))]
                sids = [s for _, _, s in labels]
                self._sent(ids[0], sids)
                try:
                    st, _, out = c.post("/simulate-and-generate", {
                        "user_id": ids[0], "conversation_id": ids[1], "utterance_id": ids[2],
                        "errors": [{"errorCategory": a, "errorSubCategory": b}
                                   for a, b, _ in labels]})
                except Exception as e:
                    self._failed(e)
                    return
                with self.lock:
                    self.statuses[st] += 1
                    if st == 200:
                        for s in sids:
                            self.acked[(ids[0], s)] += 1
        finally:
            c.close()

    def start(self, port):
        """Starts the writer threads; returns once they are all about to send."""
        self.stop_event.clear()
        started = threading.Barrier(self.v1_threads + self.seed_threads + 1)
        self.threads = [threading.Thread(target=self._v1_writer,
                                         args=(port, i, *self.v1_users[i], started), daemon=True)
                        for i in range(self.v1_threads)]
        self.threads += [threading.Thread(target=self._seed_writer,
                                          args=(port, i, self.seed_users[i], started), daemon=True)
                         for i in range(self.seed_threads)]
        for t in self.threads:
            t.start()
        started.wait()

    def join(self, tc, timeout=60):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=timeout)
            tc.assertFalse(t.is_alive(), "a client thread hung")
        self.threads = []

    def summary(self, stored):
        return (f"{sum(self.attempted.values())} errors sent, {sum(self.acked.values())} "
                f"acknowledged, {stored} stored; statuses {dict(self.statuses)}, "
                f"client failures {dict(self.failures)}")

    def verify(self, tc, srv):
        """Checks a (restarted) server against the ledger; returns the API counts."""
        c = srv.client()
        st, _, ready = c.get("/readyz")
        tc.assertEqual(st, 200, ready)
        api = Counter()
        for uid in [u for u, _ in self.v1_users] + [ids[0] for ids in self.seed_users]:
            st, _, top = c.get(f"/v1/users/{uid}/errors/top?n=100")
            tc.assertEqual(st, 200, top)
            for e in top["errors"]:
                api[(uid, e["subcategory_id"])] = e["frequency"]
        # Every acknowledged error is there; nothing beyond what was sent.
        for key, n in self.acked.items():
            tc.assertGreaterEqual(api[key], n, f"acknowledged errors lost for {key}")
        for key, n in api.items():
            tc.assertLessEqual(n, self.attempted[key], f"more errors than sent for {key}")
        # Every acknowledged utterance is there, and every stored utterance is whole.
        stored = set()
        for uid, cid in self.v1_users:
            st, _, view = c.get(f"/v1/conversations/{cid}")
            tc.assertEqual(st, 200, view)
            per_user = Counter()
            for u in view["utterances"]:
                body = self.bodies.get(u["utterance_id"])
                tc.assertIsNotNone(body, f"an utterance nobody sent: {u['utterance_id']}")
                tc.assertEqual(len(u["errors"]), len(body["errors"]),
                               f"utterance {u['utterance_id']} stored with part of its errors")
                tc.assertEqual(u["content"], body["content"])
                stored.add(u["utterance_id"])
                for e in u["errors"]:
                    per_user[e["subcategory_id"]] += 1
            # The frequencies are the stored errors, exactly.
            tc.assertEqual(user_counts(api, uid), dict(per_user))
        missing = sorted(self.acked_utterances - stored)
        tc.assertEqual(missing, [], f"{len(missing)} acknowledged utterances lost")
        # The store file agrees with itself and with the API.
        rows = srv.db_error_counts()
        if rows is not None:
            tc.assertEqual(srv.db_frequency_counts(), rows,
                           "error_frequencies disagrees with the errors table")
            tc.assertEqual(Counter({k: n for k, n in api.items() if n}), rows)
            orphans = srv.db_query("SELECT count(*) FROM errors e WHERE NOT EXISTS "
                                   "(SELECT 1 FROM utterances u WHERE u.utterance_id=e.utterance_id)")
            tc.assertEqual(orphans[0][0], 0)
            tc.assertEqual(srv.db_query("PRAGMA integrity_check")[0][0], "ok")
        return api
