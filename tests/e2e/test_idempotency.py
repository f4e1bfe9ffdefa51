"""Replays: 1,000 POST /v1/utterances with client ids, then the same 1,000 again;
an NDJSON ingest posted twice. The second time nothing is counted."""

import json
import os
import random
import sys
import threading
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ServerTestCase, days_ago, expect, iso, main, new_uuid, run_threads,
                     unique_email, v1_conversation, v1_user)

N = 1000
THREADS = 8
SEED = 4242

LABELS = [
    ({"category": "Grammar", "subcategory": "Subject-Verb Agreement"}, "subject-verb-agreement"),
    ({"code": "R:VERB:SVA"}, "subject-verb-agreement"),
    ({"category": "Grammar", "subcategory": "tense"}, "verb-tense"),
    ({"code": "DET"}, "articles-determiners"),
    ({"category": "Grammar", "subcategory": "Prepositions"}, "prepositions"),
    ({"category": "Vocabulary", "subcategory": "Word Choice"}, "word-choice"),
    ({"code": "SPELL"}, "spelling"),
    ({"category": "Grammar", "subcategory": "Tense & Aspect"}, "grammar.tense-and-aspect"),
]


def make_error(rng):
    label, sid = rng.choice(LABELS)
    e = dict(label)
    if rng.random() < 0.5:
        start = rng.randint(0, 20)
        e["span"] = {"start": start, "end": start + rng.randint(0, 5)}
        e["original"] = "goed"
        e["correction"] = "went"
    if rng.random() < 0.2:
        e["explanation"] = "Irregular past tense."
    return e, sid


