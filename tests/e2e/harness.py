"""Shared harness for errata's end-to-end tests: the real binary over real HTTP.

Standard library only. The binary comes from $ERRATA_BIN (ctest sets it); if
$ERRATA_STORE is set, every server is started with `--store $ERRATA_STORE`
and the SQLite file checks are skipped.

    srv = Server()                 # starts, waits for /healthz
    c = srv.client()               # one keep-alive connection (one per thread)
    status, headers, body = c.request("POST", "/users/", {"username": "a", "email": "a@b.co"})
    srv.stop()                     # SIGTERM, asserts exit code 0
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("ERRATA_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("ERRATA_BIN") or os.path.join(SOURCE_DIR, "build", "errata")
STORE = os.environ.get("ERRATA_STORE", "")

READY_TIMEOUT = 20.0
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STOP_TIMEOUT = 30.0


def sqlite_enabled():
    """True when servers use the SQLite file in their data dir (no ERRATA_STORE)."""
    return not STORE


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_uuid():
    return str(uuid.uuid4())


def unique_email(prefix="user"):
    return f"{prefix}-{uuid.uuid4().hex[:16]}@example.com"


def iso(dt):
    """An aware datetime as ISO-8601 with microseconds and Z."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def now_utc():
    return datetime.now(timezone.utc)


def days_ago(n):
    return now_utc() - timedelta(days=n)


# ---------------------------------------------------------------- the client


class Client:
    """One HTTP/1.1 keep-alive connection. Not thread-safe: one per thread.

    request() returns (status, headers, body): headers is an http.client
    HTTPMessage (case-insensitive get), body the parsed JSON when the response
    is JSON, else the text.

    retry_stale: when a *reused* connection turns out to be closed before any
    response arrives, reconnect and send once more. Off for tests that must
    count every attempt exactly (durability, idempotency); there a failure raises.
    """

    def __init__(self, port, host="127.0.0.1", timeout=60.0, retry_stale=True):
        self.host, self.port, self.timeout = host, port, timeout
        self.retry_stale = retry_stale
        self.conn = None
        self.used = False

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self.used = False

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, raw=None):
        if body is not None and raw is not None:
            raise ValueError("give body or raw, not both")
        data = None
        hdrs = {}
        if raw is not None:
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            reused = self.used
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.BadStatusLine):
                self.close()
                if attempt == 0 and reused and self.retry_stale:
                    continue
                raise
            except Exception:
                self.close()
                raise
            self.used = True
            if resp.will_close:
                self.close()
            return resp.status, resp.headers, decode_body(resp.headers, payload)
        raise AssertionError("unreachable")

    # Shorthands.
    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)


def decode_body(headers, payload):
    ctype = headers.get("Content-Type", "") or ""
    text = payload.decode("utf-8", errors="replace")
    if "json" in ctype:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class ThreadClients:
    """A Client per thread, for code that calls from many threads."""

    def __init__(self, port, **kw):
        self.port, self.kw = port, kw
        self.local = threading.local()
        self.all = []
        self.lock = threading.Lock()

    def get(self):
        c = getattr(self.local, "client", None)
        if c is None:
            c = Client(self.port, **self.kw)
            self.local.client = c
            with self.lock:
                self.all.append(c)
        return c

    def request(self, *a, **kw):
        return self.get().request(*a, **kw)

    def close(self):
        with self.lock:
            for c in self.all:
                c.close()
            self.all.clear()


# ---------------------------------------------------------------- the server


