"""GET /v1/users/search (typo-tolerant) and GET /v1/users/{id}/errors/timeline."""
import json
import re
import time
import urllib.parse
import uuid

from harness import ServerTestCase, days_ago, expect, iso, main, new_uuid, v1_conversation, v1_user


class Search(ServerTestCase):
    def test_finds_by_email_name_and_typo(self):
        tag = uuid.uuid4().hex[:6]
        maria = v1_user(self.c, username=f"Maria{tag} Lopez", email=f"maria{tag}@example.com")
        v1_user(self.c, username=f"Bob{tag}", email=f"bob{tag}@example.com")
        for q in (f"maria{tag}", f"MARIA{tag}@EXAMPLE.COM", f"mraia{tag}"):
            st, _, body = self.c.get(f"/v1/users/search?q={q}")
            self.assertEqual(st, 200, body)
            ids = [u["user_id"] for u in body["users"]]
            self.assertIn(maria["user_id"], ids, q)
            self.assertEqual(ids[0], maria["user_id"], q)
        st, _, body = self.c.get(f"/v1/users/search?q=qqqqqqqq{tag}")
        self.assertEqual((st, body["users"]), (200, []))

    def test_a_new_learner_is_found_by_typo_among_many_with_client_ids(self):
        # The typo fallback looks at the newest 5,000 learners. 6,000 learners
        # with client-chosen ids, all sorting above errata's own (UUIDv7),
        # come first: the newest must be found by creation time, not by id.
        for _ in range(6):
            lines = [json.dumps({"user_id": "f" + str(uuid.uuid4())[1:],
                                 "conversation_id": new_uuid(), "content": "x",
                                 "errors": [{"code": "R:PREP"}]}) for _ in range(1000)]
            st, _, out = self.c.post("/v1/ingest", raw=("\n".join(lines) + "\n").encode())
            self.assertEqual((st, out["applied"]), (200, 1000), out)
        tag = uuid.uuid4().hex[:6]
        new = v1_user(self.c, username=f"Margarethe{tag} Lindqvist{tag}")
        for q in (f"Margrethe{tag}", f"lindqvist{tag}"):
            st, _, body = self.c.get(f"/v1/users/search?q={q}")
            self.assertEqual(st, 200, body)
            self.assertIn(new["user_id"], [u["user_id"] for u in body["users"]], q)

    def test_an_older_learner_is_found_by_a_typo_anywhere_in_the_name(self):
        # Created before 6,000 others, so not among the newest 5,000: a typo
        # finds the learner through the trigrams of the name, in the first
        # word or in a later one.
        tag = uuid.uuid4().hex[:6]
        old = v1_user(self.c, username=f"Margarethe{tag} Lindqvist{tag}")
        # Names beyond ASCII: found without their accents, in any case, by a
        # typo of one letter (core/search_fold.h).
        jose = v1_user(self.c, username=f"José{tag} García{tag}")
        yulia = v1_user(self.c, username=f"Юлия{tag} Иванова{tag}")
        # And a typo in an email (its local part is indexed too).
        ada = v1_user(self.c, username="Qi", email=f"okonkwo.ada{tag}@example.com")
        for _ in range(6):
            lines = [json.dumps({"user_id": new_uuid(), "username": f"learner {new_uuid()[:8]}",
                                 "conversation_id": new_uuid(), "content": "x",
                                 "errors": [{"code": "R:PREP"}]}) for _ in range(1000)]
            st, _, out = self.c.post("/v1/ingest", raw=("\n".join(lines) + "\n").encode())
            self.assertEqual((st, out["applied"]), (200, 1000), out)
        for q in (f"Margrethe{tag}", f"Lindqvst{tag}", f"lindkvist{tag}"):
            st, _, body = self.c.get(f"/v1/users/search?q={q}")
            self.assertEqual(st, 200, body)
            self.assertEqual([u["user_id"] for u in body["users"]][:1], [old["user_id"]], q)
        for q, who in ((f"jose{tag} garcia{tag}", jose), (f"GARCIA{tag}", jose),
                       (f"Garsia{tag}", jose), (f"иваова{tag}", yulia), (f"ЮЛИЯ{tag}", yulia),
                       (f"okonkow.ada{tag}", ada), (f"ada{tag}", ada)):
            st, _, body = self.c.get("/v1/users/search?q=" + urllib.parse.quote(q))
            self.assertEqual(st, 200, body)
            self.assertEqual([u["user_id"] for u in body["users"]][:1], [who["user_id"]], q)
            self.assertEqual(body["users"][0]["username"], who["username"], q)
        st, _, body = self.c.get(f"/v1/users/search?q=Zzyzx{tag}")
        self.assertEqual((st, body["users"]), (200, []), body)

    def test_a_search_runs_on_the_thread_of_long_reads(self):
        # 5-30 ms of reading and ranking candidates stalled every connection
        # of an HTTP thread (docs/http.md, "Long reads"). A bad query is
        # answered at once, there.
        def long_reads():
            st, _, text = self.c.get("/metrics")
            self.assertEqual(st, 200)
            return int(re.search(r"^errata_slow_reads_total (\d+)$", text, re.M).group(1))
        before = long_reads()
        st, _, body = self.c.get("/v1/users/search?q=someone")
        self.assertEqual(st, 200, body)
        self.assertEqual(self.c.get("/v1/users/search?q=")[0], 422)
        # The slow thread counts a read once it has answered (the searches of
        # the tests before may still be counting): wait for this one.
        deadline = time.monotonic() + 5
        while long_reads() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertGreater(long_reads(), before)

    def test_bad_queries(self):
        for path in ("/v1/users/search", "/v1/users/search?q=", "/v1/users/search?q=a&limit=0",
                     "/v1/users/search?q=a&limit=x"):
            st, _, body = self.c.get(path)
            self.assertEqual(st, 422, (path, body))


class Timeline(ServerTestCase):
    def test_counts_per_day_and_category(self):
        uid = v1_user(self.c)["user_id"]
        cid = v1_conversation(self.c, uid)["conversation_id"]
        def post(when, codes):
            expect(self.c.post("/v1/utterances", {
                "user_id": uid, "conversation_id": cid, "content": "x", "created_at": iso(when),
                "errors": [{"code": c} for c in codes]}), 201)
        post(days_ago(2), ["R:PREP", "R:PREP", "R:SPELL"])
        post(days_ago(0), ["R:VERB:SVA"])
        post(days_ago(40), ["R:PREP"])  # outside the window
        st, _, body = self.c.get(f"/v1/users/{uid}/errors/timeline?days=30")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["days"], 30)
        self.assertEqual(len(body["series"]), 30)
        self.assertIn("Grammar", body["categories"])
        self.assertIn("Mechanics", body["categories"])
        by_date = {d["date"]: d["counts"] for d in body["series"]}
        two_ago = iso(days_ago(2))[:10]
        today = body["series"][-1]["date"]
        self.assertEqual(by_date[two_ago]["Grammar"], 2)
        self.assertEqual(by_date[two_ago]["Mechanics"], 1)
        self.assertEqual(by_date[today]["Grammar"], 1)
        self.assertEqual(sum(sum(d["counts"].values()) for d in body["series"]), 4)

    def test_errors(self):
        st, _, _ = self.c.get(f"/v1/users/{new_uuid()}/errors/timeline")
        self.assertEqual(st, 404)
        uid = v1_user(self.c)["user_id"]
        st, _, _ = self.c.get(f"/v1/users/{uid}/errors/timeline?days=0")
        self.assertEqual(st, 422)


if __name__ == "__main__":
    main()
