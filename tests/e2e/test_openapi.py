"""GET /openapi.json and /docs: the document stays true to the server.

- every route in `errata routes` is documented, and every documented operation is a route;
- every example in the document validates against its own schema;
- every documented request example, sent to a real server (with the example ids
  replaced by real ones), gets a documented success status and a body that
  validates against the documented response schema;
- a few error probes answer with the documented error shapes;
- /docs is swagger-ui over /openapi.json, and its assets are served.

The examples use fixed placeholder ids (EXAMPLE_IDS below, also listed in the
document's info.description); see docs/openapi.md.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import shutil
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (BIN, SOURCE_DIR, Server, ServerTestCase, create_user, expect, main,  # noqa: E402
                     seed_triplet, simulate, unique_email)

DOC_FILE = os.path.join(SOURCE_DIR, "data", "openapi.json")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

EXAMPLE_USER = "0192f5e4-1c2a-7b3d-8e4f-000000000001"
EXAMPLE_CONVERSATION = "0192f5e4-1c2a-7b3d-8e4f-000000000002"
EXAMPLE_UTTERANCE = "0192f5e4-1c2a-7b3d-8e4f-000000000003"
EXAMPLE_EMAIL = "ana@example.com"


def load_doc():
    with open(DOC_FILE, encoding="utf-8") as f:
        return json.load(f)


def shape(path):
    """'/v1/users/{user_id}' and '/v1/users/{id}' -> '/v1/users/{}'."""
    return re.sub(r"\{[^}/]*\}", "{}", path)


def operations(doc):
    """[(METHOD, path, operation)] in document order."""
    out = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                out.append((method.upper(), path, item[method]))
    return out


def server_routes():
    out = subprocess.run([BIN, "routes"], check=True, capture_output=True, text=True).stdout
    routes = []
    for line in out.splitlines():
        if line.strip():
            method, pattern = line.split(" ", 1)
            routes.append((method, pattern))
    return routes


# ---------------------------------------------------------------- a small JSON Schema validator

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def resolve(doc, node):
    """A parameter, request body or response object, following its $ref (#/a/b)."""
    for _ in range(20):
        if not (isinstance(node, dict) and "$ref" in node):
            return node
        node = pointer(doc, node["$ref"])
    raise AssertionError("$ref loop")


def pointer(doc, ref):
    if not ref.startswith("#/"):
        raise AssertionError(f"only local $refs are supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise AssertionError(f"dangling $ref {ref}")
        node = node[part]
    return node


def type_ok(value, t):
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise AssertionError(f"unknown type {t!r} in a schema")


def validate(doc, value, schema, where="$"):
    """The list of ways `value` breaks `schema` (empty when it validates)."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{where}: no value is allowed here"]
    errors = []
    if "$ref" in schema:
        errors += validate(doc, value, pointer(doc, schema["$ref"]), where)
    for sub in schema.get("allOf", []):
        errors += validate(doc, value, sub, where)
    if "anyOf" in schema:
        results = [validate(doc, value, sub, where) for sub in schema["anyOf"]]
        if all(results):
            errors.append(f"{where}: matches none of anyOf: " + " | ".join("; ".join(r) for r in results))
    if "oneOf" in schema:
        results = [validate(doc, value, sub, where) for sub in schema["oneOf"]]
        matched = sum(1 for r in results if not r)
        if matched != 1:
            errors.append(f"{where}: matches {matched} of oneOf (want 1): "
                          + " | ".join("; ".join(r) for r in results))
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, t) for t in types):
            return errors + [f"{where}: {type(value).__name__} {short(value)} is not of type {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {short(value)} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {short(value)} is not {schema['const']!r}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {short(value)} does not match {schema['pattern']}")
        fmt = schema.get("format")
        if fmt == "uuid" and not UUID_RE.match(value):
            errors.append(f"{where}: {short(value)} is not a UUID")
        if fmt == "date-time" and not DATETIME_RE.match(value):
            errors.append(f"{where}: {short(value)} is not an RFC 3339 date-time")
        if fmt == "date" and not DATE_RE.match(value):
            errors.append(f"{where}: {short(value)} is not an RFC 3339 full-date")
        if fmt == "email" and "@" not in value:
            errors.append(f"{where}: {short(value)} is not an email address")
    if type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > maximum {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing required property {key!r}")
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key in value:
                errors += validate(doc, value[key], sub, f"{where}.{key}")
        extra = schema.get("additionalProperties", True)
        if extra is not True:
            for key in value:
                if key not in props:
                    errors += validate(doc, value[key], extra, f"{where}.{key}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(doc, item, schema["items"], f"{where}[{i}]")
    return errors


def short(value):
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def media_base(ctype):
    return (ctype or "").split(";")[0].strip().lower()


def find_media(content, ctype):
    """The documented media type object for a response Content-Type (parameters ignored)."""
    for key, media in content.items():
        if media_base(key) == media_base(ctype):
            return key, media
    return None, None


def ndjson_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sse_events(text):
    """[(event, data)] of a text/event-stream text."""
    events, event, data = [], "message", []
    for line in text.split("\n"):
        if line == "":
            if data:
                events.append((event, "\n".join(data)))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    return events


def is_stream(op):
    return any(media_base(ctype) == "text/event-stream"
               for status, resp in op["responses"].items() if status.startswith("2")
               for ctype in resp.get("content", {}))


# ---------------------------------------------------------------- the document alone


class Document(unittest.TestCase):
    """Checks of data/openapi.json that need no server."""

    @classmethod
    def setUpClass(cls):
        cls.doc = load_doc()

    def test_is_openapi_3_1(self):
        self.assertTrue(self.doc["openapi"].startswith("3.1."), self.doc["openapi"])
        for key in ("title", "version"):
            self.assertIn(key, self.doc["info"])

    def test_every_route_is_documented(self):
        documented = {(m, shape(p)) for m, p, _ in operations(self.doc)}
        missing = [f"{m} {p}" for m, p in server_routes() if (m, shape(p)) not in documented]
        self.assertEqual(missing, [], "routes missing from data/openapi.json")

    def test_every_documented_operation_is_a_route(self):
        routes = {(m, shape(p)) for m, p in server_routes()}
        extra = [f"{m} {p}" for m, p, _ in operations(self.doc) if (m, shape(p)) not in routes]
        self.assertEqual(extra, [], "documented operations that are not routes")

    def test_path_parameters_are_declared(self):
        for method, path, op in operations(self.doc):
            names = set(re.findall(r"\{([^}/]+)\}", path))
            params = [resolve(self.doc, p) for p in op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            self.assertEqual(names, declared, f"{method} {path}")
            for p in params:
                if p["in"] == "path":
                    self.assertTrue(p.get("required"), f"{method} {path}: path parameter {p['name']}")

    def test_every_operation_has_examples(self):
        for method, path, op in operations(self.doc):
            with self.subTest(op=f"{method} {path}"):
                self.assertTrue(op.get("operationId"))
                if "requestBody" in op:
                    content = resolve(self.doc, op["requestBody"])["content"]
                    self.assertTrue(any("example" in m for m in content.values()), "request example")
                success = [s for s in op["responses"] if s.startswith("2")]
                self.assertTrue(success, "no success response")
                first = resolve(self.doc, op["responses"][success[0]])
                self.assertTrue(any("example" in m for m in first.get("content", {}).values()),
                                f"no example for {success[0]}")
                for status, resp in op["responses"].items():
                    self.assertRegex(status, r"^[1-5][0-9][0-9]$")
                    self.assertIn("description", resolve(self.doc, resp))

    def test_every_example_validates_against_its_schema(self):
        checked = 0
        doc = self.doc

        def check_media(where, media):
            nonlocal checked
            if "example" not in media:
                return
            example = media["example"]
            if "x-event-data-schemas" in media:  # SSE: each event's data against its event's schema
                events = [(e, d) for e, d in sse_events(example) if e != "message"]
                self.assertTrue(events, where)
                for event, data in events:
                    self.assertIn(event, media["x-event-data-schemas"], where)
                    errs = validate(doc, json.loads(data), media["x-event-data-schemas"][event],
                                    f"event {event}")
                    self.assertEqual(errs, [], where)
            if "x-line-schema" in media:  # NDJSON: each line against the line schema
                self.assertIsInstance(example, str, where)
                lines = ndjson_lines(example)
                self.assertTrue(lines, where)
                for i, line in enumerate(lines):
                    errs = validate(doc, line, media["x-line-schema"], f"line {i + 1}")
                    self.assertEqual(errs, [], where)
            errs = validate(doc, example, media["schema"])
            self.assertEqual(errs, [], f"{where}: the example does not validate")
            checked += 1

        for method, path, op in operations(doc):
            for p in op.get("parameters", []):
                p = resolve(doc, p)
                if "example" in p:
                    self.assertEqual(validate(doc, p["example"], p["schema"]), [],
                                     f"{method} {path} parameter {p['name']}")
            if "requestBody" in op:
                for ctype, media in resolve(doc, op["requestBody"])["content"].items():
                    check_media(f"{method} {path} request {ctype}", media)
            for status, resp in op["responses"].items():
                for ctype, media in resolve(doc, resp).get("content", {}).items():
                    check_media(f"{method} {path} {status} {ctype}", media)
        for name, resp in doc["components"].get("responses", {}).items():
            for ctype, media in resp.get("content", {}).items():
                check_media(f"components.responses.{name}", media)
        for name, p in doc["components"].get("parameters", {}).items():
            if "example" in p:
                self.assertEqual(validate(doc, p["example"], p["schema"]), [], name)
        self.assertGreater(checked, 40)

    def test_every_ref_resolves(self):
        def walk(node):
            if isinstance(node, dict):
                if "$ref" in node:
                    pointer(self.doc, node["$ref"])
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(self.doc)


class ValidatorSelfTest(unittest.TestCase):
    """The validator rejects what it should, so that passing means something."""

    doc = {"components": {"schemas": {"P": {"type": "object", "required": ["a"],
                                             "properties": {"a": {"type": "integer"}}}}}}

    def bad(self, value, schema):
        self.assertNotEqual(validate(self.doc, value, schema), [], (value, schema))

    def good(self, value, schema):
        self.assertEqual(validate(self.doc, value, schema), [], (value, schema))

    def test_cases(self):
        ref = {"$ref": "#/components/schemas/P"}
        self.good({"a": 1, "extra": True}, ref)
        self.bad({"a": "1"}, ref)
        self.bad({}, ref)
        self.bad(True, {"type": "integer"})
        self.good(2.0, {"type": "integer"})
        self.bad(2.5, {"type": "integer"})
        self.good(None, {"type": ["string", "null"]})
        self.bad(3, {"type": ["string", "null"]})
        self.bad("x", {"enum": ["a", "b"]})
        self.bad([1, "x"], {"type": "array", "items": {"type": "integer"}})
        self.good(None, {"anyOf": [ref, {"type": "null"}]})
        self.bad("x", {"anyOf": [ref, {"type": "null"}]})
        self.bad({"a": 1}, {"oneOf": [ref, {"type": "object"}]})
        self.bad({"a": 1}, {"allOf": [ref, {"required": ["b"]}]})
        self.bad("nope", {"type": "string", "format": "uuid"})
        self.good(str(uuid.uuid4()), {"type": "string", "format": "uuid"})
        self.bad("2026-13", {"type": "string", "format": "date-time"})
        self.good("2026-11-20T10:00:00.123456Z", {"type": "string", "format": "date-time"})
        self.bad("2026-11-20T10:00:00Z", {"type": "string", "format": "date"})
        self.bad({"x": "1"}, {"type": "object", "additionalProperties": {"type": "integer"}})
        self.bad({"a": 1, "b": 2}, {"type": "object", "additionalProperties": False})


# ---------------------------------------------------------------- against a real server


class AgainstServer(ServerTestCase):
    """Every documented example, sent to the server; the answers validated."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.doc = load_doc()
        c = cls.c
        ids = seed_triplet(c, "She go to school every day.")
        expect(simulate(c, ids, [("Grammar", "Subject-Verb Agreement"), ("Grammar", "Pronouns")]),
               200, "POST /simulate-and-generate")
        cls.user_id, cls.conversation_id, cls.utterance_id = ids

    def substitute(self, text):
        """The example's placeholder ids and email replaced by this run's."""
        text = text.replace(EXAMPLE_USER, self.user_id)
        text = text.replace(EXAMPLE_CONVERSATION, self.conversation_id)
        text = text.replace(EXAMPLE_UTTERANCE, self.utterance_id)
        return text.replace(EXAMPLE_EMAIL, unique_email("oa"))

    def build_request(self, method, path, op):
        """(target, raw body or None, headers) from the operation's examples."""
        query = []
        for p in op.get("parameters", []):
            p = resolve(self.doc, p)
            if "example" not in p:
                self.assertFalse(p.get("required"), f"{method} {path}: required parameter "
                                                    f"{p['name']} has no example")
                continue
            value = self.substitute(str(p["example"]))
            if p["in"] == "path":
                path = path.replace("{" + p["name"] + "}", urllib.parse.quote(value, safe=""))
            elif p["in"] == "query":
                query.append((p["name"], value))
        self.assertNotIn("{", path, f"{method} {path}: a path parameter has no example")
        target = path + ("?" + urllib.parse.urlencode(query, safe=",:") if query else "")
        raw, headers = None, {}
        if "requestBody" in op:
            content = resolve(self.doc, op["requestBody"])["content"]
            ctype, media = next((k, m) for k, m in content.items() if "example" in m)
            example = media["example"]
            text = example if isinstance(example, str) else json.dumps(example, ensure_ascii=False)
            raw, headers = self.substitute(text), {"Content-Type": ctype}
        return target, raw, headers

    def check_response(self, what, op, status, headers, body):
        """Validates a real response against the operation's documented one."""
        responses = op["responses"]
        self.assertIn(str(status), responses, f"{what}: status {status} is not documented: {body!r}")
        resp = resolve(self.doc, responses[str(status)])
        ctype = headers.get("Content-Type", "")
        key, media = find_media(resp.get("content", {}), ctype)
        self.assertIsNotNone(media, f"{what}: Content-Type {ctype!r} is not documented for {status}")
        if media_base(key) == "application/json" and isinstance(body, str):
            self.fail(f"{what}: the body is not JSON: {body[:200]!r}")
        errs = validate(self.doc, body, media["schema"])
        self.assertEqual(errs, [], f"{what}: the response does not match the documented schema")

    def test_served_document_is_the_source_file(self):
        st, headers, body = self.c.get("/openapi.json")
        self.assertEqual(st, 200)
        self.assertIn("application/json", headers.get("Content-Type"))
        self.assertTrue(body == self.doc, "GET /openapi.json differs from data/openapi.json: rebuild")

    def test_every_example_request_gets_a_documented_answer(self):
        sent = 0
        for method, path, op in operations(self.doc):
            with self.subTest(op=f"{method} {path}"):
                target, raw, headers = self.build_request(method, path, op)
                if method == "DELETE":  # erase a learner of its own, not the one the rest use
                    target = target.replace(self.user_id, seed_triplet(self.c)[0])
                if is_stream(op):
                    self.check_stream(method, target, op)
                    sent += 1
                    continue
                st, resp_headers, body = self.c.request(method, target, raw=raw, headers=headers)
                what = f"{method} {target}"
                self.assertTrue(200 <= st < 300, f"{what}: {st} {body!r}")
                self.check_response(what, op, st, resp_headers, body)
                sent += 1
        self.assertEqual(sent, len(operations(self.doc)))

    def check_stream(self, method, target, op):
        """An event stream: the documented status and type, then the first event a write
        causes, its data validated against the documented event schema."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=15)
        try:
            conn.request(method, target, headers={"Accept": "text/event-stream"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200, f"{method} {target}")
            ctype = resp.headers.get("Content-Type", "")
            key, media = find_media(op["responses"]["200"]["content"], ctype)
            self.assertIsNotNone(media, f"{method} {target}: Content-Type {ctype!r} is not documented")
            expect(self.c.post("/v1/utterances", {
                "user_id": self.user_id, "conversation_id": self.conversation_id,
                "content": "He go home.", "errors": [{"code": "R:VERB:SVA"}]}), 201, "POST /v1/utterances")
            text = ""
            while not any(e != "message" for e, _ in sse_events(text)):
                line = resp.readline()
                self.assertTrue(line, f"{method} {target}: the stream ended before an event")
                text += line.decode("utf-8").replace("\r\n", "\n")
            for event, data in sse_events(text):
                if event == "message":
                    continue
                self.assertIn(event, media["x-event-data-schemas"])
                errs = validate(self.doc, json.loads(data), media["x-event-data-schemas"][event],
                                f"event {event}")
                self.assertEqual(errs, [], f"{method} {target}: event {event}")
        finally:
            conn.close()

    def op(self, method, path):
        return self.doc["paths"][path][method.lower()]

    def test_error_answers_match_the_documented_errors(self):
        missing_user = str(uuid.uuid4())
        email = unique_email("dup")
        create_user(self.c, email=email)
        existing = expect(self.c.post("/v1/users", {"username": "x", "email": unique_email("x")}), 201, "")
        probes = [
            ("POST", "/users/", "/users/", "{bad", 422),
            ("POST", "/users/", "/users/", json.dumps({"username": "a", "email": email}), 400),
            ("POST", "/users/", "/users/", json.dumps({"username": "a"}), 422),
            ("POST", "/conversations/", "/conversations/", json.dumps({"user_id": missing_user}), 404),
            ("GET", "/generate-exercise", "/generate-exercise", None, 422),
            ("GET", "/generate-exercise", f"/generate-exercise?user_id={missing_user}", None, 404),
            ("POST", "/v1/users", "/v1/users", "{bad", 400),
            ("POST", "/v1/users", "/v1/users", json.dumps({"username": "a", "email": "nope"}), 422),
            ("POST", "/v1/users", "/v1/users",
             json.dumps({"user_id": existing["user_id"], "username": "other", "email": unique_email()}), 409),
            ("GET", "/v1/users/{user_id}", f"/v1/users/{missing_user}", None, 404),
            ("GET", "/v1/users/{user_id}", "/v1/users/not-a-uuid", None, 422),
            ("DELETE", "/v1/users/{user_id}", f"/v1/users/{missing_user}", None, 404),
            ("DELETE", "/v1/users/{user_id}", "/v1/users/not-a-uuid", None, 422),
            ("PATCH", "/v1/users/{user_id}", f"/v1/users/{missing_user}",
             json.dumps({"username": "a"}), 404),
            ("PATCH", "/v1/users/{user_id}", f"/v1/users/{existing['user_id']}", "{bad", 400),
            ("PATCH", "/v1/users/{user_id}", f"/v1/users/{existing['user_id']}",
             json.dumps({"usrname": "a"}), 422),
            ("PATCH", "/v1/users/{user_id}", f"/v1/users/{existing['user_id']}",
             json.dumps({"email": email}), 409),
            ("GET", "/v1/users/{user_id}/errors/top", f"/v1/users/{self.user_id}/errors/top?n=0", None, 422),
            ("GET", "/v1/users/{user_id}/conversations", f"/v1/users/{missing_user}/conversations",
             None, 404),
            ("GET", "/v1/users/{user_id}/conversations",
             f"/v1/users/{self.user_id}/conversations?after=nope", None, 422),
            ("POST", "/v1/users/{user_id}/attempts", f"/v1/users/{self.user_id}/attempts",
             json.dumps({"exercise_id": "no-such-exercise", "correct": True}), 404),
            ("GET", "/docs/assets/{file}", "/docs/assets/.hidden.js", None, 404),
            ("GET", "/docs/assets/{file}", "/docs/assets/..%2Fopenapi.json", None, 404),
            ("GET", "/docs/assets/{file}", "/docs/assets/package.json", None, 404),
            ("GET", "/docs/assets/{file}", "/docs/assets/missing.js", None, 404),
        ]
        for method, path, target, raw, status in probes:
            with self.subTest(probe=f"{method} {target} -> {status}"):
                st, headers, body = self.c.request(method, target, raw=raw)
                self.assertEqual(st, status, body)
                self.check_response(f"{method} {target}", self.op(method, path), st, headers, body)
        components = self.doc["components"]["responses"]
        for method, target, status, name in [("GET", "/nope", 404, "SeedRouteNotFound"),
                                             ("PUT", "/users/", 405, "SeedMethodNotAllowed"),
                                             ("GET", "/v1/nope", 404, "RouteNotFound"),
                                             ("PUT", "/v1/users/" + missing_user, 405, "MethodNotAllowed"),
                                             ("DELETE", "/v1/users", 405, "MethodNotAllowed")]:
            with self.subTest(probe=f"{method} {target}"):
                st, headers, body = self.c.request(method, target)
                self.assertEqual(st, status, body)
                self.check_response(target, {"responses": {str(status): components[name]}}, st, headers, body)
                if status == 405:
                    self.assertTrue(headers.get("Allow"))

    def test_errors_found_before_routing_match_the_v1_error_schema(self):
        """415 and 431 answer codes V1Error's enum did not list: a client
        generated with a strict enum failed to read them."""
        schema = self.doc["components"]["schemas"]["V1Error"]
        cases = [
            ({"Content-Encoding": "gzip", "Content-Type": "application/json"}, "{}", 415,
             "unsupported_media_type"),
            ({"X-Big": "x" * 20000}, None, 431, "headers_too_large"),
        ]
        for headers, raw, status, code in cases:
            with self.subTest(status=status):
                st, _, body = self.server.client().request("POST", "/v1/users", raw=raw, headers=headers)
                self.assertEqual((st, body["error"]["code"]), (status, code), body)
                self.assertEqual(validate(self.doc, body, schema), [], body)

    def test_a_bad_path_id_names_its_parameter(self):
        """A 422 for a path id that is no UUID named the field "id", which
        no parameter of the document is called."""
        probed = 0
        for method, path, op in operations(self.doc):
            params = [resolve(self.doc, p) for p in op.get("parameters", [])]
            ids = [p["name"] for p in params if p["in"] == "path"
                   and p.get("schema", {}).get("$ref", "").endswith("/Uuid")]
            if method in ("HEAD", "OPTIONS") or not ids:
                continue
            target, raw, headers = self.build_request(method, path, op)
            for name in ids:
                with self.subTest(op=f"{method} {path}", parameter=name):
                    bad = path
                    for p in params:
                        if p["in"] == "path":
                            value = "not-a-uuid" if p["name"] == name else self.substitute(str(p["example"]))
                            bad = bad.replace("{" + p["name"] + "}", value)
                    st, _, body = self.c.request(method, bad, raw=raw, headers=headers)
                    self.assertEqual((st, body["error"]["field"]), (422, name), body)
                    probed += 1
        self.assertGreater(probed, 10)

    def test_requests_the_document_refuses_are_refused(self):
        """The request schemas say what the server takes: an error with
        neither a subcategory nor a code validated against ErrorInput, and
        the server answered 422."""
        schema = self.doc["components"]["schemas"]["UtteranceRequest"]
        base = {"user_id": self.user_id, "conversation_id": self.conversation_id, "content": "He go."}
        for errors, ok in (([{}], False), ([{"category": "Grammar"}], False),
                           ([{"subcategory": ""}], False), ([{"subcategory": "  "}], False),
                           ([{"code": " "}], False), ([{"span": {"start": 0, "end": 1}}], False),
                           ([{"code": "R:VERB:SVA"}], True), ([{"subcategory": "Pronouns"}], True)):
            with self.subTest(errors=errors):
                body = dict(base, errors=errors)
                self.assertEqual(validate(self.doc, body, schema) == [], ok, body)
                st, _, answer = self.c.post("/v1/utterances", body)
                self.assertEqual(st, 201 if ok else 422, answer)

    def test_the_content_limit_is_documented(self):
        """An utterance's content of 100,000 characters at most was a limit of
        the server's alone: the request schemas say it (maxLength counts
        characters, as the server does), and the server answers as they say."""
        schemas = self.doc["components"]["schemas"]
        user_id, conversation_id, _ = seed_triplet(self.c)
        base = {"user_id": user_id, "conversation_id": conversation_id}
        self.assertNotEqual(validate(self.doc, dict(base, content="x" * 100_001),
                                     schemas["IngestLine"]), [])
        for name, path, created in (("UtteranceRequest", "/v1/utterances", 201),
                                    ("SeedUtteranceRequest", "/utterances/", 200)):
            for chars, ok in ((100_000, True), (100_001, False)):
                with self.subTest(schema=name, chars=chars):
                    body = dict(base, content="é" * chars)  # characters, not bytes
                    self.assertEqual(validate(self.doc, body, schemas[name]) == [], ok)
                    st, _, answer = self.c.post(path, body)
                    self.assertEqual(st, created if ok else 422, short(answer))

    def test_error_input_takes_null_as_absent(self):
        """The server takes null in ErrorInput's optional members as absent,
        which the document refused; a null subcategory is still no
        subcategory."""
        schema = self.doc["components"]["schemas"]["UtteranceRequest"]
        base = {"user_id": self.user_id, "conversation_id": self.conversation_id, "content": "He go."}
        nulls = {key: None for key in ("category", "original", "correction", "explanation", "span")}
        for errors, ok in (([dict(nulls, code="DET", subcategory=None)], True),
                           ([dict(nulls, subcategory="Pronouns", code=None)], True),
                           ([dict(nulls, subcategory=None, code=None)], False),
                           ([{"subcategory": None}], False)):
            with self.subTest(errors=errors):
                body = dict(base, errors=errors)
                self.assertEqual(validate(self.doc, body, schema) == [], ok)
                st, _, answer = self.c.post("/v1/utterances", body)
                self.assertEqual(st, 201 if ok else 422, answer)

    def test_the_erased_event_matches_its_schema(self):
        user = seed_triplet(self.c)[0]
        media = self.op("GET", "/v1/users/{user_id}/stream")["responses"]["200"]["content"]["text/event-stream"]
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=15)
        try:
            conn.request("GET", f"/v1/users/{user}/stream")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            expect(self.c.request("DELETE", f"/v1/users/{user}"), 200, "DELETE")
            text = resp.read().decode("utf-8")  # the stream ends after its last event
        finally:
            conn.close()
        events = [(e, d) for e, d in sse_events(text) if e != "message"]
        self.assertEqual(events[-1][0], "erased", text)
        self.assertEqual(validate(self.doc, json.loads(events[-1][1]), media["x-event-data-schemas"]["erased"]),
                         [], text)

    def test_docs_page_and_assets(self):
        st, headers, html = self.c.get("/docs")
        self.assertEqual(st, 200, html if isinstance(html, str) else html)
        self.assertIn("text/html", headers.get("Content-Type"))
        self.assertIn("SwaggerUIBundle", html)
        self.assertIn('"/openapi.json"', html)
        assets = re.findall(r'(?:href|src)="(/docs/assets/[^"]+)"', html)
        self.assertIn("/docs/assets/swagger-ui.css", assets)
        self.assertIn("/docs/assets/swagger-ui-bundle.js", assets)
        for asset in assets:
            with self.subTest(asset=asset):
                st, headers, body = self.c.get(asset)
                self.assertEqual(st, 200, f"{asset}: {str(body)[:300]}")
                want = "text/css" if asset.endswith(".css") else "javascript"
                self.assertIn(want, headers.get("Content-Type"))
                self.assertGreater(len(body), 10_000)
        st, headers, body = self.c.get("/docs/assets/swagger-ui-bundle.js")
        self.assertIn("SwaggerUIBundle", body)


class SecondServer(unittest.TestCase):
    """A server with an --assets-dir without the swagger-ui files and a small
    --body-limit: /docs says the assets were not built, and 413s are documented."""

    @classmethod
    def setUpClass(cls):
        cls.doc = load_doc()
        cls.empty = tempfile.mkdtemp(prefix="errata-no-assets-")
        cls.server = Server(extra_args=["--assets-dir", cls.empty, "--body-limit", "1000"])

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            shutil.rmtree(cls.empty, ignore_errors=True)

    def test_docs_503_when_assets_are_missing(self):
        c = self.server.client()
        st, _, body = c.get("/docs")
        self.assertEqual(st, 503, body)
        self.assertIn("not built", body["detail"])
        schema = self.doc["paths"]["/docs"]["get"]["responses"]["503"]["content"]["application/json"]["schema"]
        self.assertEqual(validate(self.doc, body, schema), [])
        st, _, body = c.get("/docs/assets/swagger-ui.css")
        self.assertEqual(st, 404, body)
        st, _, _ = c.get("/openapi.json")
        self.assertEqual(st, 200)

    def test_413_matches_the_documented_errors(self):
        big = json.dumps({"username": "x" * 2000, "email": unique_email()})
        for path in ("/v1/users", "/users/", "/v1/ingest"):
            with self.subTest(path=path):
                st, headers, body = self.server.client().request("POST", path, raw=big)
                self.assertEqual(st, 413, body)
                resp = resolve(self.doc, self.doc["paths"][path]["post"]["responses"]["413"])
                schema = resp["content"]["application/json"]["schema"]
                self.assertEqual(validate(self.doc, body, schema), [], body)


if __name__ == "__main__":
    main()
