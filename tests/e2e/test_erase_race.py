"""An erase on one node beside writes for the same learner on another.

Two nodes share a PostgreSQL of the test's own. A trigger on erased_users
sleeps 0.5 s, so that node a's erase stops between its deletes (the user's
row included) and its commit; while it waits there, node b gets a write for
the learner. Every such write must be refused, and once the erase has
committed nothing of the learner may be left: no user row, no records, and
404 on both nodes. Each kind of write the app sends is tried: ingest lines
on the batched and the op-by-op paths, an utterance, a conversation, a user
with the learner's id and a practice attempt (docs/erasure.md, "Erasing
beside other nodes' writes").

Runs once, in the PostgreSQL pass (cluster.py).
"""
import json
import subprocess
import threading
import time
import unittest
import uuid

from cluster import SKIP_REASON, TwoNodesTestCase, cluster_pass
from harness import expect, main, v1_conversation, v1_user

SLEEP_SECONDS = 0.5
CACHE_TTL_MS = 100


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
class EraseBesideWrites(TwoNodesTestCase):
    with_redis = False
    node_args = ("--cache-ttl-ms", str(CACHE_TTL_MS))

    @classmethod
    def set_up(cls):
        cls.psql("CREATE FUNCTION slow_tombstone() RETURNS trigger LANGUAGE plpgsql AS"
                 f" $$ BEGIN PERFORM pg_sleep({SLEEP_SECONDS}); RETURN NEW; END $$;"
                 " CREATE TRIGGER slow_tombstone BEFORE INSERT ON erased_users"
                 " FOR EACH ROW EXECUTE FUNCTION slow_tombstone();")

    @classmethod
    def psql(cls, sql):
        out = subprocess.run(["psql", "-q", "-X", "-A", "-t", cls.store_url, "-c", sql],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"psql: {out.stderr}")
        return out.stdout.strip()

    def erase_while(self, write):
        """Erases a new learner (one conversation, one utterance, one error)
        on node a and, while the erase waits in its tombstone's trigger,
        calls write(client of node b, user id, conversation id). Checks the
        erase and that nothing of the learner is left; returns the write's
        answer."""
        a, b = self.nodes
        ca, cb = a.client(), b.client()
        uid = v1_user(ca)["user_id"]
        cid = v1_conversation(ca, uid)["conversation_id"]
        expect(ca.post("/v1/utterances", {"user_id": uid, "conversation_id": cid,
                                          "content": "I has a cat.", "errors": [{"code": "VERB:SVA"}]}),
               201, "utterance")
        erased = {}

        def erase():
            c = a.client()
            erased["answer"] = c.request("DELETE", f"/v1/users/{uid}")
        eraser = threading.Thread(target=erase)
        eraser.start()
        deadline = time.monotonic() + 10
        while self.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") != "1":
            self.assertLess(time.monotonic(), deadline, "the erase never reached its tombstone")
            time.sleep(0.005)
        answer = write(cb, uid, cid)
        eraser.join(timeout=30)
        st, _, body = erased["answer"]
        self.assertEqual(st, 200, body)
        self.assertEqual(body["erased"], {"conversations": 1, "utterances": 1, "errors": 1,
                                          "attempts": 0})
        left = self.psql(
            "SELECT (SELECT count(*) FROM users WHERE user_id=$u$" + uid + "$u$)"
            " + (SELECT count(*) FROM conversations WHERE user_id=$u$" + uid + "$u$)"
            " + (SELECT count(*) FROM utterances WHERE user_id=$u$" + uid + "$u$)"
            " + (SELECT count(*) FROM errors WHERE user_id=$u$" + uid + "$u$)"
            " + (SELECT count(*) FROM attempts WHERE user_id=$u$" + uid + "$u$)"
            " + (SELECT count(*) FROM error_frequencies WHERE user_id=$u$" + uid + "$u$)")
        self.assertEqual(left, "0", f"rows of the erased learner {uid} after: {answer!r}")
        time.sleep(CACHE_TTL_MS / 1000 * 2)
        for c in (ca, cb):
            st, _, body = c.get(f"/v1/users/{uid}")
            self.assertEqual(st, 404, body)
            st, _, body = c.get(f"/v1/users/{uid}/errors/top")
            self.assertEqual(st, 404, body)
        return answer

    def ingest(self, c, lines):
        st, _, out = c.post("/v1/ingest", raw=("\n".join(json.dumps(x) for x in lines) + "\n").encode(),
                            headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual(st, 200, out)
        return out

    def assert_all_refused(self, out):
        self.assertEqual((out["applied"], out["replayed"]), (0, 0), out)
        for r in out["results"]:
            self.assertEqual(r["status"], "rejected", out)
            self.assertEqual(r["error"]["code"], "conflict", out)

    def line(self, uid, cid, utterance_id=None):
        out = {"user_id": uid, "conversation_id": cid, "content": "late words",
               "errors": [{"code": "SPELL"}]}
        if utterance_id:
            out["utterance_id"] = utterance_id
        return out

    def test_ingest_lines_on_the_op_by_op_path(self):
        """The same line twice sends the batch op by op: its first sight of a
        new conversation makes the user again if nothing stops it."""
        def write(c, uid, _):
            line = self.line(uid, str(uuid.uuid4()), str(uuid.uuid4()))
            return self.ingest(c, [line, line])
        self.assert_all_refused(self.erase_while(write))

    def test_an_ingest_line_on_the_batched_path(self):
        self.assert_all_refused(self.erase_while(
            lambda c, uid, _: self.ingest(c, [self.line(uid, str(uuid.uuid4()))])))

    def test_an_ingest_line_for_the_learners_conversation(self):
        self.assert_all_refused(self.erase_while(
            lambda c, uid, cid: self.ingest(c, [self.line(uid, cid)])))

    def test_an_utterance(self):
        st, _, body = self.erase_while(lambda c, uid, cid: c.post("/v1/utterances", {
            "user_id": uid, "conversation_id": cid, "content": "late", "errors": [{"code": "SPELL"}]}))
        self.assertEqual(st, 404, body)

    def test_a_conversation(self):
        st, _, body = self.erase_while(
            lambda c, uid, _: c.post("/v1/conversations", {"user_id": uid}))
        self.assertEqual(st, 404, body)

    def test_a_user_with_the_learners_id(self):
        st, _, body = self.erase_while(lambda c, uid, _: c.post("/v1/users", {
            "user_id": uid, "username": "again", "email": f"again-{uid[:8]}@example.com"}))
        self.assertEqual(st, 409, body)

    def test_an_attempt(self):
        st, _, body = self.erase_while(lambda c, uid, _: c.post(
            f"/v1/users/{uid}/attempts", {"exercise_id": "sva-001", "correct": True}))
        self.assertEqual(st, 404, body)


if __name__ == "__main__":
    main()
