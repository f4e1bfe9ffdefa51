"""Outages of errata's backing services, under load, without restarting errata.

- Failover with a multi-host URL: PostgreSQL's first host stops, the writer
  reconnects to the next one, and /readyz names that one.
- A PostgreSQL table locked by someone else (a DBA's ALTER TABLE, say): a read
  and a write that need it get 503 with Retry-After after the deadline
  (5 s), not a hang; /healthz answers meanwhile; both succeed once the lock
  goes.

- PostgreSQL stops (scripts/pg-stop.sh): writes get 503 with Retry-After,
  promptly (no hang, no 500); reads of cached profiles keep answering 200;
  /readyz says not ready. PostgreSQL starts again (pg-start.sh, same dir, same
  port): errata recovers by itself, and nothing acknowledged is lost.
- Redis stops (scripts/redis-stop.sh) under load on two nodes: writes and reads
  keep succeeding through the store; /readyz and /metrics say the shared cache
  is down. Redis starts again: the nodes use it again, and the totals are exact
  through both nodes.

Runs in the PostgreSQL pass only (ERRATA_STORE=postgres...; the rest is ignored: the
test starts its own PostgreSQL and Redis in temporary directories, since it
stops them) and is skipped in the SQLite and RocksDB passes. See cluster.py.
"""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (LABELS, SKIP_REASON, Ledger, Load, Node, Postgres, Redis, cluster_pass,
                     per_user, read_grace, readyz, redis_available, retry_unacked,
                     status_counts, utterance_body, wait_exact)
from harness import Client, assert_no_5xx, main, run_threads, v1_conversation, v1_user

USERS = 40
PROMPT = 5.0          # every request answers within this many seconds
RECOVERY = 10.0       # writes succeed again this soon after the service is back


def make_users(port, n=USERS):
    """n learners, each with a conversation and two utterances; returns
    [(user_id, conversation_id)] and the bodies posted."""
    users, bodies = [None] * n, []

    def run(i):
        c = Client(port)
        try:
            for k in range(i, n, 4):
                uid = v1_user(c)["user_id"]
                cid = v1_conversation(c, uid)["conversation_id"]
                users[k] = (uid, cid)
                for j in range(2):
                    b = utterance_body(uid, cid, LABELS[j:j + 2])
                    st, _, out = c.post("/v1/utterances", b)
                    if st != 201:
                        raise AssertionError(f"baseline utterance: {st} {out!r}")
                    bodies.append(b)
        finally:
            c.close()
    run_threads(4, run)
    return users, bodies


def warm(port, users):
    c = Client(port)
    try:
        for uid, _ in users:
            for _ in range(2):
                st, _, out = c.get(f"/v1/users/{uid}/errors/top?n=100")
                if st != 200:
                    raise AssertionError(f"warming {uid}: {st} {out!r}")
    finally:
        c.close()


def cache_down_in_readyz(body):
    """What /readyz says about the shared cache: True (down), False (up) or None."""
    if not isinstance(body, dict):
        return None
    for k, v in body.items():
        if "cache" in k and isinstance(v, bool) and k.endswith("ok"):
            return not v
    for k, v in body.items():
        if "cache" in k and isinstance(v, dict):
            for kk, vv in v.items():
                if kk in ("ok", "up", "connected") and isinstance(vv, bool):
                    return not vv
    return None


PG = None  # one PostgreSQL for the file (initdb is slow); each test makes its own users


def setUpModule():
    global PG
    if cluster_pass():
        PG = Postgres()
        PG.start()


def tearDownModule():
    if PG is not None:
        PG.cleanup()


