"""Command-line arguments the binary refuses before it touches a store."""
import os
import subprocess
import tempfile
import unittest

from harness import BIN, Server, expect, main, v1_user


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)


class HalfLife(unittest.TestCase):
    def test_a_half_life_that_is_not_a_positive_finite_number_is_refused(self):
        # 0 made NaN scores and refused writes; a huge one overflowed.
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:{os.path.join(tmp, 'a.db')}"
            other = f"sqlite:{os.path.join(tmp, 'b.db')}"
            commands = [
                ["serve", "--data-dir", tmp, "--listen", "127.0.0.1:1"],
                ["copy", "--no-progress", "--from", db, "--to", other],
                ["compare", "--no-progress", "--from", db, "--to", other],
                ["backup", "--no-progress", "--store", db, "--to", os.path.join(tmp, "c.db")],
            ]
            for command in commands:
                for days in ("0", "-1", "nan", "inf", "1e300", "36501", "x", ""):
                    with self.subTest(command=command[0], days=days):
                        proc = run(*command, "--half-life-days", days)
                        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                        self.assertIn("--half-life-days", proc.stderr)
            self.assertEqual(sorted(os.listdir(tmp)), [])  # no store was made

    def test_a_fractional_half_life_serves(self):
        server = Server(extra_args=("--half-life-days", "0.5"))
        try:
            c = server.client()
            user = v1_user(c)
            conv = expect(c.post("/v1/conversations", {"user_id": user["user_id"]}), 201)
            for _ in range(2):
                expect(c.post("/v1/utterances", {
                    "user_id": user["user_id"], "conversation_id": conv["conversation_id"],
                    "content": "She go.", "errors": [{"code": "R:VERB:SVA"}]}), 201)
            top = expect(c.get(f"/v1/users/{user['user_id']}/errors/top"), 200)
            self.assertEqual(top["errors"][0]["frequency"], 2, top)
            self.assertGreater(top["errors"][0]["recent_score"], 0, top)
            server.stop()
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
