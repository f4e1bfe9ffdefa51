"""The dashboard's files: /dashboard and /dashboard/assets/{file} carry an
ETag and answer If-None-Match with a 304; /dashboard is a 503 when any file
it needs is missing, naming the file but not where the server keeps it.

The assets directory is the test's own (--assets-dir), with stand-in files:
what is checked is how they are served, not the dashboard itself.
"""
import os
import shutil
import tempfile
import unittest

from harness import Server, main

FILES = {"index.html": "<!doctype html><title>d</title>", "app.js": "export {};\n",
         "style.css": "body{}\n", "chart.umd.min.js": "/* chart */\n"}


class DashboardAssets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.assets = tempfile.mkdtemp(prefix="errata-assets-")
        cls.dir = os.path.join(cls.assets, "dashboard")
        os.makedirs(cls.dir)
        for name, text in FILES.items():
            cls.write(name, text)
        cls.server = Server(extra_args=["--assets-dir", cls.assets])
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()  # a 503 here is the point: no assert_no_5xx
        finally:
            cls.server.cleanup()
            shutil.rmtree(cls.assets, ignore_errors=True)

    @classmethod
    def write(cls, name, text):
        with open(os.path.join(cls.dir, name), "w", encoding="utf-8") as f:
            f.write(text)

    def test_etag_and_304(self):
        for path in ("/dashboard", "/dashboard/assets/app.js", "/dashboard/assets/chart.umd.min.js"):
            with self.subTest(path=path):
                st, h, body = self.c.get(path)
                self.assertEqual(st, 200, body)
                etag = h.get("ETag")
                self.assertRegex(etag or "", r'^"[0-9a-f]{16}"$')
                for sent in (etag, "W/" + etag, f'"elsewhere", {etag}', "*"):
                    st, h2, body = self.c.get(path, headers={"If-None-Match": sent})
                    self.assertEqual((st, body), (304, ""), sent)
                    self.assertEqual(h2.get("ETag"), etag)
                    self.assertEqual(h2.get("Cache-Control"), h.get("Cache-Control"))
                    self.assertIsNone(h2.get("Content-Length"))
                    self.assertIsNone(h2.get("Content-Type"))
                st, _, _ = self.c.get(path, headers={"If-None-Match": '"elsewhere"'})
                self.assertEqual(st, 200)
        # A new build's file has a new tag: the old one gets the file.
        old = self.c.get("/dashboard/assets/app.js")[1].get("ETag")
        self.write("app.js", "export const changed = 1;\n")
        try:
            st, h, body = self.c.get("/dashboard/assets/app.js", headers={"If-None-Match": old})
            self.assertEqual((st, body), (200, "export const changed = 1;\n"))
            self.assertNotEqual(h.get("ETag"), old)
        finally:
            self.write("app.js", FILES["app.js"])

    def test_503_when_a_needed_file_is_missing(self):
        for name in FILES:
            with self.subTest(missing=name):
                os.rename(os.path.join(self.dir, name), os.path.join(self.assets, name))
                try:
                    st, _, body = self.c.get("/dashboard")
                finally:
                    os.rename(os.path.join(self.assets, name), os.path.join(self.dir, name))
                self.assertEqual(st, 503, body)
                self.assertIn(f"dashboard/{name} is missing", body["detail"])
                self.assertNotIn(self.assets, body["detail"])
                self.assertNotIn(os.path.realpath(self.assets), body["detail"])
        self.assertEqual(self.c.get("/dashboard")[0], 200)


if __name__ == "__main__":
    main()