def probe_healthz(port):
    """One GET /healthz on 127.0.0.1:PORT: (True, None) on 200, else (False, what happened)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status == 200, f"status {resp.status}"
    except OSError as e:
        return False, repr(e)


class Server:
    """The errata binary on a free loopback port with its own data dir."""

    def __init__(self, data_dir=None, extra_args=(), port=None, start=True, threads=None,
                 preexec=None):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="errata-e2e-")
        self.extra_args = list(extra_args)
        if threads is not None:
            self.extra_args += ["--threads", str(threads)]
        self.port = port or free_port()
        self.preexec = preexec  # runs in the child before exec (e.g. setrlimit)
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")
        self._log = None
        self._clients = []
        if start:
            try:
                self.start()
            except BaseException:
                if self.own_dir:
                    sys.stderr.write(self.log_tail())
                self.cleanup()
                raise

    # -- lifecycle

    def command(self):
        cmd = [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
               "--log-level", "warn"]
        if STORE:
            cmd += ["--store", STORE]
        return cmd + self.extra_args

    def start(self):
        """Starts the server and waits for /healthz. On the first start only, a port
        taken meanwhile by someone else is replaced by another free one."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        if not os.path.exists(BIN):
            raise RuntimeError(f"errata binary not found at {BIN}; set ERRATA_BIN")
        for attempt in range(3):
            self._log = open(self.log_path, "ab")
            log_start = self._log.tell()
            self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=self.preexec)
            try:
                self.wait_ready()
            except RuntimeError:
                lost_port = (not self._started and self.proc.poll() is not None
                             and "listen" in self.log_tail(since=log_start))
                if lost_port and attempt < 2:
                    self._finish()
                    self.port = free_port()
                    continue
                raise
            self._started = True
            return self

    _started = False

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"errata exited with {self.proc.returncode} before it was ready:\n"
                                   + self.log_tail())
            ok, last = probe_healthz(self.port)
            if ok:
                return
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError(f"errata not ready after {timeout}s ({last}):\n" + self.log_tail())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _close_clients(self):
        for c in self._clients:
            c.close()
        self._clients.clear()

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def stop(self, timeout=STOP_TIMEOUT, check=True):
        """SIGTERM, wait; asserts exit code 0 when check. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._finish()
            raise AssertionError(f"errata did not exit within {timeout}s of SIGTERM:\n"
                                 + self.log_tail())
        self._finish()
        if check and rc != 0:
            raise AssertionError(f"errata exited with {rc} after SIGTERM:\n" + self.log_tail())
        return rc

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for an exit already asked for; returns the code (None on timeout)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._finish()
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._finish()

    def _finish(self):
        self._close_clients()
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self):
        """Stops (if running, cleanly) and starts again on the same data dir and port."""
        if self.running():
            self.stop()
        self.start()
        return self

    def cleanup(self):
        if self.running():
            self.kill9()
        self._finish()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def close(self):
        """Clean stop (asserting exit code 0), then removes the data dir."""
        try:
            if self.running():
                self.stop()
        finally:
            self.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self.cleanup()

    def log_tail(self, n=4000, since=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                data = f.read()
            return data[-n:].decode("utf-8", errors="replace")
        except OSError:
            return ""

    # -- clients

    def client(self, **kw):
        c = Client(self.port, **kw)
        self._clients.append(c)
        return c

    def thread_clients(self, **kw):
        return ThreadClients(self.port, **kw)

    # -- the SQLite file

    @property
    def db_path(self):
        return os.path.join(self.data_dir, "errata.db")

    def db(self):
        """A read-only connection to the SQLite file (None when ERRATA_STORE is set)."""
        if not sqlite_enabled():
            return None
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def db_query(self, sql, params=()):
        """The rows of `sql`. The store keeps ids as their 16 bytes (schema 2,
        docs/write-path.md): a UUID given in `params` is bound as its bytes,
        and a 16-byte blob in a row comes back as the UUID's text."""
        conn = self.db()
        if conn is None:
            return None
        try:
            rows = conn.execute(sql, tuple(_id_param(p) for p in params)).fetchall()
            return [tuple(_id_cell(c) for c in row) for row in rows]
        finally:
            conn.close()

    def db_table_counts(self):
        """{table: row count} for every table (None without SQLite)."""
        conn = self.db()
        if conn is None:
            return None
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                    for t in sorted(tables) if t != "meta"}
        finally:
            conn.close()

    def db_error_counts(self, user_ids=None):
        """Counter {(user_id, subcategory_id): rows in errors}."""
        rows = self.db_query("SELECT user_id, subcategory_id, count(*) FROM errors GROUP BY 1, 2")
        if rows is None:
            return None
        wanted = set(user_ids) if user_ids is not None else None
        return Counter({(u, s): n for u, s, n in rows if wanted is None or u in wanted})

    def db_frequency_counts(self, user_ids=None):
        """Counter {(user_id, subcategory_id): error_frequencies.frequency}."""
        rows = self.db_query("SELECT user_id, subcategory_id, frequency FROM error_frequencies")
        if rows is None:
            return None
        wanted = set(user_ids) if user_ids is not None else None
        return Counter({(u, s): n for u, s, n in rows
                        if n != 0 and (wanted is None or u in wanted)})


