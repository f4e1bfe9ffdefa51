"""Pieces for the multi-node and outage tests: a private PostgreSQL, Redis and
nginx in temporary directories, and errata nodes that share them.

These tests stop and start their own PostgreSQL and Redis, so they never use the
shared ctest fixture. CMake runs every test_*.py three times (SQLite, PostgreSQL, RocksDB); the cluster tests run in
the PostgreSQL pass only (ERRATA_STORE starts with postgres; the rest of its
value is ignored) and skip in the SQLite and RocksDB passes. By hand:

    ERRATA_STORE=postgres ERRATA_BIN=build/errata python3 tests/e2e/test_multinode.py

The Redis parts run when the binary has `--cache` and scripts/redis-start.sh exists;
otherwise they are skipped (and the nodes run without a shared cache, relying on
--cache-ttl-ms). ERRATA_CLUSTER_REDIS=0 forces that mode.
"""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from collections import Counter

from harness import (BIN, SOURCE_DIR, Client, Server, free_port, probe_healthz, run_threads,
                     top_counts)
from workload import LABELS

SCRIPTS = os.path.join(SOURCE_DIR, "scripts")
NGINX_TEMPLATE = os.path.join(SOURCE_DIR, "deploy", "nginx.conf")


def cluster_pass():
    """True in the PostgreSQL pass (ERRATA_STORE a postgres:// URL), where the cluster tests run."""
    return os.environ.get("ERRATA_STORE", "").startswith("postgres")


SKIP_REASON = ("cluster tests run once, in the PostgreSQL pass (ERRATA_STORE=postgres...); "
               "they start their own PostgreSQL, Redis and nginx")

_help = None


def serve_help():
    global _help
    if _help is None:
        try:
            _help = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True,
                                   timeout=10).stdout
        except OSError:
            _help = ""
    return _help


def has_option(name):
    return re.search(r"(^|\s)" + re.escape(name) + r"(?=[\s=,]|$)", serve_help(), re.M) is not None


def redis_available():
    """The binary takes --cache and the Redis scripts exist (ERRATA_CLUSTER_REDIS=0: pretend not)."""
    return (os.environ.get("ERRATA_CLUSTER_REDIS", "1") != "0" and has_option("--cache") and os.path.exists(os.path.join(SCRIPTS, "redis-start.sh"))
            and shutil.which("redis-server") is not None)


def read_grace(shared_cache):
    """How long a read through one node may lag a write committed through
    another (or a commit whose outcome the node never learned). With Redis:
    none, the shared profile is exact at once. Without it: the local cache's
    TTL (--cache-ttl-ms, 1 s by default on PostgreSQL), plus a margin."""
    return 0.0 if shared_cache else 2.0


def nginx_available():
    return shutil.which("nginx") is not None or os.path.exists("/usr/sbin/nginx")


def _run_script(name, *args, timeout=90):
    proc = subprocess.run([os.path.join(SCRIPTS, name), *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip()


class ScriptService:
    """A server that scripts/NAME-start.sh DIR starts (printing its URL) and
    scripts/NAME-stop.sh DIR stops; start again on the same DIR keeps the URL."""

    name = None

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix=f"errata-{self.name}-")
        self.url = None
        self.up = False

    def start(self):
        url = _run_script(f"{self.name}-start.sh", self.dir).splitlines()[-1].strip()
        if self.url is not None and url != self.url:
            raise AssertionError(f"{self.name} came back at {url}, not {self.url}")
        self.url, self.up = url, True
        return url

    def stop(self):
        _run_script(f"{self.name}-stop.sh", self.dir)
        self.up = False

    def cleanup(self):
        try:
            if self.up:
                self.stop()
        except Exception as e:  # noqa: BLE001 - best effort at teardown
            sys.stderr.write(f"stopping {self.name}: {e}\n")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=3000):
        out = []
        for f in sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else []:
            if f.endswith(".log"):
                try:
                    with open(os.path.join(self.dir, f), "rb") as fh:
                        out.append(f"--- {f}\n" + fh.read()[-n:].decode("utf-8", "replace"))
                except OSError:
                    pass
        return "\n".join(out)


class Postgres(ScriptService):
    name = "pg"


class Redis(ScriptService):
    name = "redis"


