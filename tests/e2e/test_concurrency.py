"""Many clients at once: 32 threads post 10,000 errors across 100 users; the
counts come out exact, through the API and in the store. Also races on the same
email and the same client utterance id."""

import os
import queue
import random
import sys
import threading
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Server, ServerTestCase, main, new_uuid, run_threads, seed_triplet,
                     create_utterance, unique_email, v1_conversation, v1_user)

THREADS = 32
USERS = 100
TOTAL_ERRORS = 10_000
SEED = 20261123

SIMULATED = {"message": "Error frequencies simulated and batch processing triggered successfully."}

# (errorCategory, errorSubCategory as sent) -> (subcategory_id, category, subcategory) as displayed.
VARIANTS = [
    (("Grammar", "Subject-Verb Agreement"), ("subject-verb-agreement", "Grammar", "Subject-Verb Agreement")),
    (("grammar", "subject verb agreement"), ("subject-verb-agreement", "Grammar", "Subject-Verb Agreement")),
    (("Grammar", "SVA"), ("subject-verb-agreement", "Grammar", "Subject-Verb Agreement")),
    (("Grammar", "Verb Tense"), ("verb-tense", "Grammar", "Verb Tense")),
    (("Grammar", "tenses"), ("verb-tense", "Grammar", "Verb Tense")),
    (("Grammar", "Articles & Determiners"), ("articles-determiners", "Grammar", "Articles & Determiners")),
    (("Grammar", "articles and determiners"), ("articles-determiners", "Grammar", "Articles & Determiners")),
    (("Grammar", "Prepositions"), ("prepositions", "Grammar", "Prepositions")),
    (("Grammar", "Pronouns"), ("pronouns", "Grammar", "Pronouns")),
    (("Grammar", "Word Order"), ("word-order", "Grammar", "Word Order")),
    (("Vocabulary", "Word Choice"), ("word-choice", "Vocabulary", "Word Choice")),
    (("vocabulary", "word-choice"), ("word-choice", "Vocabulary", "Word Choice")),
    (("Vocabulary", "Collocation"), ("collocation", "Vocabulary", "Collocation")),
    (("Pronunciation", "Word Stress"), ("word-stress", "Pronunciation", "Word Stress")),
    (("Fluency", "Filler Words"), ("filler-words", "Fluency", "Filler Words")),
    (("Mechanics", "Spelling"), ("spelling", "Mechanics", "Spelling")),
    (("Mechanics", "capitalisation"), ("capitalization", "Mechanics", "Capitalization")),
]
DISPLAY = {sid: (cat, sub) for _, (sid, cat, sub) in VARIANTS}


def plan(rng, users):
    """The requests to send and the counts they must produce.

    Returns (requests, expected): requests = [(ids, [(cat, sub), ...])],
    expected = Counter {(user_id, subcategory_id): n}.
    """
    mixes = {}
    for ids in users:
        k = rng.randint(1, 8)
        chosen = rng.sample(range(len(VARIANTS)), k)
        weights = [rng.randint(1, 10) for _ in chosen]
        mixes[ids] = (chosen, weights)
    user_weights = [rng.randint(1, 5) for _ in users]
    per_user = defaultdict(list)
    for ids in rng.choices(users, weights=user_weights, k=TOTAL_ERRORS):
        chosen, weights = mixes[ids]
        per_user[ids].append(rng.choices(chosen, weights=weights)[0])
    requests, expected = [], Counter()
    for ids, draws in per_user.items():
        i = 0
        while i < len(draws):
            n = rng.randint(1, 9)
            chunk = draws[i:i + n]
            i += n
            requests.append((ids, [VARIANTS[v][0] for v in chunk]))
            for v in chunk:
                expected[(ids[0], VARIANTS[v][1][0])] += 1
    rng.shuffle(requests)
    assert sum(expected.values()) == TOTAL_ERRORS
    return requests, expected


