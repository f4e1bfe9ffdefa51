"""The model test (test_model.py) on two nodes that share PostgreSQL and Redis.

Three clients run their seeded operations at once, each request going to
either node at random: a learner made on one node gets an utterance through
the other, is read through the first, erased through the second... With
Redis the nodes share one profile per learner, exact at once
(docs/redis.md), so every check reads, through either node, exactly what
the model holds, with no waiting.

A second test kills (kill -9) the node a request went to while it is in
flight, and sends the request again through the other node, as a load
balancer would, before the killed node is started again: every operation
must still count once, and reads through either node must be exact,
including of learners whose commit the killed node had not yet applied to
Redis.

Runs once, in the PostgreSQL pass (cluster.py); ERRATA_MODEL_SEED and
ERRATA_MODEL_OPS as in test_model.py.
"""
import random
import sys
import unittest

from cluster import SKIP_REASON, TwoNodesTestCase, cluster_pass, redis_available
from harness import assert_no_5xx, main
from test_model import OPS, SEED, Actor, CrashingClient, run_at_once


class EitherNode:
    """A client whose every request goes to one of the nodes, at random."""

    def __init__(self, nodes, rng):
        self.clients = [n.client() for n in nodes]
        self.rng = rng
        self.sent = [0] * len(nodes)

    def request(self, method, path, **kw):
        i = self.rng.randrange(len(self.clients))
        self.sent[i] += 1
        return self.clients[i].request(method, path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)


@unittest.skipUnless(cluster_pass(), SKIP_REASON)
@unittest.skipUnless(redis_available(), "no Redis support")
class ModelOnTwoNodes(TwoNodesTestCase):
    server = None  # Actor's restarts are not used here

    def test_three_clients_on_either_node(self):
        clients = [EitherNode(self.nodes, random.Random(SEED + 10 + k)) for k in range(3)]
        run_at_once(self, [Actor(self, SEED + 10 + k, c) for k, c in enumerate(clients)])
        for c in clients:
            self.assertTrue(all(n > 50 for n in c.sent), c.sent)
        for node in self.nodes:
            assert_no_5xx(node)

    def test_kill9_of_either_node_and_retry_on_the_other(self):
        c = CrashingClient(self.nodes, random.Random(SEED + 20))
        self.addCleanup(c.close)
        actor = Actor(self, SEED + 20, c, crashing=True)
        actor.run(OPS // 2, restarts=False)
        print(f"\n{c.kills} kills; {c.lost} answers lost and the request sent to the other node, "
              f"{c.replays} of them committed the first time", file=sys.stderr)
        self.assertGreater(c.kills, 5)
        self.assertGreater(c.lost, 0)


if __name__ == "__main__":
    main()