class Idempotency(ServerTestCase):

    def counts(self, user_ids):
        out = {}
        for uid in user_ids:
            st, _, top = self.c.get(f"/v1/users/{uid}/errors/top?n=100")
            self.assertEqual(st, 200, top)
            out[uid] = {e["subcategory_id"]: e["frequency"] for e in top["errors"]}
        return out

    def post_all(self, bodies, path="/v1/utterances"):
        """Posts every body from THREADS threads; returns {index: (status, body)}."""
        results = {}
        lock = threading.Lock()
        srv = self.server

        def go(i):
            c = srv.client()
            for k in range(i, len(bodies), THREADS):
                st, _, out = c.post(path, bodies[k])
                with lock:
                    results[k] = (st, out)

        run_threads(THREADS, go)
        return results

    def test_1000_utterances_replayed(self):
        c = self.c
        rng = random.Random(SEED)
        owners = []
        for _ in range(5):
            uid = v1_user(c)["user_id"]
            owners.append((uid, [v1_conversation(c, uid)["conversation_id"] for _ in range(3)]))
        bodies, expected = [], Counter()
        for k in range(N):
            uid, convs = owners[rng.randrange(len(owners))]
            body = {"utterance_id": new_uuid(), "conversation_id": rng.choice(convs),
                    "user_id": uid, "content": f"utterance {k}: I goed to school."}
            if rng.random() < 0.3:
                body["created_at"] = iso(days_ago(rng.uniform(0.01, 30)))
            errors = [make_error(rng) for _ in range(rng.randint(0, 4))]
            if errors or rng.random() < 0.5:
                body["errors"] = [e for e, _ in errors]
            for _, sid in errors:
                expected[(uid, sid)] += 1
            bodies.append(body)
        user_ids = [u for u, _ in owners]
        want = {uid: {s: n for (u, s), n in expected.items() if u == uid} for uid in user_ids}

        first = self.post_all(bodies)
        bad = [(k, r) for k, r in first.items() if r[0] != 201 or r[1]["replayed"] is not False]
        self.assertEqual(bad[:3], [], f"{len(bad)} first posts not 201 replayed:false")
        self.assertEqual(self.counts(user_ids), want)
        tables = self.server.db_table_counts()
        if tables is not None:
            self.assertEqual(tables["utterances"], N)
            self.assertEqual(tables["errors"], sum(expected.values()))

        def check_replays(results, subset):
            bad = []
            for k in subset:
                st, out = results[k]
                orig = first[k][1]
                if st != 200 or out.get("replayed") is not True:
                    bad.append((k, st, out))
                    continue
                if (out["utterance_id"] != orig["utterance_id"]
                        or out["created_at"] != orig["created_at"]
                        or sorted(e["error_id"] for e in out["errors"])
                        != sorted(e["error_id"] for e in orig["errors"])):
                    bad.append((k, "differs", out, orig))
            self.assertEqual(bad[:3], [], f"{len(bad)} replays wrong")

        # The same 1,000 again.
        second = self.post_all(bodies)
        check_replays(second, range(N))
        self.assertEqual(self.counts(user_ids), want)
        self.assertEqual(self.server.db_table_counts(), tables)
        for uid, convs in owners:
            n = 0
            for cid in convs:
                st, _, view = c.get(f"/v1/conversations/{cid}")
                n += len(view["utterances"])
            self.assertEqual(n, sum(1 for b in bodies if b["user_id"] == uid))

        # A changed body under a used id is a conflict, and changes nothing.
        changed = dict(bodies[0], content="something else: I went to school.")
        st, _, out = c.post("/v1/utterances", changed)
        self.assertEqual((st, out["error"]["code"]), (409, "conflict"), out)

        # Replays are recognised from the store, not only from memory.
        self.server.restart()
        self.__class__.c = c = self.server.client()
        sample = random.Random(SEED + 1).sample(range(N), 200)
        third = self.post_all([bodies[k] for k in sample])
        check_replays({k: third[i] for i, k in enumerate(sample)}, sample)
        self.assertEqual(self.counts(user_ids), want)
        self.assertEqual(self.server.db_table_counts(), tables)

    # Six errors of one utterance, each a different label, in an order that is
    # not the labels' own (1 in 720 that random ids would sort this way).
    SIX = [{"code": "SPELL", "original": "recieve", "correction": "receive"},
           {"category": "Grammar", "subcategory": "Prepositions"},
           {"code": "R:VERB:SVA"},
           {"category": "Vocabulary", "subcategory": "Word Choice"},
           {"code": "DET"},
           {"category": "Grammar", "subcategory": "tense"}]
    SIX_IDS = ["spelling", "prepositions", "subject-verb-agreement", "word-choice",
               "articles-determiners", "verb-tense"]

    def assert_in_request_order(self, errors, ids=None):
        self.assertEqual([e["subcategory_id"] for e in errors], self.SIX_IDS, errors)
        if ids is not None:
            self.assertEqual([e["error_id"] for e in errors], ids)

    def assert_every_read_in_request_order(self, uid, cid, utt, ids):
        """The conversation view and the learner's export list them as sent."""
        st, _, view = self.c.get(f"/v1/conversations/{cid}")
        self.assertEqual(st, 200, view)
        [u] = [u for u in view["utterances"] if u["utterance_id"] == utt]
        self.assert_in_request_order(u["errors"], ids)
        st, _, export = self.c.get(f"/v1/users/{uid}/export")
        self.assertEqual(st, 200, export)
        [u] = [u for conv in export["conversations"] for u in conv["utterances"]
               if u["utterance_id"] == utt]
        self.assert_in_request_order(u["errors"], ids)

    def test_a_replay_lists_the_errors_in_the_order_sent(self):
        """errors[i] of a replay is the i-th error sent, with the id the first answer gave it:
        a client that matches errors by position gets the right ids after a retry."""
        uid = v1_user(self.c)["user_id"]
        cid = v1_conversation(self.c, uid)["conversation_id"]
        for attempt in range(3):
            utt = new_uuid()
            body = {"utterance_id": utt, "conversation_id": cid, "user_id": uid,
                    "content": f"I recieve it in monday {attempt}.", "errors": self.SIX}
            first = expect(self.c.post("/v1/utterances", body), 201)
            self.assert_in_request_order(first["errors"])
            ids = [e["error_id"] for e in first["errors"]]
            again = expect(self.c.post("/v1/utterances", body), 200)
            self.assertIs(again["replayed"], True)
            self.assert_in_request_order(again["errors"], ids)
            self.assert_every_read_in_request_order(uid, cid, utt, ids)
        # After a restart, from the store alone.
        self.server.restart()
        again = expect(self.c.post("/v1/utterances", body), 200)
        self.assert_in_request_order(again["errors"], ids)
        self.assert_every_read_in_request_order(uid, cid, utt, ids)

    def test_an_ingested_utterance_lists_its_errors_in_the_order_sent(self):
        uid, cid = new_uuid(), new_uuid()
        for attempt in range(3):
            utt = new_uuid()
            line = {"user_id": uid, "conversation_id": cid, "utterance_id": utt,
                    "content": f"I recieve it in monday {attempt}.", "errors": self.SIX}
            body = (json.dumps(line) + "\n").encode()
            st, _, out = self.c.post("/v1/ingest", raw=body)
            self.assertEqual((st, out["applied"]), (200, 1), out)
            st, _, view = self.c.get(f"/v1/conversations/{cid}")
            [u] = [u for u in view["utterances"] if u["utterance_id"] == utt]
            self.assert_in_request_order(u["errors"])
            ids = [e["error_id"] for e in u["errors"]]
            st, _, out = self.c.post("/v1/ingest", raw=body)
            self.assertEqual((st, out["replayed"]), (200, 1), out)
            # The same utterance through /v1/utterances is a replay of the line.
            again = expect(self.c.post("/v1/utterances", line), 200)
            self.assertIs(again["replayed"], True)
            self.assert_in_request_order(again["errors"], ids)
            self.assert_every_read_in_request_order(uid, cid, utt, ids)

    def test_a_conversation_retried_with_another_start_is_a_conflict(self):
        user = expect(self.c.post("/v1/users", {"username": "c", "email": unique_email()}), 201)
        cid = new_uuid()
        body = {"user_id": user["user_id"], "conversation_id": cid,
                "started_at": "2026-01-01T00:00:00Z"}
        self.assertTrue(expect(self.c.post("/v1/conversations", body), 201)["replayed"] is False)
        self.assertTrue(expect(self.c.post("/v1/conversations", body), 200)["replayed"])
        # Without a start of its own (the server's "now" differs on each retry).
        again = expect(self.c.post("/v1/conversations", {"user_id": user["user_id"],
                                                         "conversation_id": cid}), 200)
        self.assertEqual((again["replayed"], again["started_at"]),
                         (True, "2026-01-01T00:00:00.000000Z"))
        st, _, out = self.c.post("/v1/conversations", dict(body, started_at="2020-06-01T00:00:00Z"))
        self.assertEqual((st, out["error"]["code"]), (409, "conflict"), out)

    def test_ingest_twice(self):
        c = self.c
        rng = random.Random(SEED + 2)
        # Users and conversations that exist only through the ingest, plus one that exists.
        known = v1_user(c)["user_id"]
        known_conv = v1_conversation(c, known)["conversation_id"]
        people = [(new_uuid(), [new_uuid() for _ in range(2)]) for _ in range(6)]
        people.append((known, [known_conv]))
        lines, expected = [], Counter()
        for k in range(300):
            uid, convs = rng.choice(people)
            line = {"user_id": uid, "conversation_id": rng.choice(convs),
                    "username": f"ingested-{uid[:8]}", "content": f"line {k}: I goed to school, yes."}
            if k % 3:
                line["utterance_id"] = new_uuid()   # the others get an id derived from the line
            if k % 4 == 0:
                line["created_at"] = iso(days_ago(rng.uniform(0.1, 20)))
            errors = [make_error(rng) for _ in range(rng.randint(0, 3))]
            line["errors"] = [e for e, _ in errors]
            for _, sid in errors:
                expected[(uid, sid)] += 1
            lines.append(json.dumps(line))
        body = ("\n".join(lines) + "\n").encode()
        user_ids = [u for u, _ in people]
        want = {uid: {s: n for (u, s), n in expected.items() if u == uid} for uid in user_ids}

        st, _, first = c.post("/v1/ingest", raw=body)
        self.assertEqual(st, 200, first)
        self.assertEqual((first["applied"], first["replayed"], first["rejected"]), (300, 0, 0))
        self.assertEqual([r["line"] for r in first["results"]], list(range(1, 301)))
        self.assertTrue(all(r["status"] == "applied" for r in first["results"]))
        ids = {r["line"]: r["utterance_id"] for r in first["results"]}
        self.assertEqual(len(set(ids.values())), 300)
        self.assertEqual(self.counts(user_ids), want)
        tables = self.server.db_table_counts()

        def check(out):
            self.assertEqual((out["applied"], out["replayed"], out["rejected"]), (0, 300, 0))
            self.assertTrue(all(r["status"] == "replayed" for r in out["results"]))
            self.assertEqual({r["line"]: r["utterance_id"] for r in out["results"]}, ids)
            self.assertEqual(self.counts(user_ids), want)
            self.assertEqual(self.server.db_table_counts(), tables)

        st, _, second = c.post("/v1/ingest", raw=body)
        self.assertEqual(st, 200, second)
        check(second)
        # Concurrent retries of the same body: still nothing twice.
        results = []
        lock = threading.Lock()

        def retry(i):
            cl = self.server.client()
            st, _, out = cl.post("/v1/ingest", raw=body)
            with lock:
                results.append((st, out))

        run_threads(4, retry)
        for st, out in results:
            self.assertEqual(st, 200, out)
            check(out)
        # The users were created once, with their usernames.
        for uid, convs in people[:-1]:
            st, _, user = c.get(f"/v1/users/{uid}")
            self.assertEqual((st, user["username"]), (200, f"ingested-{uid[:8]}"))
            for cid in convs:
                st, _, view = c.get(f"/v1/conversations/{cid}")
                if st == 200:
                    self.assertEqual(view["user_id"], uid)


if __name__ == "__main__":
    main()
