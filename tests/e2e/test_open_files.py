"""Out of file descriptors: every connection holds one, and a server that
runs out must go on serving the connections it has, neither spinning nor
dying, and take new ones once some close. At start it raises its soft limit
to the hard one (docs/http.md, "Out of file descriptors")."""

import os
import resource
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, main, new_uuid, probe_healthz

LIMIT = 256  # soft and hard: the server cannot raise it
# The hard limit this test may give a child: no more than its own (only a
# privileged process may raise one).
_, OUR_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)
HARD = 4096 if OUR_HARD == resource.RLIM_INFINITY else min(4096, OUR_HARD)


def limit_open_files(soft, hard):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return set_limit


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def soft_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no open-files line in /proc/PID/limits")


@unittest.skipIf(HARD < 2 * LIMIT, f"the hard limit on open files here is {OUR_HARD}")
class OpenFiles(unittest.TestCase):

    def test_the_soft_limit_is_raised_to_the_hard_one(self):
        server = Server(preexec=limit_open_files(64, HARD))
        try:
            self.assertEqual(soft_limit(server.proc.pid), HARD)
            self.assertEqual(server.client().get("/healthz")[0], 200)
            server.stop()
        finally:
            server.cleanup()

    def test_the_connections_leave_the_store_its_descriptors(self):
        """By default connections leave the store half the descriptors (1,024
        of them when there are over 2,048); more wait in the listen queue,
        and are served in turn."""
        server = Server(preexec=limit_open_files(LIMIT, LIMIT))
        held = []
        try:
            pid = server.proc.pid
            c = server.client()
            self.assertEqual(c.get("/healthz")[0], 200)  # one connection, kept
            for _ in range(LIMIT):
                held.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            time.sleep(1)
            self.assertLess(open_fds(pid), LIMIT - 40)
            metrics = c.get("/metrics")[2]
            gauge = [x for x in metrics.splitlines() if x.startswith("errata_http_connections ")]
            self.assertEqual(gauge, [f"errata_http_connections {LIMIT // 2}"], metrics[:300])
            # The one waiting in the queue is served once another closes.
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as waiting:
                waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                waiting.settimeout(1)
                with self.assertRaises(socket.timeout):
                    waiting.recv(4096)
                for s in held:
                    s.close()
                held.clear()
                waiting.settimeout(10)
                self.assertTrue(waiting.recv(4096).startswith(b"HTTP/1.1 200"))
            self.assertIn("connection limit reached", server.log_tail(20000))
            server.stop()
        finally:
            for s in held:
                s.close()
            server.cleanup()

    def test_out_of_descriptors_the_server_waits_and_recovers(self):
        # A connection limit above the descriptors: the accepts fail.
        server = Server(preexec=limit_open_files(LIMIT, LIMIT), extra_args=["--max-connections", "100000"])
        held = []
        try:
            pid = server.proc.pid
            c = server.client()
            user = c.post("/v1/users", {"username": "fd", "email": f"{new_uuid()}@example.com"})
            self.assertEqual(user[0], 201, user)
            uid = user[2]["user_id"]
            # More connections than descriptors are left: the last ones stay
            # in the listen queue, unaccepted.
            spare = LIMIT - open_fds(pid)
            for _ in range(spare + 40):
                held.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            deadline = time.monotonic() + 10
            while open_fds(pid) < LIMIT and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(open_fds(pid), LIMIT, "the server never ran out")
            # Out of descriptors, it neither dies nor spins: an accept loop
            # that retries at once burned a core here.
            before = cpu_seconds(pid)
            time.sleep(2)
            self.assertTrue(server.running(), server.log_tail())
            self.assertLess(cpu_seconds(pid) - before, 0.5)
            # A connection it holds is served meanwhile.
            st, _, body = c.get(f"/v1/users/{uid}")
            self.assertEqual(st, 200, body)
            # Once clients go away, it takes new connections again.
            for s in held:
                s.close()
            held.clear()
            deadline = time.monotonic() + 20
            ok, last = probe_healthz(server.port)
            while not ok and time.monotonic() < deadline:
                ok, last = probe_healthz(server.port)
            self.assertTrue(ok, last)
            self.assertIn("accept failed; pausing the listener", server.log_tail(20000))
            metrics = server.client().get("/metrics")[2]
            line = [x for x in metrics.splitlines() if x.startswith("errata_http_accept_failed_total ")]
            self.assertEqual(len(line), 1, metrics[:500])
            self.assertGreater(float(line[0].split()[1]), 0)
            server.stop()
        finally:
            for s in held:
                s.close()
            server.cleanup()


if __name__ == "__main__":
    main()
