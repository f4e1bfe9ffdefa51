"""HTTP semantics every client may rely on (RFC 9110): HEAD on every GET
route, OPTIONS, "Expect: 100-continue" and the Date header. Raw sockets,
so that nothing between the test and the server adds or hides a header."""

import email.utils
import http.client
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Server, ServerTestCase, main, new_uuid, raw_http, read_until_closed, seed_triplet,
                     simulate, split_response as split, strict_json, unique_email, v1_conversation,
                     v1_user)


def read_some(sock, timeout):
    """What the server sends within `timeout` seconds (b"" if nothing)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except socket.timeout:
        return b""


class HttpSemantics(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        cls.ids = seed_triplet(c)
        assert simulate(c, cls.ids, [("Grammar", "Pronouns")])[0] == 200
        cls.user = v1_user(c)["user_id"]
        cls.conv = v1_conversation(c, cls.user)["conversation_id"]

    def get_and_head(self, path):
        get = raw_http(self.server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n"
                                         f"Connection: close\r\n\r\n".encode())[1]
        head = raw_http(self.server.port, f"HEAD {path} HTTP/1.1\r\nHost: x\r\n"
                                          f"Connection: close\r\n\r\n".encode())[1]
        return split(get), split(head)

    def test_head_answers_as_get_without_the_body(self):
        uid = self.ids[0]
        for path in ("/healthz", "/readyz", f"/generate-exercise?user_id={uid}&top_n=2",
                     f"/v1/users/{self.user}", f"/v1/users/{self.user}/errors/top",
                     f"/v1/users/{self.user}/export", "/v1/taxonomy", "/openapi.json",
                     f"/v1/users/{new_uuid()}", "/v1/users/not-a-uuid"):
            with self.subTest(path=path):
                (gst, gh, gbody), (hst, hh, hbody) = self.get_and_head(path)
                self.assertEqual(hst, gst)
                self.assertEqual(hbody, b"")
                self.assertGreater(len(gbody), 0)
                self.assertEqual(hh["content-type"], gh["content-type"])
                if path.endswith("/export") or "exercise" in path or path.endswith("/top"):
                    # Answers that carry the time they were made differ in it;
                    # the length is still the GET's, to a digit or two.
                    self.assertLess(abs(int(hh["content-length"]) - len(gbody)), 8)
                else:
                    self.assertEqual(int(hh["content-length"]), len(gbody))

    def test_head_keeps_the_connection_for_the_next_request(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            blob = read_until_closed(s)  # the server closes
        first, _, rest = blob.partition(b"\r\n\r\n")
        self.assertTrue(first.startswith(b"HTTP/1.1 200"), blob)
        self.assertTrue(rest.startswith(b"HTTP/1.1 200"), blob)
        self.assertEqual(split(rest)[2], b'{"status":"ok"}')

    def test_head_of_a_stream_is_its_head_alone(self):
        st, blob = raw_http(self.server.port,
                            f"HEAD /v1/users/{self.user}/stream HTTP/1.1\r\nHost: x\r\n"
                            f"Connection: close\r\n\r\n".encode(), read_timeout=5)
        self.assertEqual(st, 200, blob)
        status, headers, body = split(blob)
        self.assertEqual(headers["content-type"], "text/event-stream")
        self.assertEqual(body, b"")
        self.assertNotIn("transfer-encoding", headers)
        # Nothing subscribed: the stream gauge reads 0 once the HEAD is answered.
        metrics = self.c.get("/metrics")[2]
        gauge = [line for line in metrics.splitlines() if line.startswith("errata_stream_subscribers ")]
        self.assertEqual(gauge, ["errata_stream_subscribers 0"], metrics[:2000])

    def test_head_writes_nothing(self):
        before = self.c.get(f"/v1/users/{self.user}")[2]
        for path in ("/v1/users", "/users/", "/simulate-and-generate", "/v1/ingest"):
            with self.subTest(path=path):
                st, blob = raw_http(self.server.port, f"HEAD {path} HTTP/1.1\r\nHost: x\r\n"
                                                      f"Connection: close\r\n\r\n".encode())
                self.assertEqual(st, 405, blob)
                self.assertEqual(split(blob)[1]["allow"], "POST, OPTIONS")
        self.assertEqual(self.c.get(f"/v1/users/{self.user}")[2], before)

    def test_options_lists_the_methods_of_a_path(self):
        for path, allow in (("/healthz", "GET, HEAD, OPTIONS"),
                            (f"/v1/users/{self.user}", "GET, HEAD, DELETE, PATCH, OPTIONS"),
                            ("/v1/users", "POST, OPTIONS"),
                            ("/users/", "POST, OPTIONS")):
            with self.subTest(path=path):
                st, blob = raw_http(self.server.port, f"OPTIONS {path} HTTP/1.1\r\nHost: x\r\n"
                                                      f"Connection: close\r\n\r\n".encode())
                self.assertEqual(st, 204, blob)
                _, headers, body = split(blob)
                self.assertEqual(headers["allow"], allow)
                self.assertNotIn("content-length", headers)
                self.assertNotIn("content-type", headers)
                self.assertEqual(body, b"")
        st, blob = raw_http(self.server.port, b"OPTIONS /nowhere HTTP/1.1\r\nHost: x\r\n"
                                              b"Connection: close\r\n\r\n")
        self.assertEqual(st, 404, blob)

    def test_options_star_lists_the_methods_of_the_server(self):
        st, blob = raw_http(self.server.port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n"
                                              b"Connection: close\r\n\r\n")
        self.assertEqual(st, 204, blob)
        self.assertEqual(split(blob)[1]["allow"], "GET, HEAD, POST, PATCH, DELETE, OPTIONS")

    def test_a_target_in_absolute_form_is_accepted(self):
        """RFC 9112, 3.2.2: a server must accept it, though clients send it
        to proxies only."""
        port = self.server.port
        for target, status, body in (
                (f"http://127.0.0.1:{port}/healthz", 200, {"status": "ok"}),
                (f"HTTP://localhost/generate-exercise?user_id={self.ids[0]}&top_n=1", 200, None),
                (f"https://example.com/v1/users/{self.user}", 200, None),
                ("http://example.com", 404, None),
                ("http://example.com?x=1", 404, None)):
            with self.subTest(target=target):
                st, blob = raw_http(port, f"GET {target} HTTP/1.1\r\nHost: x\r\n"
                                          f"Connection: close\r\n\r\n".encode())
                self.assertEqual(st, status, blob)
                if body is not None:
                    self.assertEqual(json.loads(split(blob)[2]), body)
        st, blob = raw_http(port, f"POST http://127.0.0.1:{port}/v1/users HTTP/1.1\r\nHost: x\r\n"
                                  f"Content-Type: application/json\r\nConnection: close\r\n"
                                  f"Content-Length: 2\r\n\r\n{{}}".encode())
        self.assertEqual(st, 422, blob)  # the route, reached: its validation answers
        # An error found before routing has the flavour of the path it names:
        # v1's, not the seed routes' {"detail"}.
        st, blob = raw_http(port, b"POST http://x/v1/users HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Length: 5000000\r\n\r\n")
        self.assertEqual(st, 413, blob)
        self.assertEqual(json.loads(split(blob)[2])["error"]["code"], "payload_too_large")

    def test_expect_100_continue_gets_its_interim_answer(self):
        body = json.dumps({"user_id": self.user, "conversation_id": self.conv,
                           "content": "c" * 3000, "errors": [{"code": "DET"}]}).encode()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"POST /v1/utterances HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Expect: 100-continue\r\nConnection: close\r\n" +
                      f"Content-Length: {len(body)}\r\n\r\n".encode())
            # The body is not sent until the 100 comes; without it this waits
            # out the 5 s and fails.
            interim = read_some(s, 5)
            self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(body)
            s.settimeout(10)
            blob = read_until_closed(s)  # the server closes
        status, _, out = split(blob)
        self.assertEqual(status, 201, blob)
        self.assertEqual(json.loads(out)["content"], "c" * 3000)

    def test_expect_over_the_limit_is_refused_before_the_body(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"POST /v1/ingest HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 50000000\r\n\r\n")
            blob = read_some(s, 5)
        self.assertTrue(blob.startswith(b"HTTP/1.1 413"), blob)
        self.assertNotIn(b"100 Continue", blob)

    def test_expect_from_an_http_1_0_client_gets_no_interim_answer(self):
        body = json.dumps({"username": "old", "email": unique_email()}).encode()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"POST /v1/users HTTP/1.0\r\nContent-Type: application/json\r\n"
                      b"Expect: 100-continue\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode())
            self.assertEqual(read_some(s, 0.5), b"")
            s.sendall(body)
            blob = read_some(s, 10)
        self.assertTrue(blob.startswith(b"HTTP/1.1 201"), blob)

    def test_an_http_1_1_request_has_one_host(self):
        """RFC 9112, 3.2: a server must answer 400 to an HTTP/1.1 request
        without a Host, and to any request with two. They were served. The
        connection closes after the 400: the request after it is not read."""
        for head in (b"GET /healthz HTTP/1.1\r\n",
                     b"GET /v1/taxonomy HTTP/1.1\r\nHost: a\r\nHost: b\r\n",
                     b"GET /v1/taxonomy HTTP/1.0\r\nHost: a\r\nHost: b\r\n",
                     b"POST /users/ HTTP/1.1\r\nContent-Length: 2\r\n"):
            with self.subTest(head=head):
                body = b"{}" if head.startswith(b"POST") else b""
                with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
                    s.sendall(head + b"\r\n" + body + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    blob = read_until_closed(s)
                status, headers, answer = split(blob)
                self.assertEqual(status, 400, blob)
                self.assertEqual(headers["connection"], "close")
                key = "error" if b" /v1/" in head else "detail"  # the path's flavour
                self.assertIn("Host", json.dumps(json.loads(answer)[key]))
                self.assertEqual(blob.count(b"\r\nServer: errata\r\n"), 1, blob)
        st, blob = raw_http(self.server.port, b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(st, 200, blob)

    def test_transfer_codings_other_than_chunked_are_refused(self):
        """A request whose framing errata cannot read as a proxy would is
        refused and its connection closed: the bytes after its head must not
        be read as another request (request smuggling)."""
        cases = (
            # Not chunked last: 400 (RFC 9112, 6.3).
            (b"Transfer-Encoding: gzip\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n", 400),
            # A coding errata does not decode, then chunked (6.1 has a 501;
            # bad input is a 4xx here, docs/http.md).
            (b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n", 400),
        )
        for te, rest, status in cases:
            with self.subTest(te=te):
                with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
                    s.sendall(b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              + te + b"\r\n" + rest)
                    blob = read_until_closed(s)  # the server closes
                self.assertTrue(blob.startswith(f"HTTP/1.1 {status} ".encode()), blob)
                _, headers, body = split(blob)
                self.assertEqual(headers["connection"], "close")
                self.assertEqual(blob.count(b"HTTP/1.1 "), 1, blob)  # no answer to `rest`
                self.assertIn("error", json.loads(body))
        # chunked alone is read.
        body = json.dumps({"username": "chunked", "email": unique_email()}).encode()
        st, blob = raw_http(self.server.port, b"POST /v1/users HTTP/1.1\r\nHost: x\r\n"
                            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                            f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        self.assertEqual(st, 201, blob)

    def test_a_compressed_body_is_415(self):
        import gzip
        body = gzip.compress(json.dumps({"username": "gz", "email": unique_email()}).encode())
        for path in ("/v1/users", "/users/"):
            with self.subTest(path=path):
                st, headers, out = self.c.request("POST", path, raw=body, headers={
                    "Content-Type": "application/json", "Content-Encoding": "gzip"})
                self.assertEqual(st, 415, out)
                self.assertEqual(headers.get("Accept-Encoding"), "identity")
                message = out["error"]["message"] if path.startswith("/v1") else out["detail"]
                self.assertIn("Content-Encoding gzip is not supported", message)
        st, _, out = self.c.request("POST", "/v1/users", raw=json.dumps(
            {"username": "id", "email": unique_email()}), headers={
            "Content-Type": "application/json", "Content-Encoding": "identity"})
        self.assertEqual(st, 201, out)

    def test_a_refused_coding_is_echoed_as_utf8(self):
        """The 415 names the coding it refuses. A header's bytes need not be
        UTF-8; echoed as they came, they made the answer invalid JSON. They
        are cleaned as query parameters are: U+FFFD."""
        for path, message in (("/v1/users", lambda out: out["error"]["message"]),
                              ("/users/", lambda out: out["detail"])):
            with self.subTest(path=path):
                st, blob = raw_http(self.server.port, f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode() +
                                    b"Content-Encoding: gz\xff\xfeip\r\nContent-Length: 2\r\n"
                                    b"Connection: close\r\n\r\n{}")
                self.assertEqual(st, 415, blob)
                self.assertIn("Content-Encoding gz\ufffd\ufffdip is not",
                              message(strict_json(split(blob)[2])))

    def test_a_head_over_16_kib_is_431(self):
        st, blob = raw_http(self.server.port, b"GET /v1/taxonomy HTTP/1.1\r\nHost: x\r\nX-Big: " +
                            b"a" * 17000 + b"\r\n\r\n")
        self.assertEqual(st, 431, blob)
        _, headers, body = split(blob)
        self.assertEqual(headers["connection"], "close")
        self.assertEqual(json.loads(body)["error"]["code"], "headers_too_large")
        st, blob = raw_http(self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                            b"a" * 16000 + b"\r\nConnection: close\r\n\r\n")
        self.assertEqual(st, 200, blob)

    def test_an_error_answer_reaches_a_client_still_sending_its_body(self):
        """A client that sends all of a body before it reads the answer gets
        the 413, 431 or 400 the server wrote early. The server closed with
        the rest of the body unread, its kernel sent a RST, and the client
        got a broken pipe or a reset instead."""
        body = b"a" * (2 << 20)  # twice the default --body-limit
        for attempt in range(3):
            c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
            c.request("POST", "/v1/users", body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            self.assertEqual(r.status, 413)
            self.assertEqual(json.loads(r.read())["error"]["code"], "payload_too_large")
            c.close()
        for head, status in (
                (b"POST /v1/users HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000 +
                 b"\r\nContent-Length: 2097152\r\n\r\n", 431),
                (b"POST /v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                 b"200000\r\n", 400)):
            with self.subTest(status=status):
                with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
                    s.sendall(head)
                    time.sleep(0.2)  # answered and shut for writing: the body comes late
                    s.sendall(body)
                    blob = read_until_closed(s)
                self.assertTrue(blob.startswith(f"HTTP/1.1 {status} ".encode()), blob[:200])
                self.assertIn("error", json.loads(split(blob)[2]))

    def test_personal_data_is_not_stored_by_caches(self):
        # Every JSON answer of the API says no-store, errors too: they are
        # about learners. What is the same for everyone says otherwise.
        u, conv, seed_user = self.user, self.conv, self.ids[0]
        for path, want in ((f"/v1/users/{u}", "no-store"),
                           (f"/v1/users/{u}/errors/top", "no-store"),
                           (f"/v1/users/{u}/exercises", "no-store"),
                           (f"/v1/users/{u}/conversations", "no-store"),
                           (f"/v1/users/{u}/export", "no-store"),
                           (f"/v1/conversations/{conv}", "no-store"),
                           ("/v1/users/search?q=someone", "no-store"),
                           (f"/generate-exercise?user_id={seed_user}", "no-store"),
                           (f"/v1/users/{new_uuid()}", "no-store"),
                           ("/nowhere", "no-store"),
                           ("/openapi.json", "no-cache"),
                           ("/metrics", None)):
            with self.subTest(path=path):
                st, blob = raw_http(self.server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n"
                                                      f"Connection: close\r\n\r\n".encode())
                head = blob.split(b"\r\n\r\n", 1)[0].lower()
                self.assertEqual(head.count(b"\r\ncache-control:"), 1 if want else 0, head)
                self.assertEqual(split(blob)[1].get("cache-control"), want)

    def test_every_answer_has_a_date(self):
        for request in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                        b"Connection: close\r\n\r\n{",
                        b"GARBAGE\r\n\r\n"):
            with self.subTest(request=request[:20]):
                before = time.time()
                st, blob = raw_http(self.server.port, request)
                date = split(blob)[1]["date"]
                self.assertRegex(date, r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")
                when = email.utils.parsedate_to_datetime(date).timestamp()
                self.assertLessEqual(abs(when - before), 2)


class DebugLogServer(Server):
    def command(self):
        cmd = super().command()
        cmd[cmd.index("--log-level") + 1] = "debug"
        return cmd


class RequestLog(ServerTestCase):
    """--log-level debug logs a line per request, errors found before
    routing included."""

    @classmethod
    def setUpClass(cls):
        cls.server = DebugLogServer()
        cls.c = cls.server.client()

    def test_a_refused_request_is_logged_with_its_own_head(self):
        """The 400 of a bad Transfer-Encoding was logged with the method and
        target of the connection's previous request."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: log-first\r\n\r\n"
                      b"POST /v1/users HTTP/1.1\r\nHost: x\r\nX-Request-Id: log-second\r\n"
                      b"Transfer-Encoding: gzip\r\n\r\n")
            self.assertEqual(read_until_closed(s).count(b"HTTP/1.1 "), 2)
        deadline = time.monotonic() + 5
        while True:
            lines = [json.loads(line) for line in self.server.log_tail(100000).splitlines()
                     if '"log-second"' in line]
            if lines or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual([(x["method"], x["target"], x["status"]) for x in lines],
                         [("POST", "/v1/users", 400)])


