"""Random bad input against every route: the server answers each request
with a well-formed HTTP response, never a 5xx, and a rejected request leaves
what it had written unchanged.

A seeded generator (ERRATA_FUZZ_SEED; ERRATA_FUZZ_REQUESTS requests, 2,500 by
default) starts from a valid request for each route and spoils it: a field
dropped, added or given a value of another type or at a limit (huge numbers,
control characters, lone surrogates, dates out of range, deep nesting), the
JSON cut short or given a stray byte, a query parameter or path id replaced,
another method, header or content type. The requests go over two keep-alive
sockets at once (ERRATA_FUZZ_CONNECTIONS), each with a generator of its own,
read by hand, so that a target http.client would refuse can be sent and a
connection that a bad request left in a wrong state shows up on the next
request.

Checks:
- every answer is a complete HTTP/1.1 response with a known length;
- no answer is a 5xx (the store is up the whole time);
- a 4xx is a JSON object in its route's shape: {"detail": ...} for the
  original service's routes, {"error": {"code", "message"}} under /v1;
- every JSON answer is strict JSON (no NaN or Infinity) in valid UTF-8;
- the profiles the seed learners ended with are the ones the store holds:
  the same after a restart, and (SQLite) equal to the error rows.

A failure prints the seed, the connection and the request that broke the
check. The same seed spoils the same requests in the same ways again; only
the ids and emails made fresh in each run differ (docs/fuzzing.md).
"""

import json
import os
import random
import socket
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ServerTestCase, create_conversation, create_user, expect, main,
                     new_uuid, sqlite_enabled, strict_json, unique_email)

SEED = int(os.environ.get("ERRATA_FUZZ_SEED", "20261207"))
REQUESTS = int(os.environ.get("ERRATA_FUZZ_REQUESTS", "2500"))
CONNECTIONS = int(os.environ.get("ERRATA_FUZZ_CONNECTIONS", "2"))

# ------------------------------------------------------------ raw HTTP/1.1


