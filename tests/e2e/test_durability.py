"""kill -9 under load: every acknowledged write survives the restart, nothing is
half-written, and the frequencies agree with the errors table."""

import os
import random
import sys
import threading
import time
import unittest
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Client, Server, main, new_uuid, seed_triplet, v1_conversation, v1_user

V1_THREADS = 16
SEED_THREADS = 8
LOAD_SECONDS = 1.2
ROUNDS = 2

LABELS = [
    ("Grammar", "Subject-Verb Agreement", "subject-verb-agreement"),
    ("Grammar", "Verb Tense", "verb-tense"),
    ("Grammar", "Articles & Determiners", "articles-determiners"),
    ("Grammar", "Prepositions", "prepositions"),
    ("Vocabulary", "Word Choice", "word-choice"),
    ("Mechanics", "Spelling", "spelling"),
    ("Fluency", "Filler Words", "filler-words"),
]


class Ledger:
    """What the clients sent and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = Counter()          # (user_id, subcategory_id) -> errors sent
        self.acked = Counter()              # (user_id, subcategory_id) -> errors acknowledged
        self.bodies = {}                    # utterance_id -> body (v1)
        self.acked_utterances = set()
        self.statuses = Counter()
        self.failures = Counter()           # exception type names

    def sent(self, uid, sids):
        with self.lock:
            for s in sids:
                self.attempted[(uid, s)] += 1

    def ok(self, uid, sids):
        with self.lock:
            for s in sids:
                self.acked[(uid, s)] += 1


def user_counts(counter, uid):
    return {s: n for (u, s), n in counter.items() if u == uid and n}


class Durability(unittest.TestCase):

    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)

    def load(self, v1_users, seed_users, ledger, seconds):
        """Runs the writers, kills the server with SIGKILL mid-load, joins them."""
        srv = self.srv
        stop = threading.Event()
        started = threading.Barrier(V1_THREADS + SEED_THREADS + 1)

        def v1_writer(i, uid, cid):
            c = Client(srv.port, retry_stale=False)
            rng = random.Random(f"v1-{i}-{time.time_ns()}")
            started.wait()
            while not stop.is_set():
                labels = [rng.choice(LABELS) for _ in range(rng.randint(1, 5))]
                utt = new_uuid()
                body = {"utterance_id": utt, "conversation_id": cid, "user_id": uid,
                        "content": f"durable {utt[:8]}",
                        "errors": [{"category": a, "subcategory": b} for a, b, _ in labels]}
                sids = [s for _, _, s in labels]
                with ledger.lock:
                    ledger.bodies[utt] = body
                ledger.sent(uid, sids)
                try:
                    st, _, out = c.post("/v1/utterances", body)
                except Exception as e:  # reset, refused, closed: unacknowledged
                    with ledger.lock:
                        ledger.failures[type(e).__name__] += 1
                    return
                with ledger.lock:
                    ledger.statuses[st] += 1
                if st in (200, 201):
                    ledger.ok(uid, sids)
                    with ledger.lock:
                        ledger.acked_utterances.add(utt)

        def seed_writer(i, ids):
            c = Client(srv.port, retry_stale=False)
            rng = random.Random(f"seed-{i}-{time.time_ns()}")
            started.wait()
            while not stop.is_set():
                labels = [rng.choice(LABELS) for _ in range(rng.randint(1, 5))]
                sids = [s for _, _, s in labels]
                ledger.sent(ids[0], sids)
                try:
                    st, _, out = c.post("/simulate-and-generate", {
                        "user_id": ids[0], "conversation_id": ids[1], "utterance_id": ids[2],
                        "errors": [{"errorCategory": a, "errorSubCategory": b}
                                   for a, b, _ in labels]})
                except Exception as e:
                    with ledger.lock:
                        ledger.failures[type(e).__name__] += 1
                    return
                with ledger.lock:
                    ledger.statuses[st] += 1
                if st == 200:
                    ledger.ok(ids[0], sids)

        threads = [threading.Thread(target=v1_writer, args=(i, *v1_users[i]), daemon=True)
                   for i in range(V1_THREADS)]
        threads += [threading.Thread(target=seed_writer, args=(i, seed_users[i]), daemon=True)
                    for i in range(SEED_THREADS)]
        for t in threads:
            t.start()
        started.wait()
        time.sleep(seconds)
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(timeout=60)
            self.assertFalse(t.is_alive(), "a client thread hung after kill -9")

    def verify(self, v1_users, seed_users, ledger):
        srv = self.srv
        c = srv.client()
        st, _, ready = c.get("/readyz")
        self.assertEqual(st, 200, ready)
        api = Counter()
        for uid in [u for u, _ in v1_users] + [ids[0] for ids in seed_users]:
            st, _, top = c.get(f"/v1/users/{uid}/errors/top?n=100")
            self.assertEqual(st, 200, top)
            for e in top["errors"]:
                api[(uid, e["subcategory_id"])] = e["frequency"]
        # Every acknowledged error is there; nothing beyond what was sent.
        for key, n in ledger.acked.items():
            self.assertGreaterEqual(api[key], n, f"acknowledged errors lost for {key}")
        for key, n in api.items():
            self.assertLessEqual(n, ledger.attempted[key], f"more errors than sent for {key}")
        # Every acknowledged utterance is there, and every stored utterance is whole.
        stored = {}
        for uid, cid in v1_users:
            st, _, view = c.get(f"/v1/conversations/{cid}")
            self.assertEqual(st, 200, view)
            per_user = Counter()
            for u in view["utterances"]:
                body = ledger.bodies.get(u["utterance_id"])
                self.assertIsNotNone(body, f"an utterance nobody sent: {u['utterance_id']}")
                self.assertEqual(len(u["errors"]), len(body["errors"]),
                                 f"utterance {u['utterance_id']} stored with part of its errors")
                self.assertEqual(u["content"], body["content"])
                stored[u["utterance_id"]] = u
                for e in u["errors"]:
                    per_user[e["subcategory_id"]] += 1
            # The frequencies are the stored errors, exactly.
            self.assertEqual(user_counts(api, uid), dict(per_user))
        missing = sorted(ledger.acked_utterances - set(stored))
        self.assertEqual(missing, [], f"{len(missing)} acknowledged utterances lost")
        # The store file agrees with itself and with the API.
        rows = srv.db_error_counts()
        if rows is not None:
            self.assertEqual(srv.db_frequency_counts(), rows,
                             "error_frequencies disagrees with the errors table")
            self.assertEqual(Counter({k: n for k, n in api.items() if n}), rows)
            orphans = srv.db_query("SELECT count(*) FROM errors e WHERE NOT EXISTS "
                                   "(SELECT 1 FROM utterances u WHERE u.utterance_id=e.utterance_id)")
            self.assertEqual(orphans[0][0], 0)
            self.assertEqual(srv.db_query("PRAGMA integrity_check")[0][0], "ok")
        return api

    def test_kill9_under_load(self):
        srv = self.srv
        c = srv.client()
        v1_users = []
        for _ in range(V1_THREADS):
            uid = v1_user(c)["user_id"]
            v1_users.append((uid, v1_conversation(c, uid)["conversation_id"]))
        seed_users = [seed_triplet(c) for _ in range(SEED_THREADS)]
        ledger = Ledger()
        for rnd in range(ROUNDS):
            self.load(v1_users, seed_users, ledger, LOAD_SECONDS)
            self.assertGreater(len(ledger.acked_utterances), 0, "no load was acknowledged")
            srv.start()
            api = self.verify(v1_users, seed_users, ledger)
            print(f"\nround {rnd + 1}: {sum(ledger.attempted.values())} errors sent, "
                  f"{sum(ledger.acked.values())} acknowledged, {sum(api.values())} stored; "
                  f"statuses {dict(ledger.statuses)}, client failures {dict(ledger.failures)}",
                  file=sys.stderr)
        self.assertEqual(set(ledger.statuses) - {200, 201, 503}, set(), ledger.statuses)

        # A client that retries everything after the crash gets exactly-once.
        c = srv.client()
        for utt, body in ledger.bodies.items():
            st, _, out = c.post("/v1/utterances", body)
            self.assertIn(st, (200, 201), out)
            if utt in ledger.acked_utterances:
                self.assertEqual((st, out["replayed"]), (200, True), utt)
        for uid, cid in v1_users:
            st, _, top = c.get(f"/v1/users/{uid}/errors/top?n=100")
            self.assertEqual({e["subcategory_id"]: e["frequency"] for e in top["errors"]},
                             user_counts(ledger.attempted, uid))
        srv.stop()


if __name__ == "__main__":
    main()
