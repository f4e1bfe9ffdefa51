"""The versioned API: /v1/users, /v1/conversations, /v1/utterances, /v1/ingest,
/v1/users/{id}/errors/top, and the operations routes."""

import contextlib
import json
import os
import re
import socket
import sys
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ServerTestCase, days_ago, iso, main, new_uuid, now_utc, parse_time,
                     raw_http, read_until_closed, top_counts, unique_email, v1_conversation,
                     v1_user)

ERROR_KEYS = {"error_id", "category", "subcategory", "subcategory_id", "code", "span", "original",
              "correction", "explanation", "created_at"}


class V1Base(ServerTestCase):

    @contextlib.contextmanager
    def assertNoWrites(self):
        """The SQLite tables have the same row counts afterwards (skipped without SQLite)."""
        before = self.server.db_table_counts()
        yield
        after = self.server.db_table_counts()
        if before is not None:
            self.assertEqual(after, before, "a rejected request wrote to the store")

    def new_conversation(self, **fields):
        user = v1_user(self.c)
        conv = v1_conversation(self.c, user["user_id"], **fields)
        return user["user_id"], conv["conversation_id"]

    def post_utterance(self, body, status=201):
        st, _, out = self.c.post("/v1/utterances", body)
        self.assertEqual(st, status, out)
        return out


class Users(V1Base):

    def test_create_and_get(self):
        email = unique_email("Carol")
        st, _, body = self.c.post("/v1/users", {"username": "carol", "email": email})
        self.assertEqual(st, 201, body)
        self.assertEqual(body["username"], "carol")
        self.assertEqual(body["email"], email)
        self.assertIs(body["replayed"], False)
        parse_time(body["created_at"])
        st, _, got = self.c.get(f"/v1/users/{body['user_id']}")
        self.assertEqual(st, 200, got)
        self.assertEqual({k: got[k] for k in ("user_id", "username", "email", "created_at")},
                         {k: body[k] for k in ("user_id", "username", "email", "created_at")})

    def test_client_id_replay_and_conflicts(self):
        uid, email = new_uuid(), unique_email("dave")
        st, _, first = self.c.post("/v1/users", {"user_id": uid, "username": "dave", "email": email})
        self.assertEqual(st, 201, first)
        self.assertEqual(first["user_id"], uid)
        self.assertIs(first["replayed"], False)
        with self.assertNoWrites():
            st, _, again = self.c.post("/v1/users", {"user_id": uid, "username": "dave",
                                                     "email": email})
            self.assertEqual(st, 200, again)
            self.assertIs(again["replayed"], True)
            self.assertEqual(again["user_id"], uid)
            self.assertEqual(again["created_at"], first["created_at"])
            # The email compares case-insensitively; a replay answers the stored one.
            st, _, upper = self.c.post("/v1/users", {"user_id": uid, "username": "dave",
                                                     "email": email.upper()})
            self.assertEqual((st, upper["replayed"], upper["email"]), (200, True, email), upper)
            # Same id, other details.
            self.assertV1Error(self.c.post("/v1/users", {"user_id": uid, "username": "not-dave",
                                                         "email": email}), 409, "conflict")
            self.assertV1Error(self.c.post("/v1/users", {"user_id": uid, "username": "dave",
                                                         "email": unique_email()}), 409, "conflict")
            # Email taken by another user, in any case.
            for other in (email, email.upper()):
                self.assertV1Error(self.c.post("/v1/users", {"username": "eve", "email": other}),
                                   409, "conflict")
                self.assertV1Error(self.c.post("/v1/users", {"user_id": new_uuid(),
                                                             "username": "eve", "email": other}),
                                   409, "conflict")
        st, _, got = self.c.get(f"/v1/users/{uid}")
        self.assertEqual((st, got["username"], got["email"]), (200, "dave", email))
        # The seed route sees the same registry.
        st, _, body = self.c.post("/users/", {"username": "x", "email": email.upper()})
        self.assertEqual((st, body), (400, {"detail": "Email already registered"}))

    def test_get_errors(self):
        self.assertV1Error(self.c.get(f"/v1/users/{new_uuid()}"), 404, "not_found")
        self.assertV1Error(self.c.get("/v1/users/not-a-uuid"), 422, "invalid_argument")
        self.assertV1Error(self.c.get("/v1/users/" + "1" * 36), 422, "invalid_argument")

    def test_validation(self):
        with self.assertNoWrites():
            self.assertV1Error(self.c.post("/v1/users", {"username": "x"}), 422,
                               "invalid_argument", "email")
            self.assertV1Error(self.c.post("/v1/users", {"email": unique_email()}), 422,
                               "invalid_argument", "username")
            self.assertV1Error(self.c.post("/v1/users", {"username": "x", "email": "nope"}), 422,
                               "invalid_argument", "email")
            self.assertV1Error(self.c.post("/v1/users", {"username": 1, "email": unique_email()}),
                               422, "invalid_argument", "username")
            self.assertV1Error(self.c.post("/v1/users", {"username": "x", "email": unique_email(),
                                                         "user_id": "123"}),
                               422, "invalid_argument", "user_id")
            self.assertV1Error(self.c.post("/v1/users", raw=b"{"), 400, "invalid_json")


