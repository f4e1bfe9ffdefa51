"""A seeded random sequence of valid operations, checked against a model.

The model is a few dictionaries: each learner's points, with their count and
first and last error times, the utterances sent with a client id, and the
learners erased. The operations are what the app does: learners,
conversations, utterances (with names, aliases, codes, typos and new
labels; retried as they were, or reusing an id with another body), the
original service's utterance and simulate routes, NDJSON ingests that
create learners on first sight, practice attempts, erasures, writes for
erased learners, and restarts of the server. Every 50 operations, and at
the end, every learner's profile as the server reads it must be the model's.

Three tests: one client with restarts; three at once on learners of their
own (also with a cache of three learners, so that reads load from the
store beside commits); and one client whose server is killed (kill -9) in
the middle of its requests, and which sends each request the kill took
again, as an app retries after a timeout: every operation must then count
exactly once. This is the semantics test of the write path: what
test_fuzz.py does for bad input, this does for good input in odd orders
(docs/fuzzing.md).
ERRATA_MODEL_SEED and ERRATA_MODEL_OPS set the seed (20261207) and the
number of operations (600, shared by the three clients of the second test;
half of it for the third).
"""

import http.client
import json
import os
import random
import re
import sys
import threading
import traceback
import uuid
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Client, ServerTestCase, expect, iso, main, now_utc, parse_time

SEED = int(os.environ.get("ERRATA_MODEL_SEED", "20261207"))
OPS = int(os.environ.get("ERRATA_MODEL_OPS", "600"))

# Labels of the v1 routes: the answer says which point each resolved to.
LABELS = [
    {"category": "Grammar", "subcategory": "Subject-Verb Agreement"},
    {"subcategory": "sva"},
    {"code": "VERB:TENSE"},
    {"code": "R:NOUN"},
    {"subcategory": "Word Choise"},
    {"category": "Pronunciation", "subcategory": "vowel"},
    {"category": "Discourse", "subcategory": "Topic Drift"},
    {"subcategory": "run\u2013on"},
    {"code": "SPELL", "original": "recieve", "correction": "receive"},
]
# Codes for ingest lines, whose answer gives only how many errors a line had:
# each names one point of the built-in taxonomy.
CODES = {"VERB:SVA": "subject-verb-agreement", "VERB:TENSE": "verb-tense",
         "SPELL": "spelling", "PUNCT": "punctuation", "UNK": "unclassified"}

# Labels of the original route POST /simulate-and-generate, by display name.
SEED_LABELS = {("Grammar", "Subject-Verb Agreement"): "subject-verb-agreement",
               ("Grammar", "Verb Tense"): "verb-tense",
               ("Vocabulary", "Word Choice"): "word-choice",
               ("Mechanics", "Spelling"): "spelling",
               ("Pronunciation", "Vowel Sounds"): "vowel-sounds"}


class CrashingClient:
    """A client whose server can be killed (kill -9) while its next request
    is in flight: arm() picks a delay of 0-5 ms after the request starts.
    With one server, it is started again on the same data and a request the
    kill took is sent again until it is answered, as an app retries after a
    timeout. With several, each request goes to one at random, and what the
    kill took goes again through the next one before the killed one is
    started again, as a load balancer would. `retried` says whether the last
    request went more than once: its first sending may have been committed,
    and the answer is then a replay."""

    DELAYS = (0.0, 0.0, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005)

    def __init__(self, servers, rng):
        self.servers, self.rng = list(servers), rng
        self.clients = [Client(s.port, timeout=30, retry_stale=False) for s in self.servers]
        self.delay = None
        self.retried = False
        self.kills = 0
        self.lost = 0  # requests whose answer a kill took
        self.replays = 0  # ... of which the first sending had been committed

    def arm(self):
        self.delay = self.rng.choice(self.DELAYS)

    def close(self):
        for c in self.clients:
            c.close()

    def send(self, i, method, path, **kw):
        """The answer of server i, or None when the connection failed."""
        try:
            return self.clients[i].request(method, path, **kw)
        except (OSError, http.client.HTTPException):
            self.clients[i].close()
            return None

    def request(self, method, path, **kw):
        self.retried = False
        i = self.rng.randrange(len(self.servers)) if len(self.servers) > 1 else 0
        killer = None
        if self.delay is not None:
            # Popen.kill only: the harness's kill9() and start() stay on this thread.
            killer = threading.Timer(self.delay, self.servers[i].proc.kill)
            self.delay = None
            killer.start()
        answer = self.send(i, method, path, **kw)
        if killer is not None:
            killer.join()
            self.kills += 1
            self.clients[i].close()
            other = (i + 1) % len(self.servers)
            if answer is None and other != i:
                self.lost += 1
                self.retried = True
                answer = self.send(other, method, path, **kw)
            self.servers[i].kill9()  # reaps it
            self.servers[i].start()
        for _ in range(3):
            if answer is not None:
                return answer
            self.lost += 1
            self.retried = True
            answer = self.send(i, method, path, **kw)
        raise AssertionError(f"{method} {path}: no answer after the restart")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)