class RawConnection:
    """One keep-alive connection that sends bytes as given and parses the
    answer by hand (Content-Length or chunked)."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.reader = None

    def open(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.reader = self.sock.makefile("rb")

    def close(self):
        if self.sock is not None:
            self.reader.close()
            self.sock.close()
        self.sock = self.reader = None

    def read_head(self):
        line = self.reader.readline(65536)
        if not line:
            raise AssertionError("connection closed without an answer")
        parts = line.rstrip(b"\r\n").split(b" ", 2)
        if len(parts) < 2 or parts[0] != b"HTTP/1.1" or not parts[1].isdigit():
            raise AssertionError(f"bad status line {line!r}")
        hdrs = {}
        while True:
            h = self.reader.readline(65536)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                raise AssertionError("connection closed inside the answer's head")
            name, _, value = h.decode("latin-1").partition(":")
            hdrs[name.strip().lower()] = value.strip()
        return int(parts[1]), hdrs

    def exchange(self, method, target, headers, body):
        """Sends one request; returns (status, headers dict lower-cased, body
        bytes, closed). Raises AssertionError on a malformed answer."""
        if self.sock is None:
            self.open()
        head = f"{method} {target} HTTP/1.1\r\nHost: fuzz\r\n".encode("utf-8", "surrogateescape")
        for name, value in headers:
            head += f"{name}: {value}\r\n".encode("utf-8", "surrogateescape")
        self.sock.sendall(head + b"\r\n" + body)
        status = 100
        while 100 <= status < 200:  # a 100 Continue comes before the answer
            status, hdrs = self.read_head()
        payload = b""
        if method != "HEAD" and status not in (204, 304) and status >= 200:
            if "text/event-stream" in hdrs.get("content-type", ""):
                raise AssertionError("an event stream, which would never end")
            if hdrs.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int(self.reader.readline(1024).split(b";")[0], 16)
                    chunk = self.reader.read(size + 2)
                    payload += chunk[:size]
                    if size == 0:
                        break
            elif "content-length" in hdrs:
                n = int(hdrs["content-length"])
                payload = self.reader.read(n)
                if len(payload) != n:
                    raise AssertionError(f"body cut short: {len(payload)} of {n} bytes")
            else:
                raise AssertionError(f"answer {status} has no length: {hdrs}")
        closed = hdrs.get("connection", "").lower() == "close"
        if closed:
            self.close()
        return status, hdrs, payload, closed


# ------------------------------------------------------------ spoiling values

LONG = ["a" * 201, "b" * 10_001, "c" * 65, "é" * 300]
STRINGS = ["", " ", "\u0000", "\t\n", "\ud800", "\udfff", "\U0001F600", "\u202e\u2028",
           "'; DROP TABLE users; --", "%00", "%ff", "../../etc/passwd", "null", "NaN",
           "Grammar", "Subject-Verb Agreement", "grammar.subject-verb-agreement",
           "VERB:SVA", "R:PREP", "\ufeff", "A\u0301", "ｇｒａｍｍａｒ", "１２"]
TIMES = ["2026-12-07T00:00:00Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
         "9999-12-31T23:59:59Z", "2026-02-30T00:00:00Z", "2026-12-07", "2026-12-07T25:00:00Z",
         "2026-12-07T00:00:00+14:00", "2026-12-07T00:00:00.1234567890123Z", "0000-00-00T00:00:00Z",
         "2026-12-07T00:00:60Z", "-2026-12-07T00:00:00Z", "20261207T000000Z"]
NUMBERS = [0, -1, 1, 5, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64, -2 ** 63 - 1,
           10 ** 30, 1.5, -0.0, 1e308, 1e-320]


def deep(n):
    v = 1
    for _ in range(n):
        v = [v]
    return v


class Spoiler:
    def __init__(self, rng, ids):
        self.rng = rng
        self.ids = ids  # known ids of the right kinds, so some spoils stay valid

    def value(self):
        r = self.rng
        kind = r.randrange(10)
        if kind == 0:
            return r.choice([None, True, False, [], {}, {"a": 1}, [1, "x"]])
        if kind == 1:
            return r.choice(NUMBERS)
        if kind == 2:
            return r.choice(LONG)
        if kind == 3:
            return r.choice(TIMES)
        if kind == 4:
            u = r.choice(self.ids) if self.ids else new_uuid()
            return r.choice([u, u.upper(), "{" + u + "}", u.replace("-", ""), u[:-1],
                             u + "0", " " + u, new_uuid()])
        if kind == 5:
            return deep(r.choice([20, 40, 200]))
        return r.choice(STRINGS)

    def json_body(self, body):
        """A copy of a JSON body with one to three things spoiled."""
        r = self.rng
        body = json.loads(json.dumps(body))
        for _ in range(r.randint(1, 3)):
            body = self._spoil(body, depth=0)
        return body

    def _spoil(self, v, depth):
        r = self.rng
        if isinstance(v, dict) and v and r.random() < 0.8:
            key = r.choice(list(v))
            what = r.randrange(6)
            if what == 0:
                del v[key]
            elif what == 1:
                v[r.choice(["extra", "user_id", "errors", "", "\u0000"])] = self.value()
            elif what <= 3 or depth > 3:
                v[key] = self.value()
            else:
                v[key] = self._spoil(v[key], depth + 1)
            return v
        if isinstance(v, list) and v and r.random() < 0.8:
            i = r.randrange(len(v))
            what = r.randrange(4)
            if what == 0:
                v.append(self._spoil(json.loads(json.dumps(v[i])), depth + 1))
            elif what == 1:
                v[i] = self.value()
            else:
                v[i] = self._spoil(v[i], depth + 1)
            return v
        return self.value()

    def bytes_(self, data):
        """The serialized body with its bytes spoiled."""
        r = self.rng
        what = r.randrange(6)
        if what == 0 and data:
            return data[:r.randrange(len(data))]
        if what == 1:
            i = r.randrange(len(data) + 1)
            return data[:i] + bytes([r.randrange(256)]) + data[i:]
        if what == 2 and data:
            i = r.randrange(len(data))
            return data[:i] + bytes([data[i] ^ (1 << r.randrange(8))]) + data[i + 1:]
        if what == 3:
            return b"\xef\xbb\xbf" + data
        if what == 4:
            return data + r.choice([b"{}", b",", b"\x00", b" garbage", b"\n" + data])
        return data.replace(b'"', b"'", 1)

    def query_value(self):
        r = self.rng
        return r.choice(["", "0", "1", "5", "10", "-1", "+5", " 5", "5 ", "1e3", "5.0", "abc",
                         "18446744073709551616", "99999999999999999999999", "%00", "%ff", "%",
                         "%2", "%e2%80%93", "x" * 8000, "true", "null", "[]", "5%20",
                         "2026-12-07T00:00:00Z", "1969-12-31T00:00:00Z", "a,b", "cloze,choice"]
                        + ([r.choice(self.ids)] if self.ids else []))

    def segment(self):
        r = self.rng
        u = r.choice(self.ids) if self.ids else new_uuid()
        return r.choice([u, u.upper(), new_uuid(), "", "..", "%2e%2e", "%00", "x" * 3000,
                         u + "%20", "%" + u, u.replace("-", "%2d"), "é", "search", "1",
                         "-1", "00000000-0000-0000-0000-000000000000"])


# ------------------------------------------------------------ the routes


def route_table(s):
    """(method, path template, query params, body maker) per route. A body
    maker returns (content type, bytes) of a valid request."""
    def js(obj):
        return lambda: ("application/json", json.dumps(obj()).encode())

    def utterance():
        u = s.rng.choice(s.users)
        return {"user_id": u["user_id"], "conversation_id": u["conversation_id"],
                "content": "He go to school.",
                "errors": [{"category": "Grammar", "subcategory": "Subject-Verb Agreement",
                            "original": "go", "correction": "goes",
                            "span": {"start": 3, "end": 5}},
                           {"code": "R:PREP"}]}

    def seed_utterance():
        u = s.rng.choice(s.users)
        return {"user_id": u["user_id"], "conversation_id": u["conversation_id"],
                "content": "I has a apple."}

    def simulate():
        u = s.rng.choice(s.users)
        return {"user_id": u["user_id"], "conversation_id": u["conversation_id"],
                "utterance_id": u["utterance_id"],
                "errors": [{"errorCategory": "Grammar", "errorSubCategory": "Pronouns"},
                           {"errorCategory": "Vocabulary", "errorSubCategory": "Word Choice"}]}

    def ingest():
        lines = []
        for _ in range(s.rng.randint(1, 4)):
            line = utterance()
            line["created_at"] = "2026-12-0%dT10:00:00Z" % s.rng.randint(1, 6)
            lines.append(json.dumps(line))
        return "application/x-ndjson", ("\n".join(lines) + "\n").encode()

    def user_id():
        return s.rng.choice(s.users)["user_id"]

    return [
        ("POST", "/users/", [], js(lambda: {"username": "fuzz", "email": unique_email("fz")})),
        ("POST", "/conversations/", [], js(lambda: {"user_id": user_id()})),
        ("POST", "/utterances/", [], js(seed_utterance)),
        ("POST", "/simulate-and-generate", [], js(simulate)),
        ("GET", "/generate-exercise", ["user_id", "top_n"], None),
        ("POST", "/v1/users", [], js(lambda: {"username": "fuzz", "email": unique_email("fz")})),
        ("GET", "/v1/users/search", ["q", "limit"], None),
        ("GET", "/v1/users/{user}", [], None),
        ("DELETE", "/v1/users/{victim}", [], None),
        ("POST", "/v1/conversations", [], js(lambda: {"user_id": user_id(),
                                                       "started_at": "2026-12-01T00:00:00Z"})),
        ("GET", "/v1/conversations/{conversation}", [], None),
        ("POST", "/v1/utterances", [], js(utterance)),
        ("POST", "/v1/ingest", [], ingest),
        ("GET", "/v1/users/{user}/conversations", ["limit", "after"], None),
        ("GET", "/v1/users/{user}/export", [], None),
        ("GET", "/v1/users/{user}/errors/top", ["n", "since", "as_of"], None),
        ("GET", "/v1/users/{user}/errors/timeline", ["days", "as_of"], None),
        ("GET", "/v1/users/{user}/exercises", ["n", "level", "types", "seed", "as_of"], None),
        ("POST", "/v1/users/{user}/attempts", [],
         js(lambda: {"exercise_id": s.rng.choice(s.exercise_ids), "correct": True,
                     "answer": "goes"})),
        ("HEAD", "/v1/users/{user}/stream", [], None),
        ("GET", "/v1/taxonomy", [], None),
        ("GET", "/healthz", [], None),
        ("GET", "/readyz", [], None),
        ("GET", "/openapi.json", [], None),
        ("GET", "/docs/assets/{file}", [], None),
        ("GET", "/dashboard/assets/{file}", [], None),
    ]


class Worker:
    """What one connection's requests are made from: its own generator
    (seeded from SEED and its number) and the shared seed ids."""

    def __init__(self, k, case):
        self.rng = random.Random(SEED * 1000 + k)
        self.users, self.victims = case.users, case.victims
        self.exercise_ids = case.exercise_ids


class Fuzz(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.users = []
        for i in range(3):
            user = create_user(self.c, f"seed{i}", unique_email("seed"))
            conv = create_conversation(self.c, user["user_id"])
            st, _, utt = self.c.post("/utterances/", {
                "user_id": user["user_id"], "conversation_id": conv["conversation_id"],
                "content": "I has a apple."})
            self.assertEqual(st, 200, utt)
            self.users.append({"user_id": user["user_id"],
                               "conversation_id": conv["conversation_id"],
                               "utterance_id": utt["utterance_id"]})
        self.victims = [create_user(self.c, "victim", unique_email("victim"))["user_id"]
                        for _ in range(3)]
        # Exercise ids the attempts route knows, from a first practice read.
        uid = self.users[0]["user_id"]
        expect(self.c.post("/v1/utterances", {
            "user_id": uid, "conversation_id": self.users[0]["conversation_id"],
            "errors": [{"code": "VERB:SVA"}]}), 201, "seed utterance")
        st, _, body = self.c.get(f"/v1/users/{uid}/exercises?n=5")
        self.assertEqual(st, 200, body)
        self.exercise_ids = [e["exercise_id"] for e in body["exercises"]] or ["none"]

    def build(self, w, spoil, route):
        """One request for route, spoiled in one or two ways (or, now and
        then, left valid so that the writes keep landing)."""
        r = w.rng
        method, template, params, body_maker = route
        valid = r.random() < 0.15
        path = template
        path = path.replace("{user}", r.choice(self.users)["user_id"])
        path = path.replace("{victim}", r.choice(self.victims))
        path = path.replace("{conversation}", r.choice(self.users)["conversation_id"])
        path = path.replace("{file}", r.choice(["swagger-ui.css", "app.js", "nope.js"]))
        if not valid and "/" in path[1:] and r.random() < 0.2:
            segs = path.split("/")
            i = r.randrange(2, len(segs)) if len(segs) > 2 else 1
            segs[i] = spoil.segment()
            if template.startswith("/v1/users/{victim}") or (
                    method == "DELETE" and segs[i] in [u["user_id"] for u in self.users]):
                segs[i] = new_uuid()  # the seed learners are never erased
            path = "/".join(segs)
        query = []
        for p in params:
            if p == "user_id":
                query.append((p, r.choice(self.users)["user_id"]))
            elif r.random() < 0.5 or valid:
                query.append((p, {"top_n": "5", "q": "seed", "n": "5", "days": "7",
                                  "level": "A2", "seed": "1", "limit": "10"}.get(p, "")))
        if not valid:
            for _ in range(r.randint(1, 2)):
                if query and r.random() < 0.7:
                    i = r.randrange(len(query))
                    query[i] = (query[i][0], spoil.query_value())
                else:
                    query.append((r.choice(params + ["x", "", "user_id"]), spoil.query_value()))
        # Mostly percent-encoded as a client would (keeping the spoiler's own
        # escapes); now and then raw, spaces and all: a malformed request line.
        raw = not valid and r.random() < 0.03
        enc = (lambda v: v) if raw else (lambda v: urllib.parse.quote(v, safe="%+,:=-._~"))
        target = path + ("?" + "&".join(f"{enc(k)}={enc(v)}" for k, v in query) if query else "")
        headers = []
        body = b""
        if body_maker is not None:
            ctype, body = body_maker()
            if not valid:
                what = r.randrange(10)
                if what < 6 and ctype == "application/json":
                    body = json.dumps(spoil.json_body(json.loads(body)),
                                      ensure_ascii=r.random() < 0.5).encode("utf-8", "surrogatepass")
                elif what < 9:
                    body = spoil.bytes_(body)
                else:
                    ctype = r.choice(["text/plain", "application/x-www-form-urlencoded",
                                      "application/json; charset=latin-1", ""])
            if ctype:
                headers.append(("Content-Type", ctype))
        if not valid and r.random() < 0.1:
            headers.append((r.choice(["X-Request-Id", "Last-Event-ID", "Accept", "X-User-Id",
                                      "Accept-Encoding", "Connection", "Expect", "Origin"]),
                            r.choice(["", "x" * 100, "\udcff\udcfe", "é", "-1", "close",
                                      "keep-alive", "100-continue", "*/*", "null",
                                      "18446744073709551616", r.choice(self.users)["user_id"]])))
        if not valid and r.random() < 0.05 and not template.endswith("/stream"):
            # Never DELETE, which would erase a seed learner, nor a GET of the
            # stream, which would never end.
            method = r.choice(["GET", "POST", "PUT", "PATCH", "HEAD", "OPTIONS"])
        w.sent = body  # as sent, before any chunked framing
        if body or method in ("POST", "PUT", "PATCH"):
            if r.random() < 0.15:
                headers.append(("Transfer-Encoding", "chunked"))
                step = max(1, len(body) // 3)
                chunks = [body[i:i + step] for i in range(0, len(body), step)]
                body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
            else:
                headers.append(("Content-Length", str(len(body))))
        return method, target, headers, body

    def check_answer(self, method, target, status, hdrs, payload):
        self.assertLess(status, 500, "a 5xx")
        self.assertGreaterEqual(status, 200)
        ctype = hdrs.get("content-type", "")
        if method == "HEAD" or status == 204:
            return
        body = None
        if "json" in ctype:
            body = strict_json(payload)
        elif ctype.startswith("text/"):
            payload.decode("utf-8")  # raises if the text is not UTF-8
        if status >= 400:
            self.assertIn("application/json", ctype)
            self.assertIsInstance(body, dict)
            if str(body.get("detail", "")).startswith(("malformed HTTP", "request head exceeds")):
                return  # not read as a request, so not routed: the server's own shape
            if target.startswith("/v1/"):
                self.assertIsInstance(body.get("error"), dict, body)
                self.assertIsInstance(body["error"].get("code"), str, body)
                self.assertIsInstance(body["error"].get("message"), str, body)
            elif status == 422:
                # FastAPI's validation answer, which the original's clients parse.
                self.assertSeedValidation((status, hdrs, body))
            else:
                self.assertIn("detail", body)

    # The keys of the original service's 200 answers, which its clients read.
    SEED_SHAPES = {
        "/users/": {"user_id", "username", "email", "created_at"},
        "/conversations/": {"conversation_id", "user_id", "started_at"},
        "/utterances/": {"utterance_id", "conversation_id", "user_id", "content", "timestamp"},
        "/simulate-and-generate": {"message"},
        "/generate-exercise": {"top_errors", "exercises"},
    }

    def check_seed_answer(self, path, body):
        self.assertEqual(set(body), self.SEED_SHAPES[path], body)
        for item in body.get("top_errors", []):
            self.assertEqual(set(item), {"errorCategory", "errorSubCategory", "errorFrequency"})

    def check_ingest_answer(self, sent, answer):
        """One result per non-blank line, in line order, and counts that add up."""
        lines = [i + 1 for i, line in enumerate(sent.split(b"\n"))
                 if line.rstrip(b"\r").strip(b" \t")]
        results = answer["results"]
        self.assertEqual([x["line"] for x in results], lines, answer)
        for kind in ("applied", "replayed", "rejected"):
            self.assertEqual(answer[kind], sum(x["status"] == kind for x in results), answer)

    def profiles(self, c):
        out = {}
        for u in self.users:
            uid = u["user_id"]
            st, _, body = c.get(f"/v1/users/{uid}/errors/top?n=100&as_of=2027-01-01T00:00:00Z")
            self.assertEqual(st, 200, body)
            out[uid] = sorted((p["subcategory_id"], p["frequency"]) for p in body["errors"])
            st, _, body = c.get(f"/generate-exercise?user_id={uid}&top_n=100")
            self.assertIn(st, (200, 404), body)
            out[uid + "/compat"] = body.get("top_errors") if st == 200 else body
        return out

    def run_worker(self, k, n, statuses, failures, lock):
        """n requests over one connection, with a generator of its own."""
        w = Worker(k, self)
        spoil = Spoiler(w.rng, [u[k] for u in self.users for k in u] + self.victims)
        routes = route_table(w)
        conn = RawConnection(self.server.port)
        try:
            for i in range(n):
                method, target, headers, body = self.build(w, spoil, w.rng.choice(routes))
                what = (f"seed {SEED}, connection {k}, request {i}: {method} {target[:300]!r} "
                        f"{headers} {body[:300]!r}")
                try:
                    status, hdrs, payload, _ = conn.exchange(method, target, headers, body)
                    self.check_answer(method, target, status, hdrs, payload)
                    path = target.split("?")[0]
                    if status == 200 and path in self.SEED_SHAPES and method != "HEAD":
                        self.check_seed_answer(path, strict_json(payload))
                        with lock:
                            statuses["seed"] = statuses.get("seed", 0) + 1
                    if method == "POST" and path == "/v1/ingest" and status == 200:
                        self.check_ingest_answer(w.sent, strict_json(payload))
                        with lock:
                            statuses["ingest"] = statuses.get("ingest", 0) + 1
                except Exception as e:  # noqa: BLE001 - reported by the main thread
                    with lock:
                        failures.append(f"{what}: {e!r}")
                    return
                with lock:
                    statuses[status // 100] = statuses.get(status // 100, 0) + 1
        finally:
            conn.close()

    def test_random_bad_input(self):
        statuses, failures, lock = {}, [], threading.Lock()
        threads = [threading.Thread(target=self.run_worker,
                                    args=(k, REQUESTS // CONNECTIONS, statuses, failures, lock))
                   for k in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            self.fail("\n".join(failures) + "\n" + self.server.log_tail(2000))
        # The mix spoils most requests but lets enough through to matter.
        self.assertGreater(statuses.get(2, 0), REQUESTS // 10, statuses)
        self.assertGreater(statuses.get(4, 0), REQUESTS // 2, statuses)
        self.assertGreater(statuses.get("ingest", 0), REQUESTS // 100, statuses)
        self.assertGreater(statuses.get("seed", 0), REQUESTS // 100, statuses)

        before = self.profiles(self.c)
        self.assertTrue(any(before[u["user_id"]] for u in self.users), before)
        if sqlite_enabled():
            counts = self.server.db_frequency_counts([u["user_id"] for u in self.users])
            errors = self.server.db_error_counts([u["user_id"] for u in self.users])
            self.assertEqual(counts, errors)
        self.server.restart()
        self.c = self.server.client()
        self.assertEqual(self.profiles(self.c), before)


if __name__ == "__main__":
    main()
