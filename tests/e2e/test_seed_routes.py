"""The original FastAPI service's routes: POST /users/, /conversations/,
/utterances/, /simulate-and-generate and GET /generate-exercise."""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ServerTestCase, create_conversation, create_user, main,
                     new_uuid, parse_time, seed_triplet, simulate, unique_email)

SIMULATED = {"message": "Error frequencies simulated and batch processing triggered successfully."}
NO_ERRORS = {"detail": "No errors found for the given user"}


def is_uuid(text):
    try:
        return str(uuid.UUID(text)) == text
    except (ValueError, TypeError, AttributeError):
        return False


class SeedRoutes(ServerTestCase):

    # ------------------------------------------------------------ README flow

    def test_readme_flow(self):
        c = self.c
        st, _, user = c.post("/users/", {"username": "john_doe", "email": unique_email("john")})
        self.assertEqual(st, 200, user)
        st, _, conv = c.post("/conversations/", {"user_id": user["user_id"]})
        self.assertEqual(st, 200, conv)
        st, _, utt = c.post("/utterances/", {"conversation_id": conv["conversation_id"],
                                             "user_id": user["user_id"],
                                             "content": "it is wrong not a sentence but is it."})
        self.assertEqual(st, 200, utt)
        self.assertEqual(utt["content"], "it is wrong not a sentence but is it.")
        st, _, body = c.post("/simulate-and-generate", {
            "user_id": user["user_id"],
            "conversation_id": conv["conversation_id"],
            "utterance_id": utt["utterance_id"],
            "errors": [
                {"errorCategory": "Grammar", "errorSubCategory": "Subject-Verb Agreement"},
                {"errorCategory": "Grammar", "errorSubCategory": "Pronouns"},
                {"errorCategory": "Vocabulary", "errorSubCategory": "Word Choice"},
            ]})
        self.assertEqual(st, 200, body)
        self.assertEqual(body, SIMULATED)
        st, _, body = c.get(f"/generate-exercise?user_id={user['user_id']}&top_n=5")
        self.assertEqual(st, 200, body)
        # All three have frequency 1 and were seen at the same instant: by name.
        self.assertEqual(body["top_errors"], [
            {"errorCategory": "Grammar", "errorSubCategory": "Pronouns", "errorFrequency": 1},
            {"errorCategory": "Grammar", "errorSubCategory": "Subject-Verb Agreement",
             "errorFrequency": 1},
            {"errorCategory": "Vocabulary", "errorSubCategory": "Word Choice", "errorFrequency": 1},
        ])
        self.assertIsInstance(body["exercises"], list)

    # ------------------------------------------------------------ POST /users/

    def test_create_user(self):
        email = unique_email("Alice")
        st, headers, body = self.c.post("/users/", {"username": "alice", "email": email})
        self.assertEqual(st, 200, body)
        self.assertIn("application/json", headers["Content-Type"])
        self.assertTrue(is_uuid(body["user_id"]), body)
        self.assertEqual(body["username"], "alice")
        self.assertEqual(body["email"], email)
        parse_time(body["created_at"])

    def test_duplicate_email_case_insensitive(self):
        email = unique_email("dup")
        create_user(self.c, "first", email)
        for other in (email, email.upper(), email.capitalize()):
            st, _, body = self.c.post("/users/", {"username": "second", "email": other})
            self.assertEqual((st, body), (400, {"detail": "Email already registered"}), other)

    def test_user_validation(self):
        c = self.c
        cases = [
            ({"username": "x", "email": "not-an-email"}, ["body", "email"]),
            ({"username": "x", "email": "a@b"}, ["body", "email"]),
            ({"username": "x", "email": "@example.com"}, ["body", "email"]),
            ({"username": "x"}, ["body", "email"]),
            ({"email": unique_email()}, ["body", "username"]),
            ({"username": "x", "email": 12}, ["body", "email"]),
            ({"username": ["x"], "email": unique_email()}, ["body", "username"]),
            ({"username": "x", "email": None}, ["body", "email"]),
        ]
        for body, loc in cases:
            with self.subTest(body=body):
                self.assertSeedValidation(c.post("/users/", body), loc)
        self.assertSeedValidation(c.post("/users/", raw=b'{"username": "x", "email": '))
        self.assertSeedValidation(c.post("/users/", raw=b'["x"]'))

    # ------------------------------------------------------------ POST /conversations/

    def test_create_conversation(self):
        user = create_user(self.c)
        st, _, body = self.c.post("/conversations/", {"user_id": user["user_id"]})
        self.assertEqual(st, 200, body)
        self.assertTrue(is_uuid(body["conversation_id"]), body)
        self.assertEqual(body["user_id"], user["user_id"])
        parse_time(body["started_at"])

    def test_conversation_errors(self):
        st, _, body = self.c.post("/conversations/", {"user_id": new_uuid()})
        self.assertEqual((st, body), (404, {"detail": "User not found"}))
        for bad in ("not-a-uuid", "", "1234", 42, None):
            with self.subTest(user_id=bad):
                self.assertSeedValidation(self.c.post("/conversations/", {"user_id": bad}),
                                          ["body", "user_id"])
        self.assertSeedValidation(self.c.post("/conversations/", {}), ["body", "user_id"])

    # ------------------------------------------------------------ POST /utterances/

    def test_create_utterance(self):
        user = create_user(self.c)
        conv = create_conversation(self.c, user["user_id"])
        st, _, body = self.c.post("/utterances/", {"conversation_id": conv["conversation_id"],
                                                   "user_id": user["user_id"],
                                                   "content": "She go to school."})
        self.assertEqual(st, 200, body)
        self.assertTrue(is_uuid(body["utterance_id"]), body)
        self.assertEqual(body["conversation_id"], conv["conversation_id"])
        self.assertEqual(body["user_id"], user["user_id"])
        self.assertEqual(body["content"], "She go to school.")
        parse_time(body["timestamp"])
        # content is optional
        st, _, body = self.c.post("/utterances/", {"conversation_id": conv["conversation_id"],
                                                   "user_id": user["user_id"]})
        self.assertEqual(st, 200, body)
        self.assertIsNone(body["content"])

    def test_utterance_errors(self):
        c = self.c
        user = create_user(c)
        conv = create_conversation(c, user["user_id"])
        st, _, body = c.post("/utterances/", {"conversation_id": new_uuid(),
                                              "user_id": user["user_id"], "content": "x"})
        self.assertEqual((st, body), (404, {"detail": "Conversation not found"}))
        other = create_user(c)
        self.assertSeedValidation(c.post("/utterances/", {"conversation_id": conv["conversation_id"],
                                                          "user_id": other["user_id"],
                                                          "content": "x"}))
        self.assertSeedValidation(c.post("/utterances/", {"conversation_id": "nope",
                                                          "user_id": user["user_id"]}),
                                  ["body", "conversation_id"])
        self.assertSeedValidation(c.post("/utterances/", {"conversation_id": conv["conversation_id"]}),
                                  ["body", "user_id"])
        self.assertSeedValidation(c.post("/utterances/", {"conversation_id": conv["conversation_id"],
                                                          "user_id": user["user_id"], "content": 5}),
                                  ["body", "content"])

    # ------------------------------------------------------------ POST /simulate-and-generate

    def test_simulate_errors(self):
        c = self.c
        ids = seed_triplet(c)
        user_id, conv_id, utt_id = ids
        st, _, body = simulate(c, (user_id, conv_id, new_uuid()), [("Grammar", "Pronouns")])
        self.assertEqual((st, body), (404, {"detail": "Utterance not found"}))
        # ids that do not belong together
        other = seed_triplet(c)
        for mixed in ((other[0], conv_id, utt_id), (user_id, other[1], utt_id),
                      (user_id, conv_id, other[2])):
            with self.subTest(ids=mixed):
                self.assertSeedValidation(simulate(c, mixed, [("Grammar", "Pronouns")]))
        # malformed body
        self.assertSeedValidation(simulate(c, ("x", conv_id, utt_id), [("Grammar", "Pronouns")]),
                                  ["body", "user_id"])
        self.assertSeedValidation(c.post("/simulate-and-generate", {
            "user_id": user_id, "conversation_id": conv_id, "utterance_id": utt_id,
            "errors": "Grammar"}), ["body", "errors"])
        self.assertSeedValidation(c.post("/simulate-and-generate", {
            "user_id": user_id, "conversation_id": conv_id, "utterance_id": utt_id}),
            ["body", "errors"])
        self.assertSeedValidation(c.post("/simulate-and-generate", {
            "user_id": user_id, "conversation_id": conv_id, "utterance_id": utt_id,
            "errors": [{"errorCategory": "Grammar"}]}))
        self.assertSeedValidation(c.post("/simulate-and-generate", {
            "user_id": user_id, "conversation_id": conv_id, "utterance_id": utt_id,
            "errors": [{"errorCategory": "Grammar", "errorSubCategory": 3}]}))
        # None of it counted.
        st, _, body = c.get(f"/generate-exercise?user_id={user_id}")
        self.assertEqual((st, body), (404, NO_ERRORS))
        for u in (user_id, other[0]):
            rows = self.server.db_query("SELECT count(*) FROM errors WHERE user_id=?", (u,))
            if rows is not None:
                self.assertEqual(rows[0][0], 0)

    def test_simulate_empty_list_changes_nothing(self):
        c = self.c
        ids = seed_triplet(c)
        st, _, body = simulate(c, ids, [])
        self.assertEqual((st, body), (200, SIMULATED))
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}")
        self.assertEqual((st, body), (404, NO_ERRORS))
        # With errors, an empty post afterwards changes nothing either.
        self.assertEqual(simulate(c, ids, [("Grammar", "Verb Tense")])[0], 200)
        st, _, before = c.get(f"/generate-exercise?user_id={ids[0]}")
        self.assertEqual(st, 200)
        self.assertEqual(simulate(c, ids, [])[:1], (200,))
        st, _, after = c.get(f"/generate-exercise?user_id={ids[0]}")
        self.assertEqual(after["top_errors"], before["top_errors"])
        self.assertEqual(after["top_errors"], [
            {"errorCategory": "Grammar", "errorSubCategory": "Verb Tense", "errorFrequency": 1}])
        rows = self.server.db_query("SELECT count(*) FROM errors WHERE user_id=?", (ids[0],))
        if rows is not None:
            self.assertEqual(rows[0][0], 1)

    # ------------------------------------------------------------ GET /generate-exercise

    def test_normalisation_counts_as_one_point(self):
        c = self.c
        ids = seed_triplet(c)
        self.assertEqual(simulate(c, ids, [("Grammar", "subject verb agreement"),
                                           ("Grammar", "Subject-Verb Agreement")])[0], 200)
        self.assertEqual(simulate(c, ids, [("grammar", "SUBJECT VERB AGREEMENT"),
                                           ("Grammar", "subject_verb agreement")])[0], 200)
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["top_errors"], [
            {"errorCategory": "Grammar", "errorSubCategory": "Subject-Verb Agreement",
             "errorFrequency": 4}])
        # The /v1 view agrees: one point with a stable id.
        st, _, top = c.get(f"/v1/users/{ids[0]}/errors/top")
        self.assertEqual(st, 200, top)
        self.assertEqual([(e["subcategory_id"], e["frequency"]) for e in top["errors"]],
                         [("subject-verb-agreement", 4)])

    def test_ordering_frequency_recency_name(self):
        c = self.c
        ids = seed_triplet(c)
        posts = [
            [("Grammar", "Verb Tense")] * 3,                 # oldest, but most frequent
            [("Grammar", "Pronouns")] * 2,                   # 2, older
            [("Vocabulary", "Word Choice")] * 2,             # 2, newer: before Pronouns
            [("Grammar", "Prepositions"), ("Grammar", "Articles & Determiners")],  # 1, same instant
        ]
        for errors in posts:
            st, _, body = simulate(c, ids, errors)
            self.assertEqual((st, body), (200, SIMULATED))
        expected = [
            {"errorCategory": "Grammar", "errorSubCategory": "Verb Tense", "errorFrequency": 3},
            {"errorCategory": "Vocabulary", "errorSubCategory": "Word Choice", "errorFrequency": 2},
            {"errorCategory": "Grammar", "errorSubCategory": "Pronouns", "errorFrequency": 2},
            {"errorCategory": "Grammar", "errorSubCategory": "Articles & Determiners",
             "errorFrequency": 1},
            {"errorCategory": "Grammar", "errorSubCategory": "Prepositions", "errorFrequency": 1},
        ]
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}&top_n=5")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["top_errors"], expected)
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}&top_n=3")
        self.assertEqual(body["top_errors"], expected[:3])
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}&top_n=1")
        self.assertEqual(body["top_errors"], expected[:1])
        # Recency can overtake: Pronouns again makes it 3, newest of the two with 3.
        simulate(c, ids, [("Grammar", "Pronouns")])
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}&top_n=2")
        self.assertEqual([e["errorSubCategory"] for e in body["top_errors"]],
                         ["Pronouns", "Verb Tense"])
        # The /v1 view uses the same order.
        st, _, top = c.get(f"/v1/users/{ids[0]}/errors/top")
        self.assertEqual([e["subcategory"] for e in top["errors"]],
                         ["Pronouns", "Verb Tense", "Word Choice", "Articles & Determiners",
                          "Prepositions"])

    def test_top_n_default_and_limits(self):
        c = self.c
        ids = seed_triplet(c)
        names = ["Verb Tense", "Verb Form", "Modal Verbs", "Pronouns", "Prepositions",
                 "Noun Number", "Possessives"]
        self.assertEqual(simulate(c, ids, [("Grammar", n) for n in names])[0], 200)
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}")
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body["top_errors"]), 5)
        st, _, body = c.get(f"/generate-exercise?user_id={ids[0]}&top_n=100")
        self.assertEqual(st, 200, body)
        self.assertEqual(sorted(e["errorSubCategory"] for e in body["top_errors"]), sorted(names))
        self.assertTrue(all(e["errorFrequency"] == 1 for e in body["top_errors"]))
        self.assertIsInstance(body["exercises"], list)
        for bad in ("0", "101", "-1", "99999999999999999999999", "abc", "", "1.5", "5x"):
            with self.subTest(top_n=bad):
                self.assertSeedValidation(c.get(f"/generate-exercise?user_id={ids[0]}&top_n={bad}"),
                                          ["query", "top_n"])

    def test_generate_exercise_errors(self):
        c = self.c
        st, _, body = c.get(f"/generate-exercise?user_id={new_uuid()}")
        self.assertEqual((st, body), (404, NO_ERRORS))
        user = create_user(c)
        st, _, body = c.get(f"/generate-exercise?user_id={user['user_id']}&top_n=5")
        self.assertEqual((st, body), (404, NO_ERRORS))
        self.assertSeedValidation(c.get("/generate-exercise?user_id=not-a-uuid"),
                                  ["query", "user_id"])
        self.assertSeedValidation(c.get("/generate-exercise"), ["query", "user_id"])
        self.assertSeedValidation(c.get("/generate-exercise?top_n=5"), ["query", "user_id"])


    def test_validation_errors_are_fastapis(self):
        """The 422s the original's FastAPI (Pydantic v2) gave, by loc, msg and
        type: a nested field's loc is a path with the list index as a number
        (it was "errors.0.errorSubCategory"), an absent field is "missing"
        (it was a value_error "Field required: email"), and a body that is
        JSON but no object is not a JSON decode error."""
        c = self.c
        user_id, conv_id, utt_id = seed_triplet(c)
        base = {"user_id": user_id, "conversation_id": conv_id, "utterance_id": utt_id}

        def detail(resp):
            self.assertSeedValidation(resp)
            return [{k: item[k] for k in ("loc", "msg", "type")} for item in resp[2]["detail"]]

        missing = {"msg": "Field required", "type": "missing"}
        self.assertEqual(detail(c.post("/users/", {"username": "x"})),
                         [dict(loc=["body", "email"], **missing)])
        self.assertEqual(detail(c.post("/utterances/", {"user_id": user_id})),
                         [dict(loc=["body", "conversation_id"], **missing)])
        self.assertEqual(detail(c.post("/simulate-and-generate", dict(
            base, errors=[{"errorCategory": "Grammar", "errorSubCategory": "Pronouns"},
                          {"errorCategory": "Grammar"}]))),
            [dict(loc=["body", "errors", 1, "errorSubCategory"], **missing)])
        self.assertEqual(detail(c.get("/generate-exercise?top_n=5")),
                         [dict(loc=["query", "user_id"], **missing)])
        (item,) = detail(c.post("/simulate-and-generate", dict(
            base, errors=[{"errorCategory": "Grammar", "errorSubCategory": " "}])))
        self.assertEqual(item["loc"], ["body", "errors", 0, "errorSubCategory"])
        not_an_object = [{"loc": ["body"], "type": "model_attributes_type",
                          "msg": "Input should be a valid dictionary or object to extract fields from"}]
        for path in ("/users/", "/conversations/", "/utterances/", "/simulate-and-generate"):
            with self.subTest(path=path):
                self.assertEqual(detail(c.post(path, raw=b"[]")), not_an_object)
                self.assertEqual(detail(c.post(path, raw=b'"x"')), not_an_object)
                self.assertEqual(detail(c.post(path, raw=b"null")), [dict(loc=["body"], **missing)])
                self.assertEqual(detail(c.post(path, raw=b"")), [dict(loc=["body"], **missing)])
                (item,) = detail(c.post(path, raw=b'{"user_id": '))
                self.assertEqual((item["msg"], item["type"]), ("JSON decode error", "json_invalid"))
        st, _, body = c.get(f"/generate-exercise?user_id={user_id}")
        self.assertEqual((st, body), (404, NO_ERRORS))

if __name__ == "__main__":
    main()
