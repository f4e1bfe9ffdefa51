"""`errata import m2 FILE`: an annotated corpus in M2 format through the write path.

The import runs as its own process on a data dir; a server started on that dir
afterwards must show exactly the chosen annotator's edits, a re-import must
apply nothing twice, and a malformed file must apply nothing at all.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import BIN, STORE, Server, main, sqlite_enabled, top_counts, unique_email

# Four sentences: two annotators, noops, an insertion (M:DET), a deletion (U:DET),
# R:VERB:SVA, R:SPELL, UNK, and a non-ASCII token.
M2 = """\
S He go to school every day .
A 1 2|||R:VERB:SVA|||goes|||REQUIRED|||-NONE-|||0
A 1 2|||R:VERB:SVA|||goes|||REQUIRED|||-NONE-|||1

S I have cat .
A 2 2|||M:DET|||a|||REQUIRED|||-NONE-|||0
A 2 2|||M:DET|||the|||REQUIRED|||-NONE-|||1

S Everything is fine .
A -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0
A -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||1

S She like the café and recieve a the leter .
A 1 2|||R:VERB:SVA|||likes|||REQUIRED|||-NONE-|||0
A 5 6|||R:SPELL|||receive|||REQUIRED|||-NONE-|||0
A 6 7|||U:DET||||||REQUIRED|||-NONE-|||0
A 8 9|||UNK|||leter|||REQUIRED|||-NONE-|||0
A 5 6|||R:SPELL|||receives|||REQUIRED|||-NONE-|||1
"""

ANNOTATOR_0 = {"subject-verb-agreement": 2, "articles-determiners": 2, "spelling": 1,
               "unclassified": 1}
ANNOTATOR_1 = {"subject-verb-agreement": 1, "articles-determiners": 1, "spelling": 1}

SUMMARY = re.compile(
    r"imported (?P<file>\S+) for (?P<email>\S+) \(user (?P<user>[0-9a-f-]{36})\): "
    r"(?P<sentences>\d+) sentences, (?P<applied>\d+) utterances applied, "
    r"(?P<present>\d+) already present, (?P<errors>\d+) errors, (?P<noops>\d+) noop edits skipped, "
    r"(?P<others>\d+) edits of other annotators skipped(?:, (?P<refused>\d+) refused)?")


def run_import(path, data_dir, *args):
    cmd = [BIN, "import", "m2", path, "--data-dir", data_dir, "--no-progress", *args]
    if STORE:
        cmd += ["--store", STORE]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def summary_of(proc):
    m = SUMMARY.search(proc.stdout)
    if m is None:
        raise AssertionError(f"no summary in stdout: {proc.stdout!r} (stderr {proc.stderr!r})")
    d = m.groupdict()
    for k in ("sentences", "applied", "present", "errors", "noops", "others", "refused"):
        d[k] = None if d[k] is None else int(d[k])
    return d


def listed_counts(proc):
    """The per-subcategory lines after the summary: {subcategory_id: n}."""
    out = {}
    for line in proc.stdout.splitlines()[1:]:
        m = re.fullmatch(r"\s+(\S+)\s+(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


class ImportM2(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="errata-import-")
        self.data_dir = os.path.join(self.dir, "data")
        self.path = os.path.join(self.dir, "learner.m2")
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(M2)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self):
        os.makedirs(self.data_dir, exist_ok=True)  # a failed import may not have made it
        srv = Server(data_dir=self.data_dir)
        self.servers.append(srv)
        return srv, srv.client()

    def table_counts(self):
        """Row counts of every table of the SQLite file (None without it, {} before it exists)."""
        if not sqlite_enabled():
            return None
        db = os.path.join(self.data_dir, "errata.db")
        if not os.path.exists(db):
            return {}
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                    for t in tables if t != "meta"}
        finally:
            conn.close()

    def test_import_counts_and_reimport_applies_nothing_twice(self):
        email = unique_email("m2")
        first = run_import(self.path, self.data_dir, "--user", email, "--annotator", "0")
        self.assertEqual(first.returncode, 0, first.stderr)
        s = summary_of(first)
        self.assertEqual(s["email"], email)
        self.assertEqual((s["sentences"], s["applied"], s["present"], s["errors"], s["noops"],
                          s["others"], s["refused"]), (4, 4, 0, 6, 2, 3, 0), first.stdout)
        self.assertEqual(listed_counts(first), ANNOTATOR_0, first.stdout)
        user_id = s["user"]

        srv, c = self.serve()
        st, _, user = c.get(f"/v1/users/{user_id}")
        self.assertEqual(st, 200, user)
        self.assertEqual(user["email"], email)
        self.assertEqual(top_counts(c, user_id), ANNOTATOR_0)
        srv.stop()

        again = run_import(self.path, self.data_dir, "--user", email, "--annotator", "0")
        self.assertEqual(again.returncode, 0, again.stderr)
        s2 = summary_of(again)
        self.assertEqual(s2["user"], user_id, "the same learner")
        self.assertEqual((s2["applied"], s2["present"], s2["errors"]), (0, 4, 0), again.stdout)

        srv.start()
        self.assertEqual(top_counts(c, user_id), ANNOTATOR_0, "a re-import counted twice")

    def test_other_annotator(self):
        email = unique_email("m2b")
        proc = run_import(self.path, self.data_dir, "--user", email, "--annotator", "1")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        s = summary_of(proc)
        self.assertEqual((s["applied"], s["errors"], s["noops"], s["others"]), (4, 3, 2, 6))
        _, c = self.serve()
        self.assertEqual(top_counts(c, s["user"]), ANNOTATOR_1)

    def test_spans_and_corrections_are_kept(self):
        if not sqlite_enabled():
            self.skipTest("reads the SQLite file")
        proc = run_import(self.path, self.data_dir, "--user", unique_email("m2c"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        conn = sqlite3.connect(os.path.join(self.data_dir, "errata.db"))
        try:
            rows = conn.execute(
                "SELECT e.code, e.span_start, e.span_end, e.original, e.correction, u.content "
                "FROM errors e JOIN utterances u USING (utterance_id)").fetchall()
        finally:
            conn.close()
        by_code = {r[0]: r[1:] for r in rows}
        # Character offsets into the sentence text, as the API's spans count
        # (not bytes: "café" has 4 characters, 5 bytes).
        sentence = "She like the café and recieve a the leter ."
        start = sentence.index("recieve")
        self.assertEqual(by_code["R:SPELL"], (start, start + 7, "recieve", "receive", sentence))
        self.assertEqual(by_code["M:DET"], (7, 7, "", "a", "I have cat ."))  # insertion
        a = sentence.index(" a ") + 1
        self.assertEqual(by_code["U:DET"], (a, a + 1, "a", "", sentence))  # deletion

    def test_a_sentences_errors_read_in_the_files_order(self):
        """Each edit's id was a hash of its line: the conversation view and
        the export listed a sentence's errors in the order of those hashes."""
        proc = run_import(self.path, self.data_dir, "--user", unique_email("m2o"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        user_id = summary_of(proc)["user"]
        srv, c = self.serve()
        st, _, export = c.get(f"/v1/users/{user_id}/export")
        self.assertEqual(st, 200, export)
        utterances = [u for conv in export["conversations"] for u in conv["utterances"]]
        last = next(u for u in utterances if u["content"].startswith("She like"))
        self.assertEqual([e["code"] for e in last["errors"]], ["R:VERB:SVA", "R:SPELL", "U:DET", "UNK"])
        conversation = c.get(f"/v1/conversations/{last['conversation_id']}")[2]
        view = next(u for u in conversation["utterances"] if u["utterance_id"] == last["utterance_id"])
        self.assertEqual([e["error_id"] for e in view["errors"]], [e["error_id"] for e in last["errors"]])

    def test_malformed_file_names_the_line_and_applies_nothing(self):
        # A good block, then a bad A line (5 fields) on line 5.
        bad = os.path.join(self.dir, "bad.m2")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("S He go home .\nA 1 2|||R:VERB:SVA|||goes|||REQUIRED|||-NONE-|||0\n\n"
                    "S I like cats .\nA 1 2|||R:VERB:SVA|||likes|||REQUIRED|||-NONE-\n")
        email = unique_email("m2bad")
        before = self.table_counts()
        proc = run_import(bad, self.data_dir, "--user", email)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("line 5", proc.stderr)
        self.assertIn("nothing imported", proc.stderr)
        self.assertNotIn("imported bad.m2", proc.stdout)
        after = self.table_counts()
        if before:
            self.assertEqual(after, before)
        # Nothing at all: not even the learner.
        _, c = self.serve()
        st, _, body = c.post("/v1/users", {"username": "m2bad", "email": email})
        self.assertEqual(st, 201, body)

    def test_unknown_edit_type_names_the_line_and_applies_nothing(self):
        bad = os.path.join(self.dir, "badtype.m2")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("S He go home .\nA 1 2|||R:VERB:SVA|||goes|||REQUIRED|||-NONE-|||0\n\n"
                    "S I like cats .\nA 1 2|||R:NOTATYPE|||likes|||REQUIRED|||-NONE-|||0\n")
        email = unique_email("m2type")
        proc = run_import(bad, self.data_dir, "--user", email)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("line 5", proc.stderr)
        self.assertIn("R:NOTATYPE", proc.stderr)
        self.assertIn("nothing imported", proc.stderr)
        if sqlite_enabled():
            counts = self.table_counts()
            for table in ("utterances", "errors", "conversations"):
                self.assertEqual(counts.get(table, 0), 0, f"{table}: {counts}")
        # "Nothing imported" includes the learner: the email is still free.
        _, c = self.serve()
        st, _, body = c.post("/v1/users", {"username": "m2type", "email": email})
        self.assertEqual(st, 201, f"the failed import created the user: {body}")

    def block(self, text, code="R:VERB:SVA", correction="goes"):
        return f"S {text}\nA 1 2|||{code}|||{correction}|||REQUIRED|||-NONE-|||0\n\n"

    def test_sentences_the_store_refuses_are_named_and_fail_the_import(self):
        # Ids come from the learner, the file's name and the sentence's
        # number: another file of the same name, for the same learner, takes
        # them. Those sentences were skipped in silence, counted in the
        # summary, and the import exited 0.
        email = unique_email("m2same")
        with open(self.path, "w", encoding="utf-8") as f:
            f.write("".join(self.block(f"She{i} go .") for i in range(8)))
        first = run_import(self.path, self.data_dir, "--user", email)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(summary_of(first)["applied"], 8)

        other_dir = os.path.join(self.dir, "other")
        os.mkdir(other_dir)
        other = os.path.join(other_dir, "learner.m2")  # the same base name
        with open(other, "w", encoding="utf-8") as f:
            f.write(self.block("She0 go .")  # the same sentence: a replay
                    + "".join(self.block(f"I{i} has cat .", "R:NOUN:NUM", "cats")
                              for i in range(1, 8))  # other sentences: refused
                    + "".join(self.block(f"He{i} go .") for i in range(8, 10)))  # new
        proc = run_import(other, self.data_dir, "--user", email)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        s = summary_of(proc)
        self.assertEqual((s["sentences"], s["applied"], s["present"], s["errors"], s["refused"]),
                         (10, 2, 1, 2, 7), proc.stdout)
        # Only what was applied is counted: no noun-number error went in.
        self.assertEqual(listed_counts(proc), {"subject-verb-agreement": 2}, proc.stdout)
        self.assertIn("7 of 10 sentences refused", proc.stderr)
        # The first five, by the line of their S line, then how many more.
        lines = re.findall(r"^  line (\d+): (.+)$", proc.stderr, re.M)
        self.assertEqual([int(n) for n, _ in lines], [4, 7, 10, 13, 16], proc.stderr)
        self.assertIn("utterance_id already used", lines[0][1])
        self.assertIn("and 2 more", proc.stderr)
        self.assertIn("another file named learner.m2", proc.stderr)

        srv, c = self.serve()
        self.assertEqual(top_counts(c, s["user"]), {"subject-verb-agreement": 10})

    def test_a_leading_byte_order_mark_is_skipped(self):
        bom = os.path.join(self.dir, "bom.m2")
        with open(bom, "w", encoding="utf-8-sig") as f:  # writes the BOM
            f.write(M2)
        proc = run_import(bom, self.data_dir, "--user", unique_email("m2bom"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        s = summary_of(proc)
        self.assertEqual((s["sentences"], s["applied"], s["errors"]), (4, 4, 6), proc.stdout)
        self.assertEqual(listed_counts(proc), ANNOTATOR_0, proc.stdout)

    def assertNothingMade(self):
        """No store was made (an embedded one), and no learner."""
        if not STORE.startswith("postgres"):
            self.assertFalse(os.path.exists(self.data_dir), os.listdir(self.dir))

    def test_a_user_that_is_not_an_email_is_bad_usage(self):
        for user in ("not an email", "a@b", "@x.org", "a@@x.org", "x" * 250 + "@x.org"):
            with self.subTest(user=user):
                proc = run_import(self.path, self.data_dir, "--user", user)
                self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                self.assertIn("--user: not a valid email address", proc.stderr)
                self.assertNotIn("imported", proc.stdout)
                self.assertNothingMade()
        # Without --user the learner's email comes from the file's name.
        spaced = os.path.join(self.dir, "my corpus.m2")
        shutil.copy(self.path, spaced)
        proc = run_import(spaced, self.data_dir)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("--user EMAIL", proc.stderr)
        self.assertNothingMade()

    def test_a_file_without_sentences_applies_nothing(self):
        email = unique_email("m2empty")
        for text in ("", "\n\n", "\ufeff"):
            with self.subTest(text=text):
                empty = os.path.join(self.dir, "empty.m2")
                with open(empty, "w", encoding="utf-8") as f:
                    f.write(text)
                proc = run_import(empty, self.data_dir, "--user", email)
                self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
                self.assertIn("no sentences", proc.stderr)
                self.assertIn("nothing imported", proc.stderr)
                self.assertNothingMade()
        # Not even the learner.
        _, c = self.serve()
        st, _, body = c.post("/v1/users", {"username": "m2empty", "email": email})
        self.assertEqual(st, 201, f"the empty import created the user: {body}")

    def test_the_half_life_is_the_one_given(self):
        # import opened the store with 14 days whatever serve used: on a
        # store kept with another, every recency sum was recomputed twice.
        email = unique_email("m2half")
        proc = run_import(self.path, self.data_dir, "--user", email, "--half-life-days", "3")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        if sqlite_enabled():
            conn = sqlite3.connect(f"file:{os.path.join(self.data_dir, 'errata.db')}?mode=ro",
                                   uri=True)
            try:
                (kept,) = conn.execute(
                    "SELECT value FROM meta WHERE key='decay_half_life_us'").fetchone()
            finally:
                conn.close()
            self.assertEqual(int(kept), 3 * 86400 * 10**6)

    def test_missing_file(self):
        proc = run_import(os.path.join(self.dir, "nope.m2"), self.data_dir)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("cannot read", proc.stderr)


if __name__ == "__main__":
    main()
