"""Live events: GET /v1/users/{id}/stream (Server-Sent Events).

After every committed change to a learner's profile an event `profile` with
an `id:` carries the changed error points; a client that reconnects with
Last-Event-ID gets what it missed; subscriptions are counted in /metrics and
cleaned up on disconnect.
"""
import json
import re
import socket
import time
import unittest

from cluster import has_option
from harness import ServerTestCase, expect, free_port, main, new_uuid, v1_conversation, v1_user


class SseClient:
    """A raw SSE reader: one socket, chunked transfer decoded by hand."""

    def __init__(self, port, path, last_event_id=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n{extra}\r\n".encode())
        self.buf = b""
        self.head = self._read_until(b"\r\n\r\n").decode()
        self.text = ""

    def _read_until(self, marker):
        while marker not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("stream closed")
            self.buf += data
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _next_chunk(self):
        size = int(self._read_until(b"\r\n").split(b";")[0], 16)
        while len(self.buf) < size + 2:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("stream closed")
            self.buf += data
        chunk, self.buf = self.buf[:size], self.buf[size + 2:]
        return chunk.decode()

    def events(self, count, timeout=5.0):
        """The next `count` events as [(id, type, data)], skipping comments."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"got {out} so far")
            while "\n\n" not in self.text:
                self.text += self._next_chunk()
            block, _, self.text = self.text.partition("\n\n")
            fields = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":") and ": " in line)
            if "event" in fields:
                out.append((int(fields["id"]), fields["event"], fields["data"]))
        return out

    def close(self):
        self.sock.close()


def metric(server, name):
    st, _, text = server.client().get("/metrics")
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


class Stream(ServerTestCase):
    def post_errors(self, uid, cid, codes):
        expect(self.c.post("/v1/utterances", {"user_id": uid, "conversation_id": cid, "content": "x",
                                              "errors": [{"code": c} for c in codes]}), 201)

    def test_events_replay_and_cleanup(self):
        import json
        uid = v1_user(self.c)["user_id"]
        cid = v1_conversation(self.c, uid)["conversation_id"]
        s = SseClient(self.server.port, f"/v1/users/{uid}/stream")
        self.assertIn("200 OK", s.head)
        self.assertIn("text/event-stream", s.head.lower())
        self.post_errors(uid, cid, ["R:PREP", "R:PREP", "M:DET"])
        [(id1, kind, data)] = s.events(1)
        self.assertEqual(kind, "profile")
        body = json.loads(data)
        self.assertEqual(body["user_id"], uid)
        self.assertEqual(body["total_errors"], 3)
        self.assertEqual({p["subcategory_id"]: p["frequency"] for p in body["changed"]},
                         {"prepositions": 2, "articles-determiners": 1})
        self.post_errors(uid, cid, ["R:PREP"])
        [(id2, _, data2)] = s.events(1)
        self.assertGreater(id2, id1)
        self.assertEqual(json.loads(data2)["changed"][0]["frequency"], 3)
        self.assertEqual(metric(self.server, "errata_stream_subscribers"), 1)
        self.assertGreater(metric(self.server, "errata_stream_buffered_bytes"), 0)
        self.assertEqual(metric(self.server, "errata_stream_buffered_bytes_limit"), 64 << 20)
        s.close()
        # Disconnected: the subscription goes away.
        deadline = time.monotonic() + 5
        while metric(self.server, "errata_stream_subscribers") != 0:
            self.assertLess(time.monotonic(), deadline, "subscription not cleaned up")
            time.sleep(0.05)
        # Missed while away, then replayed after Last-Event-ID.
        self.post_errors(uid, cid, ["R:SPELL"])
        again = SseClient(self.server.port, f"/v1/users/{uid}/stream", last_event_id=id1)
        got = again.events(2)
        self.assertEqual([e[0] for e in got][0], id2)
        self.assertEqual(json.loads(got[1][2])["changed"][0]["subcategory_id"], "spelling")
        again.close()

    def test_other_learners_events_are_not_sent(self):
        import json
        a = v1_user(self.c)["user_id"]
        b = v1_user(self.c)["user_id"]
        cb = v1_conversation(self.c, b)["conversation_id"]
        ca = v1_conversation(self.c, a)["conversation_id"]
        s = SseClient(self.server.port, f"/v1/users/{a}/stream")
        self.post_errors(b, cb, ["R:PREP"])
        self.post_errors(a, ca, ["R:SPELL"])
        [(_, _, data)] = s.events(1)
        self.assertEqual(json.loads(data)["user_id"], a)
        s.close()

    def test_an_http_1_0_client_gets_the_stream_unchunked(self):
        """HTTP/1.0 has no chunked coding (RFC 9112, 6.1): the events come as
        they are, and the connection's close ends the stream."""
        uid = v1_user(self.c)["user_id"]
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        try:
            sock.sendall(f"GET /v1/users/{uid}/stream HTTP/1.0\r\n\r\n".encode())
            blob = b""
            while b"retry: 2000\n\n" not in blob:
                data = sock.recv(65536)
                self.assertTrue(data, blob)
                blob += data
            head, _, body = blob.partition(b"\r\n\r\n")
            head = head.decode().lower()
            self.assertIn(" 200 ", head.split("\r\n")[0])
            self.assertNotIn("transfer-encoding", head)
            self.assertIn("connection: close", head)
            self.assertEqual(body, b"retry: 2000\n\n")
            expect(self.c.request("DELETE", f"/v1/users/{uid}"), 200)
            while data:
                data = sock.recv(65536)
                body += data
        finally:
            sock.close()
        self.assertRegex(body.decode(), r'^retry: 2000\n\nid: \d+\nevent: erased\ndata: \{"user_id":"'
                         + uid + r'"\}\n\n$')

    def test_errors(self):
        st, _, body = self.c.get(f"/v1/users/{new_uuid()}/stream")
        self.assertEqual(st, 404, body)
        st, _, body = self.c.get("/v1/users/not-a-uuid/stream")
        self.assertEqual(st, 422, body)


class Reset(ServerTestCase):
    """Ids grow across restarts; a Last-Event-ID the server cannot resume
    from (from before a restart, not a number) gets a `reset` event."""

    def test_an_id_from_before_a_restart_gets_a_reset(self):
        uid = v1_user(self.c)["user_id"]
        cid = v1_conversation(self.c, uid)["conversation_id"]
        utterance = {"user_id": uid, "conversation_id": cid, "content": "x", "errors": [{"code": "R:PREP"}]}
        s = SseClient(self.server.port, f"/v1/users/{uid}/stream")
        expect(self.c.post("/v1/utterances", utterance), 201)
        [(before, _, _)] = s.events(1)
        s.close()
        self.server.restart()
        again = SseClient(self.server.port, f"/v1/users/{uid}/stream", last_event_id=before)
        try:
            [(_, kind, data)] = again.events(1)
            self.assertEqual(kind, "reset")
            self.assertIn("reload", json.loads(data)["reason"])
            expect(self.c.post("/v1/utterances", utterance), 201)
            [(after, kind, _)] = again.events(1)
            self.assertEqual(kind, "profile")
            self.assertGreater(after, before)
        finally:
            again.close()
        foreign = SseClient(self.server.port, f"/v1/users/{uid}/stream", last_event_id="abc")
        try:
            self.assertEqual(foreign.events(1)[0][1], "reset")
        finally:
            foreign.close()


# One error code per subcategory that has one: each utterance then changes
# every point, and its event carries all of them (about 5 kB).
ALL_CODES = ["SVA", "Vt", "Vform", "Vm", "DET", "PREP", "PRON", "Nn", "Npos", "WO", "CONJ", "OTHER",
             "M:OTHER", "U:OTHER", "ADJ", "Wci", "MORPH", "Wtone", "SPELL", "PUNCT", "ORTH", "UNK"]


class SlowConsumer(ServerTestCase):
    """A client that stops reading is dropped: counted once, unsubscribed, and
    its connection reset once a write to it has waited the idle timeout."""

    server_args = ("--idle-timeout-s", "2")

    def test_a_client_that_does_not_read_is_dropped_once_and_disconnected(self):
        uid = v1_user(self.c)["user_id"]
        cid = v1_conversation(self.c, uid)["conversation_id"]
        deaf = socket.socket()
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        deaf.connect(("127.0.0.1", self.server.port))
        deaf.sendall(f"GET /v1/users/{uid}/stream HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        before = metric(self.server, "errata_stream_dropped_total")
        errors = [{"code": c} for c in ALL_CODES]

        def post(n):
            for _ in range(n):
                expect(self.c.post("/v1/utterances", {"user_id": uid, "conversation_id": cid,
                                                      "content": "x", "errors": errors}), 201)

        # Fill the socket's buffers (a few MB) and the 256 chunks queued behind them.
        for _ in range(100):
            post(50)
            if metric(self.server, "errata_stream_dropped_total") > before:
                break
        else:
            self.fail("the client was never dropped")
        post(300)  # each failed to reach the dropped stream
        deadline = time.monotonic() + 10
        while metric(self.server, "errata_stream_subscribers") != 0:
            self.assertLess(time.monotonic(), deadline, "the dropped stream is still subscribed")
            time.sleep(0.1)
        post(50)
        self.assertEqual(metric(self.server, "errata_stream_dropped_total"), before + 1)
        # The connection is gone: what the client gets ends (reset, or closed).
        deaf.settimeout(5)
        with self.assertRaises((ConnectionResetError, EOFError)):
            while True:
                if not deaf.recv(1 << 20):
                    raise EOFError
        deaf.close()


@unittest.skipUnless(has_option("--cache"), "no Redis support")
class RedisDown(ServerTestCase):
    """With Redis configured but down (nothing listens on its port), this
    node's streams of an erased learner still end, with `erased`."""

    server_args = ("--cache", f"redis://127.0.0.1:{free_port()}")

    def test_an_erase_ends_the_local_stream_without_redis(self):
        uid = v1_user(self.c)["user_id"]
        s = SseClient(self.server.port, f"/v1/users/{uid}/stream")
        try:
            expect(self.c.request("DELETE", f"/v1/users/{uid}"), 200)
            [(_, kind, data)] = s.events(1)
            self.assertEqual((kind, json.loads(data)), ("erased", {"user_id": uid}))
            with self.assertRaises(ConnectionError):
                s.events(1)
        finally:
            s.close()
        self.assertEqual(metric(self.server, "errata_stream_subscribers"), 0)

    def test_events_the_relay_could_not_send_are_counted(self):
        uid = v1_user(self.c)["user_id"]
        cid = v1_conversation(self.c, uid)["conversation_id"]
        self.assertEqual(metric(self.server, "errata_stream_relay_subscribed"), 0)
        before = metric(self.server, "errata_stream_relay_dropped_total")
        self.assertIsNotNone(before)
        expect(self.c.post("/v1/utterances", {"user_id": uid, "conversation_id": cid, "content": "x",
                                              "errors": [{"code": "R:PREP"}]}), 201)
        deadline = time.monotonic() + 5
        while metric(self.server, "errata_stream_relay_dropped_total") == before:
            self.assertLess(time.monotonic(), deadline, "the lost event was not counted")
            time.sleep(0.05)


if __name__ == "__main__":
    main()