class Conversations(V1Base):

    def test_create_and_view_empty(self):
        user = v1_user(self.c)
        started = days_ago(2)
        st, _, conv = self.c.post("/v1/conversations", {"user_id": user["user_id"],
                                                        "started_at": iso(started)})
        self.assertEqual(st, 201, conv)
        self.assertEqual(conv["user_id"], user["user_id"])
        self.assertEqual(parse_time(conv["started_at"]), started)
        st, _, view = self.c.get(f"/v1/conversations/{conv['conversation_id']}")
        self.assertEqual(st, 200, view)
        self.assertEqual(view["conversation_id"], conv["conversation_id"])
        self.assertEqual(view["user_id"], user["user_id"])
        self.assertEqual(parse_time(view["started_at"]), started)
        self.assertEqual(view["utterances"], [])

    def test_client_conversation_id(self):
        user = v1_user(self.c)
        cid = new_uuid()
        st, _, conv = self.c.post("/v1/conversations", {"user_id": user["user_id"],
                                                        "conversation_id": cid})
        self.assertEqual(st, 201, conv)
        self.assertEqual(conv["conversation_id"], cid)
        self.assertEqual(self.c.get(f"/v1/conversations/{cid}")[0], 200)

    def test_errors(self):
        with self.assertNoWrites():
            self.assertV1Error(self.c.post("/v1/conversations", {"user_id": new_uuid()}),
                               404, "not_found")
            self.assertV1Error(self.c.post("/v1/conversations", {"user_id": "x"}), 422,
                               "invalid_argument", "user_id")
            self.assertV1Error(self.c.post("/v1/conversations", {}), 422, "invalid_argument",
                               "user_id")
        user = v1_user(self.c)
        with self.assertNoWrites():
            self.assertV1Error(self.c.post("/v1/conversations", {
                "user_id": user["user_id"],
                "started_at": iso(now_utc() + timedelta(minutes=10))}),
                422, "invalid_argument", "started_at")
            self.assertV1Error(self.c.post("/v1/conversations", {
                "user_id": user["user_id"], "started_at": "yesterday"}),
                422, "invalid_argument", "started_at")
            self.assertV1Error(self.c.get(f"/v1/conversations/{new_uuid()}"), 404, "not_found")
            self.assertV1Error(self.c.get("/v1/conversations/xyz"), 422, "invalid_argument")

    def test_a_learners_conversations_by_pages(self):
        user = v1_user(self.c)
        uid = user["user_id"]
        base = f"/v1/users/{uid}/conversations"
        self.assertEqual(self.c.get(base)[2], {"user_id": uid, "conversations": [], "next": None})
        convs = [v1_conversation(self.c, uid, started_at=iso(days_ago(d)))
                 for d in (3, 2, 1)]
        for _ in range(2):
            self.post_utterance({"user_id": uid, "conversation_id": convs[1]["conversation_id"],
                                 "content": "I goes home.", "errors": []})
        st, _, body = self.c.get(base)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["user_id"], uid)
        self.assertIsNone(body["next"])
        listed = body["conversations"]
        self.assertEqual([c["conversation_id"] for c in listed],
                         [c["conversation_id"] for c in reversed(convs)])  # newest first
        for c in listed:
            self.assertEqual(set(c), {"conversation_id", "user_id", "started_at", "utterances",
                                      "last_utterance_at"})
            self.assertEqual(c["user_id"], uid)
        self.assertEqual([c["utterances"] for c in listed], [0, 2, 0])
        self.assertIsNone(listed[0]["last_utterance_at"])
        last = parse_time(listed[1]["last_utterance_at"])
        self.assertLess(abs((now_utc() - last).total_seconds()), 300)
        self.assertEqual([parse_time(c["started_at"]) for c in listed],
                         [parse_time(c["started_at"]) for c in reversed(convs)])
        # By pages of two: the second page continues after the first's last.
        st, _, first = self.c.get(base + "?limit=2")
        self.assertEqual(st, 200, first)
        self.assertEqual(first["conversations"], listed[:2])
        self.assertIsInstance(first["next"], str)
        st, _, second = self.c.get(f"{base}?limit=2&after={first['next']}")
        self.assertEqual(st, 200, second)
        self.assertEqual(second["conversations"], listed[2:])
        self.assertIsNone(second["next"])

    def test_a_learners_conversations_errors(self):
        uid = v1_user(self.c)["user_id"]
        base = f"/v1/users/{uid}/conversations"
        self.assertV1Error(self.c.get(f"/v1/users/{new_uuid()}/conversations"), 404, "not_found")
        self.assertV1Error(self.c.get("/v1/users/xyz/conversations"), 422, "invalid_argument",
                           "user_id")
        for limit in ("0", "101", "x", ""):
            self.assertV1Error(self.c.get(f"{base}?limit={limit}"), 422, "invalid_argument",
                               "limit")
        for after in ("x", "12_" + "y" * 36, "x_" + new_uuid(), new_uuid()):
            self.assertV1Error(self.c.get(f"{base}?after={after}"), 422, "invalid_argument",
                               "after")


