"""SIGTERM while answers are still going out: open event streams end with
their last chunk, and an answer being written to a slow reader goes out
whole before the server exits. Raw sockets, one server per test."""

import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, main, new_uuid, read_until_closed, split_response, v1_user


class HttpShutdown(unittest.TestCase):

    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.cleanup)

    def stop(self):
        began = time.monotonic()
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())
        return time.monotonic() - began

    def test_open_streams_end_with_their_last_chunk(self):
        """The hub held the streams' sessions past the server's end: their
        sockets were closed after the io_contexts were gone (a use after
        free under ASan), and the clients saw no end of stream."""
        user = v1_user(self.server.client())["user_id"]
        streams = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
            self.addCleanup(s.close)
            s.sendall(f"GET /v1/users/{user}/stream HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            streams.append(s)
        got = []
        for s in streams:  # each has its head and first chunk
            blob = b""
            while b"retry: 2000" not in blob:
                blob += s.recv(4096)
            got.append(blob)
        self.assertLess(self.stop(), 10)
        for s, blob in zip(streams, got):
            blob += read_until_closed(s)
            self.assertTrue(blob.startswith(b"HTTP/1.1 200"), blob)
            self.assertTrue(blob.endswith(b"\r\n0\r\n\r\n"), blob)

    def test_a_slow_reader_gets_the_whole_answer(self):
        """An export larger than the socket buffers, to a client that reads
        only after SIGTERM: the answer was counted done once its write began,
        and the server stopped with megabytes of it unsent."""
        c = self.server.client()
        user, conv = new_uuid(), new_uuid()
        for batch in range(12):  # 12,000 utterances: an export of about 6 MB
            lines = "\n".join(json.dumps({
                "user_id": user, "conversation_id": conv, "content": f"line {batch} {i}",
                "errors": [{"code": "DET"}]}) for i in range(1000))
            st, _, out = c.post("/v1/ingest", raw=lines)
            self.assertEqual((st, out["applied"]), (200, 1000), out)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", self.server.port))
            s.settimeout(30)
            s.sendall(f"GET /v1/users/{user}/export HTTP/1.1\r\nHost: x\r\n"
                      f"Connection: close\r\n\r\n".encode())
            time.sleep(1.5)  # the export is built and its write begun
            self.server.signal()
            time.sleep(2)  # a slow reader
            blob = read_until_closed(s)
        status, headers, body = split_response(blob)
        self.assertEqual(status, 200, blob[:300])
        self.assertGreater(int(headers["content-length"]), 5_000_000)
        self.assertEqual(len(body), int(headers["content-length"]))
        self.assertEqual(len(json.loads(body)["conversations"][0]["utterances"]), 12000)
        self.assertLess(self.stop(), 10)

    def test_a_body_still_coming_at_sigterm_is_read_and_answered(self):
        """A request counted as in flight only once its body was read: one
        still uploading when SIGTERM came was cut off when the drain found
        nothing in flight, and its client got no answer. The answer is the
        connection's last and says so."""
        body = json.dumps({"username": "late", "email": f"{new_uuid()}@example.com"}).encode()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=20) as s:
            s.sendall(b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                      f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
            time.sleep(0.5)  # the head is read
            self.server.signal()
            time.sleep(1)  # past the drain's first look at the in-flight count
            s.sendall(body[10:])
            blob = read_until_closed(s)
        status, headers, answer = split_response(blob)
        self.assertEqual(status, 201, blob)
        self.assertEqual(headers["connection"], "close")
        self.assertEqual(json.loads(answer)["username"], "late")
        self.assertLess(self.stop(), 10)

    def test_a_kept_alive_connection_is_told_to_close_in_the_drain(self):
        """A request that came on a kept-alive connection while errata
        drained was answered as if errata went on: no "Connection: close",
        and the client's next request met a closed socket."""
        user = v1_user(self.server.client())["user_id"]
        body = json.dumps({"username": "slow", "email": f"{new_uuid()}@example.com"}).encode()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=20) as kept, \
                socket.create_connection(("127.0.0.1", self.server.port), timeout=20) as slow:
            get = f"GET /v1/users/{user} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            kept.sendall(get)
            first = b""
            while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"}"):
                first += kept.recv(65536)
            self.assertNotIn(b"Connection: close", first)
            # A body still coming holds the drain open.
            slow.sendall(b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                         f"Content-Length: {len(body)}\r\n\r\n".encode())
            time.sleep(0.5)
            self.server.signal()
            time.sleep(0.5)
            kept.sendall(get)
            blob = read_until_closed(kept)  # closes after the answer
            status, headers, answer = split_response(blob)
            self.assertEqual(status, 200, blob)
            self.assertEqual(headers["connection"], "close")
            self.assertEqual(json.loads(answer)["user_id"], user)
            slow.sendall(body)
            self.assertEqual(split_response(read_until_closed(slow))[0], 201)
        self.assertLess(self.stop(), 10)


if __name__ == "__main__":
    main()