class StoreServer(Server):
    """A server on the store `store` (not this run's $ERRATA_STORE)."""

    def __init__(self, store, **kw):
        self.store = store
        super().__init__(**kw)

    def command(self):
        return [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
                "--log-level", "warn", "--store", self.store]


def _id_param(p):
    if isinstance(p, str) and UUID_RE.fullmatch(p):
        return uuid.UUID(p).bytes
    return p


def _id_cell(c):
    return str(uuid.UUID(bytes=c)) if isinstance(c, bytes) and len(c) == 16 else c


# ---------------------------------------------------------------- API helpers


def expect(resp, status, what=""):
    """Asserts the status; returns the body."""
    st, _, body = resp
    if st != status:
        raise AssertionError(f"{what}: expected {status}, got {st}: {body!r}")
    return body


def create_user(c, username=None, email=None):
    username = username or "learner-" + uuid.uuid4().hex[:8]
    email = email or unique_email(username)
    return expect(c.post("/users/", {"username": username, "email": email}), 200, "POST /users/")


def create_conversation(c, user_id):
    return expect(c.post("/conversations/", {"user_id": user_id}), 200, "POST /conversations/")


def create_utterance(c, conversation_id, user_id, content="I has a apple."):
    body = {"conversation_id": conversation_id, "user_id": user_id}
    if content is not None:
        body["content"] = content
    return expect(c.post("/utterances/", body), 200, "POST /utterances/")


def seed_triplet(c, content="I has a apple."):
    """A new user with a conversation and an utterance: (user_id, conversation_id, utterance_id)."""
    u = create_user(c)
    conv = create_conversation(c, u["user_id"])
    utt = create_utterance(c, conv["conversation_id"], u["user_id"], content)
    return u["user_id"], conv["conversation_id"], utt["utterance_id"]


def simulate(c, ids, errors):
    """POST /simulate-and-generate; errors = [(category, subcategory), ...]. Returns the response."""
    user_id, conversation_id, utterance_id = ids
    return c.post("/simulate-and-generate", {
        "user_id": user_id, "conversation_id": conversation_id, "utterance_id": utterance_id,
        "errors": [{"errorCategory": a, "errorSubCategory": b} for a, b in errors]})


def v1_user(c, **fields):
    body = {"username": "v1-" + uuid.uuid4().hex[:8], "email": unique_email("v1")}
    body.update(fields)
    return expect(c.post("/v1/users", body), 201, "POST /v1/users")


def v1_conversation(c, user_id, **fields):
    body = {"user_id": user_id}
    body.update(fields)
    return expect(c.post("/v1/conversations", body), 201, "POST /v1/conversations")


def top_counts(c, user_id, **query):
    """{subcategory_id: frequency} from GET /v1/users/{id}/errors/top?n=100 (404 -> None)."""
    q = {"n": "100"}
    q.update(query)
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    st, _, body = c.get(f"/v1/users/{user_id}/errors/top?{qs}")
    if st == 404:
        return None
    if st != 200:
        raise AssertionError(f"GET top errors for {user_id}: {st} {body!r}")
    return {e["subcategory_id"]: e["frequency"] for e in body["errors"]}