class Utterances(V1Base):

    def test_create_with_errors_and_view(self):
        uid, cid = self.new_conversation()
        body = {
            "conversation_id": cid, "user_id": uid, "content": "She go to the school yesterday.",
            "errors": [
                {"category": "Grammar", "subcategory": "Subject-Verb Agreement",
                 "span": {"start": 4, "end": 6}, "original": "go", "correction": "goes",
                 "explanation": "Third person singular takes -s."},
                {"category": "Grammar", "subcategory": "articles"},
                {"code": "R:VERB:SVA"},
            ]}
        out = self.post_utterance(body)
        self.assertEqual(out["conversation_id"], cid)
        self.assertEqual(out["user_id"], uid)
        self.assertEqual(out["content"], body["content"])
        self.assertIs(out["replayed"], False)
        parse_time(out["created_at"])
        errs = out["errors"]
        self.assertEqual(len(errs), 3)
        for e in errs:
            self.assertTrue(ERROR_KEYS <= set(e), e)
            self.assertIn("resolved_by", e)
        self.assertEqual([(e["category"], e["subcategory"], e["subcategory_id"]) for e in errs], [
            ("Grammar", "Subject-Verb Agreement", "subject-verb-agreement"),
            ("Grammar", "Articles & Determiners", "articles-determiners"),
            ("Grammar", "Subject-Verb Agreement", "subject-verb-agreement")])
        self.assertEqual(errs[0]["span"], {"start": 4, "end": 6})
        self.assertEqual((errs[0]["original"], errs[0]["correction"], errs[0]["explanation"]),
                         ("go", "goes", "Third person singular takes -s."))
        self.assertIsNone(errs[1]["span"])
        self.assertEqual(errs[2]["resolved_by"], "code")
        self.assertEqual(len({e["error_id"] for e in errs}), 3)

        # A second utterance, then the conversation view holds both in order.
        out2 = self.post_utterance({"conversation_id": cid, "user_id": uid, "content": "Fine.",
                                    "errors": []})
        self.assertEqual(out2["errors"], [])
        st, _, view = self.c.get(f"/v1/conversations/{cid}")
        self.assertEqual(st, 200, view)
        self.assertEqual([u["utterance_id"] for u in view["utterances"]],
                         [out["utterance_id"], out2["utterance_id"]])
        u0 = view["utterances"][0]
        self.assertEqual(u0["content"], body["content"])
        self.assertEqual(parse_time(u0["created_at"]), parse_time(out["created_at"]))
        self.assertEqual(len(u0["errors"]), 3)
        for e in u0["errors"]:
            self.assertTrue(ERROR_KEYS <= set(e), e)
        by_id = {e["error_id"]: e for e in u0["errors"]}
        self.assertEqual(set(by_id), {e["error_id"] for e in errs})
        for e in errs:
            stored = by_id[e["error_id"]]
            for k in ERROR_KEYS - {"created_at"}:
                self.assertEqual(stored[k], e[k], k)
        self.assertEqual(view["utterances"][1]["errors"], [])
        self.assertEqual(top_counts(self.c, uid),
                         {"subject-verb-agreement": 2, "articles-determiners": 1})

    def test_unicode_round_trip(self):
        uid, cid = self.new_conversation()
        text = 'Ça va? 你好 😀 "quoted" back\\slash\nnew line\ttab \u00e9\u0301 \u2028'
        out = self.post_utterance({"conversation_id": cid, "user_id": uid, "content": text,
                                   "errors": [{"code": "SPELL", "original": "😀",
                                               "correction": "你好", "explanation": text}]})
        self.assertEqual(out["content"], text)
        st, _, view = self.c.get(f"/v1/conversations/{cid}")
        u = view["utterances"][0]
        self.assertEqual(u["content"], text)
        self.assertEqual((u["errors"][0]["original"], u["errors"][0]["correction"],
                          u["errors"][0]["explanation"]), ("😀", "你好", text))
        # \u escapes in the request decode to the same text.
        raw = json.dumps({"conversation_id": cid, "user_id": uid, "content": "é😀"},
                         ensure_ascii=True).encode()
        self.assertIn(b"\\ud83d\\ude00", raw)
        st, _, out = self.c.post("/v1/utterances", raw=raw)
        self.assertEqual((st, out["content"]), (201, "é😀"))
        # The seed routes too.
        st, _, user = self.c.post("/users/", {"username": "Zoë 🎓", "email": unique_email()})
        self.assertEqual((st, user["username"]), (200, "Zoë 🎓"))

    def test_code_only(self):
        uid, cid = self.new_conversation()
        for code in ("R:VERB:SVA", "VERB:SVA", "r:verb:sva"):
            out = self.post_utterance({"conversation_id": cid, "user_id": uid,
                                       "errors": [{"code": code}]})
            e = out["errors"][0]
            self.assertEqual((e["category"], e["subcategory"], e["subcategory_id"]),
                             ("Grammar", "Subject-Verb Agreement", "subject-verb-agreement"), code)
        self.assertEqual(top_counts(self.c, uid), {"subject-verb-agreement": 3})
        with self.assertNoWrites():
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": cid, "user_id": uid, "errors": [{"code": "NO:SUCH:CODE"}]}),
                422, "invalid_argument")
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": cid, "user_id": uid, "errors": [{}]}), 422, "invalid_argument")

    def test_replay_and_conflict(self):
        uid, cid = self.new_conversation()
        utt = new_uuid()
        body = {"utterance_id": utt, "conversation_id": cid, "user_id": uid, "content": "I goed.",
                "errors": [{"category": "Grammar", "subcategory": "Verb Form"},
                           {"category": "Vocabulary", "subcategory": "Word Choice"}]}
        first = self.post_utterance(body, 201)
        self.assertEqual(first["utterance_id"], utt)
        with self.assertNoWrites():
            again = self.post_utterance(body, 200)
            self.assertIs(again["replayed"], True)
            self.assertEqual(again["utterance_id"], utt)
            self.assertEqual(parse_time(again["created_at"]), parse_time(first["created_at"]))
            # In the order sent, with the ids the first answer gave them.
            self.assertEqual([e["error_id"] for e in again["errors"]],
                             [e["error_id"] for e in first["errors"]])
            # The conflict names the id, on every store.
            changed = dict(body, content="I went.")
            self.assertV1Error(self.c.post("/v1/utterances", changed), 409, "conflict",
                               "utterance_id")
            changed = dict(body, errors=body["errors"][:1])
            self.assertV1Error(self.c.post("/v1/utterances", changed), 409, "conflict",
                               "utterance_id")
            st, _, out = self.c.post("/v1/ingest", raw=json.dumps(changed).encode())
            self.assertEqual((st, out["rejected"]), (200, 1), out)
            self.assertEqual((out["results"][0]["error"]["code"],
                              out["results"][0]["error"].get("field")),
                             ("conflict", "utterance_id"), out)
        self.assertEqual(top_counts(self.c, uid), {"verb-form": 1, "word-choice": 1})
        st, _, view = self.c.get(f"/v1/conversations/{cid}")
        self.assertEqual([u["utterance_id"] for u in view["utterances"]], [utt])
        self.assertEqual(len(view["utterances"][0]["errors"]), 2)

    def test_created_at_backfill_and_future(self):
        uid, cid = self.new_conversation()
        old, older = days_ago(3), days_ago(10)
        a = self.post_utterance({"conversation_id": cid, "user_id": uid, "created_at": iso(old),
                                 "errors": [{"category": "Grammar", "subcategory": "Pronouns"}]})
        self.assertEqual(parse_time(a["created_at"]), old)
        self.assertEqual(parse_time(a["errors"][0]["created_at"]), old)
        self.post_utterance({"conversation_id": cid, "user_id": uid, "created_at": iso(older),
                             "errors": [{"category": "Grammar", "subcategory": "Pronouns"}]})
        st, _, top = self.c.get(f"/v1/users/{uid}/errors/top")
        self.assertEqual(st, 200, top)
        (p,) = top["errors"]
        self.assertEqual((p["subcategory_id"], p["frequency"]), ("pronouns", 2))
        self.assertEqual(parse_time(p["first_seen"]), older)
        self.assertEqual(parse_time(p["last_seen"]), old)
        # An explicit offset is honoured.
        c = self.post_utterance({"conversation_id": cid, "user_id": uid,
                                 "created_at": "2024-01-02T03:04:05+02:00", "errors": []})
        self.assertEqual(parse_time(c["created_at"]), parse_time("2024-01-02T01:04:05Z"))
        # Less than a minute ahead is clock skew, and accepted as sent.
        soon = now_utc() + timedelta(seconds=20)
        d = self.post_utterance({"conversation_id": cid, "user_id": uid, "created_at": iso(soon),
                                 "errors": []})
        self.assertEqual(parse_time(d["created_at"]), soon)
        with self.assertNoWrites():
            for ahead in (timedelta(minutes=2), timedelta(days=1), timedelta(days=3650)):
                self.assertV1Error(self.c.post("/v1/utterances", {
                    "conversation_id": cid, "user_id": uid, "created_at": iso(now_utc() + ahead),
                    "errors": [{"category": "Grammar", "subcategory": "Pronouns"}]}),
                    422, "invalid_argument", "created_at")
            for bad in ("2024-13-01T00:00:00Z", "not a time", "2024-02-30T00:00:00Z", 12345):
                self.assertV1Error(self.c.post("/v1/utterances", {
                    "conversation_id": cid, "user_id": uid, "created_at": bad}),
                    422, "invalid_argument", "created_at")
        self.assertEqual(top_counts(self.c, uid), {"pronouns": 2})

    def test_errors(self):
        uid, cid = self.new_conversation()
        other = v1_user(self.c)["user_id"]
        with self.assertNoWrites():
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": new_uuid(), "user_id": uid, "content": "x"}), 404, "not_found")
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": cid, "user_id": other, "content": "x",
                "errors": [{"code": "DET"}]}), 422, "invalid_argument")
            self.assertV1Error(self.c.post("/v1/utterances", {"user_id": uid}), 422,
                               "invalid_argument", "conversation_id")
            self.assertV1Error(self.c.post("/v1/utterances", {"conversation_id": cid}), 422,
                               "invalid_argument", "user_id")
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": cid, "user_id": uid, "utterance_id": "bad"}),
                422, "invalid_argument", "utterance_id")
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": cid, "user_id": uid, "errors": {"code": "DET"}}),
                422, "invalid_argument", "errors")
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": cid, "user_id": uid,
                "errors": [{"code": "DET", "span": {"start": 5, "end": 2}}]}),
                422, "invalid_argument")
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": cid, "user_id": uid,
                "errors": [{"code": "DET", "span": {"start": "a", "end": 2}}]}),
                422, "invalid_argument")
            # One bad error rejects the whole utterance, the good ones included.
            self.assertV1Error(self.c.post("/v1/utterances", {
                "conversation_id": cid, "user_id": uid,
                "errors": [{"code": "DET"}, {"category": "Grammar", "subcategory": 7}]}),
                422, "invalid_argument")
        self.assertEqual(top_counts(self.c, uid), {})
        self.assertEqual(top_counts(self.c, other), {})


