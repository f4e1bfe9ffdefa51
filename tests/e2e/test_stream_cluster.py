"""Live events across nodes: with Redis configured, an event for a learner
reaches a stream open on any node, whichever node took the write (Redis
pub/sub). Runs once, in the PostgreSQL pass; starts its own PostgreSQL, Redis
and two nodes.
"""
import json
import re
import time
import unittest

from cluster import (SKIP_REASON, Nginx, TwoNodesTestCase, cluster_pass, nginx_available,
                     redis_available)
from harness import expect, main, v1_conversation, v1_user
from test_stream import SseClient


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
@unittest.skipUnless(redis_available(), "no Redis support")
class StreamAcrossNodes(TwoNodesTestCase):
    def test_a_write_on_one_node_reaches_a_stream_on_the_other(self):
        a, b = self.nodes
        ca, cb = a.client(), b.client()
        uid = v1_user(ca)["user_id"]
        cid = v1_conversation(ca, uid)["conversation_id"]
        stream = SseClient(a.port, f"/v1/users/{uid}/stream")
        time.sleep(0.3)  # the subscription is in place on node a
        for node in (a, b):
            st, _, text = node.client().get("/metrics")
            self.assertIn("\nerrata_stream_relay_subscribed 1\n", text)
        expect(cb.post("/v1/utterances", {"user_id": uid, "conversation_id": cid, "content": "x",
                                          "errors": [{"code": "R:PREP"}, {"code": "R:PREP"}]}), 201)
        [(first, kind, data)] = stream.events(1)
        self.assertEqual(kind, "profile")
        body = json.loads(data)
        self.assertEqual(body["user_id"], uid)
        self.assertEqual(body["changed"][0]["frequency"], 2)
        # A write on the stream's own node arrives once, not twice.
        expect(ca.post("/v1/utterances", {"user_id": uid, "conversation_id": cid, "content": "y",
                                          "errors": [{"code": "R:SPELL"}]}), 201)
        [(second, _, data2)] = stream.events(1)
        self.assertGreater(second, first)
        self.assertEqual(json.loads(data2)["total_errors"], 3)
        stream.sock.settimeout(0.5)
        with self.assertRaises(OSError):
            stream.events(1, timeout=0.5)  # nothing more: no duplicate
        stream.close()

    def test_an_erase_on_one_node_ends_a_stream_and_the_cached_profile_on_the_other(self):
        """Node b has the learner's profile in Redis and a stream open; node a
        erases the learner: b's stream ends with `erased`, and b answers 404 at
        once (the shared copy is gone), not after a TTL."""
        a, b = self.nodes
        ca, cb = a.client(), b.client()
        uid = v1_user(cb)["user_id"]
        cid = v1_conversation(cb, uid)["conversation_id"]
        expect(cb.post("/v1/utterances", {"user_id": uid, "conversation_id": cid, "content": "x",
                                          "errors": [{"code": "R:PREP"}]}), 201)
        self.assertEqual(expect(cb.get(f"/v1/users/{uid}/errors/top"), 200)["user_id"], uid)
        stream = SseClient(b.port, f"/v1/users/{uid}/stream")
        try:
            time.sleep(0.3)  # the subscription is in place on node b
            body = expect(ca.request("DELETE", f"/v1/users/{uid}"), 200)
            self.assertEqual(body["erased"]["errors"], 1)
            [(_, kind, data)] = stream.events(1)
            self.assertEqual((kind, json.loads(data)), ("erased", {"user_id": uid}))
            with self.assertRaises(ConnectionError):
                stream.events(1)
        finally:
            stream.close()
        for path in (f"/v1/users/{uid}/errors/top", f"/v1/users/{uid}/exercises"):
            st, _, body = cb.get(path)
            self.assertEqual(st, 404, f"{path}: {body}")

    def test_a_write_nobody_watches_reads_no_profile(self):
        """What crosses the nodes is which points changed; only a node with a
        subscriber reads the profile to render the event."""
        a, _ = self.nodes
        ca = a.client()
        uid = v1_user(ca)["user_id"]
        cid = v1_conversation(ca, uid)["conversation_id"]

        def reads():
            st, _, text = ca.get("/metrics")
            self.assertEqual(st, 200)
            return sum(int(re.search(rf"(?m)^{name} (\d+)$", text).group(1))
                       for name in ("errata_shared_cache_hits_total",
                                    "errata_shared_cache_misses_total"))

        before = reads()
        for i in range(20):
            expect(ca.post("/v1/utterances", {"user_id": uid, "conversation_id": cid,
                                              "content": f"unwatched {i}",
                                              "errors": [{"code": "R:PREP"}]}), 201)
        time.sleep(0.3)  # the relayed messages have arrived
        self.assertEqual(reads(), before)


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
@unittest.skipUnless(nginx_available(), "no nginx")
class StreamThroughNginx(TwoNodesTestCase):
    """deploy/nginx.conf in front of two nodes: a stream outlives the 10 s
    read timeout of the other routes, and its events are not buffered."""

    with_redis = False  # the write and the stream hash to one node

    @classmethod
    def set_up(cls):
        cls.nginx = Nginx([n.port for n in cls.nodes]).start()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "nginx", None) is not None:
            cls.nginx.cleanup()
        super().tearDownClass()

    def test_a_quiet_stream_stays_open_past_the_proxy_read_timeout(self):
        front = self.nginx.client()
        uid = v1_user(front)["user_id"]
        cid = v1_conversation(front, uid)["conversation_id"]
        direct = SseClient(self.nodes[0].port, f"/v1/users/{uid}/stream")
        direct.close()
        self.assertIn("x-accel-buffering: no", direct.head.lower())  # nginx takes it
        stream = SseClient(self.nginx.port, f"/v1/users/{uid}/stream")
        try:
            time.sleep(11)  # quiet: no event, no keep-alive (every 15 s)
            expect(front.post("/v1/utterances", {"user_id": uid, "conversation_id": cid,
                                                 "content": "x", "errors": [{"code": "R:PREP"}]},
                              headers={"X-User-Id": uid}), 201)
            [(_, kind, data)] = stream.events(1)
            self.assertEqual((kind, json.loads(data)["user_id"]), ("profile", uid))
        finally:
            stream.close()


if __name__ == "__main__":
    main()
