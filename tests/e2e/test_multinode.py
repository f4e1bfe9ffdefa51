"""Two errata nodes on one PostgreSQL and one Redis, behind deploy/nginx.conf.

1. 32 clients (16 through nginx, 8 straight to each node) post 20,000 errors for
   200 learners, reading profiles as they go; afterwards the totals are exact
   through node A, node B and nginx.
2. Under the same load, node B is killed with SIGKILL. Every acknowledged write
   is there when read through node A; nginx moves B's learners to A; retrying
   the unacknowledged writes (client utterance ids) gives exactly-once; and once
   B is restarted, it reads the same exact totals.

Runs in the PostgreSQL pass only (ERRATA_STORE=postgres...; the rest is ignored: the
test starts its own PostgreSQL, Redis and nginx in temporary directories) and is
skipped in the SQLite and RocksDB passes. See cluster.py.
"""

import os
import queue
import random
import re
import sys
import threading
import time
import unittest
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (LABELS, SKIP_REASON, Ledger, Nginx, Node, Postgres, Redis, body_counts,
                     cluster_pass, diff_counts, nginx_available, per_user,
                     read_counts, read_grace, redis_available, utterance_body, wait_exact)
from harness import Client, assert_no_5xx, main, run_threads, v1_conversation, v1_user

