"""SIGTERM while answers are still going out: open event streams end with
their last chunk. Raw sockets, one server per test."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, main, read_until_closed, v1_user


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


if __name__ == "__main__":
    main()