class Node(Server):
    """An errata node on the shared PostgreSQL (and Redis when given)."""

    def __init__(self, store, cache=None, extra_args=(), threads=None, name="node", **kw):
        self.store, self.cache, self.name = store, cache, name
        super().__init__(extra_args=extra_args, threads=threads, **kw)

    def command(self):
        cmd = [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
               "--log-level", "warn", "--store", self.store]
        if self.cache:
            cmd += ["--cache", self.cache]
        return cmd + self.extra_args


class TwoNodesTestCase(unittest.TestCase):
    """Two nodes, `nodes` = [a, b], on a PostgreSQL of the class's own
    (`store_url`) and, when `with_redis`, a Redis of its own as their shared
    cache; `node_args` go to both. set_up() runs after they start."""

    with_redis = True
    node_args = ()

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.redis = Redis() if cls.with_redis else None
        cls.nodes = []
        try:
            cls.store_url = cls.pg.start()
            cache = cls.redis.start() if cls.redis else None
            cls.nodes = [Node(cls.store_url, cache, name=name, extra_args=cls.node_args)
                         for name in ("a", "b")]
            cls.set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def set_up(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.stop()
            n.cleanup()
        if cls.redis is not None:
            cls.redis.cleanup()
        cls.pg.cleanup()


def render_nginx_conf(template_text, port, upstreams, prefix):
    """deploy/nginx.conf with @PORT@, the `# @UPSTREAM@` line, and Debian's log
    and temp paths under `prefix`."""
    def servers(m):
        indent = m.group(1)
        return "\n".join(f"{indent}server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;"
                         for p in upstreams)
    text, n = re.subn(r"(?m)^([ \t]*)# @UPSTREAM@[ \t]*$", servers, template_text)
    assert n == 1, "deploy/nginx.conf must have exactly one `# @UPSTREAM@` line"
    text, n = re.subn(r"@PORT@", f"127.0.0.1:{port}", text)
    assert n >= 1, "deploy/nginx.conf must listen on @PORT@"
    text = text.replace("/var/log/nginx/", prefix + "/").replace("/var/lib/nginx/", prefix + "/tmp/")
    return text


class Nginx:
    """deploy/nginx.conf in front of the given node ports, as a non-daemon on a
    free loopback port, with its prefix in a temporary directory."""

    def __init__(self, upstream_ports):
        self.dir = tempfile.mkdtemp(prefix="errata-nginx-")
        os.chmod(self.dir, 0o755)  # workers run as nobody when we are root
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        os.chmod(os.path.join(self.dir, "tmp"), 0o777)
        self.port = free_port()
        with open(NGINX_TEMPLATE, encoding="utf-8") as f:
            template = f.read()
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(render_nginx_conf(template, self.port, upstream_ports, self.dir))
        self.proc = None
        self.log_path = os.path.join(self.dir, "stderr.log")

    def command(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return [nginx, "-p", self.dir, "-c", self.conf,
                "-g", f"daemon off; pid {self.dir}/nginx.pid; error_log stderr;"]

    def start(self, timeout=15):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n" + self.log_tail())
            if probe_healthz(self.port)[0]:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx not ready:\n" + self.log_tail())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, **kw):
        return Client(self.port, **kw)

    def log_tail(self, n=3000):
        out = []
        for f in ("stderr.log", "errata-error.log"):
            try:
                with open(os.path.join(self.dir, f), "rb") as fh:
                    out.append(f"--- nginx {f}\n" + fh.read()[-n:].decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(out)

    def access_log(self):
        try:
            with open(os.path.join(self.dir, "errata-access.log"), encoding="utf-8",
                      errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []


def metric_values(port, name):
    """{frozenset(labels.items()): value} for one metric from GET /metrics."""
    c = Client(port)
    try:
        st, _, text = c.get("/metrics")
    finally:
        c.close()
    if st != 200:
        raise AssertionError(f"GET /metrics: {st}")
    out = {}
    for m in re.finditer(r"(?m)^" + re.escape(name) + r"(\{(.*)\})? ([0-9.eE+-]+|NaN)$", text):
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[frozenset(labels.items())] = float(m.group(3))
    return out


def status_counts(port):
    """{status: count} summed over routes, from errata_http_requests_total."""
    out = {}
    for labels, v in metric_values(port, "errata_http_requests_total").items():
        st = dict(labels).get("status")
        out[st] = out.get(st, 0) + v
    return out


# ---------------------------------------------------------------- the ledger

# LABELS (category, subcategory, subcategory id): the same as the
# single-node workload's.
SUBCATEGORY = {b: s for _, b, s in LABELS}


def utterance_body(uid, cid, labels, utt=None):
    utt = utt or str(uuid.uuid4())
    return {"utterance_id": utt, "conversation_id": cid, "user_id": uid,
            "content": f"cluster {utt[:8]}",
            "errors": [{"category": a, "subcategory": b} for a, b, _ in labels]}


def body_counts(bodies):
    """Counter {(user_id, subcategory_id): errors} over utterance bodies."""
    out = Counter()
    for b in bodies:
        for e in b["errors"]:
            out[(b["user_id"], SUBCATEGORY[e["subcategory"]])] += 1
    return out


def per_user(counter):
    out = {}
    for (u, s), n in counter.items():
        if n:
            out.setdefault(u, {})[s] = n
    return out


class Ledger:
    """Every utterance sent (client ids, so retrying is safe), which were
    acknowledged, every status and the slowest answer, per route."""

    def __init__(self):
        self.lock = threading.Lock()
        self.bodies = {}              # utterance_id -> body
        self.acked = set()
        self.statuses = Counter()     # (route, method, status or exception name)
        self.slowest = {}             # route -> seconds
        self.events = []              # (monotonic time, route, method, status, seconds)
        self.missing_retry_after = []
        self.failed_reads = []        # (route, path, status, body): the first few

    def record(self, route, method, status, seconds, headers=None):
        with self.lock:
            self.statuses[(route, method, status)] += 1
            self.slowest[route] = max(self.slowest.get(route, 0.0), seconds)
            self.events.append((time.monotonic(), route, method, status, seconds))
            if status == 503 and headers is not None and not headers.get("Retry-After"):
                self.missing_retry_after.append((route, method))

    def post(self, client, body, route, via_nginx=False):
        """Posts one utterance once. Returns the status, or None when the
        connection failed (then it is not acknowledged)."""
        with self.lock:
            self.bodies[body["utterance_id"]] = body
        headers = {"X-User-Id": body["user_id"]} if via_nginx else None
        t0 = time.monotonic()
        try:
            st, hdrs, out = client.post("/v1/utterances", body, headers=headers)
        except Exception as e:  # noqa: BLE001 - refused, reset, timeout: unacknowledged
            self.record(route, "POST", type(e).__name__, time.monotonic() - t0)
            return None
        self.record(route, "POST", st, time.monotonic() - t0, hdrs)
        if st in (200, 201):
            if not (isinstance(out, dict) and out.get("utterance_id") == body["utterance_id"]):
                raise AssertionError(f"unexpected answer to an utterance: {st} {out!r}")
            with self.lock:
                self.acked.add(body["utterance_id"])
        return st

    def get(self, client, path, route):
        t0 = time.monotonic()
        try:
            st, hdrs, out = client.get(path)
        except Exception as e:  # noqa: BLE001
            self.record(route, "GET", type(e).__name__, time.monotonic() - t0)
            return None, None
        self.record(route, "GET", st, time.monotonic() - t0, hdrs)
        if st != 200 and len(self.failed_reads) < 5:
            with self.lock:
                self.failed_reads.append((route, path, st, out))
        return st, out

    def attempted_counts(self):
        with self.lock:
            return body_counts(list(self.bodies.values()))

    def acked_counts(self):
        with self.lock:
            return body_counts([self.bodies[u] for u in self.acked])

    def unacked(self):
        with self.lock:
            return [b for u, b in self.bodies.items() if u not in self.acked]

    def summary(self):
        with self.lock:
            by = {}
            for (route, method, st), n in sorted(self.statuses.items(), key=str):
                by.setdefault(f"{method} {route}", {})[st] = n
            return (f"{len(self.bodies)} utterances sent, {len(self.acked)} acknowledged; "
                    f"statuses by route {by}; slowest {dict((k, round(v, 2)) for k, v in self.slowest.items())}")


def read_counts(client, uids):
    """{user_id: {subcategory_id: frequency}} through one client (404: missing)."""
    out = {}
    for uid in uids:
        counts = top_counts(client, uid)
        if counts:
            out[uid] = counts
    return out


def diff_counts(want, got):
    """A short description of the users whose counts differ, or ''."""
    bad = []
    for uid in sorted(set(want) | set(got)):
        if want.get(uid, {}) != got.get(uid, {}):
            bad.append(f"{uid}: want {want.get(uid, {})}, got {got.get(uid, {})}")
    return "" if not bad else f"{len(bad)} users differ, e.g.\n  " + "\n  ".join(bad[:5])


def wait_exact(client, want, uids, grace):
    """Reads every learner (a pass) until a pass finds the counts equal to
    `want`. A pass that starts `grace` seconds or more after the call must be
    exact (grace 0: the first one). Returns (seconds it took, '' or the last
    difference, with when each pass started and how many learners it found wrong)."""
    t0 = time.monotonic()
    passes = []
    while True:
        start = time.monotonic() - t0
        got = read_counts(client, uids)
        d = diff_counts(want, got)
        passes.append(f"+{start:.2f}s: {d.split(' ', 1)[0] if d else 0}")
        if not d:
            return time.monotonic() - t0, ""
        if start >= grace:
            return time.monotonic() - t0, d + "\n  passes (start: learners wrong): " + ", ".join(passes)
        time.sleep(0.1)

class Load:
    """Writers post new utterances (once each, no retries) and readers read
    profiles, through the given routes, until stop(). Everything goes into the
    ledger with its status and latency. Clients time out after `timeout` s,
    which the ledger records as a `TimeoutError` (the server hung)."""

    def __init__(self, ledger, ports, users, writers, readers=(), read_uids=None, timeout=10.0):
        self.ledger, self.ports, self.users = ledger, ports, users
        self.writers, self.readers = list(writers), list(readers)  # routes, one per thread
        self.read_uids = read_uids or [u for u, _ in users]
        self.timeout = timeout
        self.stop_event = threading.Event()
        self.threads = []

    def _writer(self, i, route):
        c = Client(self.ports[route], timeout=self.timeout, retry_stale=False)
        r = random.Random(f"w{i}-{time.time_ns()}")
        try:
            while not self.stop_event.is_set():
                uid, cid = r.choice(self.users)
                body = utterance_body(uid, cid, [r.choice(LABELS) for _ in range(r.randint(1, 4))])
                st = self.ledger.post(c, body, route)
                if st is None or st == 503:
                    time.sleep(0.02)
        finally:
            c.close()

    def _reader(self, i, route):
        c = Client(self.ports[route], timeout=self.timeout, retry_stale=False)
        r = random.Random(f"r{i}-{time.time_ns()}")
        try:
            while not self.stop_event.is_set():
                uid = r.choice(self.read_uids)
                self.ledger.get(c, f"/v1/users/{uid}/errors/top?n=100", route)
                time.sleep(0.005)
        finally:
            c.close()

    def start(self):
        self.stop_event.clear()
        self.threads = [threading.Thread(target=self._writer, args=(i, r), daemon=True)
                        for i, r in enumerate(self.writers)]
        self.threads += [threading.Thread(target=self._reader, args=(i, r), daemon=True)
                         for i, r in enumerate(self.readers)]
        for t in self.threads:
            t.start()
        return self

    def stop(self, timeout=30):
        self.stop_event.set()
        hung = 0
        for t in self.threads:
            t.join(timeout=timeout)
            hung += t.is_alive()
        self.threads = []
        return hung


def retry_unacked(ledger, port, threads=8):
    """Posts every unacknowledged utterance again (client ids: exactly-once).
    Returns the unexpected answers."""
    work = list(ledger.unacked())
    lock = threading.Lock()
    bad = []

    def run(i):
        c = Client(port)
        try:
            while True:
                with lock:
                    if not work:
                        return
                    body = work.pop()
                st = ledger.post(c, body, "retry")
                if st not in (200, 201):
                    with lock:
                        bad.append((body["utterance_id"], st))
        finally:
            c.close()
    run_threads(threads, run)
    return bad


def readyz(port):
    c = Client(port, timeout=10)
    try:
        st, _, body = c.get("/readyz")
    finally:
        c.close()
    return st, body