class IdleTimeout(ServerTestCase):
    """--idle-timeout-s: how long a connection may wait for its next request.
    An answer gets its own time to go out, however long the connection had
    waited before its request came."""

    server_args = ("--idle-timeout-s", "1")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user, conv = new_uuid(), new_uuid()
        for batch in range(12):  # 12,000 utterances: an export of about 6 MB
            lines = "\n".join(json.dumps({
                "user_id": cls.user, "conversation_id": conv, "content": f"line {batch} {i}",
                "errors": [{"code": "DET"}]}) for i in range(1000))
            st, _, out = cls.c.post("/v1/ingest", raw=lines)
            assert st == 200 and out["applied"] == 1000, out

    def test_an_idle_connection_is_closed_after_the_timeout(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
            began = time.monotonic()
            self.assertEqual(read_until_closed(s), b"")
            self.assertLess(time.monotonic() - began, 5)

    def test_an_answer_written_past_the_idle_deadline_goes_out_whole(self):
        """The connection waits 0.9 s of its 1 s before it asks for an export
        larger than the kernel's socket buffers, and reads it 0.4 s later: the
        answer is still being written when the deadline the read began with
        passes. It was cut off there (at 3.9 of 6.1 MB, every run)."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.connect(("127.0.0.1", self.server.port))
            s.settimeout(30)
            time.sleep(0.9)
            s.sendall(f"GET /v1/users/{self.user}/export HTTP/1.1\r\nHost: x\r\n"
                      f"Connection: close\r\n\r\n".encode())
            time.sleep(0.4)
            blob = read_until_closed(s)
        self.assertTrue(blob.startswith(b"HTTP/1.1 200"), blob[:200])
        _, headers, body = split(blob)
        self.assertGreater(int(headers["content-length"]), 5_000_000)
        self.assertEqual(len(body), int(headers["content-length"]))
        self.assertEqual(len(json.loads(body)["conversations"][0]["utterances"]), 12000)


if __name__ == "__main__":
    main()