USERS = 200
ERRORS = 20_000
CLIENTS_NGINX, CLIENTS_A, CLIENTS_B = 16, 8, 8
KILL_LOAD_BEFORE, KILL_LOAD_AFTER = 2.0, 2.0


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
@unittest.skipUnless(nginx_available(), "nginx is not installed (scripts/bootstrap.sh)")
class MultiNode(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        cls.parts = []
        try:
            cls._set_up()
        except BaseException:
            cls._tear_down()
            raise

    @classmethod
    def _set_up(cls):
        cls.pg = Postgres()
        cls.parts.append(cls.pg)
        url = cls.pg.start()
        cls.redis = None
        cache = None
        if redis_available():
            cls.redis = Redis()
            cls.parts.append(cls.redis)
            cache = cls.redis.start()
        cls.grace = read_grace(cache)
        cls.a = Node(url, cache, name="a")
        cls.parts.append(cls.a)
        cls.b = Node(url, cache, name="b")
        cls.parts.append(cls.b)
        cls.nginx = Nginx([cls.a.port, cls.b.port])
        cls.parts.append(cls.nginx)
        cls.nginx.start()
        cls.ports = {"nginx": cls.nginx.port, "a": cls.a.port, "b": cls.b.port}
        cls.ledger = Ledger()
        # 200 learners, each with a conversation, created through all three routes.
        cls.users = [None] * USERS
        routes = list(cls.ports)

        def create(i):
            c = Client(cls.ports[routes[i % 3]])
            try:
                for k in range(i, USERS, 8):
                    uid = v1_user(c)["user_id"]
                    cls.users[k] = (uid, v1_conversation(c, uid)["conversation_id"])
            finally:
                c.close()
        run_threads(8, create)
        cls.uids = [u for u, _ in cls.users]
        print(f"\ncluster: postgres {url}, redis {cache}, nodes {cls.a.port} {cls.b.port}, "
              f"nginx {cls.nginx.port}", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls._tear_down()
        print(f"multinode: {time.monotonic() - cls.started:.1f}s", file=sys.stderr)

    @classmethod
    def _tear_down(cls):
        for part in reversed(cls.parts):
            try:
                part.cleanup()
            except Exception as e:  # noqa: BLE001
                print(f"cleanup: {e}", file=sys.stderr)

    def logs(self):
        return "\n".join([f"--- node a\n{self.a.log_tail()}", f"--- node b\n{self.b.log_tail()}",
                          self.nginx.log_tail()])

    def client_routes(self):
        return ["nginx"] * CLIENTS_NGINX + ["a"] * CLIENTS_A + ["b"] * CLIENTS_B

    def assert_exact_everywhere(self, want, what, routes=("a", "b", "nginx")):
        for route in routes:
            c = Client(self.ports[route])
            try:
                took, d = wait_exact(c, want, self.uids, self.grace)
            finally:
                c.close()
            if d:
                self.fail(f"{what}: totals read through {route} are wrong after {took:.1f}s: "
                          f"{d}\n{self.ledger.summary()}")
            print(f"{what}: exact through {route} ({took:.2f}s)", file=sys.stderr)

    # ------------------------------------------------------------ 0. routing

    def test_0_routing_key(self):
        """nginx hashes on the URL's learner, else X-User-Id, else the request id."""
        uid, cid = self.users[0]
        other = self.users[1][0]
        c = self.nginx.client()
        marks = {}
        for name, method, path, headers in [
                ("path", "GET", f"/v1/users/{uid}/errors/top", {"X-User-Id": other}),
                ("query", "GET", f"/generate-exercise?user_id={uid}", None),
                ("header", "POST", "/v1/utterances", {"X-User-Id": uid}),
                ("none", "GET", "/v1/taxonomy", {"X-Request-Id": "routing-test-none"})]:
            body = utterance_body(uid, cid, LABELS[:1]) if method == "POST" else None
            if body is not None:
                self.ledger.bodies[body["utterance_id"]] = body
            st, hdrs, out = c.request(method, path, body=body, headers=headers)
            self.assertIn(st, (200, 201, 404), out)
            if body is not None and st == 201:
                self.ledger.acked.add(body["utterance_id"])
            marks[name] = hdrs.get("X-Request-Id")
        c.close()
        time.sleep(0.2)
        users = {}
        for line in self.nginx.access_log():
            m = re.search(r"user=(\S+) rid=(\S+)$", line)
            if m:
                users[m.group(2)] = m.group(1)
        self.assertEqual(users.get(marks["path"]), uid)
        self.assertEqual(users.get(marks["query"]), uid)
        self.assertEqual(users.get(marks["header"]), uid)
        self.assertEqual(marks["none"], "routing-test-none", "X-Request-Id not passed through")
        self.assertEqual(users.get("routing-test-none"), "routing-test-none")

    # ------------------------------------------------------------ 1. exact totals

    def test_1_exact_totals(self):
        rng = random.Random(20_000)
        per = ERRORS // USERS
        plan = []
        for uid, cid in self.users:
            left = per
            while left:
                n = min(left, rng.randint(1, 5))
                plan.append(utterance_body(uid, cid, [rng.choice(LABELS) for _ in range(n)]))
                left -= n
        rng.shuffle(plan)
        want = body_counts(plan)
        self.assertEqual(sum(want.values()), ERRORS)
        work = queue.Queue()
        for b in plan:
            work.put(b)
        ledger, routes = self.ledger, self.client_routes()
        read_statuses = Counter()

        def client(i):
            route = routes[i]
            c = Client(self.ports[route], timeout=30)
            r = random.Random(i)
            try:
                while True:
                    try:
                        body = work.get_nowait()
                    except queue.Empty:
                        return
                    for attempt in range(20):  # same utterance id: retrying is safe
                        st = ledger.post(c, body, route, via_nginx=(route == "nginx"))
                        if st in (200, 201):
                            break
                        if st is not None and st != 503:
                            raise AssertionError(f"POST via {route}: {st}")
                        time.sleep(0.2)
                    else:
                        raise AssertionError(f"an utterance was never acknowledged via {route}")
                    if r.random() < 0.25:  # reads keep both nodes' caches warm
                        uid = r.choice(self.uids)
                        st, _ = ledger.get(c, f"/v1/users/{uid}/errors/top?n=100", route)
                        read_statuses[st] += 1
            finally:
                c.close()

        t0 = time.monotonic()
        run_threads(len(routes), client)
        took = time.monotonic() - t0
        print(f"\nload: {len(plan)} utterances, {ERRORS} errors in {took:.1f}s; "
              f"{ledger.summary()}", file=sys.stderr)
        self.assertEqual(set(read_statuses), {200}, read_statuses)
        self.assertEqual(set(b["utterance_id"] for b in plan) - ledger.acked, set())
        want = ledger.acked_counts()  # the plan, and test_0's one utterance
        self.assertEqual(ledger.acked, set(ledger.bodies))
        self.assert_exact_everywhere(per_user(want), "after the load")
        # Totals through the conversation views (the store itself).
        c = self.a.client()
        for uid, cid in self.users[:20]:
            st, _, view = c.get(f"/v1/conversations/{cid}")
            self.assertEqual(st, 200, view)
            got = Counter()
            for u in view["utterances"]:
                for e in u["errors"]:
                    got[e["subcategory_id"]] += 1
            self.assertEqual(dict(got), per_user(want)[uid])
        self.check_affinity()
        for node in (self.a, self.b):
            assert_no_5xx(node)

    def check_affinity(self):
        """Through nginx, one learner's requests (path id or X-User-Id) all went
        to one node, and both nodes had learners."""
        upstream_of = defaultdict(set)
        pattern = re.compile(r'"(GET|POST) (/v1/users/([0-9a-f-]{36})\S*|/v1/utterances) HTTP/1\.1" '
                             r'(\d+) .* upstream=(\S+) .* user=(\S+) rid=')
        lines = 0
        for line in self.nginx.access_log():
            m = pattern.search(line)
            if not m:
                continue
            lines += 1
            upstream, user = m.group(5), m.group(6)
            if m.group(3):
                self.assertEqual(user, m.group(3), line)
            upstream_of[user].add(upstream)
        self.assertGreater(lines, 1000)
        split = {u: ups for u, ups in upstream_of.items() if len(ups) != 1}
        self.assertEqual(split, {}, "a learner's requests went to more than one node")
        nodes = Counter(next(iter(ups)) for ups in upstream_of.values())
        self.assertEqual(len(nodes), 2, f"learners per node: {nodes}")
        print(f"affinity: learners per node through nginx {dict(nodes)}", file=sys.stderr)

    # ------------------------------------------------------------ 2. kill -9

    def test_2_kill9_one_node(self):
        ledger, routes = self.ledger, self.client_routes()
        stop = threading.Event()
        killed_at = [None]

        def client(i):
            route = routes[i]
            c = Client(self.ports[route], timeout=30, retry_stale=False)
            r = random.Random(1000 + i)
            try:
                while not stop.is_set():
                    uid, cid = r.choice(self.users)
                    body = utterance_body(uid, cid, [r.choice(LABELS) for _ in range(r.randint(1, 5))])
                    st = ledger.post(c, body, route, via_nginx=(route == "nginx"))
                    if st is None:
                        time.sleep(0.05)  # B is gone: keep trying, slowly
                    elif r.random() < 0.2:
                        ledger.get(c, f"/v1/users/{uid}/errors/top?n=100", route)
            finally:
                c.close()

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(len(routes))]
        for t in threads:
            t.start()
        time.sleep(KILL_LOAD_BEFORE)
        self.b.kill9()
        killed_at[0] = time.monotonic()
        time.sleep(KILL_LOAD_AFTER)
        stop.set()
        for t in threads:
            t.join(timeout=60)
            self.assertFalse(t.is_alive(), "a client hung")
        print(f"\nkill -9: {ledger.summary()}", file=sys.stderr)

        # nginx moved B's learners to A: writes through nginx kept being
        # acknowledged after the kill, and the only failures there are the
        # requests B had in flight when it died (at most one per client).
        after = [(t, route, method, st) for t, route, method, st, _ in ledger.events
                 if t > killed_at[0] + 0.5]
        ok_after = sum(1 for _, route, m, st in after if route == "nginx" and m == "POST" and st == 201)
        self.assertGreater(ok_after, 50, "writes through nginx stopped after the kill")
        nginx_bad = Counter({st: n for (route, _, st), n in ledger.statuses.items()
                             if route == "nginx" and st not in (200, 201)})
        self.assertLessEqual(sum(nginx_bad.values()), CLIENTS_NGINX * 2, nginx_bad)
        self.assertEqual(set(nginx_bad) - {502}, set(), nginx_bad)
        for route in ("a", "nginx"):
            bad = {st for (r, _, st), _ in ledger.statuses.items()
                   if r == route and st not in (200, 201, 502)}
            self.assertEqual(bad, set(), f"unexpected answers via {route}: {ledger.summary()}")
        assert_no_5xx(self.a)

        # Through A: every acknowledged utterance is stored whole, and the
        # totals lie between what was acknowledged and what was sent.
        acked, attempted = per_user(ledger.acked_counts()), per_user(ledger.attempted_counts())
        c = self.a.client()
        t0 = time.monotonic()
        while True:  # a pass that starts `grace` after the load must be right
            start = time.monotonic() - t0
            got = read_counts(c, self.uids)
            low = [u for u in self.uids if any(got.get(u, {}).get(s, 0) < n
                                               for s, n in acked.get(u, {}).items())]
            high = [u for u in self.uids if any(n > attempted.get(u, {}).get(s, 0)
                                                for s, n in got.get(u, {}).items())]
            if (not low and not high) or start >= self.grace:
                break
            time.sleep(0.1)
        if low:
            self.fail("acknowledged errors missing through A: " + diff_counts(
                {u: acked.get(u, {}) for u in low}, {u: got.get(u, {}) for u in low}))
        if high:
            self.fail("more errors than were sent, through A: " + diff_counts(
                {u: attempted.get(u, {}) for u in high}, {u: got.get(u, {}) for u in high}))
        stored = set()
        for uid, cid in self.users:
            st, _, view = c.get(f"/v1/conversations/{cid}")
            self.assertEqual(st, 200, view)
            for u in view["utterances"]:
                body = ledger.bodies.get(u["utterance_id"])
                self.assertIsNotNone(body, f"an utterance nobody sent: {u['utterance_id']}")
                self.assertEqual(len(u["errors"]), len(body["errors"]),
                                 f"utterance {u['utterance_id']} stored with part of its errors")
                stored.add(u["utterance_id"])
        missing = ledger.acked - stored
        self.assertEqual(missing, set(), f"{len(missing)} acknowledged utterances lost")

        # Retrying every unacknowledged utterance through A gives exactly-once.
        unacked = ledger.unacked()
        retry = queue.Queue()
        for b in unacked:
            retry.put(b)

        def retrier(i):
            rc = Client(self.a.port)
            try:
                while True:
                    try:
                        body = retry.get_nowait()
                    except queue.Empty:
                        return
                    st = ledger.post(rc, body, "retry")
                    self.assertIn(st, (200, 201), f"retry of {body['utterance_id']}")
            finally:
                rc.close()
        run_threads(8, retrier)
        replayed = sum(1 for b in unacked if b["utterance_id"] in stored)
        print(f"retried {len(unacked)} unacknowledged utterances, {replayed} of them had been "
              f"stored", file=sys.stderr)
        want = per_user(ledger.attempted_counts())
        self.assertEqual(ledger.acked, set(ledger.bodies))
        self.assert_exact_everywhere(want, "after the retries", routes=("a", "nginx"))

        # B comes back on the same port and reads the same totals; nginx uses it again.
        self.b.start()
        self.assert_exact_everywhere(want, "after B restarted", routes=("b", "a", "nginx"))
        # nginx tries B again fail_timeout (2 s) after its last failure.
        nginx_client = self.nginx.client()
        b_addr = f"127.0.0.1:{self.b.port}"
        upstreams = set()
        deadline = time.monotonic() + 6.0
        while b_addr not in upstreams and time.monotonic() < deadline:
            for uid in self.uids[:20]:
                nginx_client.get(f"/v1/users/{uid}/errors/top")
            for line in self.nginx.access_log()[-20:]:
                m = re.search(r"upstream=(\S+)", line)
                if m:
                    upstreams.add(m.group(1))
            time.sleep(0.2)
        nginx_client.close()
        self.assertIn(b_addr, upstreams, "nginx did not go back to B")
        for node in (self.a, self.b):
            assert_no_5xx(node)
        self.b.stop()
        self.a.stop()


if __name__ == "__main__":
    main()
