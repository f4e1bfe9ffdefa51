"""Bad input: malformed JSON, wrong types, oversize bodies, invalid UTF-8,
unknown routes and methods, out-of-range numbers. Every case answers a 4xx
with a JSON body, never a 5xx, and writes nothing."""

import contextlib
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Server, ServerTestCase, main, new_uuid, raw_body_json, raw_http, seed_triplet,
                     simulate, strict_json, top_counts, unique_email, v1_conversation, v1_user)

SEED_POSTS = ["/users/", "/conversations/", "/utterances/", "/simulate-and-generate"]
V1_POSTS = ["/v1/users", "/v1/conversations", "/v1/utterances"]

MALFORMED = [
    b"{",
    b'{"username": "x", "email": ',
    b'{"username": "x",}',
    b"{username: 'x'}",
    b"nul",
    b"",
    b"   ",
    b'{"a": 1} {"b": 2}',
    b'{"a": 1}garbage',
    b"\x00\x01\x02",
    b'{"a": "\\x41"}',
    b'{"a": 01}',
    b'{"a": NaN}',
    b"{" * 5000 + b"}" * 5000,
    b'{"a":' + b"[" * 20000 + b"]" * 20000 + b"}",
]

INVALID_UTF8 = [
    b'{"username": "\xff\xfe", "email": "utf8@example.com"}',
    b'{"username": "ok", "email": "\xc3\x28@example.com"}',
    b'{"username": "\xc0\xaf", "email": "overlong@example.com"}',
    b'{"username": "\xed\xa0\x80", "email": "surrogate@example.com"}',
    b'{"username": "trunc\xe2\x82", "email": "trunc@example.com"}',
]