def run_threads(n, target, *args):
    """Runs target(i, *args) in n threads; re-raises the first exception."""
    errors = []

    def wrap(i):
        try:
            target(i, *args)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def server_errors(server):
    """{(route, status): count} of 5xx answers, from GET /metrics."""
    c = Client(server.port)
    try:
        st, _, text = c.get("/metrics")
    finally:
        c.close()
    if st != 200:
        raise AssertionError(f"GET /metrics: {st}")
    out = {}
    for m in re.finditer(r'(?m)^errata_http_requests_total\{(.*)\} ([0-9.eE+]+)$', text):
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        if labels.get("status", "").startswith("5") and float(m.group(2)) > 0:
            out[(labels.get("route"), labels["status"])] = float(m.group(2))
    return out


def assert_no_5xx(server):
    errors = server_errors(server)
    if errors:
        raise AssertionError(f"the server answered 5xx: {errors}\n" + server.log_tail())


# ---------------------------------------------------------------- test base


class ServerTestCase(unittest.TestCase):
    """One server for the whole class (class attribute `server`, client `c`)."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=cls.server_args)
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        server = cls.server
        try:
            if not server.running():
                rc = server.proc.wait()
                raise AssertionError(f"the server exited by itself during the tests "
                                     f"(exit code {rc}):\n" + server.log_tail())
            assert_no_5xx(server)
            server.stop()
        finally:
            server.cleanup()

    def assertV1Error(self, resp, status, code=None, field=None):
        st, headers, body = resp
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body.keys()), {"error"}, body)
        err = body["error"]
        self.assertIsInstance(err.get("code"), str, body)
        self.assertIsInstance(err.get("message"), str, body)
        if code is not None:
            self.assertEqual(err["code"], code, body)
        if field is not None:
            self.assertEqual(err.get("field"), field, body)
        return err

    def assertSeedValidation(self, resp, loc=None):
        """A FastAPI-style 422: {"detail":[{"loc":[...],"msg":str,"type":str}, ...]}."""
        st, _, body = resp
        self.assertEqual(st, 422, body)
        self.assertIsInstance(body, dict, body)
        self.assertIsInstance(body.get("detail"), list, body)
        self.assertGreaterEqual(len(body["detail"]), 1, body)
        for item in body["detail"]:
            self.assertIsInstance(item.get("loc"), list, body)
            self.assertIsInstance(item.get("msg"), str, body)
            self.assertIsInstance(item.get("type"), str, body)
        if loc is not None:
            self.assertIn(loc, [item["loc"] for item in body["detail"]], body)
        return body["detail"]


def main():
    unittest.main(verbosity=2)


def raw_http(port, data, read_timeout=10.0, shutdown_write=False):
    """Sends raw bytes on a new connection; returns (status or None, raw response bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        if shutdown_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                chunks.append(part)
                blob = b"".join(chunks)
                head, sep, body = blob.partition(b"\r\n\r\n")
                if sep:
                    length = None
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v.strip())
                    if length is not None and len(body) >= length:
                        break
        except (ConnectionResetError, socket.timeout):
            pass
    blob = b"".join(chunks)
    if not blob.startswith(b"HTTP/1."):
        return None, blob
    return int(blob.split(b" ", 2)[1]), blob


def read_until_closed(sock):
    """Everything the server sends on `sock` until it closes the connection."""
    chunks = []
    while True:
        part = sock.recv(65536)
        if not part:
            return b"".join(chunks)
        chunks.append(part)


def split_response(blob):
    """(status, {lowercased header: value}, body bytes) of one raw response."""
    head, _, body = blob.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split(" ", 2)[1]), headers, body


def raw_body_json(blob):
    head, _, body = blob.partition(b"\r\n\r\n")
    return json.loads(body.decode("utf-8"))


def strict_json(payload):
    """JSON as RFC 8259 has it: UTF-8 (else UnicodeDecodeError) and no NaN
    or Infinity, which Python's json would take (else ValueError)."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}: {payload[:300]!r}")
    return json.loads(payload.decode("utf-8"), parse_constant=refuse)