class Concurrency(ServerTestCase):

    def test_10000_errors_32_threads_100_users(self):
        self.run_10000(self.server)
        self.__class__.c = self.server.client()

    def test_10000_errors_with_a_tiny_profile_cache(self):
        """The same with a profile cache of one entry per shard: reads keep missing and
        loading from the store while commits land, so cache/commit races show up."""
        with Server(extra_args=["--cache-size", "1"]) as srv:
            self.run_10000(srv)

    def run_10000(self, srv):
        c0 = srv.client()
        # 100 users, each with a conversation and two utterances (seed routes, in parallel).
        users = [None] * USERS

        def make(i):
            c = srv.client()
            for j in range(i, USERS, 8):
                uid, cid, utt = seed_triplet(c)
                utt2 = create_utterance(c, cid, uid, f"second utterance of {j}")["utterance_id"]
                users[j] = (uid, cid, utt, utt2)

        run_threads(8, make)
        rng = random.Random(SEED)
        requests, expected = plan(rng, [u[:3] for u in users])
        second = {u[0]: u[3] for u in users}

        work = queue.Queue()
        for n, r in enumerate(requests):
            work.put((n, r))
        statuses = Counter()
        bad = []
        lock = threading.Lock()
        user_ids = [u[0] for u in users]

        def worker(i):
            c = srv.client()
            local_rng = random.Random(SEED + i)
            while True:
                try:
                    n, (ids, errors) = work.get_nowait()
                except queue.Empty:
                    return
                if n % 2:
                    ids = (ids[0], ids[1], second[ids[0]])  # the other utterance
                st, _, body = c.post("/simulate-and-generate", {
                    "user_id": ids[0], "conversation_id": ids[1], "utterance_id": ids[2],
                    "errors": [{"errorCategory": a, "errorSubCategory": b} for a, b in errors]})
                with lock:
                    statuses[st] += 1
                    if st != 200 or body != SIMULATED:
                        bad.append((st, body))
                if n % 2 == 0:  # reads mixed into the writes
                    uid = local_rng.choice(user_ids)
                    for path in (f"/v1/users/{uid}/errors/top?n=100",
                                 f"/generate-exercise?user_id={uid}&top_n=100"):
                        st, _, body = c.get(path)
                        with lock:
                            statuses[st] += 1
                            if st not in (200, 404) or (st == 404 and "generate" not in path):
                                bad.append((st, path, body))

        run_threads(THREADS, worker)
        self.assertEqual(bad[:5], [], f"{len(bad)} unexpected responses; statuses {statuses}")

        # Every user's frequencies are exactly what was sent: through both read routes
        # (the live profile cache), in the store, and after a restart (profiles rebuilt
        # from the store). All discrepancies are gathered first, to tell them apart.
        want_of = {uid: {sid: n for (u, sid), n in expected.items() if u == uid}
                   for uid in user_ids}
        problems = []

        def read_all(c, where):
            for uid in user_ids:
                want = want_of[uid]
                st, _, top = c.get(f"/v1/users/{uid}/errors/top?n=100")
                self.assertEqual(st, 200, top)
                got = {e["subcategory_id"]: e["frequency"] for e in top["errors"]}
                if got != want:
                    problems.append(f"{where} /v1 top, user {uid}: want {want}, got {got}")
                for e in top["errors"]:
                    self.assertEqual((e["category"], e["subcategory"]),
                                     DISPLAY[e["subcategory_id"]])
                freqs = [e["frequency"] for e in top["errors"]]
                self.assertEqual(freqs, sorted(freqs, reverse=True))
                st, _, gen = c.get(f"/generate-exercise?user_id={uid}&top_n=100")
                if not want:
                    self.assertEqual(st, 404, gen)
                    continue
                self.assertEqual(st, 200, gen)
                got = {(e["errorCategory"], e["errorSubCategory"]): e["errorFrequency"]
                       for e in gen["top_errors"]}
                if got != {DISPLAY[sid]: n for sid, n in want.items()}:
                    problems.append(f"{where} /generate-exercise, user {uid}: want {want}, "
                                    f"got {got}")

        read_all(c0, "live")
        rows = srv.db_error_counts(user_ids)
        if rows is not None:
            if rows != expected:
                problems.append(f"errors table differs from what was sent: "
                                f"missing {dict(expected - rows)}, extra {dict(rows - expected)}")
            freq = srv.db_frequency_counts(user_ids)
            if freq != expected:
                problems.append(f"error_frequencies differs from what was sent: "
                                f"missing {dict(expected - freq)}, extra {dict(freq - expected)}")
        srv.restart()
        read_all(srv.client(), "after restart")
        self.assertFalse(problems, f"{len(problems)} discrepancies; statuses {statuses}:\n"
                         + "\n".join(problems[:20]))

    def test_same_email_race(self):
        srv = self.server
        for _ in range(3):
            email = unique_email("race")
            results = []
            lock = threading.Lock()
            barrier = threading.Barrier(THREADS)

            def go(i):
                c = srv.client()
                c.get("/healthz")  # connect first
                barrier.wait()
                path = "/users/" if i % 2 else "/v1/users"
                addr = email if i % 3 else email.upper()
                resp = c.post(path, {"username": f"racer{i}", "email": addr})
                with lock:
                    results.append((path, resp[0], resp[2]))

            run_threads(THREADS, go)
            winners = [r for r in results if r[1] in (200, 201)]
            self.assertEqual(len(winners), 1, results)
            for path, st, body in results:
                if (path, st) in (("/users/", 200), ("/v1/users", 201)):
                    continue
                if path == "/users/":
                    self.assertEqual((st, body), (400, {"detail": "Email already registered"}))
                else:
                    self.assertEqual((st, body["error"]["code"]), (409, "conflict"), body)
            rows = srv.db_query("SELECT count(*) FROM users WHERE email_norm=?", (email.lower(),))
            if rows is not None:
                self.assertEqual(rows[0][0], 1)

    def test_same_utterance_id_race(self):
        """Each client utterance id is posted by 3 threads at once: one 201, two replays."""
        srv = self.server
        c = self.c
        owners = []
        for _ in range(4):
            uid = v1_user(c)["user_id"]
            owners.append((uid, v1_conversation(c, uid)["conversation_id"]))
        rng = random.Random(SEED + 1)
        bodies = []
        expected = Counter()
        for k in range(150):
            uid, cid = owners[k % len(owners)]
            errs = [rng.choice(VARIANTS) for _ in range(rng.randint(1, 4))]
            bodies.append({"utterance_id": new_uuid(), "conversation_id": cid, "user_id": uid,
                           "content": f"race {k}",
                           "errors": [{"category": a, "subcategory": b} for (a, b), _ in errs]})
            for _, (sid, _, _) in errs:
                expected[(uid, sid)] += 1
        results = defaultdict(list)
        lock = threading.Lock()

        def go(i):
            cl = srv.client()
            mine = [b for k, b in enumerate(bodies) if k % 8 == i % 8]  # 3 threads share each slice
            order = list(range(len(mine)))
            random.Random(i).shuffle(order)
            for j in order:
                b = mine[j]
                st, _, out = cl.post("/v1/utterances", b)
                with lock:
                    results[b["utterance_id"]].append((st, out.get("replayed"),
                                                       sorted(e["error_id"] for e in out["errors"])
                                                       if st in (200, 201) else out))

        run_threads(24, go)  # each body is in 3 threads' slices
        for b in bodies:
            got = results[b["utterance_id"]]
            self.assertEqual(sorted((st, rp) for st, rp, _ in got),
                             [(200, True), (200, True), (201, False)], got)
            self.assertEqual(len({tuple(e) for _, _, e in got}), 1, got)  # same error ids
        for uid, cid in owners:
            want = {sid: n for (u, sid), n in expected.items() if u == uid}
            st, _, top = c.get(f"/v1/users/{uid}/errors/top?n=100")
            self.assertEqual({e["subcategory_id"]: e["frequency"] for e in top["errors"]}, want)
            st, _, view = c.get(f"/v1/conversations/{cid}")
            self.assertEqual(len(view["utterances"]), sum(1 for b in bodies if b["user_id"] == uid))
        rows = srv.db_error_counts([u for u, _ in owners])
        if rows is not None:
            self.assertEqual(rows, expected)
            self.assertEqual(srv.db_frequency_counts([u for u, _ in owners]), expected)


if __name__ == "__main__":
    main()
