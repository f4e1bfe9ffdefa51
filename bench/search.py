#!/usr/bin/env python3
"""The learner search's speed (docs/user-search.md): loads named learners
through POST /v1/ingest, then times GET /v1/users/search for queries of each
kind, the median of `--repeat` runs each (stdlib only).

  bench/search.py --url URL --users N [--repeat 20] [--seed 1] [--accented 0]
                  [--check]

Names are drawn from 150 first names and 150 surnames with a number after
the surname ("Lindqvist417"), so that common trigrams have thousands of
holders. The learner searched for is created first: older than the newest
5,000, found by a typo only through the trigrams of its name. Prints one
line per query kind: the query, the median and worst milliseconds, and
whether the learner came first. Ends with the load's time. --accented F:
that share of the learners get a first name and a surname with accents or
in another script ("Łukasz Wójcik417"), so that the ranking folds them with
ICU (docs/user-search.md, "Beyond ASCII"). Two more learners are created
first too: "Łukasz Wójcik9998", searched for without its accents, and
"Юлия Иванова9997", in capitals and with a letter left out. --check: exit 1
unless each of these queries found its learner first (the smoke test in
`make test`; the build before session 18 fails the Cyrillic ones).
"""
import argparse
import http.client
import json
import random
import statistics
import sys
import time
import uuid
from urllib.parse import quote, urlparse

FIRST = """Anna Ben Carla David Emma Felix Greta Hugo Ines Jonas Karin Lars Maria Nils Olga
Peter Rosa Stefan Tanja Ulrich Vera Walter Xenia Yusuf Zoe Ahmed Beatriz Chen Dmitri Elif
Fatima Goran Hana Ivan Julia Kenji Leila Mateo Nadia Omar Paula Quentin Rania Sofia Tomas
Uma Viktor Wen Yara Zainab Alice Bruno Clara Diego Eva Franz Gina Hector Ida Jakob Kira Luca
Mia Noah Oskar Pia Rafael Sara Theo Ula Vito Wanda Ximena Yann Zara Adam Bianca Cyril Dora
Emil Frida Gustav Helga Igor Jana Karl Lena Marco Nora Otto Petra Rolf Sina Till Ute Valentin
Wilma Aaron Berit Conrad Daria Edgar Flora Georg Heidi Isak Josefine Konstantin Linnea Moritz
Nele Oliver Paulina Ruben Selma Tobias Ulla Vincent Wiebke Anton Britta Carsten Doris Erik
Frieda Gerd Hanna Ingo Jutta Klaus Lotte Malte Nina Ole Pauline Reinhard Silke Thorsten Ursula
Volker Yvonne Arne Bettina Dirk Elke Frank Gabi Holger Imke Jens Kerstin""".split()
LAST = """Lindqvist Berg Schmidt Novak Rossi Garcia Kowalski Jensen Dubois Silva Tanaka Kim
Nguyen Ivanova Yilmaz Haddad Okafor Mensah Larsen Moreau Fischer Weber Wagner Becker Hoffmann
Schulz Koch Richter Klein Wolf Schroeder Neumann Schwarz Zimmermann Braun Krueger Hofmann
Hartmann Lange Schmitt Werner Krause Meier Lehmann Schmid Schulze Maier Koehler Herrmann
Koenig Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Moeller Weiss Jung Hahn Schubert
Vogel Friedrich Keller Guenther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht
Schuster Simon Ludwig Boehm Winter Kraus Martin Schumacher Kraemer Vogt Stein Jaeger Otto
Sommer Gross Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kuehn
Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer Andersson Johansson
Karlsson Nilsson Eriksson Olsson Persson Svensson Gustafsson Pettersson Jonsson Hansen
Johansen Olsen Pedersen Nielsen Kristensen Andersen Rasmussen Christensen Sorensen Virtanen
Korhonen Nieminen Makinen Hamalainen Laine Heikkinen Koskinen Jarvinen""".split()
FIRST_ACCENTED = """José Zoë Łukasz Søren María Björn François Małgorzata İlkay Thảo Jürgen
Noémie Ágnes Dvořák Çağla Юлия Дмитрий Ελένη Ren""".split()
LAST_ACCENTED = """García Wójcik Müller Núñez Øster Đặng Çelik Ruíz Jäger Łęcki Šimunović
Pérez Sørensen Öztürk Иванова Петров Παπαδόπουλος Hernández""".split()


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/x-ndjson"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"{method} {path}: {r.status} {data[:200]!r}")
    return json.loads(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--accented", type=float, default=0.0)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    u = urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    rnd = random.Random(a.seed)

    target_id = str(uuid.uuid4())
    target = "Margarethe Lindqvist9999"
    accented_id = str(uuid.uuid4())
    accented = "Łukasz Wójcik9998"
    cyrillic_id = str(uuid.uuid4())
    cyrillic = "Юлия Иванова9997"

    def line(uid, name):
        return json.dumps({"user_id": uid, "username": name, "conversation_id": str(uuid.uuid4()),
                           "content": "x", "errors": [{"code": "R:PREP"}]})

    start = time.monotonic()
    request(conn, "POST", "/v1/ingest",
            "".join(line(i, n) + "\n" for i, n in ((target_id, target), (accented_id, accented),
                                                   (cyrillic_id, cyrillic))).encode())
    left = a.users - 3

    def name():
        if rnd.random() < a.accented:
            return f"{rnd.choice(FIRST_ACCENTED)} {rnd.choice(LAST_ACCENTED)}{rnd.randrange(1000)}"
        return f"{rnd.choice(FIRST)} {rnd.choice(LAST)}{rnd.randrange(1000)}"

    while left > 0:
        n = min(left, 1000)
        body = "\n".join(line(str(uuid.uuid4()), name()) for _ in range(n))
        out = request(conn, "POST", "/v1/ingest", (body + "\n").encode())
        if out.get("applied") != n:
            sys.exit(f"ingest applied {out.get('applied')} of {n}")
        left -= n
    load = time.monotonic() - start

    queries = [("prefix", "margarethe"), ("substring", "lindqvist9999"),
               ("typo, first word", "margrethe"), ("typo, later word", "lindqvst9999"),
               ("common name, typo", "anna berrg"), ("no match", "zzyzx"),
               ("no accents", "lukasz wojcik9998"), ("no accents, later", "wojcik9998"),
               ("cyrillic, capitals", "ЮЛИЯ ИВАНОВА9997"), ("cyrillic, typo", "иваова9997")]
    missed = []
    for kind, q in queries:
        want = (accented_id if kind.startswith("no accents") else
                cyrillic_id if kind.startswith("cyrillic") else target_id)
        times, first = [], None
        for _ in range(a.repeat):
            t0 = time.monotonic()
            out = request(conn, "GET", f"/v1/users/search?q={quote(q)}")
            times.append((time.monotonic() - t0) * 1000)
            users = out["users"]
            first = bool(users) and users[0]["user_id"] == want
        print(f"{kind:<20} {q!r:<20} median {statistics.median(times):7.2f} ms"
              f"  worst {max(times):7.2f} ms  target first: {first}")
        if kind not in ("common name, typo", "no match") and not first:
            missed.append(kind)
    print(f"load: {a.users} named learners in {load:.1f} s")
    if a.check and missed:
        sys.exit(f"the learner was not found first by: {', '.join(missed)}")


if __name__ == "__main__":
    main()