class BadInputBase(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        # A fixture with known state, which no bad request may change.
        cls.ids = seed_triplet(c)
        assert simulate(c, cls.ids, [("Grammar", "Pronouns"), ("Grammar", "Pronouns"),
                                     ("Vocabulary", "Word Choice")])[0] == 200
        cls.v1_user = v1_user(c)
        cls.v1_conv = v1_conversation(c, cls.v1_user["user_id"])
        st, _, out = c.post("/v1/utterances", {
            "conversation_id": cls.v1_conv["conversation_id"], "user_id": cls.v1_user["user_id"],
            "content": "fixture", "errors": [{"code": "DET"}]})
        assert st == 201, out
        cls.snapshot = cls.api_state()

    @classmethod
    def api_state(cls):
        c = cls.c
        return {
            "seed_top": c.get(f"/generate-exercise?user_id={cls.ids[0]}&top_n=100")[2]["top_errors"],
            "seed_v1_top": top_counts(c, cls.ids[0]),
            "v1_top": top_counts(c, cls.v1_user["user_id"]),
            "v1_conv": c.get(f"/v1/conversations/{cls.v1_conv['conversation_id']}")[2],
            "v1_user": c.get(f"/v1/users/{cls.v1_user['user_id']}")[2],
        }

    @contextlib.contextmanager
    def assertNothingWritten(self):
        before = self.server.db_table_counts()
        yield
        after = self.server.db_table_counts()
        if before is not None:
            self.assertEqual(after, before, "a rejected request wrote to the store")
        self.assertEqual(self.api_state(), self.snapshot)
        st, _, _ = self.c.get("/healthz")
        self.assertEqual(st, 200)

    def assertSeedError(self, resp, status=422):
        st, _, body = resp
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertIn("detail", body, body)
        if status == 422:
            self.assertSeedValidation(resp)

    def assertJsonError(self, path, resp, status):
        """/v1 paths answer {"error":{...}}, the others {"detail":...}."""
        if path.startswith("/v1/") or path == "/v1":
            return self.assertV1Error(resp, status)
        return self.assertSeedError(resp, status)


class BadInput(BadInputBase):

    def test_malformed_json(self):
        c = self.c
        with self.assertNothingWritten():
            for raw in MALFORMED:
                for path in SEED_POSTS:
                    with self.subTest(path=path, raw=raw[:40]):
                        self.assertSeedValidation(c.post(path, raw=raw))
                for path in V1_POSTS:
                    with self.subTest(path=path, raw=raw[:40]):
                        self.assertV1Error(c.post(path, raw=raw), 400, "invalid_json")
            # Valid JSON that is not an object.
            for raw in (b"[]", b'"text"', b"42", b"null", b"true", b'[{"username": "x"}]'):
                for path in SEED_POSTS:
                    with self.subTest(path=path, raw=raw):
                        self.assertSeedValidation(c.post(path, raw=raw))
                for path in V1_POSTS:
                    with self.subTest(path=path, raw=raw):
                        resp = c.post(path, raw=raw)
                        self.assertIn(resp[0], (400, 422), resp[2])
                        self.assertV1Error(resp, resp[0])

    def test_invalid_utf8(self):
        c = self.c
        uid, cid, utt = self.ids
        with self.assertNothingWritten():
            for raw in INVALID_UTF8:
                with self.subTest(raw=raw):
                    self.assertSeedValidation(c.post("/users/", raw=raw))
                    st, _, body = c.post("/v1/users", raw=raw)
                    self.assertIn(st, (400, 422), body)
                    self.assertV1Error((st, None, body), st)
            for bad in (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"ab\xe2\x82"):
                content = b'"content": "' + bad + b'"'
                body = (b'{"conversation_id": "' + self.v1_conv["conversation_id"].encode() +
                        b'", "user_id": "' + self.v1_user["user_id"].encode() + b'", ' + content +
                        b', "errors": [{"code": "DET"}]}')
                with self.subTest(content=bad):
                    st, _, out = c.post("/v1/utterances", raw=body)
                    self.assertIn(st, (400, 422), out)
                    self.assertSeedValidation(c.post("/utterances/", raw=(
                        b'{"conversation_id": "' + cid.encode() + b'", "user_id": "' +
                        uid.encode() + b'", ' + content + b"}")))
                    seed = (b'{"user_id": "' + uid.encode() + b'", "conversation_id": "' +
                            cid.encode() + b'", "utterance_id": "' + utt.encode() +
                            b'", "errors": [{"errorCategory": "Grammar", "errorSubCategory": "' +
                            bad + b'"}]}')
                    self.assertSeedValidation(c.post("/simulate-and-generate", raw=seed))
                    # In NDJSON, the line is rejected.
                    st, _, out = c.post("/v1/ingest", raw=body + b"\n")
                    self.assertEqual(st, 200, out)
                    self.assertEqual((out["applied"], out["replayed"], out["rejected"]), (0, 0, 1),
                                     out)

    def get_strict_json(self, target):
        """GET target; the answer's status and body, which must be UTF-8 and
        JSON as RFC 8259 has it (no Infinity or NaN)."""
        st, blob = raw_http(self.server.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n".encode())
        return st, strict_json(blob.partition(b"\r\n\r\n")[2])

    def test_query_bytes_that_are_not_utf8_are_never_echoed(self):
        # %FF decoded to the byte 0xFF, which the search's "query" and an
        # unknown type's message echoed: an answer that was not UTF-8.
        vu = self.v1_user["user_id"]
        with self.assertNothingWritten():
            st, body = self.get_strict_json("/v1/users/search?q=%FF")
            self.assertEqual((st, body), (200, {"query": "\ufffd", "users": []}))
            st, body = self.get_strict_json("/v1/users/search?q=ab%C3")
            self.assertEqual((st, body["query"]), (200, "ab\ufffd"))
            st, body = self.get_strict_json("/v1/users/search?q=caf%C3%A9")
            self.assertEqual((st, body["query"]), (200, "café"))
            st, body = self.get_strict_json(f"/v1/users/{vu}/exercises?types=%FF")
            self.assertEqual(st, 422, body)
            self.assertIn("\ufffd", body["error"]["message"])

    def test_as_of_long_before_the_errors(self):
        # The recency of errors of now, as of 1970, was 2^1500: Infinity,
        # which is not JSON. Then it was the score as of the last error; now
        # errors after as_of do not count at all (docs/ranking.md).
        vu = self.v1_user["user_id"]
        st, now = self.get_strict_json(f"/v1/users/{vu}/errors/top")
        self.assertEqual(st, 200, now)
        self.assertTrue(now["errors"], now)
        for as_of in ("1970-01-01T00:00:00Z", "2000-01-01T00:00:00Z"):
            with self.subTest(as_of=as_of):
                st, body = self.get_strict_json(f"/v1/users/{vu}/errors/top?as_of={as_of}")
                self.assertEqual((st, body["errors"]), (200, []), body)
                st, body = self.get_strict_json(f"/v1/users/{vu}/exercises?as_of={as_of}")
                self.assertEqual((st, body["exercises"], body["uncovered"]), (200, [], []), body)

    def test_ingest_counts_utterances_not_blank_lines(self):
        # 10,000 utterances with blank lines among them fit; one more does not.
        server = Server(extra_args=("--body-limit", str(8 << 20)))
        try:
            c = server.client()
            uid, cid = new_uuid(), new_uuid()
            lines = [json.dumps({"user_id": uid, "conversation_id": cid, "content": f"u{k}"})
                     for k in range(10_000)]
            body = "\n\n".join(lines) + "\n\n\n"
            st, _, out = c.post("/v1/ingest", raw=body.encode())
            self.assertEqual((st, out.get("applied")), (200, 10_000), str(out)[:300])
            self.assertEqual(out["results"][-1]["line"], 19_999)  # line numbers count every line
            more = body + json.dumps({"user_id": uid, "conversation_id": cid, "content": "x"}) + "\n"
            st, _, out = c.post("/v1/ingest", raw=more.encode())
            self.assertEqual((st, out["error"]["code"]), (413, "payload_too_large"), out)
            server.stop()
        finally:
            server.cleanup()

    def test_as_of_outside_1970_to_9999_is_refused(self):
        # Echoed back, a year past 9999 was no RFC 3339 date-time
        # ("10000-01-01T..."), and before 1970 the timeline counted days the
        # wrong way.
        vu = self.v1_user["user_id"]
        for route in ("errors/top", "exercises", "errors/timeline?days=2&"):
            sep = "" if route.endswith("&") else "?"
            for as_of in ("9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00%2B23:59",
                          "1969-12-31T12:00:00Z"):
                with self.subTest(route=route, as_of=as_of):
                    st, body = self.get_strict_json(f"/v1/users/{vu}/{route}{sep}as_of={as_of}")
                    self.assertEqual((st, body["error"]["field"]), (422, "as_of"), body)
            st, body = self.get_strict_json(f"/v1/users/{vu}/{route}{sep}as_of=9999-12-31T23:59:59Z")
            self.assertEqual(st, 200, body)
        # A "+" sent unencoded is a space: the answer says how to send it.
        st, body = self.get_strict_json(f"/v1/users/{vu}/exercises?as_of=2026-01-01T00:00:00+01:00")
        self.assertEqual((st, body["error"]["field"]), (422, "as_of"), body)
        self.assertIn("%2B", body["error"]["message"])
        st, body = self.get_strict_json(f"/v1/users/{vu}/exercises?as_of=2026-01-01T00:00:00%2B01:00")
        self.assertEqual(st, 200, body)
        # The timeline takes no n.
        st, body = self.get_strict_json(f"/v1/users/{vu}/errors/timeline?days=1&n=0")
        self.assertEqual(st, 200, body)

    def test_wrong_types(self):
        c = self.c
        uid, cid, utt = self.ids
        vu, vc = self.v1_user["user_id"], self.v1_conv["conversation_id"]
        seed_cases = [
            ("/users/", {"username": 1, "email": unique_email()}, ["body", "username"]),
            ("/users/", {"username": "x", "email": ["a@b.co"]}, ["body", "email"]),
            ("/users/", {"username": {"a": 1}, "email": unique_email()}, ["body", "username"]),
            ("/users/", {"username": "x", "email": True}, ["body", "email"]),
            ("/conversations/", {"user_id": 123}, ["body", "user_id"]),
            ("/conversations/", {"user_id": [uid]}, ["body", "user_id"]),
            ("/utterances/", {"conversation_id": cid, "user_id": uid, "content": ["x"]},
             ["body", "content"]),
            ("/utterances/", {"conversation_id": 1, "user_id": uid}, ["body", "conversation_id"]),
            ("/simulate-and-generate", {"user_id": uid, "conversation_id": cid,
                                        "utterance_id": utt, "errors": {"a": 1}},
             ["body", "errors"]),
            ("/simulate-and-generate", {"user_id": uid, "conversation_id": cid,
                                        "utterance_id": utt, "errors": ["Grammar"]}, None),
            ("/simulate-and-generate", {"user_id": uid, "conversation_id": cid,
                                        "utterance_id": utt,
                                        "errors": [{"errorCategory": 1, "errorSubCategory": "x"}]},
             None),
            ("/simulate-and-generate", {"user_id": uid, "conversation_id": cid,
                                        "utterance_id": 5, "errors": []}, ["body", "utterance_id"]),
            # A good error before a bad one: nothing of the request counts.
            ("/simulate-and-generate", {"user_id": uid, "conversation_id": cid,
                                        "utterance_id": utt,
                                        "errors": [{"errorCategory": "Grammar",
                                                    "errorSubCategory": "Pronouns"},
                                                   {"errorCategory": "Grammar"}]}, None),
        ]
        v1_cases = [
            ("/v1/users", {"username": "x", "email": 5}, "email"),
            ("/v1/users", {"username": None, "email": unique_email()}, "username"),
            ("/v1/users", {"username": "", "email": unique_email()}, "username"),
            ("/v1/users", {"username": "é" * 201, "email": unique_email()}, "username"),
            ("/v1/users", {"username": "x", "email": unique_email(), "user_id": 7}, "user_id"),
            ("/v1/conversations", {"user_id": vu, "started_at": 1700000000}, "started_at"),
            ("/v1/conversations", {"user_id": vu, "conversation_id": False}, "conversation_id"),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "content": 3}, "content"),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "errors": "DET"}, "errors"),
            # Named "errors[0]", not "errors[0]." (before session 26).
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "errors": ["DET"]}, "errors[0]"),
            # No exercise is "": 422, where it was a 404 "Exercise not found".
            (f"/v1/users/{vu}/attempts", {"exercise_id": "", "correct": True}, "exercise_id"),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                "errors": [{"code": "DET", "span": [1, 2]}]}, None),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                "errors": [{"code": "DET", "span": {"start": 1}}]}, None),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                "errors": [{"code": "DET", "span": {"start": -1, "end": 2}}]},
             None),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                "errors": [{"code": "DET", "span": {"start": 1.5, "end": 2}}]},
             None),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                "errors": [{"code": "DET", "span": {"start": 1, "end": 1e30}}]},
             None),
            # Spans count characters: "José go" has 7, so [5, 8) is beyond it.
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "content": "José go",
                                "errors": [{"code": "DET", "span": {"start": 5, "end": 8}}]},
             "errors[0].span"),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "content": "abc",
                                "errors": [{"code": "DET",
                                            "span": {"start": 500, "end": 9000000000000000000}}]},
             "errors[0].span"),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                "errors": [{"code": 12}]}, None),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                "errors": [{"code": "DET", "correction": ["x"]}]}, None),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "utterance_id": 1}, "utterance_id"),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "created_at": True},
             "created_at"),
        ]
        with self.assertNothingWritten():
            for path, body, loc in seed_cases:
                with self.subTest(path=path, body=body):
                    self.assertSeedValidation(c.post(path, body), loc)
            for path, body, field in v1_cases:
                with self.subTest(path=path, body=body):
                    self.assertV1Error(c.post(path, body), 422, "invalid_argument", field)

    def test_nul_in_text_is_refused_on_every_store(self):
        """U+0000 was stored by SQLite and RocksDB and refused (422) by
        PostgreSQL at commit: every text field refuses it now, before the
        write path, naming the field."""
        c = self.c
        uid, cid, _ = self.ids
        vu, vc = self.v1_user["user_id"], self.v1_conv["conversation_id"]
        nul = "a\u0000b"
        v1_cases = [
            ("/v1/users", {"username": nul, "email": unique_email()}, "username"),
            ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "content": nul}, "content"),
        ]
        for key in ("category", "subcategory", "code", "original", "correction", "explanation"):
            error = {"code": "DET", key: nul}
            v1_cases.append(("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                                "content": "x", "errors": [{"code": "DET"}, error]},
                             f"errors[1].{key}"))
        seed_cases = [
            ("/users/", {"username": nul, "email": unique_email()}, ["body", "username"]),
            ("/utterances/", {"conversation_id": cid, "user_id": uid, "content": nul},
             ["body", "content"]),
        ]
        ingest = "\n".join(json.dumps(line) for line in (
            {"user_id": vu, "conversation_id": vc, "content": nul},
            {"user_id": new_uuid(), "conversation_id": new_uuid(), "username": nul},
        ))
        with self.assertNothingWritten():
            for path, body, field in v1_cases:
                with self.subTest(path=path, field=field):
                    err = self.assertV1Error(c.post(path, body), 422, "invalid_argument", field)
                    self.assertIn("U+0000", err["message"])
            self.assertV1Error(c.request("PATCH", f"/v1/users/{vu}", body={"username": nul}), 422,
                               "invalid_argument", "username")
            for path, body, loc in seed_cases:
                with self.subTest(path=path):
                    self.assertSeedValidation(c.post(path, body), loc)
            st, _, out = c.post("/v1/ingest", raw=ingest.encode())
            self.assertEqual((st, out.get("rejected")), (200, 2), out)
            self.assertEqual([r["error"].get("field") for r in out["results"]],
                             ["content", "username"], out)

    def test_a_span_may_be_written_as_whole_doubles(self):
        """4.0 is an integer to JSON Schema and to pydantic, and Python's
        json.dumps writes a float that holds one so: it was a 422."""
        vu = v1_user(self.c)["user_id"]  # not the fixture, which no test may change
        vc = v1_conversation(self.c, vu)["conversation_id"]
        st, _, body = self.c.post("/v1/utterances", {
            "conversation_id": vc, "user_id": vu, "content": "She go home.",
            "errors": [{"code": "R:VERB:SVA", "span": {"start": 4.0, "end": 6.0}}]})
        self.assertEqual(st, 201, body)
        self.assertEqual(body["errors"][0]["span"], {"start": 4, "end": 6})

    def test_out_of_range_numbers(self):
        c = self.c
        uid = self.ids[0]
        with self.assertNothingWritten():
            for n in ("0", "-1", "101", "1000", "99999999999999999999", "-99999999999999999999",
                      "abc", "", "1e2", "5.0", "%00", "0x10", "%2B5%20"):
                with self.subTest(top_n=n):
                    self.assertSeedValidation(c.get(f"/generate-exercise?user_id={uid}&top_n={n}"),
                                              ["query", "top_n"])
                with self.subTest(n=n):
                    self.assertV1Error(c.get(f"/v1/users/{uid}/errors/top?n={n}"), 422,
                                       "invalid_argument", "n")
            # /v1 takes digits alone (the original route reads a sign and
            # leading spaces as pydantic does, and stays as it was).
            for n in ("%205", "%2B5"):
                with self.subTest(n=n):
                    self.assertV1Error(c.get(f"/v1/users/{uid}/errors/top?n={n}"), 422,
                                       "invalid_argument", "n")
            # A seed is any 64-bit number, and nothing else.
            vu = self.v1_user["user_id"]
            for seed in ("-1", "18446744073709551616", "%201", "1.5", "abc", ""):
                with self.subTest(seed=seed):
                    self.assertV1Error(c.get(f"/v1/users/{vu}/exercises?seed={seed}"), 422,
                                       "invalid_argument", "seed")
            for seed in ("0", "18446744073709551615"):
                st, _, out = c.get(f"/v1/users/{vu}/exercises?seed={seed}")
                self.assertEqual((st, out["seed"]), (200, seed), out)
            # The edges are fine.
            for n in ("1", "100"):
                self.assertEqual(c.get(f"/generate-exercise?user_id={uid}&top_n={n}")[0], 200)
                self.assertEqual(c.get(f"/v1/users/{uid}/errors/top?n={n}")[0], 200)

    def test_a_repeated_query_parameter(self):
        # /v1 refuses a parameter given twice, naming it (the first value won,
        # silently); the seed route takes the last, as FastAPI did.
        c = self.c
        uid, vu = self.ids[0], self.v1_user["user_id"]
        when = "2026-01-01T00:00:00Z"
        with self.assertNothingWritten():
            for path, field in ((f"/v1/users/{uid}/errors/top?n=1&n=50", "n"),
                                (f"/v1/users/{uid}/errors/top?since={when}&since={when}", "since"),
                                (f"/v1/users/{uid}/errors/top?as_of={when}&n=2&as_of={when}", "as_of"),
                                (f"/v1/users/{vu}/errors/timeline?days=3&days=3", "days"),
                                (f"/v1/users/{vu}/exercises?seed=1&seed=2", "seed"),
                                (f"/v1/users/{vu}/exercises?level=B1&level=B1", "level"),
                                (f"/v1/users/{vu}/exercises?types=read_aloud&types", "types"),
                                (f"/v1/users/{vu}/conversations?limit=1&limit=2", "limit"),
                                (f"/v1/users/{vu}/conversations?after=x&after=y", "after"),
                                ("/v1/users/search?q=ann&q=bob", "q"),
                                ("/v1/users/search?q=ann&limit=1&limit=2", "limit")):
                with self.subTest(path=path):
                    st, _, body = c.get(path)
                    self.assertEqual((st, body["error"]["field"]), (422, field), body)
                    self.assertEqual(body["error"]["message"], f"{field} must be given once")
            st, _, body = c.get(f"/generate-exercise?user_id={uid}&top_n=1&top_n=100")
            self.assertEqual(st, 200, body)
            self.assertEqual(body["top_errors"], self.snapshot["seed_top"])
            st, _, body = c.get(f"/generate-exercise?user_id=not-a-uuid&user_id={uid}&top_n=1")
            self.assertEqual((st, len(body["top_errors"])), (200, 1), body)
            self.assertSeedValidation(
                c.get(f"/generate-exercise?user_id={uid}&top_n=1&top_n=0"), ["query", "top_n"])

    def test_times_before_1970(self):
        """A record's id is a UUIDv7 of its time, which cannot hold an earlier one."""
        c = self.c
        vu, vc = self.v1_user["user_id"], self.v1_conv["conversation_id"]
        early = ("1969-12-31T23:59:59.999999Z", "1900-01-01", "1970-01-01T00:30:00+01:00")
        with self.assertNothingWritten():
            for t in early:
                with self.subTest(t=t):
                    for path, body, field in (
                            ("/v1/utterances", {"conversation_id": vc, "user_id": vu,
                                                "created_at": t, "errors": [{"code": "DET"}]},
                             "created_at"),
                            ("/v1/conversations", {"user_id": vu, "started_at": t}, "started_at"),
                            (f"/v1/users/{vu}/attempts", {"exercise_id": "sva-001", "correct": True,
                                                          "answered_at": t}, "answered_at")):
                        err = self.assertV1Error(c.post(path, body), 422, "invalid_argument", field)
                        self.assertIn("1970", err["message"])
                    line = json.dumps({"user_id": vu, "conversation_id": vc, "created_at": t,
                                       "errors": [{"code": "DET"}]})
                    st, _, out = c.post("/v1/ingest", raw=line)
                    self.assertEqual(st, 200, out)
                    self.assertEqual((out["applied"], out["rejected"]), (0, 1), out)
                    self.assertEqual(out["results"][0]["error"]["field"], "created_at", out)
        # The first moment of 1970 is fine (on a learner of its own: the
        # fixture's must not change).
        uid = v1_user(c)["user_id"]
        cid = v1_conversation(c, uid)["conversation_id"]
        st, _, out = c.post("/v1/utterances", {"conversation_id": cid, "user_id": uid,
                                                "created_at": "1970-01-01T00:00:00Z"})
        self.assertEqual(st, 201, out)
        self.assertTrue(out["utterance_id"].startswith("00000000-0000-7"), out)

    def test_unknown_routes(self):
        c = self.c
        with self.assertNothingWritten():
            for method, path in (("GET", "/"), ("GET", "/nope"), ("POST", "/nope"),
                                 ("GET", "/users/x/y"), ("GET", "/v1"), ("GET", "/v1/"),
                                 ("GET", "/v1/nope"), ("POST", "/v1/users/x/y/z"),
                                 ("GET", "/v1/users"), ("GET", f"/v1/users/{new_uuid()}/nope"),
                                 ("GET", "/v2/users"), ("DELETE", "/nope"),
                                 ("GET", "/healthz/extra"), ("GET", "/users//")):
                with self.subTest(method=method, path=path):
                    resp = c.request(method, path, raw=b"{}" if method == "POST" else None)
                    st, headers, body = resp
                    if method == "GET" and path == "/v1/users":
                        # POST-only path: a 405 is right too.
                        self.assertIn(st, (404, 405), body)
                        continue
                    self.assertEqual(st, 404, body)
                    self.assertIn("application/json", headers["Content-Type"])
                    self.assertJsonError(path, resp, 404)

    def test_wrong_methods(self):
        c = self.c
        vu = self.v1_user["user_id"]
        post, get = {"POST", "OPTIONS"}, {"GET", "HEAD", "OPTIONS"}
        user = {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
        cases = [
            ("GET", "/users/", post), ("PUT", "/users/", post),
            ("GET", "/conversations/", post), ("DELETE", "/utterances/", post),
            ("GET", "/simulate-and-generate", post), ("POST", "/generate-exercise", get),
            ("GET", "/v1/ingest", post), ("PUT", "/v1/ingest", post),
            ("PUT", f"/v1/users/{vu}", user),
            ("POST", f"/v1/users/{vu}", user),
            # The literal route shadows /v1/users/{id}: its methods are not
            # the search's (the Allow listed them, and GET and HEAD twice).
            ("PUT", "/v1/users/search", get), ("DELETE", "/v1/users/search", get),
            ("PATCH", f"/v1/conversations/{new_uuid()}", get),
            ("POST", f"/v1/users/{vu}/errors/top", get),
            ("POST", "/healthz", get), ("DELETE", "/metrics", get),
        ]
        with self.assertNothingWritten():
            for method, path, allow in cases:
                with self.subTest(method=method, path=path):
                    resp = c.request(method, path, raw=b"{}" if method != "GET" else None)
                    st, headers, body = resp
                    self.assertEqual(st, 405, body)
                    self.assertIn("application/json", headers["Content-Type"])
                    self.assertJsonError(path, resp, 405)
                    listed = [m.strip() for m in (headers.get("Allow") or "").split(",") if m.strip()]
                    self.assertEqual(set(listed), allow, headers.get("Allow"))
                    self.assertEqual(len(listed), len(allow), headers.get("Allow"))

    def test_unknown_ids_and_bad_uuids_in_paths(self):
        c = self.c
        with self.assertNothingWritten():
            for path in ("/v1/users/%20", "/v1/users/%FF%FE", "/v1/users/" + "a" * 200,
                         "/v1/conversations/%00", "/v1/users/not-a-uuid/errors/top",
                         "/v1/users/{id}/errors/top"):
                with self.subTest(path=path):
                    st, _, body = c.get(path)
                    self.assertIn(st, (404, 422), body)
                    self.assertV1Error((st, None, body), st)

    def test_http_level_garbage(self):
        port = self.server.port
        with self.assertNothingWritten():
            st, blob = raw_http(port, b"GARBAGE\r\n\r\n")
            self.assertIsNotNone(st, blob)
            self.assertTrue(400 <= st < 500, blob)
            self.assertIn(b"\r\nx-request-id: ", blob.partition(b"\r\n\r\n")[0].lower() + b"\r\n")
            st, blob = raw_http(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                b"a" * 64 * 1024 + b"\r\n\r\n")
            if st is not None:
                self.assertTrue(400 <= st < 500, blob[:200])
            st, blob = raw_http(port, b"POST /v1/users HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: abc\r\n\r\n{}")
            self.assertEqual(st, 400, blob)
            self.assertIn("code", raw_body_json(blob)["error"])
            # Conflicting lengths (a request-smuggling shape) are refused, not guessed.
            st, blob = raw_http(port, b"POST /users/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                      b"Content-Length: 40\r\n\r\n{}")
            self.assertEqual(st, 400, blob)
            self.assertIn("detail", raw_body_json(blob))
            # A body shorter than announced, then the client goes away.
            st, blob = raw_http(port, b"POST /v1/users HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 100\r\n\r\n{\"username\": \"x\"",
                                shutdown_write=True)
            self.assertTrue(st is None or 400 <= st < 500, blob)
            # The connection after a malformed request still works on a new one.
            st, blob = raw_http(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n\r\n")
            self.assertEqual(st, 200, blob)

    def test_unknown_fields_ignored(self):
        """Extra fields are accepted and ignored (this test writes, on fresh users)."""
        c = self.c
        email = unique_email("extra")
        st, _, u = c.post("/users/", {"username": "extra", "email": email, "is_admin": True,
                                      "user_id": "ignored", "nested": {"a": [1, 2]}})
        self.assertEqual(st, 200, u)
        self.assertNotEqual(u["user_id"], "ignored")
        self.assertNotIn("is_admin", u)
        st, _, conv = c.post("/conversations/", {"user_id": u["user_id"], "topic": "x"})
        self.assertEqual(st, 200, conv)
        st, _, utt = c.post("/utterances/", {"conversation_id": conv["conversation_id"],
                                             "user_id": u["user_id"], "content": "x", "lang": "en"})
        self.assertEqual(st, 200, utt)
        st, _, body = c.post("/simulate-and-generate", {
            "user_id": u["user_id"], "conversation_id": conv["conversation_id"],
            "utterance_id": utt["utterance_id"], "extra": 1,
            "errors": [{"errorCategory": "Grammar", "errorSubCategory": "Pronouns",
                        "errorFrequency": 99, "weight": 3}]})
        self.assertEqual(st, 200, body)
        st, _, gen = c.get(f"/generate-exercise?user_id={u['user_id']}&unknown=1&top_n=5")
        self.assertEqual(st, 200, gen)
        self.assertEqual(gen["top_errors"], [{"errorCategory": "Grammar",
                                              "errorSubCategory": "Pronouns", "errorFrequency": 1}])
        st, _, vu = c.post("/v1/users", {"username": "extra2", "email": unique_email(),
                                         "role": "admin"})
        self.assertEqual(st, 201, vu)
        st, _, vc = c.post("/v1/conversations", {"user_id": vu["user_id"], "x": [1]})
        self.assertEqual(st, 201, vc)
        st, _, out = c.post("/v1/utterances", {
            "conversation_id": vc["conversation_id"], "user_id": vu["user_id"], "mood": "happy",
            "errors": [{"code": "DET", "severity": "high", "frequency": 50,
                        "span": {"start": 0, "end": 1, "extra": True}}]})
        self.assertEqual(st, 201, out)
        self.assertEqual(top_counts(c, vu["user_id"]), {"articles-determiners": 1})
        self.assertEqual(top_counts(c, u["user_id"]), {"pronouns": 1})
        self.assertEqual(self.api_state(), self.snapshot)

    def test_a_request_without_an_id_gets_a_new_one(self):
        """A missing or overlong X-Request-Id is replaced by a new id: 8 hex digits
        of this process, a dash, and a hex counter that moves on each request."""
        ids = []
        for headers in ({}, {"X-Request-Id": "x" * 65}, {}):
            st, got, _ = self.c.get("/healthz", headers=headers)
            self.assertEqual(st, 200)
            ids.append(got.get("X-Request-Id"))
        for rid in ids:
            self.assertRegex(rid or "", r"^[0-9a-f]{8}-[0-9a-f]+$")
        prefixes = {rid.split("-")[0] for rid in ids}
        counters = [int(rid.split("-")[1], 16) for rid in ids]
        self.assertEqual(len(prefixes), 1, ids)
        self.assertLess(counters[0], counters[1])
        self.assertLess(counters[1], counters[2])


class BodyLimit(BadInputBase):
    server_args = ("--body-limit", "1000")

    def test_oversize_bodies_413(self):
        c = self.c
        vu, vc = self.v1_user["user_id"], self.v1_conv["conversation_id"]
        big = "x" * 2000
        with self.assertNothingWritten():
            for path, body in (
                    ("/v1/utterances", {"conversation_id": vc, "user_id": vu, "content": big,
                                        "errors": [{"code": "DET"}]}),
                    ("/v1/users", {"username": big, "email": unique_email()}),
                    ("/users/", {"username": big, "email": unique_email()}),
                    ("/utterances/", {"conversation_id": self.ids[1], "user_id": self.ids[0],
                                      "content": big}),
                    ("/v1/ingest", None)):
                with self.subTest(path=path):
                    raw = None
                    if body is None:
                        line = json.dumps({"user_id": vu, "conversation_id": vc, "content": "y",
                                           "errors": [{"code": "DET"}]})
                        raw = ("\n".join([line] * 30)).encode()
                        self.assertGreater(len(raw), 1000)
                    fresh = self.server.client()
                    resp = fresh.request("POST", path, body=body, raw=raw)
                    st, headers, out = resp
                    self.assertEqual(st, 413, out)
                    self.assertIn("application/json", headers["Content-Type"])
                    self.assertJsonError(path, resp, 413)
                    self.assertTrue(headers.get("X-Request-Id"))
            # Announced but never sent: refused from the headers alone.
            st, blob = raw_http(self.server.port,
                                b"POST /v1/utterances HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n")
            self.assertEqual(st, 413, blob)
            self.assertIn("error", raw_body_json(blob))
            # Chunked, over the limit.
            chunk = b'{"username": "' + b"c" * 1500 + b'", "email": "chunk@example.com"}'
            data = (b"POST /v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                    b"Content-Type: application/json\r\n\r\n" +
                    f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n")
            st, blob = raw_http(self.server.port, data)
            self.assertEqual(st, 413, blob)

    def test_413_echoes_request_id(self):
        """Any response echoes the request's X-Request-Id, a 413 included."""
        with self.assertNothingWritten():
            for path in ("/v1/users", "/users/"):
                with self.subTest(path=path):
                    st, headers, out = self.server.client().post(
                        path, {"username": "x" * 2000, "email": unique_email()},
                        headers={"X-Request-Id": "too-big-1"})
                    self.assertEqual(st, 413, out)
                    self.assertEqual(headers.get("X-Request-Id"), "too-big-1")

    def test_at_the_limit_is_fine(self):
        c = self.c
        uid = v1_user(c)["user_id"]
        cid = v1_conversation(c, uid)["conversation_id"]
        base = {"conversation_id": cid, "user_id": uid, "content": "",
                "errors": [{"code": "PREP"}]}
        base["content"] = "u" * (1000 - len(json.dumps(base).encode()))
        raw = json.dumps(base).encode()
        self.assertEqual(len(raw), 1000)
        st, _, body = c.post("/v1/utterances", raw=raw)
        self.assertEqual(st, 201, body)
        self.assertEqual(body["content"], base["content"])
        self.assertEqual(c.post("/v1/utterances", raw=raw + b" ")[0], 413)


class DefaultBodyLimit(BadInputBase):

    def test_default_limit_is_one_mib(self):
        port = self.server.port
        with self.assertNothingWritten():
            st, blob = raw_http(port, b"POST /v1/ingest HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 1048577\r\n\r\n")
            self.assertEqual(st, 413, blob)
            st, blob = raw_http(port, b"POST /users/ HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 5000000\r\n\r\n")
            self.assertEqual(st, 413, blob)
            self.assertIn("detail", raw_body_json(blob))
        # Just under 1 MiB is accepted (an ingest of many lines).
        vu = new_uuid()
        vc = new_uuid()
        line = json.dumps({"user_id": vu, "conversation_id": vc, "content": "z" * 900})
        n = (1 << 20) // (len(line) + 1) - 1
        lines = [json.dumps({"user_id": vu, "conversation_id": vc, "content": f"{i:06d}" + "z" * 894})
                 for i in range(n)]
        raw = ("\n".join(lines) + "\n").encode()
        self.assertLessEqual(len(raw), 1 << 20)
        self.assertGreater(len(raw), (1 << 20) - 2000)
        st, _, out = self.c.post("/v1/ingest", raw=raw)
        self.assertEqual(st, 200, out if not isinstance(out, dict) else
                         {k: out[k] for k in ("applied", "rejected")})
        self.assertEqual((out["applied"], out["rejected"]), (n, 0))


if __name__ == "__main__":
    main()