class Learner:
    def __init__(self):
        self.conversations = []
        self.points = {}  # subcategory_id: [count, first_seen, last_seen]
        self.server_timed = set()  # points with an error the server timed (now)

    def add(self, subcategory_id, at):
        """An error at `at`, or at the server's now when `at` is None."""
        if at is None:
            self.server_timed.add(subcategory_id)
            at = now_utc()
        p = self.points.get(subcategory_id)
        if p is None:
            self.points[subcategory_id] = [1, at, at]
        else:
            p[0] += 1
            p[1] = min(p[1], at)
            p[2] = max(p[2], at)


class Actor:
    """One client of the server with its own model: its learners are its
    own, so several can run at once and each check its own."""

    def __init__(self, tc, seed, client, crashing=False):
        self.tc, self.server, self.c = tc, tc.server, client
        self.crashing = crashing  # client is a CrashingClient
        for name in ("assertEqual", "assertFalse", "assertIn"):
            setattr(self, name, getattr(tc, name))
        self.rng = random.Random(seed)
        self.learners = {}  # user_id: Learner
        self.erased = {}  # user_id: a conversation of theirs, or None
        self.sent = {}  # utterance_id: (user_id, body) of utterances sent with an id
        self.log = []  # the operations so far, for a failure's message

    # ------------------------------------------------------------ helpers

    def uuid(self):
        # Fresh in every run (not from the seed): a store kept between runs
        # (PostgreSQL) would take a seeded id for a retry.
        return str(uuid.uuid4())

    def time(self):
        """A time in the last 30 days, to the microsecond."""
        return iso(now_utc() - timedelta(microseconds=self.rng.randrange(30 * 86400 * 10 ** 6)))

    def live(self):
        return self.rng.choice(sorted(self.learners)) if self.learners else None

    def conversation_of(self, uid):
        learner = self.learners[uid]
        if not learner.conversations or self.rng.random() < 0.2:
            body = {"user_id": uid}
            if self.crashing:  # a retry must find the first one, not make a second
                body["conversation_id"] = self.uuid()
            out = self.created(self.c.post("/v1/conversations", body), "conversation")
            learner.conversations.append(out["conversation_id"])
        return self.rng.choice(learner.conversations)

    def note(self, what):
        self.log.append(what)

    def created(self, resp, what):
        """The body of a 201; or of a 200 replay, when the request was sent
        again after a kill that may have come after its commit."""
        st, _, body = resp
        if self.crashing and self.c.retried and st == 200 and body.get("replayed") is True:
            self.c.replays += 1
            return body
        return expect(resp, 201, what)

    # ------------------------------------------------------------ operations

    def op_user(self):
        uid = self.uuid()
        body = {"user_id": uid, "username": f"m{len(self.learners)}",
                "email": f"model-{uid[:12]}@example.com"}
        self.created(self.c.post("/v1/users", body), "user")
        self.learners[uid] = Learner()
        self.note(f"user {uid}")

    def op_utterance(self):
        uid = self.live()
        if uid is None:
            return self.op_user()
        r = self.rng
        body = {"user_id": uid, "conversation_id": self.conversation_of(uid),
                "content": f"utterance {r.randrange(10 ** 6)}", "created_at": self.time(),
                "errors": [dict(r.choice(LABELS)) for _ in range(r.randrange(5))]}
        if r.random() < 0.5 or self.crashing:
            body["utterance_id"] = self.uuid()
        out = self.created(self.c.post("/v1/utterances", body), "utterance")
        for e in out["errors"]:
            self.learners[uid].add(e["subcategory_id"], parse_time(body["created_at"]))
        if "utterance_id" in body:
            self.sent[body["utterance_id"]] = (uid, body)
        self.note(f"utterance {out['utterance_id']} of {uid}: "
                  f"{[e['subcategory_id'] for e in out['errors']]} at {body['created_at']}")

    def op_simulate(self):
        """The original service's flow: an utterance, then its errors, which
        the server times itself."""
        uid = self.live()
        if uid is None:
            return self.op_user()
        conv = self.conversation_of(uid)
        st, _, utt = self.c.post("/utterances/", {"user_id": uid, "conversation_id": conv,
                                                  "content": "I has a apple."})
        self.assertEqual(st, 200, utt)
        labels = [self.rng.choice(sorted(SEED_LABELS)) for _ in range(self.rng.randint(1, 3))]
        st, _, out = self.c.post("/simulate-and-generate", {
            "user_id": uid, "conversation_id": conv, "utterance_id": utt["utterance_id"],
            "errors": [{"errorCategory": c, "errorSubCategory": s} for c, s in labels]})
        self.assertEqual(st, 200, out)
        for label in labels:
            self.learners[uid].add(SEED_LABELS[label], None)
        self.note(f"simulate for {uid}: {labels}")

    def op_retry(self):
        """An utterance sent again with its id: the same body is replayed and
        changes nothing; another body under the same id is a 409."""
        if not self.sent:
            return self.op_utterance()
        utterance_id = self.rng.choice(sorted(self.sent))
        uid, body = self.sent[utterance_id]
        if uid in self.erased:
            return
        if self.rng.random() < 0.7:
            st, _, out = self.c.post("/v1/utterances", body)
            self.assertEqual((st, out.get("replayed")), (200, True), out)
        else:
            other = dict(body, content=body["content"] + " (edited)")
            st, _, out = self.c.post("/v1/utterances", other)
            self.assertEqual(st, 409, out)
        self.note(f"retry {utterance_id}: {st}")

    def op_ingest(self):
        r = self.rng
        lines, expected = [], []
        for _ in range(r.randint(1, 5)):
            if self.learners and r.random() < 0.7:
                uid = self.live()
                conv = self.conversation_of(uid) if r.random() < 0.5 else self.uuid()
            else:
                uid, conv = self.uuid(), self.uuid()  # a learner made on first sight
            codes = [r.choice(sorted(CODES)) for _ in range(r.randrange(4))]
            line = {"user_id": uid, "conversation_id": conv, "created_at": self.time(),
                    "content": f"line {r.randrange(10 ** 6)}",
                    "errors": [{"code": code} for code in codes]}
            if r.random() < 0.3:
                line["utterance_id"] = self.uuid()
            lines.append(json.dumps(line))
            expected.append((uid, conv, line, codes))
        st, _, out = self.c.post("/v1/ingest", raw=("\n".join(lines) + "\n").encode(),
                                 headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["rejected"], 0, out)
        retried = self.crashing and self.c.retried
        if retried and out["replayed"]:
            self.c.replays += 1
        for (uid, conv, line, codes), result in zip(expected, out["results"]):
            self.assertIn(result["status"], ("applied", "replayed") if retried else ("applied",), out)
            learner = self.learners.setdefault(uid, Learner())
            if conv not in learner.conversations:
                learner.conversations.append(conv)
            for code in codes:
                learner.add(CODES[code], parse_time(line["created_at"]))
        self.note(f"ingest of {len(lines)} lines")

    def op_attempt(self):
        uid = self.live()
        if uid is None or not self.learners[uid].points:
            return
        st, _, body = self.c.get(f"/v1/users/{uid}/exercises?n=3&seed={self.rng.randrange(99)}")
        self.assertEqual(st, 200, body)
        if not body["exercises"]:
            return
        item = self.rng.choice(body["exercises"])
        st, _, out = self.c.post(f"/v1/users/{uid}/attempts",
                                 {"exercise_id": item["exercise_id"],
                                  "correct": self.rng.random() < 0.6})
        self.assertIn(st, (200, 201), out)
        self.note(f"attempt of {uid} on {item['exercise_id']}")

    def op_erase(self):
        uid = self.live()
        if uid is None:
            return
        learner = self.learners.pop(uid)
        st, _, out = self.c.request("DELETE", f"/v1/users/{uid}")
        self.assertEqual(st, 200, out)
        self.assertEqual(out["erased"]["errors"], sum(p[0] for p in learner.points.values()),
                         out)
        if self.crashing and self.c.retried and out["replayed"]:
            self.c.replays += 1
        self.erased[uid] = learner.conversations[0] if learner.conversations else None
        self.note(f"erase {uid}")

    def op_write_for_erased(self):
        """Every way to write for an erased learner is refused and changes nothing."""
        if not self.erased:
            return
        uid = self.rng.choice(sorted(self.erased))
        conv = self.erased[uid] or self.uuid()
        body = {"user_id": uid, "conversation_id": conv, "created_at": self.time(),
                "errors": [{"code": "SPELL"}]}
        st, _, out = self.c.post("/v1/utterances", body)
        self.assertEqual(st, 404, out)
        st, _, out = self.c.post("/v1/ingest", raw=(json.dumps(body) + "\n").encode())
        self.assertEqual((st, out["rejected"]), (200, 1), out)
        self.assertEqual(out["results"][0]["error"]["code"], "conflict", out)
        st, _, out = self.c.post("/v1/users", {"user_id": uid, "username": "back",
                                               "email": f"back-{uid[:12]}@example.com"})
        self.assertEqual(st, 409, out)
        st, _, out = self.c.get(f"/v1/users/{uid}/errors/top")
        self.assertEqual(st, 404, out)
        self.note(f"writes for erased {uid} refused")

    def op_crash(self):
        """An operation whose server is killed while one of its requests is
        in flight (CrashingClient): those the app can retry safely."""
        op = self.rng.choice([self.op_user, self.op_utterance, self.op_retry, self.op_ingest,
                              self.op_attempt, self.op_erase, self.op_write_for_erased])
        self.c.arm()
        self.note(f"kill -9 during {op.__name__}")
        op()

    def op_restart(self):
        self.server.restart()
        type(self.tc).c = self.c = self.server.client()
        self.note("restart")

    # ------------------------------------------------------------ checks

    def check(self, uid):
        st, _, body = self.c.get(f"/v1/users/{uid}/errors/top?n=100")
        self.assertEqual(st, 200, body)
        got = {p["subcategory_id"]: [p["frequency"], parse_time(p["first_seen"]),
                                     parse_time(p["last_seen"])] for p in body["errors"]}
        learner = self.learners[uid]
        want = learner.points
        # A point the server timed has its count checked, and its times where
        # they come from the model's own errors.
        for sid in learner.server_timed & set(got) & set(want):
            for i in (1, 2):
                if abs(got[sid][i] - want[sid][i]) < timedelta(seconds=30):
                    got[sid][i] = want[sid][i]
        self.assertEqual(got, want, f"learner {uid}; the last operations:\n" +
                         "\n".join(self.log[-15:]))
        # The original route reads the same counts.
        st, _, body = self.c.get(f"/generate-exercise?user_id={uid}&top_n=100")
        if not want:
            self.assertEqual(st, 404, body)
            return
        self.assertEqual(st, 200, body)
        self.assertEqual(sorted(e["errorFrequency"] for e in body["top_errors"]),
                         sorted(p[0] for p in want.values()))

    def check_all(self):
        for uid in sorted(self.learners):
            self.check(uid)
        for uid in sorted(self.erased):
            st, _, body = self.c.get(f"/v1/users/{uid}")
            self.assertEqual(st, 404, body)

    def run(self, n, restarts):
        ops = [(self.op_user, 6), (self.op_utterance, 32), (self.op_simulate, 8),
               (self.op_retry, 8), (self.op_ingest, 20), (self.op_attempt, 6),
               (self.op_erase, 3), (self.op_write_for_erased, 4)]
        if restarts:
            ops.append((self.op_restart, 1))
        if self.crashing:
            ops.append((self.op_crash, 6))
        funcs = [f for f, _ in ops]
        weights = [w for _, w in ops]
        for _ in range(3):
            self.op_user()
        for i in range(n):
            self.rng.choices(funcs, weights)[0]()
            if i % 50 == 49:
                self.check_all()
        if not self.erased:  # a short run drew none: every run covers one
            self.op_erase()
        self.check_all()
        errors = sum(p[0] for learner in self.learners.values() for p in learner.points.values())
        self.tc.assertGreater(len(self.learners), 5)
        self.tc.assertGreater(len(self.erased), 0)
        self.tc.assertGreater(errors, n // 2)


def run_at_once(tc, actors):
    """Runs the actors' operations (OPS between them) on threads of their own;
    fails `tc` with every actor's failure."""
    failures = []

    def run(actor):
        try:
            actor.run(OPS // len(actors), restarts=False)
        except Exception:  # noqa: BLE001 - reported below
            failures.append(traceback.format_exc() + "the last operations:\n" +
                            "\n".join(actor.log[-15:]))
    threads = [threading.Thread(target=run, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tc.assertEqual(failures, [])


class Model(ServerTestCase):

    def test_one_client_with_restarts(self):
        actor = Actor(self, SEED, self.c)
        actor.run(OPS, restarts=True)
        actor.op_restart()
        actor.check_all()

    def test_kill9_and_retry(self):
        """The server is killed in the middle of requests, and the client
        sends again each one the kill took: every operation counts once."""
        c = CrashingClient([self.server], random.Random(SEED - 1))
        self.addCleanup(c.close)
        actor = Actor(self, SEED - 1, c, crashing=True)
        actor.run(OPS // 2, restarts=False)
        print(f"\n{c.kills} kills; {c.lost} answers lost and the request sent again, "
              f"{c.replays} of them committed the first time", file=sys.stderr)
        self.assertGreater(c.kills, 5)
        self.assertGreater(c.lost, 0)
        self.server.restart()
        actor.c = self.server.client()
        actor.crashing = False
        actor.check_all()

    def test_three_clients_at_once(self):
        """Three actors on learners of their own, at the same time: erasures
        and ingests of one beside the writes of the others."""
        actors = [Actor(self, SEED + k, self.server.client()) for k in (1, 2, 3)]
        run_at_once(self, actors)
        self.server.restart()
        type(self).c = self.c = self.server.client()
        for actor in actors:
            actor.c = self.c
            actor.check_all()


class ModelWithATinyCache(ServerTestCase):
    """The three clients again, on a server that caches three learners: nearly
    every read loads its learner from the store, beside commits for it."""

    server_args = ("--cache-size", "3")

    def test_three_clients_at_once(self):
        Model.test_three_clients_at_once(self)
        st, _, text = self.c.get("/metrics")
        self.assertEqual(st, 200)
        misses = int(re.search(r"^errata_profile_cache_misses_total (\d+)", text, re.M).group(1))
        print(f"\n{misses} reads loaded from the store since the restart", file=sys.stderr)
        self.assertGreater(misses, 30, "the reads did not load from the store")


if __name__ == "__main__":
    main()
