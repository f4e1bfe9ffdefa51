"""A PostgreSQL COMMIT whose answer is lost (docs/read-path.md).

A proxy between errata and PostgreSQL passes a COMMIT on, waits for it to
commit, then drops the connection before its answer can come back. errata
answers 503, since it cannot know; the client retries, and the retry is a
replay that adds nothing. The shared profile in Redis must not stay without
that commit: the learner's next read after a commit that succeeds counts it,
and so does a read on another node after the first one stopped before any
commit of its own succeeded again (then only Redis remembers the doubt).
"""
import subprocess
import socket
import threading
import time
import unittest
import urllib.parse

from cluster import Node, Postgres, Redis, SKIP_REASON, cluster_pass, redis_available
from harness import expect, free_port, main, new_uuid, unique_email


def psql(url, sql):
    out = subprocess.run(["psql", "-q", "-X", "-A", "-t", url, "-c", sql], capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"psql: {out.stderr}")
    return out.stdout.strip()


class CommitDropper:
    """TCP proxy to PostgreSQL. Once armed, the first COMMIT a client sends
    is passed on, and 0.5 s later both sides of its connection are closed."""

    def __init__(self, host, port):
        self.upstream = (host, port)
        self.port = free_port()
        self.armed = threading.Event()
        self.dropped = threading.Event()  # errata's side of the COMMIT's connection is gone
        self.settled = threading.Event()  # and PostgreSQL's, 0.5 s later
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.closing = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self.pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, False), daemon=True).start()

    def pump(self, src, dst, from_client):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if from_client and self.armed.is_set() and b"COMMIT" in data:
                    # errata's side goes at once, before any answer can reach
                    # it; PostgreSQL's a little later, once it has committed.
                    self.armed.clear()
                    src.shutdown(socket.SHUT_RDWR)
                    self.dropped.set()
                    time.sleep(0.5)
                    break
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        if from_client and self.dropped.is_set():
            self.settled.set()

    def close(self):
        self.closing = True
        self.listener.close()


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
@unittest.skipUnless(redis_available(), "needs Redis (scripts/redis-start.sh)")
class LostCommit(unittest.TestCase):
    def setUp(self):
        self.pg, self.redis, self.node, self.proxy = Postgres(), Redis(), None, None
        self.other = None
        try:
            self.store_url = self.pg.start()
            url = urllib.parse.urlsplit(self.store_url)
            self.proxy = CommitDropper(url.hostname, url.port)
            via_proxy = url._replace(netloc=f"{url.username}@127.0.0.1:{self.proxy.port}",
                                     query="sslmode=disable").geturl()
            self.cache_url = self.redis.start()
            self.node = Node(via_proxy, self.cache_url)
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        for n in (self.node, self.other):
            if n is not None:
                if n.running():
                    n.stop()
                n.cleanup()
        if self.proxy is not None:
            self.proxy.close()
        self.redis.cleanup()
        self.pg.cleanup()

    def test_a_commit_whose_answer_was_lost_is_counted_once_the_retry_is_replayed(self):
        c = self.node.client()
        user = expect(c.post("/v1/users", {"username": "ana", "email": unique_email()}), 201)
        conv = expect(c.post("/v1/conversations", {"user_id": user["user_id"]}), 201)

        def say(utterance_id):
            return c.post("/v1/utterances", {
                "user_id": user["user_id"], "conversation_id": conv["conversation_id"],
                "utterance_id": utterance_id, "content": "I go in Monday.",
                "errors": [{"code": "R:PREP"}]})

        def count():
            top = expect(c.get(f"/v1/users/{user['user_id']}/errors/top"), 200)
            return {e["subcategory_id"]: e["frequency"] for e in top["errors"]}

        expect(say(new_uuid()), 201)
        self.assertEqual(count(), {"prepositions": 1})  # now in Redis
        lost = new_uuid()
        self.proxy.armed.set()
        st, _, body = say(lost)
        self.assertTrue(self.proxy.dropped.is_set(), f"no COMMIT went through the proxy: {st} {body}")
        self.assertEqual(st, 503, body)
        # The app retries: the first one did commit, so this is a replay.
        self.assertTrue(self.proxy.settled.wait(5))
        retried = expect(say(lost), 200)
        self.assertTrue(retried["replayed"], retried)
        self.assertEqual(count(), {"prepositions": 2})
        expect(say(new_uuid()), 201)
        self.assertEqual(count(), {"prepositions": 3})

    def test_another_node_counts_it_after_the_first_stopped_before_committing_again(self):
        # Node a (through the proxy) loses a COMMIT's answer and stops
        # (SIGTERM) before any commit of its own succeeds again: what it knew
        # in memory of the doubt is gone. The client retries on node b, a
        # replay that adds nothing; b's reads must count the batch all the
        # same, as the store does. Before, a's apply of the failed batch
        # ended its Redis mark: the profile stayed without it (every later
        # write refreshed its TTL), and b served 1 where the store held 2.
        self.other = Node(self.store_url, self.cache_url, name="b")
        a, b = self.node.client(), self.other.client()
        user = expect(a.post("/v1/users", {"username": "ana", "email": unique_email()}), 201)
        conv = expect(a.post("/v1/conversations", {"user_id": user["user_id"]}), 201)

        def say(c, utterance_id):
            return c.post("/v1/utterances", {
                "user_id": user["user_id"], "conversation_id": conv["conversation_id"],
                "utterance_id": utterance_id, "content": "I go in Monday.",
                "errors": [{"code": "R:PREP"}]})

        def count(c):
            top = expect(c.get(f"/v1/users/{user['user_id']}/errors/top"), 200)
            return {e["subcategory_id"]: e["frequency"] for e in top["errors"]}

        def stored():
            return int(psql(self.store_url, "SELECT frequency FROM error_frequencies"
                                            f" WHERE user_id = '{user['user_id']}'"))

        expect(say(a, new_uuid()), 201)
        self.assertEqual(count(a), {"prepositions": 1})  # now in Redis
        self.assertEqual(count(b), {"prepositions": 1})  # and b's copy of it
        lost = new_uuid()
        self.proxy.armed.set()
        st, _, body = say(a, lost)
        self.assertTrue(self.proxy.dropped.is_set(), f"no COMMIT went through the proxy: {st} {body}")
        self.assertEqual(st, 503, body)
        self.assertTrue(self.proxy.settled.wait(5))
        self.node.stop()  # SIGTERM, exit 0: nothing committed on a since
        retried = expect(say(b, lost), 200)
        self.assertTrue(retried["replayed"], retried)
        self.assertEqual(stored(), 2)
        self.assertEqual(count(b), {"prepositions": 2})
        expect(say(b, new_uuid()), 201)
        self.assertEqual(stored(), 3)
        self.assertEqual(count(b), {"prepositions": 3})


if __name__ == "__main__":
    main()
