"""DELETE /v1/users/{id}: a learner and everything recorded about them go;
GET /v1/users/{id}/export: everything recorded about them, in one document.

The answer counts what went; afterwards no route knows the learner (v1 and
the original service's), their open stream ends with an `erased` event, the
search no longer offers them, their email can be registered again, and a
retried write of theirs finds nothing to add to. Another learner is
untouched, and all of it holds after a restart.
"""
import json
import os
import select
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Server, expect, main, new_uuid, top_counts, unique_email, v1_conversation,
                     v1_user)
from test_stream import SseClient


class InfoServer(Server):
    """Logs at info level: the erase's record goes to the log."""

    def command(self):
        return [a if a != "warn" else "info" for a in super().command()]


class Erasure(unittest.TestCase):

    def setUp(self):
        self.server = InfoServer()
        self.addCleanup(self.server.cleanup)
        self.c = self.server.client()

    def learner(self, name, email):
        """A learner with two conversations, three utterances (four errors) and an attempt."""
        c = self.c
        user = v1_user(c, username=name, email=email)
        uid = user["user_id"]
        convs = [v1_conversation(c, uid)["conversation_id"] for _ in range(2)]
        utterances = []
        for conv, codes in ((convs[0], ["R:VERB:SVA", "R:PREP"]), (convs[0], ["M:DET"]),
                            (convs[1], ["R:VERB:SVA"])):
            body = {"user_id": uid, "conversation_id": conv, "utterance_id": new_uuid(),
                    "content": "She go to school.", "errors": [{"code": k} for k in codes]}
            expect(c.post("/v1/utterances", body), 201, "POST /v1/utterances")
            utterances.append(body)
        practice = expect(c.get(f"/v1/users/{uid}/exercises?n=1"), 200, "exercises")
        exercise = practice["exercises"][0]["exercise_id"]
        expect(c.post(f"/v1/users/{uid}/attempts", {"exercise_id": exercise, "correct": True}),
               201, "POST attempts")
        return uid, convs, utterances

    def search_ids(self, q):
        body = expect(self.c.get(f"/v1/users/search?q={q}"), 200, "search")
        return {u["user_id"] for u in body["users"]}

    def test_erase_a_learner(self):
        c = self.c
        email = unique_email("Zelda.Erase")
        ann, convs, utterances = self.learner("Zelda Quarantine", email)
        bob, _, _ = self.learner("Bob Keep", unique_email("bob"))
        bob_top = top_counts(c, bob)
        self.assertIn(ann, self.search_ids("zelda%20quarantine"))
        stream = SseClient(self.server.port, f"/v1/users/{ann}/stream")
        try:
            st, _, body = c.request("DELETE", f"/v1/users/{ann}")
            self.assertEqual(st, 200, body)
            erased_at = body.pop("erased_at", None)
            self.assertRegex(erased_at or "", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
            self.assertEqual(body, {"user_id": ann, "replayed": False, "erased": {
                "conversations": 2, "utterances": 3, "errors": 4, "attempts": 1}})
            first = dict(body, erased_at=erased_at)
            [(_, kind, data)] = stream.events(1)
            self.assertEqual((kind, data), ("erased", '{"user_id":"%s"}' % ann))
            with self.assertRaises(ConnectionError):  # and the stream ends
                stream.events(1)
        finally:
            stream.close()
        # The log records that the erase happened, by the learner's id only.
        logged = [json.loads(line) for line in self.server.log_tail(n=10**8).splitlines()
                  if '"learner erased"' in line]
        self.assertEqual(len(logged), 1, self.server.log_tail())
        self.assertEqual({k: logged[0][k] for k in ("user_id", "conversations", "utterances",
                                                    "errors", "attempts")},
                         {"user_id": ann, "conversations": 2, "utterances": 3, "errors": 4,
                          "attempts": 1})
        self.assertNotIn("Zelda", self.server.log_tail(n=10**8))
        for round in ("as erased", "after a restart"):
            with self.subTest(round=round):
                for path in (f"/v1/users/{ann}", f"/v1/users/{ann}/errors/top",
                             f"/v1/users/{ann}/errors/timeline", f"/v1/users/{ann}/exercises",
                             f"/v1/users/{ann}/conversations", f"/v1/users/{ann}/stream",
                             *(f"/v1/conversations/{cid}" for cid in convs)):
                    st, _, body = c.get(path)
                    self.assertEqual(st, 404, f"{path}: {body}")
                    self.assertEqual(body["error"]["code"], "not_found", path)
                st, _, body = c.get(f"/generate-exercise?user_id={ann}&top_n=5")
                self.assertEqual((st, body), (404, {"detail": "No errors found for the given user"}))
                self.assertNotIn(ann, self.search_ids("zelda%20quarantine"))
                self.assertNotIn(ann, self.search_ids("zelda.erase"))
                self.assertEqual(top_counts(c, bob), bob_top)
                # Sent again (a retry whose answer was lost): the same answer.
                st, _, again = c.request("DELETE", f"/v1/users/{ann}")
                self.assertEqual((st, again), (200, dict(first, replayed=True)))
                if round == "as erased":  # the replay is not counted
                    st, _, metrics = c.get("/metrics")
                    self.assertIn("\nerrata_learners_erased_total 1\n", metrics)
                self.assertEqual(c.request("DELETE", f"/v1/users/{new_uuid()}")[0], 404)
                self.server.stop()
                self.server.start()
                c = self.c = self.server.client()
        # A retried write of the erased learner finds nothing to add to.
        st, _, body = c.post("/v1/utterances", utterances[0])
        self.assertEqual(st, 404, body)
        # The email is free again.
        expect(c.post("/v1/users", {"username": "Zelda again", "email": email}), 201, "re-register")

    def test_an_erased_learners_id_is_not_a_learner_again(self):
        """The id stays taken (docs/erasure.md, "Tombstones"): a late ingest
        line or a POST /v1/users with it is refused with 409, among other
        lines that go through, before and after a restart."""
        c = self.c
        ann, _, _ = self.learner("Ann Gone", unique_email("gone"))
        expect(c.request("DELETE", f"/v1/users/{ann}"), 200, "erase")
        for round in ("as erased", "after a restart"):
            with self.subTest(round=round):
                carol = new_uuid()
                lines = [{"user_id": ann, "conversation_id": new_uuid(), "username": "Ann Gone",
                          "content": "late line", "errors": [{"code": "R:VERB:SVA"}]},
                         {"user_id": carol, "conversation_id": new_uuid(), "username": "Carol",
                          "content": "new learner", "errors": [{"code": "R:PREP"}]}]
                st, _, out = c.post("/v1/ingest", raw="".join(
                    json.dumps(line) + "\n" for line in lines).encode())
                self.assertEqual(st, 200, out)
                self.assertEqual((out["applied"], out["rejected"]), (1, 1), out)
                rejected = out["results"][0]
                self.assertEqual((rejected["line"], rejected["status"], rejected["error"]["code"],
                                  rejected["error"].get("field")),
                                 (1, "rejected", "conflict", "user_id"), out)
                self.assertIn("erased learner", rejected["error"]["message"])
                self.assertEqual(top_counts(c, carol), {"prepositions": 1})
                st, _, body = c.post("/v1/users", {"user_id": ann, "username": "Ann Gone",
                                                   "email": unique_email("gone")})
                self.assertEqual((st, body["error"]["code"], body["error"].get("field")),
                                 (409, "conflict", "user_id"), body)
                for path in (f"/v1/users/{ann}", f"/v1/users/{ann}/errors/top"):
                    self.assertEqual(c.get(path)[0], 404, path)
                self.server.stop()
                self.server.start()
                c = self.c = self.server.client()

    def test_export_then_erase(self):
        """GET /v1/users/{id}/export holds every record of the learner; once
        erased, there is nothing to export."""
        c = self.c
        email = unique_email("export")
        uid, convs, utterances = self.learner("Ann Export", email)
        self.learner("Bob Other", unique_email("bob"))
        doc = expect(c.get(f"/v1/users/{uid}/export"), 200, "export")
        self.assertEqual(set(doc), {"exported_at", "user", "conversations", "attempts",
                                    "error_points"})
        self.assertEqual((doc["user"]["user_id"], doc["user"]["username"], doc["user"]["email"]),
                         (uid, "Ann Export", email))
        self.assertEqual([cv["conversation_id"] for cv in doc["conversations"]],
                         list(reversed(convs)))  # newest first
        said = [u for cv in doc["conversations"] for u in cv["utterances"]]
        self.assertEqual(sorted(u["utterance_id"] for u in said),
                         sorted(u["utterance_id"] for u in utterances))
        for u in said:
            self.assertEqual((u["user_id"], u["content"]), (uid, "She go to school."))
        self.assertEqual(sum(len(u["errors"]) for u in said), 4)
        self.assertEqual(len(doc["attempts"]), 1)
        self.assertTrue(doc["attempts"][0]["correct"])
        self.assertEqual({p["subcategory_id"]: p["frequency"] for p in doc["error_points"]},
                         top_counts(c, uid))
        expect(c.request("DELETE", f"/v1/users/{uid}"), 200, "erase")
        st, _, body = c.get(f"/v1/users/{uid}/export")
        self.assertEqual((st, body["error"]["code"]), (404, "not_found"))

    def test_an_export_is_one_moment_of_the_learner(self):
        """Exports taken while the learner keeps writing: in each, the error
        points count exactly the errors of the utterances listed (the parts
        are read from one snapshot, Store::BeginReadSnapshot)."""
        c = self.c
        uid, convs, _ = self.learner("Ann Moving", unique_email("moving"))
        stop = threading.Event()
        failures = []

        def write():
            # Bounded and paced, so that the exports overlap the writes and
            # the learner stays small on a busy machine: unbounded, the
            # learner grew faster than exports on the nice +10 thread could
            # keep up with under ctest -j2, and an export passed the
            # client's 60 s timeout on PostgreSQL.
            w = self.server.client()
            i = 0
            while not stop.is_set() and i < 600:
                time.sleep(0.001)
                conv = convs[i % 2] if i % 7 else v1_conversation(w, uid)["conversation_id"]
                st, _, body = w.post("/v1/utterances", {
                    "user_id": uid, "conversation_id": conv, "utterance_id": new_uuid(),
                    "content": "He have two cat.", "errors": [{"code": "R:VERB:SVA"},
                                                              {"code": "R:NOUN:NUM"}]})
                if st != 201:
                    failures.append((st, body))
                    return
                i += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            sizes = []
            for _ in range(40):
                doc = expect(c.get(f"/v1/users/{uid}/export"), 200, "export")
                said = [u for cv in doc["conversations"] for u in cv["utterances"]]
                listed = sum(len(u["errors"]) for u in said)
                counted = sum(p["frequency"] for p in doc["error_points"])
                self.assertEqual(counted, listed, "points and utterances of different moments")
                sizes.append(len(said))
        finally:
            stop.set()
            writer.join()
        self.assertEqual(failures, [])
        self.assertGreater(len(set(sizes)), 1, f"the learner did not grow between exports: {sizes}")

    def test_an_export_does_not_hold_up_other_requests(self):
        """The export runs off the HTTP threads (http/slow_reads.h): with one
        HTTP thread, a health check sent while a large learner's export is
        being built is answered before the export is."""
        server = Server(threads=1)
        self.addCleanup(server.cleanup)
        c = server.client()
        uid, conv = new_uuid(), new_uuid()
        for start in range(0, 10000, 1000):
            body = "".join(json.dumps({"user_id": uid, "conversation_id": conv,
                                       "content": f"She go to school {i}.",
                                       "errors": [{"code": "R:VERB:SVA"}, {"code": "M:DET"}]})
                           + "\n" for i in range(start, start + 1000))
            out = expect(c.post("/v1/ingest", raw=body.encode()), 200, "ingest")
            self.assertEqual(out["applied"], 1000, out)
        # The export's request, on a socket of its own, then a health check:
        # answered while the export is still being built, so not one byte
        # of the export has come when the health check's answer has.
        raw = socket.create_connection(("127.0.0.1", server.port))
        self.addCleanup(raw.close)
        raw.sendall(f"GET /v1/users/{uid}/export HTTP/1.1\r\nHost: x\r\n"
                    "Connection: close\r\n\r\n".encode())
        time.sleep(0.01)  # the export is under way
        st, _, _ = server.client().get("/healthz")
        self.assertEqual(st, 200)
        readable, _, _ = select.select([raw], [], [], 0)
        self.assertEqual(readable, [], "the export answered before the health check")
        answer = b""
        while chunk := raw.recv(1 << 20):
            answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer[:200])

    def test_bad_requests_change_nothing(self):
        uid, _, _ = self.learner("Ann", unique_email("ann"))
        st, _, body = self.c.request("DELETE", "/v1/users/not-a-uuid")
        self.assertEqual(st, 422, body)
        self.assertEqual(body["error"]["field"], "user_id")  # the path parameter's name
        st, _, body = self.c.request("DELETE", f"/v1/users/{new_uuid()}")
        self.assertEqual((st, body["error"]["code"]), (404, "not_found"))
        self.assertEqual(self.c.get(f"/v1/users/{uid}")[0], 200)


if __name__ == "__main__":
    main()
