"""PATCH /v1/users/{id}: a learner's new username or email (docs/users.md)."""
import uuid

from harness import ServerTestCase, expect, main, new_uuid, unique_email, v1_user


class UserUpdate(ServerTestCase):
    def patch(self, user_id, body):
        return self.c.request("PATCH", f"/v1/users/{user_id}", body)

    def search_ids(self, q):
        st, _, body = self.c.get(f"/v1/users/search?q={q}")
        self.assertEqual(st, 200, body)
        return [u["user_id"] for u in body["users"]]

    def test_new_name_and_email_replace_the_old_everywhere(self):
        tag = uuid.uuid4().hex[:6]
        old_email = f"annabel{tag}@example.com"
        ann = v1_user(self.c, username=f"Annabel{tag} Lindqvist", email=old_email)
        self.assertIn(ann["user_id"], self.search_ids(f"annabel{tag}"))
        new_email = f"M.Okonkwo{tag}@Example.com"
        got = expect(self.patch(ann["user_id"], {"username": f"Marguerite{tag} Okonkwo",
                                                  "email": new_email}), 200)
        want = dict(ann, username=f"Marguerite{tag} Okonkwo", email=new_email)
        want.pop("replayed")
        self.assertEqual(got, want)
        self.assertEqual(expect(self.c.get(f"/v1/users/{ann['user_id']}"), 200), want)
        self.assertEqual(expect(self.c.get(f"/v1/users/{ann['user_id']}/export"), 200)["user"], want)
        # Found by the new name, its typo and the new email; not by the old ones.
        for q in (f"marguerite{tag}", f"margerite{tag}", f"m.okonkwo{tag}"):
            self.assertIn(ann["user_id"], self.search_ids(q), q)
        for q in (f"annabel{tag}", f"anabel{tag}"):
            self.assertNotIn(ann["user_id"], self.search_ids(q), q)
        # Sent again: the same answer.
        self.assertEqual(expect(self.patch(ann["user_id"], {"username": want["username"],
                                                             "email": new_email}), 200), want)
        # The old email is free, on both APIs; the new one is taken.
        expect(self.c.post("/v1/users", {"username": "bob", "email": old_email}), 201)
        self.assertV1Error(self.c.post("/v1/users", {"username": "cy", "email": new_email.lower()}),
                           409, "conflict")
        # Durable: the same after a restart.
        self.server.restart()
        self.c = self.server.client()
        self.assertEqual(expect(self.c.get(f"/v1/users/{ann['user_id']}"), 200), want)

    def test_one_field_at_a_time_and_removing_the_email(self):
        ann = v1_user(self.c)
        got = expect(self.patch(ann["user_id"], {"username": "Ann Two"}), 200)
        self.assertEqual((got["username"], got["email"]), ("Ann Two", ann["email"]))
        upper = ann["email"].upper()
        got = expect(self.patch(ann["user_id"], {"email": upper, "user_id": ann["user_id"]}), 200)
        self.assertEqual((got["username"], got["email"]), ("Ann Two", upper))
        got = expect(self.patch(ann["user_id"], {"email": None}), 200)
        self.assertEqual((got["username"], got["email"]), ("Ann Two", None))
        self.assertEqual(expect(self.c.get(f"/v1/users/{ann['user_id']}"), 200)["email"], None)
        # The email is free again.
        expect(self.c.post("/v1/users", {"username": "x", "email": ann["email"]}), 201)

    def test_names_up_to_200_characters_of_any_script(self):
        ann = v1_user(self.c, username="é" * 200)  # 400 bytes
        got = expect(self.patch(ann["user_id"], {"username": "日本" * 100}), 200)
        self.assertEqual(got["username"], "日本" * 100)
        self.assertV1Error(self.patch(ann["user_id"], {"username": "日本" * 100 + "x"}), 422,
                           "invalid_argument", "username")

    def test_another_learners_email_is_a_conflict_and_changes_nothing(self):
        ann, bob = v1_user(self.c), v1_user(self.c)
        self.assertV1Error(self.patch(ann["user_id"], {"username": "changed",
                                                        "email": bob["email"].upper()}),
                           409, "conflict", "email")
        got = expect(self.c.get(f"/v1/users/{ann['user_id']}"), 200)
        self.assertEqual((got["username"], got["email"]), (ann["username"], ann["email"]))

    def test_unknown_and_erased_learners_are_404(self):
        self.assertV1Error(self.patch(new_uuid(), {"username": "x"}), 404, "not_found")
        ann = v1_user(self.c)
        expect(self.c.request("DELETE", f"/v1/users/{ann['user_id']}"), 200)
        self.assertV1Error(self.patch(ann["user_id"], {"username": "back"}), 404, "not_found")
        self.assertV1Error(self.c.get(f"/v1/users/{ann['user_id']}"), 404, "not_found")

    def test_bad_requests_change_nothing(self):
        ann = v1_user(self.c)
        cases = [
            ({}, 422, None),
            ({"user_id": ann["user_id"]}, 422, None),
            ({"username": ""}, 422, "username"),
            ({"username": None}, 422, "username"),
            ({"username": 5}, 422, "username"),
            ({"username": "x" * 201}, 422, "username"),
            ({"email": "not-an-email"}, 422, "email"),
            ({"email": 5}, 422, "email"),
            ({"username": "x", "emial": unique_email()}, 422, "emial"),
            ({"username": "x", "created_at": "2026-01-01T00:00:00Z"}, 422, "created_at"),
            ({"username": "x", "user_id": new_uuid()}, 422, "user_id"),
        ]
        for body, status, field in cases:
            with self.subTest(body=body):
                self.assertV1Error(self.patch(ann["user_id"], body), status, "invalid_argument",
                                   field)
        self.assertV1Error(self.c.request("PATCH", f"/v1/users/{ann['user_id']}",
                                          raw=b'{"username": '), 400, "invalid_json")
        self.assertV1Error(self.c.request("PATCH", f"/v1/users/{ann['user_id']}", raw=b"[1]"),
                           400, "invalid_json")
        self.assertV1Error(self.patch("not-a-uuid", {"username": "x"}), 422, "invalid_argument",
                           "user_id")
        got = expect(self.c.get(f"/v1/users/{ann['user_id']}"), 200)
        self.assertEqual((got["username"], got["email"]), (ann["username"], ann["email"]))


if __name__ == "__main__":
    main()