class OutageBase(unittest.TestCase):

    def setUp(self):
        self.started = time.monotonic()
        self.parts = []
        self.addCleanup(self.cleanup)
        self.pg = PG
        self.url = self.pg.start()  # (again, if an earlier test left it stopped)
        self.ledger = Ledger()

    def cleanup(self):
        for part in reversed(self.parts):
            try:
                part.cleanup()
            except Exception as e:  # noqa: BLE001
                print(f"cleanup: {e}", file=sys.stderr)
        print(f"{self.id()}: {time.monotonic() - self.started:.1f}s", file=sys.stderr)

    def node(self, cache=None, name="node", extra_args=()):
        n = Node(self.url, cache, name=name, extra_args=extra_args)
        self.parts.append(n)  # stopped before the services started earlier
        return n

    def logs(self):
        return "\n".join(f"--- {getattr(p, 'name', type(p).__name__)}\n{p.log_tail()}"
                         for p in self.parts)

    def events(self, method=None, route=None, after=None, before=None):
        return [(t, r, m, st, s) for t, r, m, st, s in self.ledger.events
                if (method is None or m == method) and (route is None or r == route)
                and (after is None or t > after) and (before is None or t < before)]

    def wait_for_write(self, since, limit):
        """Seconds from `since` to the first 201 after it (None if none within limit)."""
        deadline = since + limit
        while time.monotonic() < deadline:
            ok = [t for t, _, m, st, _ in self.events("POST", after=since) if st == 201]
            if ok:
                return min(ok) - since
            time.sleep(0.05)
        return None

    def check_ledger(self, nodes, grace):
        """Nothing acknowledged is lost; retrying the rest gives exactly the
        sent totals, through every node."""
        c = nodes[0].client()
        stored = set()
        for uid, cid in self.users:
            st, _, view = c.get(f"/v1/conversations/{cid}")
            self.assertEqual(st, 200, view)
            for u in view["utterances"]:
                body = self.ledger.bodies.get(u["utterance_id"])
                self.assertIsNotNone(body, f"an utterance nobody sent: {u['utterance_id']}")
                self.assertEqual(len(u["errors"]), len(body["errors"]), "half an utterance")
                stored.add(u["utterance_id"])
        lost = self.ledger.acked - stored
        self.assertEqual(lost, set(), f"{len(lost)} acknowledged utterances lost")
        n_unacked = len(self.ledger.unacked())
        bad = retry_unacked(self.ledger, nodes[0].port)
        self.assertEqual(bad, [], "retries that did not succeed")
        want = per_user(self.ledger.attempted_counts())
        for n in nodes:
            rc = n.client()
            took, d = wait_exact(rc, want, [u for u, _ in self.users], grace)
            if d:
                self.fail(f"totals through {n.name} after {took:.1f}s: {d}")
        print(f"retried {n_unacked} unacknowledged utterances; totals exact", file=sys.stderr)


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
class PostgresOutage(OutageBase):

    @unittest.skipUnless(redis_available(), "no Redis support (--cache, scripts/redis-start.sh)")
    def test_with_redis(self):
        redis = Redis()
        self.parts.append(redis)
        self.stop_and_start_postgres_under_load(redis.start())

    def test_without_redis(self):
        """Only the nodes' own caches (--cache-ttl-ms, 1 s by default)."""
        self.stop_and_start_postgres_under_load(None)

    def stop_and_start_postgres_under_load(self, cache):
        node = self.node(cache)
        pid = node.proc.pid
        self.users, bodies = make_users(node.port)
        for b in bodies:
            self.ledger.bodies[b["utterance_id"]] = b
            self.ledger.acked.add(b["utterance_id"])
        warm(node.port, self.users)
        load = Load(self.ledger, {"node": node.port}, self.users,
                    writers=["node"] * 12, readers=["node"] * 4).start()
        time.sleep(1.5)
        t_stop0 = time.monotonic()
        self.pg.stop()
        t_stop1 = time.monotonic()
        ready_down = []
        while time.monotonic() < t_stop1 + 3.0:
            ready_down.append(readyz(node.port))
            time.sleep(0.3)
        t_start0 = time.monotonic()
        self.pg.start()  # same dir, same port: same URL (ScriptService checks)
        t_start1 = time.monotonic()
        recovered = self.wait_for_write(t_start1, RECOVERY)
        time.sleep(1.0)
        hung = load.stop()
        print(f"\npostgres stop took {t_stop1 - t_stop0:.2f}s, start {t_start1 - t_start0:.2f}s; "
              f"writes recovered {recovered}s after; {self.ledger.summary()}", file=sys.stderr)

        self.assertEqual(hung, 0, "a client hung")
        self.assertTrue(node.running() and node.proc.pid == pid, "errata restarted or died")
        # No hang: every request was answered, promptly; no 500s.
        post_statuses = {st for _, _, _, st, _ in self.events("POST")}
        self.assertEqual(post_statuses - {201, 503}, set(), self.ledger.summary())
        get_statuses = {st for _, _, _, st, _ in self.events("GET")}
        self.assertEqual(get_statuses - {200, 503}, set(), self.ledger.summary())
        slowest = max(s for *_, s in self.ledger.events)
        self.assertLess(slowest, PROMPT, self.ledger.summary())
        # While PostgreSQL was down, writes got 503 + Retry-After.
        down = self.events("POST", after=t_stop1 + 0.2, before=t_start0)
        self.assertGreater(len(down), 10, "no writes were tried during the outage")
        self.assertEqual({st for _, _, _, st, _ in down}, {503}, "writes during the outage")
        self.assertEqual(self.ledger.missing_retry_after, [], "503 without Retry-After")
        self.assertTrue(ready_down, "readyz was not polled")
        for st, body in ready_down:
            self.assertEqual(st, 503, body)
            self.assertFalse(body.get("store_ok"), body)
        # It came back by itself, and nothing acknowledged was lost.
        self.assertIsNotNone(recovered, "writes did not recover after PostgreSQL came back\n"
                             + self.logs())
        st, body = readyz(node.port)
        self.assertEqual(st, 200, body)
        self.assertEqual(set(status_counts(node.port)) - {"200", "201", "503"}, set(),
                         status_counts(node.port))
        self.check_ledger([node], read_grace(cache))
        node.stop()
        # Reads of the (warm) profiles answered 200 throughout.
        reads = self.events("GET")
        failed = [e for e in reads if e[3] != 200]
        if failed:
            self.fail(f"{len(failed)} of {len(reads)} reads of cached profiles failed, from "
                      f"{failed[0][0] - t_stop0:+.2f}s to {failed[-1][0] - t_stop0:+.2f}s after the "
                      f"stop began (PostgreSQL was down from {t_stop1 - t_stop0:.2f}s to "
                      f"{t_start1 - t_stop0:.2f}s); e.g. {self.ledger.failed_reads[:2]}")


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
class PostgresFailover(OutageBase):

    def test_readyz_names_the_server_the_writer_moved_to(self):
        def host_port(url):
            return url.split("@", 1)[1].split("/", 1)[0]

        other = Postgres()  # the "promoted replica": a second server
        self.parts.append(other)
        url_b = other.start()
        schema = Node(url_b, name="schema")  # it has the schema, as a replica would
        self.parts.append(schema)
        schema.stop()
        first, second = host_port(self.url), host_port(url_b)
        node = self.node(name="node")
        node.stop()
        node.store = f"postgres://errata-pg@{first},{second}/errata"
        node.start()
        c = node.client()
        self.assertEqual(readyz(node.port)[1]["store"], f"postgres://{first}/errata")
        v1_user(c)
        self.pg.stop()
        try:
            deadline = time.monotonic() + RECOVERY
            while True:
                st, _, body = c.post("/v1/users", {"username": "after failover",
                                                   "email": f"failover-{time.monotonic_ns()}@x.org"})
                if st == 201:
                    break
                self.assertEqual(st, 503, body)
                self.assertLess(time.monotonic(), deadline, "no write succeeded on the second host")
                time.sleep(0.2)
            st, body = readyz(node.port)
            self.assertEqual(st, 200, body)
            self.assertEqual(body["store"], f"postgres://{second}/errata")
            self.assertIn("the PostgreSQL writer is on another server now", node.log_tail())
        finally:
            self.pg.start()


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
class PostgresLocked(OutageBase):
    # The store's statement and lock timeouts (docs/postgres.md, "Deadlines"),
    # set below their 5 s defaults: the flags must take effect.
    DEADLINE = 1.5
    ARGS = ("--pg-read-timeout-ms", "1500", "--pg-lock-timeout-ms", "1500")

    def psql(self, sql, wait=True):
        cmd = ["psql", "-q", "-X", "-A", "-t", self.url, "-c", sql]
        if not wait:
            return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()

    def test_a_locked_table_gets_503_after_the_deadline_not_a_hang(self):
        node = self.node(extra_args=self.ARGS)
        c = node.client()
        uid = v1_user(c)["user_id"]
        locker = self.psql("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE;"
                           " SELECT pg_sleep(30); COMMIT;", wait=False)
        self.addCleanup(locker.kill)
        deadline = time.monotonic() + 5
        while self.psql("SELECT count(*) FROM pg_locks l JOIN pg_class r ON r.oid = l.relation"
                        " WHERE r.relname = 'users' AND l.mode = 'AccessExclusiveLock'"
                        " AND l.granted") != "1":
            self.assertLess(time.monotonic(), deadline, "the lock was never taken")
            time.sleep(0.1)
        for method, path, body in (("GET", f"/v1/users/{uid}", None),
                                   ("POST", "/v1/users", {"username": "locked out",
                                                          "email": f"lock-{uid}@x.org"})):
            t0 = time.monotonic()
            st, headers, out = c.request(method, path, body)
            took = time.monotonic() - t0
            self.assertEqual(st, 503, (method, out))
            self.assertIsNotNone(headers.get("Retry-After"), method)
            self.assertGreaterEqual(took, self.DEADLINE - 0.5, method)
            self.assertLess(took, self.DEADLINE + 3, method)
            st, _, _ = node.client().get("/healthz")
            self.assertEqual(st, 200)
        self.psql("SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_class r"
                  " ON r.oid = l.relation WHERE r.relname = 'users'"
                  " AND l.mode = 'AccessExclusiveLock'")
        locker.wait(timeout=20)
        st, _, out = c.get(f"/v1/users/{uid}")
        self.assertEqual(st, 200, out)
        st, _, out = c.post("/v1/users", {"username": "let in", "email": f"lock-{uid}@x.org"})
        self.assertEqual(st, 201, out)


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
@unittest.skipUnless(redis_available(), "no Redis support yet (--cache, scripts/redis-start.sh)")
class RedisOutage(OutageBase):

    def test_stop_and_start_redis_under_load(self):
        redis = Redis()
        self.parts.append(redis)
        cache = redis.start()
        a, b = self.node(cache, "a"), self.node(cache, "b")
        self.users, bodies = make_users(a.port)
        for body in bodies:
            self.ledger.bodies[body["utterance_id"]] = body
            self.ledger.acked.add(body["utterance_id"])
        warm(a.port, self.users)
        warm(b.port, self.users)
        ports = {"a": a.port, "b": b.port}
        for n in (a, b):
            st, body = readyz(n.port)
            self.assertEqual(st, 200, body)
            self.assertIs(cache_down_in_readyz(body), False, f"readyz: {body}")
        load = Load(self.ledger, ports, self.users, writers=["a"] * 6 + ["b"] * 6,
                    readers=["a"] * 2 + ["b"] * 2).start()
        time.sleep(1.5)
        t_stop0 = time.monotonic()
        redis.stop()
        t_stop1 = time.monotonic()
        # Both nodes notice, and say so.
        seen_down = {}
        while time.monotonic() < t_stop1 + 3.0:
            for name, n in (("a", a), ("b", b)):
                st, body = readyz(n.port)
                if cache_down_in_readyz(body):
                    seen_down.setdefault(name, (st, body, self.cache_metrics(n.port)))
            time.sleep(0.2)
        t_start0 = time.monotonic()
        redis.start()
        t_start1 = time.monotonic()
        seen_up = self.wait_cache_state((a, b), down=False)
        used_before = {name: self.cache_metrics(n.port) for name, n in (("a", a), ("b", b))}
        time.sleep(1.5)
        hung = load.stop()
        used_after = {name: self.cache_metrics(n.port) for name, n in (("a", a), ("b", b))}
        print(f"\nredis stop took {t_stop1 - t_stop0:.2f}s; back up after {seen_up}; "
              f"{self.ledger.summary()}", file=sys.stderr)

        self.assertEqual(hung, 0, "a client hung")
        # Writes and reads kept succeeding, promptly.
        self.assertEqual({st for _, _, _, st, _ in self.events("POST")}, {201},
                         self.ledger.summary())
        self.assertEqual({st for _, _, _, st, _ in self.events("GET")}, {200},
                         self.ledger.summary())
        during = self.events("POST", after=t_stop1, before=t_start0)
        self.assertGreater(len(during), 10, "no writes during the Redis outage")
        self.assertLess(max(s for *_, s in self.ledger.events), PROMPT, self.ledger.summary())
        # /readyz and /metrics said the cache was down, then up again.
        self.assertEqual(set(seen_down), {"a", "b"}, "readyz never said the shared cache was down")
        for name, (st, body, metrics) in seen_down.items():
            # Still ready: the store serves everything, and every node would be
            # pulled out of the balancer at once otherwise.
            self.assertEqual(st, 200, f"node {name}: /readyz during the Redis outage: {body}")
            self.assertEqual(metrics["up"], 0, f"node {name}: /metrics during the outage: {metrics}")
        self.assertEqual(set(seen_up), {"a", "b"}, "readyz never said the shared cache was back")
        for name in ("a", "b"):
            self.assertEqual(used_after[name]["up"], 1, used_after[name])
            self.assertGreater(used_after[name]["ops"], used_before[name]["ops"],
                               f"node {name} did not use Redis again: {used_before} {used_after}")
        for n in (a, b):
            assert_no_5xx(n)
        self.check_ledger([a, b], read_grace(cache))

        # A second outage. What B loaded into its memory during the first one
        # has missed A's writes since, so B must load it again (its local TTL).
        c = a.client()
        for uid, cid in self.users[:10]:
            body = utterance_body(uid, cid, LABELS[3:6])
            self.assertEqual(self.ledger.post(c, body, "a"), 201)
        want = per_user(self.ledger.attempted_counts())
        redis.stop()
        down = self.wait_cache_state((a, b), down=True)
        self.assertEqual(set(down), {"a", "b"}, "readyz never said the cache was down (again)")
        took, d = wait_exact(b.client(), want, [u for u, _ in self.users], read_grace(None))
        if d:
            self.fail(f"B served stale profiles during the second outage ({took:.1f}s): {d}")
        redis.start()
        up = self.wait_cache_state((a, b), down=False)
        self.assertEqual(set(up), {"a", "b"}, "readyz never said the cache was back (again)")
        for n in (a, b):
            took, d = wait_exact(n.client(), want, [u for u, _ in self.users], read_grace(cache))
            if d:
                self.fail(f"totals through {n.name} after the second outage: {d}")
            assert_no_5xx(n)
        b.stop()
        a.stop()

    def wait_cache_state(self, nodes, down, limit=RECOVERY):
        """{node name: seconds until /readyz said the shared cache is down (or up)}."""
        t0 = time.monotonic()
        seen = {}
        while len(seen) < len(nodes) and time.monotonic() < t0 + limit:
            for n in nodes:
                if n.name not in seen and cache_down_in_readyz(readyz(n.port)[1]) is down:
                    seen[n.name] = time.monotonic() - t0
            time.sleep(0.05)
        return seen

    def cache_metrics(self, port):
        """{'up': errata_shared_cache_up, 'ops': Redis hits + misses} from /metrics."""
        c = Client(port)
        try:
            _, _, text = c.get("/metrics")
        finally:
            c.close()
        values = dict((m.group(1), float(m.group(2))) for m in re.finditer(
            r"(?m)^(errata_shared_cache_\w+) ([0-9.eE+-]+)$", text))
        up = values.get("errata_shared_cache_up")
        return {"up": None if up is None else int(up),
                "ops": values.get("errata_shared_cache_hits_total", 0.0)
                + values.get("errata_shared_cache_misses_total", 0.0),
                "errors": values.get("errata_shared_cache_errors_total", 0.0)}

if __name__ == "__main__":
    main()