class TopErrors(V1Base):

    def test_since_and_as_of(self):
        uid, cid = self.new_conversation()
        t10, t5, t2 = days_ago(10), days_ago(5), days_ago(2)
        for when, errors in ((t10, [("Grammar", "Pronouns")] * 2),
                             (t5, [("Grammar", "Pronouns"), ("Vocabulary", "Word Choice")]),
                             (t2, [("Vocabulary", "Word Choice")] * 2)):
            self.post_utterance({"conversation_id": cid, "user_id": uid, "created_at": iso(when),
                                 "errors": [{"category": a, "subcategory": b} for a, b in errors]})
        self.assertEqual(top_counts(self.c, uid), {"pronouns": 3, "word-choice": 3})
        # since is inclusive: errors at exactly t5 count.
        self.assertEqual(top_counts(self.c, uid, since=iso(t5)), {"pronouns": 1, "word-choice": 3})
        self.assertEqual(top_counts(self.c, uid, since=iso(t5 + timedelta(microseconds=1))),
                         {"word-choice": 2})
        self.assertEqual(top_counts(self.c, uid, since=iso(days_ago(1))), {})
        # An offset in the query ('+' percent-encoded) means the same instant.
        plus = (t5 + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "%2B02:00"
        self.assertEqual(top_counts(self.c, uid, since=plus), {"pronouns": 1, "word-choice": 3})
        self.assertEqual(top_counts(self.c, uid, since=iso(days_ago(30))),
                         {"pronouns": 3, "word-choice": 3})
        # Within the window, first/last seen are the window's.
        st, _, top = self.c.get(f"/v1/users/{uid}/errors/top?since={iso(t5)}")
        self.assertEqual(st, 200, top)
        self.assertEqual([e["subcategory_id"] for e in top["errors"]], ["word-choice", "pronouns"])
        wc = top["errors"][0]
        self.assertEqual((parse_time(wc["first_seen"]), parse_time(wc["last_seen"])), (t5, t2))
        # as_of is echoed and bounds a window.
        as_of = days_ago(4)
        st, _, top = self.c.get(f"/v1/users/{uid}/errors/top?since={iso(days_ago(30))}"
                                f"&as_of={iso(as_of)}")
        self.assertEqual(st, 200, top)
        self.assertEqual(top["user_id"], uid)
        self.assertEqual(parse_time(top["as_of"]), as_of)
        self.assertEqual({e["subcategory_id"]: e["frequency"] for e in top["errors"]},
                         {"pronouns": 3, "word-choice": 1})

    def test_as_of_counts_only_the_errors_up_to_it(self):
        # A replay at as_of sees the learner as they were then: the 40 later
        # errors counted (frequency 40, first seen after as_of) in top and
        # practice before.
        uid, cid = self.new_conversation()
        early, late = days_ago(18), days_ago(2)
        self.post_utterance({"conversation_id": cid, "user_id": uid, "created_at": iso(early),
                             "content": "She like it.",
                             "errors": [{"category": "Grammar", "subcategory": "Pronouns"}] * 2})
        self.post_utterance({"conversation_id": cid, "user_id": uid, "created_at": iso(late),
                             "content": "I saw a apple.",
                             "errors": [{"code": "R:DET", "original": "a",
                                         "correction": "an"}] * 40})
        as_of = iso(early + timedelta(days=1))
        st, _, top = self.c.get(f"/v1/users/{uid}/errors/top?as_of={as_of}")
        self.assertEqual(st, 200, top)
        self.assertEqual([(e["subcategory_id"], e["frequency"], parse_time(e["last_seen"]))
                          for e in top["errors"]], [("pronouns", 2, early)])
        st, _, practice = self.c.get(f"/v1/users/{uid}/exercises?n=10&seed=3&as_of={as_of}")
        self.assertEqual(st, 200, practice)
        self.assertTrue(practice["exercises"], practice)
        for item in practice["exercises"]:
            self.assertEqual((item["subcategory_id"], item["because"]["count"]), ("pronouns", 2), item)
            self.assertEqual(item["source"], "bank", item)  # the own words came later
        # At or after the newest error, and without as_of: every error.
        for at in (iso(late), iso(late + timedelta(days=1)), None):
            query = {"as_of": at} if at else {}
            self.assertEqual(top_counts(self.c, uid, **query),
                             {"articles-determiners": 40, "pronouns": 2}, at)
        st, _, practice = self.c.get(f"/v1/users/{uid}/exercises?n=10&seed=3")
        self.assertIn("articles-determiners", {i["subcategory_id"] for i in practice["exercises"]})

    def test_shape_order_and_n(self):
        uid, cid = self.new_conversation()
        errors = [("Grammar", "Verb Tense")] * 3 + [("Grammar", "Pronouns")] * 2 + \
                 [("Grammar", "Prepositions"), ("Grammar", "Articles & Determiners")]
        self.post_utterance({"conversation_id": cid, "user_id": uid,
                             "errors": [{"category": a, "subcategory": b} for a, b in errors]})
        st, _, top = self.c.get(f"/v1/users/{uid}/errors/top")
        self.assertEqual(st, 200, top)
        self.assertEqual(top["user_id"], uid)
        parse_time(top["as_of"])
        self.assertEqual([(e["category"], e["subcategory"], e["subcategory_id"], e["frequency"])
                          for e in top["errors"]], [
            ("Grammar", "Verb Tense", "verb-tense", 3),
            ("Grammar", "Pronouns", "pronouns", 2),
            ("Grammar", "Articles & Determiners", "articles-determiners", 1),
            ("Grammar", "Prepositions", "prepositions", 1)])
        for e in top["errors"]:
            self.assertEqual(set(e), {"category", "subcategory", "subcategory_id", "frequency",
                                      "first_seen", "last_seen", "recent_score", "mastery"})
            self.assertIsInstance(e["recent_score"], (int, float))
            self.assertIsInstance(e["mastery"], (int, float))
            self.assertLessEqual(parse_time(e["first_seen"]), parse_time(e["last_seen"]))
        st, _, top = self.c.get(f"/v1/users/{uid}/errors/top?n=2")
        self.assertEqual([e["subcategory_id"] for e in top["errors"]], ["verb-tense", "pronouns"])
        st, _, top = self.c.get(f"/v1/users/{uid}/errors/top?n=100")
        self.assertEqual(len(top["errors"]), 4)

    def test_errors(self):
        user = v1_user(self.c)
        st, _, top = self.c.get(f"/v1/users/{user['user_id']}/errors/top")
        self.assertEqual((st, top["errors"]), (200, []))
        self.assertV1Error(self.c.get(f"/v1/users/{new_uuid()}/errors/top"), 404, "not_found")
        self.assertV1Error(self.c.get("/v1/users/zzz/errors/top"), 422, "invalid_argument")
        for n in ("0", "101", "-1", "abc", "", "99999999999999999999"):
            with self.subTest(n=n):
                self.assertV1Error(self.c.get(f"/v1/users/{user['user_id']}/errors/top?n={n}"),
                                   422, "invalid_argument", "n")
        self.assertV1Error(self.c.get(f"/v1/users/{user['user_id']}/errors/top?since=nope"),
                           422, "invalid_argument", "since")
        self.assertV1Error(self.c.get(f"/v1/users/{user['user_id']}/errors/top?as_of=nope"),
                           422, "invalid_argument", "as_of")
        # A window that ends before it starts is a mistake, not "no errors";
        # since may equal as_of (both ends count), and now is as_of's default.
        uid, a, b = user["user_id"], iso(days_ago(2)), iso(days_ago(3))
        self.assertV1Error(self.c.get(f"/v1/users/{uid}/errors/top?since={a}&as_of={b}"),
                           422, "invalid_argument", "since")
        self.assertV1Error(self.c.get(f"/v1/users/{uid}/errors/top?since={iso(days_ago(-1))}"),
                           422, "invalid_argument", "since")
        self.assertEqual(self.c.get(f"/v1/users/{uid}/errors/top?since={a}&as_of={a}")[0], 200)


class Ingest(V1Base):

    def test_mixed_lines_and_replay(self):
        uid, cid, cid2 = new_uuid(), new_uuid(), new_uuid()
        owner, owned = self.new_conversation()   # a conversation of another user
        utt1 = new_uuid()
        lines = [
            json.dumps({"user_id": uid, "conversation_id": cid, "username": "ingest-bob",
                        "utterance_id": utt1, "content": "He don't know.",
                        "created_at": iso(days_ago(1)),
                        "errors": [{"code": "R:VERB:SVA"}, {"category": "Grammar",
                                                            "subcategory": "verb tense"}]}),  # 1
            '{"user_id": "' + uid + '", "conversation_id": ',                               # 2
            json.dumps({"user_id": uid, "content": "no conversation"}),                      # 3
            "",                                                                               # 4
            json.dumps({"user_id": uid, "conversation_id": cid, "content": "Second one.",
                        "errors": [{"category": "Vocabulary", "subcategory": "Word Choice"}]}),  # 5
            json.dumps({"user_id": uid, "conversation_id": cid2, "content": "Other chat.",
                        "errors": [{"code": "DET"}], "unknown_field": {"x": 1}}),            # 6
            "[1, 2, 3]",                                                                      # 7
            json.dumps({"user_id": uid, "conversation_id": cid, "content": "future",
                        "created_at": iso(now_utc() + timedelta(hours=1))}),                 # 8
            json.dumps({"user_id": uid, "conversation_id": owned, "content": "not mine",
                        "errors": [{"code": "DET"}]}),                                       # 9
            json.dumps({"user_id": uid, "conversation_id": cid,
                        "errors": [{"category": "Grammar"}]}),                               # 10
        ]
        body = "\n".join(lines) + "\n"
        st, _, out = self.c.post("/v1/ingest", raw=body.encode(),
                                 headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual(st, 200, out)
        self.assertEqual((out["applied"], out["replayed"], out["rejected"]), (3, 0, 6), out)
        self.assertEqual([(r["line"], r["status"]) for r in out["results"]], [
            (1, "applied"), (2, "rejected"), (3, "rejected"), (5, "applied"), (6, "applied"),
            (7, "rejected"), (8, "rejected"), (9, "rejected"), (10, "rejected")])
        applied = {r["line"]: r for r in out["results"] if r["status"] == "applied"}
        self.assertEqual(applied[1]["utterance_id"], utt1)
        for r in out["results"]:
            if r["status"] == "rejected":
                self.assertIsInstance(r["error"]["code"], str, r)
                self.assertIsInstance(r["error"]["message"], str, r)
        rejected = {r["line"]: r for r in out["results"] if r["status"] == "rejected"}
        self.assertEqual(rejected[2]["error"]["code"], "invalid_json")
        self.assertEqual(rejected[3]["error"].get("field"), "conversation_id")
        self.assertEqual(rejected[8]["error"].get("field"), "created_at")

        # The user and conversations were created on first sight.
        st, _, user = self.c.get(f"/v1/users/{uid}")
        self.assertEqual((st, user.get("username")), (200, "ingest-bob"), user)
        st, _, view = self.c.get(f"/v1/conversations/{cid}")
        self.assertEqual(st, 200, view)
        self.assertEqual(view["user_id"], uid)
        self.assertEqual([u["content"] for u in view["utterances"]],
                         ["He don't know.", "Second one."])
        self.assertEqual(view["utterances"][0]["utterance_id"], utt1)
        st, _, view2 = self.c.get(f"/v1/conversations/{cid2}")
        self.assertEqual((st, [u["content"] for u in view2["utterances"]]), (200, ["Other chat."]))
        expected = {"subject-verb-agreement": 1, "verb-tense": 1, "word-choice": 1,
                    "articles-determiners": 1}
        self.assertEqual(top_counts(self.c, uid), expected)
        self.assertEqual(top_counts(self.c, owner), {})
        st, _, owned_view = self.c.get(f"/v1/conversations/{owned}")
        self.assertEqual(owned_view["utterances"], [])

        # The same body again: nothing applied twice.
        with self.assertNoWrites():
            st, _, again = self.c.post("/v1/ingest", raw=body.encode())
        self.assertEqual(st, 200, again)
        self.assertEqual((again["applied"], again["replayed"], again["rejected"]), (0, 3, 6), again)
        self.assertEqual([(r["line"], r["status"]) for r in again["results"]], [
            (1, "replayed"), (2, "rejected"), (3, "rejected"), (5, "replayed"), (6, "replayed"),
            (7, "rejected"), (8, "rejected"), (9, "rejected"), (10, "rejected")])
        self.assertEqual({r["line"]: r["utterance_id"] for r in again["results"]
                          if r["status"] == "replayed"},
                         {n: r["utterance_id"] for n, r in applied.items()})
        self.assertEqual(top_counts(self.c, uid), expected)

    def test_lines_without_created_at_keep_their_order(self):
        """Lines without created_at all took the request's time, and the
        view sorts by time, then by id, which for such a line is a hash of
        its content: they came back shuffled. Each line now gets the
        request's time plus its index in µs; a retry is still a replay."""
        uid, cid = new_uuid(), new_uuid()
        sent = [f"line {i}" for i in range(1, 9)]
        body = "".join(json.dumps({"user_id": uid, "conversation_id": cid, "content": text}) + "\n"
                       for text in sent)
        st, _, out = self.c.post("/v1/ingest", raw=body.encode())
        self.assertEqual((st, out["applied"], out["rejected"]), (200, 8, 0), out)
        st, _, view = self.c.get(f"/v1/conversations/{cid}")
        self.assertEqual(st, 200, view)
        self.assertEqual([u["content"] for u in view["utterances"]], sent)
        times = [parse_time(u["created_at"]) for u in view["utterances"]]
        self.assertEqual(times, sorted(set(times)))
        with self.assertNoWrites():
            st, _, again = self.c.post("/v1/ingest", raw=body.encode())
        self.assertEqual((st, again["applied"], again["replayed"]), (200, 0, 8), again)
        self.assertEqual([r["utterance_id"] for r in again["results"]],
                         [r["utterance_id"] for r in out["results"]])
        st, _, view2 = self.c.get(f"/v1/conversations/{cid}")
        self.assertEqual(view2["utterances"], view["utterances"])

    def test_an_ingest_with_nothing_to_write_is_not_queued(self):
        """Bad input is answered at once and never queued (docs/write-path.md,
        step 1): an empty ingest, or one whose every line is refused, was
        queued and committed as an empty batch (and refused 503 when the
        queue was full)."""
        def commits():
            st, _, text = self.c.get("/metrics")
            self.assertEqual(st, 200)
            return float(re.search(r"(?m)^errata_commit_duration_seconds_count (\S+)$",
                                   text).group(1))

        before = commits()
        st, _, out = self.c.post("/v1/ingest", raw=b"")
        self.assertEqual((st, out["applied"], out["rejected"], out["results"]), (200, 0, 0, []))
        body = "not json\n" + json.dumps({"user_id": new_uuid()}) + "\n\n[1]\n"
        st, _, out = self.c.post("/v1/ingest", raw=body.encode())
        self.assertEqual((st, out["applied"], out["replayed"], out["rejected"]), (200, 0, 0, 3), out)
        self.assertEqual([(r["line"], r["status"]) for r in out["results"]],
                         [(1, "rejected"), (2, "rejected"), (4, "rejected")])
        self.assertEqual(commits(), before)

    def test_ingest_into_existing_conversation_and_crlf(self):
        uid, cid = self.new_conversation()
        body = (json.dumps({"user_id": uid, "conversation_id": cid, "content": "a",
                            "errors": [{"code": "PREP"}]}) + "\r\n" +
                json.dumps({"user_id": uid, "conversation_id": cid, "content": "b",
                            "errors": [{"code": "PREP"}, {"code": "DET"}]}))  # no final newline
        st, _, out = self.c.post("/v1/ingest", raw=body)
        self.assertEqual(st, 200, out)
        self.assertEqual((out["applied"], out["replayed"], out["rejected"]), (2, 0, 0), out)
        self.assertEqual(top_counts(self.c, uid), {"prepositions": 2, "articles-determiners": 1})
        # An empty body applies nothing.
        with self.assertNoWrites():
            st, _, out = self.c.post("/v1/ingest", raw=b"")
        self.assertEqual(st, 200, out)
        self.assertEqual((out["applied"], out["replayed"], out["rejected"], out["results"]),
                         (0, 0, 0, []))


class Operations(V1Base):

    def test_health_ready_metrics(self):
        st, _, _ = self.c.get("/healthz")
        self.assertEqual(st, 200)
        st, _, body = self.c.get("/readyz")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["status"], "ready")
        self.c.get(f"/v1/users/{new_uuid()}/errors/top")  # a profile read
        st, headers, text = self.c.get("/metrics")
        self.assertEqual(st, 200)
        self.assertIn("text/plain", headers["Content-Type"])
        self.assertIsInstance(text, str)
        for name in ("errata_http_requests_total", "errata_commit_duration_seconds",
                     "errata_write_queue_depth", "errata_profile_cache_hits_total"):
            self.assertRegex(text, rf"(?m)^# TYPE {name} (counter|gauge|histogram)$", name)
            self.assertRegex(text, rf"(?m)^{name}(_bucket|_sum|_count)?(\{{[^}}]*\}})? "
                                   r"[0-9.eE+-]+$", name)
        # Counters move: the requests above were counted.
        self.assertRegex(text, r'(?m)^errata_http_requests_total\{[^}]*route="GET /healthz"'
                               r'[^}]*\} [1-9][0-9]*$')
        # The embedded store adds its own figures (Store::RenderMetrics).
        store = os.environ.get("ERRATA_STORE", "")
        own = {"": "errata_sqlite_wal_pages", "rocksdb:": "errata_rocksdb_memtable_bytes"}.get(store)
        if own:
            self.assertRegex(text, rf"(?m)^# TYPE {own} gauge$")
            self.assertRegex(text, rf"(?m)^{own} [0-9]+$")

    def test_new_learners_are_read_from_memory(self):
        """A learner created through the API (POST /v1/users, or an ingest line
        that names a new user) is cached by the commit that created them: their
        reads load nothing from the store, and answer what was written."""
        def misses():
            st, _, text = self.c.get("/metrics")
            self.assertEqual(st, 200)
            return float(re.search(r"(?m)^errata_profile_cache_misses_total (\S+)$", text).group(1))

        made = v1_user(self.c)["user_id"]
        cid = v1_conversation(self.c, made)["conversation_id"]
        self.post_utterance({"user_id": made, "conversation_id": cid, "content": "a",
                             "errors": [{"code": "PREP"}, {"code": "PREP"}]})
        ingested, icid = new_uuid(), new_uuid()
        line = json.dumps({"user_id": ingested, "conversation_id": icid, "username": "first-sight",
                           "content": "b", "errors": [{"code": "DET"}]})
        st, _, out = self.c.post("/v1/ingest", raw=line.encode())
        self.assertEqual((st, out.get("applied")), (200, 1), out)

        before = misses()
        self.assertEqual(top_counts(self.c, made), {"prepositions": 2})
        self.assertEqual(top_counts(self.c, ingested), {"articles-determiners": 1})
        st, _, ex = self.c.get(f"/v1/users/{ingested}/exercises?n=3")
        self.assertEqual(st, 200, ex)
        self.assertEqual(misses(), before)
        # The counter does move: a learner nobody created is looked up in the store.
        self.assertIsNone(top_counts(self.c, new_uuid()))
        self.assertEqual(misses(), before + 1)

    def test_pipelined_requests(self):
        """Two requests in one packet on a keep-alive connection: two answers, in order."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            body = json.dumps({"username": "pipe", "email": unique_email("pipe")}).encode()
            s.sendall(b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body +
                      b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_closed(s)  # the server closes
        self.assertEqual(data.count(b"HTTP/1.1 "), 2, data)
        first, second = data.split(b"HTTP/1.1 ")[1:]
        self.assertTrue(first.startswith(b"201"), data)
        self.assertTrue(second.startswith(b"200"), data)
        self.assertIn(b'"status":"ok"', second)

    def test_request_id(self):
        for method, path in (("GET", "/healthz"), ("GET", "/no/such/route"),
                             ("GET", f"/v1/users/{new_uuid()}"), ("POST", "/users/"),
                             ("POST", "/v1/users"), ("DELETE", "/v1/ingest"),
                             ("GET", "/metrics"), ("GET", "/generate-exercise?top_n=0")):
            st, headers, _ = self.c.request(method, path, raw=b"{}" if method == "POST" else None,
                                            headers={"X-Request-Id": "e2e-req-42"})
            self.assertEqual(headers.get("X-Request-Id"), "e2e-req-42", (method, path, st))
            st, headers, _ = self.c.request(method, path, raw=b"{}" if method == "POST" else None)
            self.assertTrue(headers.get("X-Request-Id"), (method, path, st))
        ids = {self.c.get("/healthz")[1]["X-Request-Id"] for _ in range(5)}
        self.assertEqual(len(ids), 5)
        # The id is echoed in a header, so only 1-64 printable ASCII characters
        # are; anything else gets an id of the server's own.
        for bad in ("has space", "x" * 65, "tab\there"):
            st, headers, _ = self.c.request("GET", "/healthz", headers={"X-Request-Id": bad})
            self.assertEqual(st, 200)
            self.assertTrue(headers.get("X-Request-Id"))
            self.assertNotEqual(headers.get("X-Request-Id"), bad)
        self.assertEqual(self.c.request("GET", "/healthz", headers={"X-Request-Id": "x" * 64})[1]
                         .get("X-Request-Id"), "x" * 64)

    def test_response_framing(self):
        """The status line and headers errata writes itself, byte for byte."""
        st, blob = raw_http(self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                              b"X-Request-Id: frame-1\r\nConnection: close\r\n\r\n")
        head, _, body = blob.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.assertEqual(lines[0], b"HTTP/1.1 200 OK")
        fields = dict(line.split(b": ", 1) for line in lines[1:])
        self.assertEqual(fields[b"Server"], b"errata")
        self.assertEqual(fields[b"Content-Type"], b"application/json")
        self.assertEqual(fields[b"X-Request-Id"], b"frame-1")
        self.assertEqual(fields[b"Connection"], b"close")
        self.assertEqual(int(fields[b"Content-Length"]), len(body))
        self.assertEqual(json.loads(body), {"status": "ok"})
        st, blob = raw_http(self.server.port, b"DELETE /healthz HTTP/1.1\r\nHost: x\r\n"
                                              b"Connection: close\r\n\r\n")
        self.assertTrue(blob.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"), blob)
        self.assertIn(b"\r\nAllow: GET, HEAD, OPTIONS\r\n", blob)


if __name__ == "__main__":
    main()
