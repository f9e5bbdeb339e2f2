#!/usr/bin/env python3
"""Contract test: every API request and answer recorded by the tests (the
emulator request logs in $XBRANCH_TRAFFIC_DIR/*.json) against the public
OpenAPI document of the Xata API.

The document: $XBRANCH_OPENAPI, else $XBRANCH_SOURCE_DIR/../shared/xata/
openapi-public.yaml (the checkout's sibling folder). Absent: exit 77 (ctest
reports it skipped, never passed).

Checked per request:
  - the path and method exist in the document;
  - for requests made by xbranch (User-Agent xbranch/...): required query
    parameters, and the body against the requestBody schema (the oneOf of
    BranchCreationDetails is resolved through its discriminator `mode`).
    Requests made by the tests themselves (deliberately odd ones included)
    are only checked for their answers;
  - the answer's status is listed for the operation (or covered by 4XX/5XX/
    default), and its body against that answer's schema: required fields,
    types, enums, `nullable: true`, and no fields the document does not name.
Requests whose answer was a deliberately injected fault (`fault` set, other
than `rate_limit`) are skipped.

Allowed departures: exactly those in the shared Xata notes, "Where the server
departs from the document":
  - status.instanceCount 0 (and instanceReadyCount) in an early HIBERNATED state;
  - 409 from POST /branches (duplicate active name);
  - the hosted service's extra credentials fields: hostname, port, dbname,
    connectionString;
  - status.lifecycle never set (it is optional, so nothing to allow);
  - GET /organizations/{org}/projects/{project}/limits (hosted service only,
    "More facts"): not in the document; 200 with integer
    maxBranchesPerProject and maxBranchesPerHour (at least 1), or 404 (Xata
    Core) with the error body.

`check_contract.py --self-test` feeds deliberately wrong answers and checks
they are flagged (and that the allowed departures are not).
"""

import copy
import glob
import json
import os
import re
import sys
import urllib.parse

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))

HOSTED_CREDENTIAL_FIELDS = {"hostname": {"type": "string"}, "port": {"type": "integer"},
                            "dbname": {"type": "string"}, "connectionString": {"type": "string"}}
LIMITS_PATH = re.compile(r"^/organizations/[^/]+/projects/[^/]+/limits$")
ERROR_BODY = {"type": "object", "required": ["id", "message"],
              "properties": {"id": {"type": "string"}, "message": {"type": "string"}}}
LIMITS_BODY = {"type": "object", "required": ["maxBranchesPerProject", "maxBranchesPerHour"],
               "properties": {"maxBranchesPerProject": {"type": "integer", "minimum": 1},
                              "maxBranchesPerHour": {"type": "integer", "minimum": 1}}}
DROP_KEYS = {"discriminator", "deprecated", "example", "examples", "xml", "externalDocs", "readOnly",
             "writeOnly", "format", "title", "description"}


def openapi_path():
    explicit = os.environ.get("XBRANCH_OPENAPI")
    if explicit:
        return explicit
    source = os.environ.get("XBRANCH_SOURCE_DIR") or os.path.join(HERE, "..", "..")
    return os.path.normpath(os.path.join(source, "..", "shared", "xata", "openapi-public.yaml"))


class Contract:
    def __init__(self, document):
        self.doc = document
        self.ops = []  # (regex, method, path template, operation, path-level parameters)
        for template, item in document["paths"].items():
            rx = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
            for method, op in item.items():
                if method in ("get", "put", "post", "patch", "delete", "head", "options"):
                    self.ops.append((rx, method.upper(), template, op, item.get("parameters", [])))
        # Literal templates first, so /branches/{id}/credentials never loses to a looser match.
        self.ops.sort(key=lambda o: o[2].count("{"))

    # -- schema translation: OpenAPI 3.0 -> JSON Schema (draft 7)
    def resolve(self, node):
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise ValueError("circular $ref " + ref)
            seen.add(ref)
            if not ref.startswith("#/"):
                raise ValueError("external $ref " + ref)
            target = self.doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def to_json_schema(self, schema, strict, depth=0):
        if depth > 40:
            raise ValueError("schema nesting too deep")
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return schema
        out = {}
        for key, value in schema.items():
            if key in DROP_KEYS or key.startswith("x-") or key == "nullable":
                continue
            if key == "properties":
                out[key] = {k: self.to_json_schema(v, strict, depth + 1) for k, v in value.items()}
            elif key in ("items", "not"):
                out[key] = self.to_json_schema(value, strict, depth + 1)
            elif key == "additionalProperties" and isinstance(value, dict):
                out[key] = self.to_json_schema(value, strict, depth + 1)
            elif key in ("allOf", "anyOf", "oneOf"):
                out[key] = [self.to_json_schema(v, strict, depth + 1) for v in value]
            else:
                out[key] = copy.deepcopy(value)
        disc = schema.get("discriminator")
        if disc and "oneOf" in schema:
            # Pick the oneOf branch by the discriminator, as the server does:
            # {"mode":"inherit"} must satisfy BranchFromParent, and so on.
            prop = disc["propertyName"]
            del out["oneOf"]
            mapping = disc.get("mapping") or {}
            clauses = []
            for value, ref in mapping.items():
                clauses.append({"if": {"properties": {prop: {"const": value}}, "required": [prop]},
                                "then": self.to_json_schema({"$ref": ref}, False, depth + 1)})
            out.setdefault("allOf", []).extend(clauses)
        if schema.get("nullable") is True:
            if "type" in out:
                out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"] + ["null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
            if "type" not in out and "enum" not in out:
                pass  # untyped: null is already allowed
        if strict and "properties" in out and "additionalProperties" not in out \
                and not any(k in out for k in ("allOf", "anyOf", "oneOf")):
            out["additionalProperties"] = False
        return out

    # -- lookups
    def find(self, method, path):
        for rx, m, template, op, params in self.ops:
            if m == method and rx.match(path):
                return template, op, params
        return None

    def response_for(self, op, status):
        responses = op.get("responses", {})
        for key in (str(status), "%dXX" % (status // 100), "%dxx" % (status // 100), "default"):
            if key in responses:
                return key, self.resolve(responses[key])
        return None, None


def json_schema_of(contract, content_holder, strict):
    content = (content_holder or {}).get("content") or {}
    media = content.get("application/json")
    if media is None or "schema" not in media:
        return None
    return contract.to_json_schema(media["schema"], strict)


class Checker:
    def __init__(self, contract):
        import jsonschema  # python3-jsonschema
        self.jsonschema = jsonschema
        self.c = contract
        self.problems = []
        self.counts = {}  # "METHOD template" -> checked
        self.skipped_faults = 0
        self.departures = {}
        self.via = {}  # how statuses were covered: "listed", "5XX", "default"
        self.test_made = 0

    def problem(self, where, text):
        self.problems.append("%s: %s" % (where, text))

    def departure(self, what):
        self.departures[what] = self.departures.get(what, 0) + 1

    def validate(self, schema, instance):
        v = self.jsonschema.Draft7Validator(schema)
        return sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))

    def check(self, source, r):
        where = "%s #%s %s %s -> %s" % (source, r.get("seq"), r.get("method"), r.get("path"), r.get("status"))
        if r.get("fault") and r.get("fault") != "rate_limit":
            self.skipped_faults += 1
            return
        method, path, status = r["method"], r["path"], int(r["status"])
        headers = {k.lower(): v for k, v in (r.get("requestHeaders") or {}).items()}
        by_xbranch = headers.get("user-agent", "").startswith("xbranch/")
        found = self.c.find(method, path)
        if found is None and method == "GET" and LIMITS_PATH.match(path):
            self.check_limits(where, r, status)
            return
        if found is None:
            if by_xbranch:
                self.problem(where, "no such operation in the document")
            else:
                self.test_made += 1
            return
        template, op, path_params = found
        key = "%s %s" % (method, template.replace("/organizations/{organizationID}/projects/{projectID}", ""))
        self.counts[key] = self.counts.get(key, 0) + 1
        if by_xbranch:
            self.check_request(where, op, path_params, r)
        else:
            self.test_made += 1
        if status == 0:
            self.problem(where, "no answer, yet no fault was injected")
            return
        self.check_response(where, key, op, r, status)

    def check_request(self, where, op, path_params, r):
        query = urllib.parse.parse_qs(r.get("query") or "", keep_blank_values=True)
        for p in list(path_params) + list(op.get("parameters", [])):
            p = self.c.resolve(p)
            if p.get("in") == "query" and p.get("required") and p["name"] not in query:
                self.problem(where, "required query parameter %s missing" % p["name"])
        body_text = r.get("requestBody") or ""
        rb = self.c.resolve(op["requestBody"]) if "requestBody" in op else None
        if rb is None:
            if body_text.strip():
                self.problem(where, "a body on an operation that takes none")
            return
        if not body_text.strip():
            if rb.get("required"):
                self.problem(where, "required request body missing")
            return
        try:
            body = json.loads(body_text)
        except ValueError as e:
            self.problem(where, "request body is not JSON: %s" % e)
            return
        schema = json_schema_of(self.c, rb, strict=False)
        if schema is not None:
            for e in self.validate(schema, body):
                self.problem(where, "request body: %s at %s" % (e.message, list(e.absolute_path)))

    def check_response(self, where, key, op, r, status):
        listed, resp = self.c.response_for(op, status)
        if key == "POST /branches" and status == 409:
            self.departure("409 from POST /branches")
            listed, resp = "409 (departure)", self.c.resolve({"$ref": "#/components/responses/GenericError"})
        if listed is None:
            self.problem(where, "status %d is not listed for the operation" % status)
            return
        self.via[listed if listed in ("default",) or "XX" in listed else "listed"] = \
            self.via.get(listed if listed in ("default",) or "XX" in listed else "listed", 0) + 1
        strict = status < 300
        schema = json_schema_of(self.c, resp, strict=strict)
        if schema is None:
            return
        if key.endswith("/credentials") and status == 200 and isinstance(schema.get("properties"), dict):
            schema = copy.deepcopy(schema)
            schema["properties"].update(HOSTED_CREDENTIAL_FIELDS)
        text = r.get("responseBody") or ""
        try:
            body = json.loads(text)
        except ValueError as e:
            self.problem(where, "answer is not JSON: %s (%r)" % (e, text[:80]))
            return
        if key.endswith("/credentials") and status == 200 and isinstance(body, dict) \
                and set(body) & set(HOSTED_CREDENTIAL_FIELDS):
            self.departure("hosted credentials fields")
        for e in self.validate(schema, body):
            path = list(e.absolute_path)
            if self.allowed_hibernated_zero(body, path, e):
                self.departure("instanceCount 0 while HIBERNATED")
                continue
            self.problem(where, "answer: %s at %s" % (e.message, path))

    def check_limits(self, where, r, status):
        """The hosted service's project limits (a documented departure)."""
        self.departure("GET /limits (hosted only)")
        key = "GET /limits (departure)"
        self.counts[key] = self.counts.get(key, 0) + 1
        if (r.get("requestBody") or "").strip():
            self.problem(where, "a body on an operation that takes none")
        if status == 0:
            self.problem(where, "no answer, yet no fault was injected")
            return
        if status not in (200, 401, 403, 404, 429) and status < 500:
            self.problem(where, "status %d is not an answer of GET /limits" % status)
            return
        try:
            body = json.loads(r.get("responseBody") or "")
        except ValueError as e:
            if status == 429:
                return  # the gateway's plain-text 429
            self.problem(where, "answer is not JSON: %s" % e)
            return
        for e in self.validate(LIMITS_BODY if status == 200 else ERROR_BODY, body):
            self.problem(where, "answer: %s at %s" % (e.message, list(e.absolute_path)))

    @staticmethod
    def allowed_hibernated_zero(body, path, error):
        if error.validator != "minimum" or error.instance != 0:
            return False
        if path not in (["status", "instanceCount"], ["status", "instanceReadyCount"]):
            return False
        return body.get("status", {}).get("statusType") == "STATUS_TYPE_HIBERNATED"

    def summary(self):
        lines = ["requests checked per operation:"]
        for k in sorted(self.counts):
            lines.append("  %5d  %s" % (self.counts[k], k))
        lines.append("statuses covered: " + ", ".join("%s %d" % kv for kv in sorted(self.via.items())))
        lines.append("skipped (injected fault): %d; made by the tests (answer checked only or off-document): %d"
                     % (self.skipped_faults, self.test_made))
        lines.append("allowed departures seen: " + (", ".join("%s x%d" % kv for kv in
                                                             sorted(self.departures.items())) or "none"))
        return "\n".join(lines)


def load_contract():
    import yaml  # python3-yaml
    with open(openapi_path()) as f:
        return Contract(yaml.safe_load(f))


def run(traffic_dir):
    contract = load_contract()
    checker = Checker(contract)
    files = sorted(glob.glob(os.path.join(traffic_dir, "*.json")))
    total = 0
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        for r in doc.get("requests", []):
            total += 1
            checker.check(os.path.basename(path), r)
    print("%d traffic files, %d requests, openapi %s" % (len(files), total, openapi_path()))
    print(checker.summary())
    if total == 0 or not checker.counts:
        print("FAIL: no traffic to check in %s (run the e2e tests first)" % traffic_dir)
        return 1
    if checker.problems:
        print("FAIL: %d contract problem(s):" % len(checker.problems))
        for p in checker.problems[:200]:
            print("  " + p)
        return 1
    print("OK")
    return 0


# ------------------------------------------------------------------ self-test

BID = "e80atan1sl5khdkr8pkc33fovk"
PARENT = "pa0atan1sl5khdkr8pkc33fovk"
P = "/organizations/abcdef/projects/prj_00000000000000000000000000/branches"
UA = {"user-agent": "xbranch/0.0.0"}


def _full(status_type="STATUS_TYPE_HEALTHY", count=1, ready=1):
    return {"id": BID, "name": "sb-x", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
            "parentID": PARENT, "region": "us-east-1", "connectionString": None, "publicAccess": False,
            "backupsEnabled": False,
            "status": {"status": "Cluster in healthy state", "statusType": status_type, "instanceCount": count,
                       "instanceReadyCount": ready, "instances": []},
            "configuration": {"image": "postgres:17", "region": "us-east-1", "instanceType": "xata.micro",
                              "replicas": 0},
            "scaleToZero": {"enabled": False, "inactivityPeriodMinutes": 30}}


def _req(method, path, status, body=None, request=None, query="", fault=None):
    return {"seq": 1, "method": method, "path": path, "query": query, "status": status,
            "requestBody": "" if request is None else json.dumps(request),
            "responseBody": "" if body is None else (body if isinstance(body, str) else json.dumps(body)),
            "requestHeaders": dict(UA), "fault": fault}


def self_test():
    contract = load_contract()
    good_short = {k: v for k, v in _full().items() if k in ("id", "name", "createdAt", "updatedAt", "parentID",
                                                           "region", "connectionString", "publicAccess")}
    no_status = _full()
    del no_status["status"]
    bad_enum = _full("STATUS_TYPE_SLEEPY")
    extra = _full()
    extra["surprise"] = 1
    cases = [
        # (label, record, must be flagged)
        ("valid describe", _req("GET", P + "/" + BID, 200, _full()), False),
        ("describe without status", _req("GET", P + "/" + BID, 200, no_status), True),
        ("statusType not in the enum", _req("GET", P + "/" + BID, 200, bad_enum), True),
        ("undocumented field", _req("GET", P + "/" + BID, 200, extra), True),
        ("parentID null (nullable)", _req("GET", P + "/" + BID, 200, dict(_full(), parentID=None)), False),
        ("name null (not nullable)", _req("GET", P + "/" + BID, 200, dict(_full(), name=None)), True),
        ("0 instances while HIBERNATED (departure)",
         _req("GET", P + "/" + BID, 200, _full("STATUS_TYPE_HIBERNATED", 0, 0)), False),
        ("0 instances while HEALTHY", _req("GET", P + "/" + BID, 200, _full("STATUS_TYPE_HEALTHY", 0, 0)), True),
        ("valid create", _req("POST", P, 201, good_short,
                              {"name": "sb-x", "mode": "inherit", "parentID": PARENT}), False),
        ("create without parentID (mode inherit)", _req("POST", P, 201, good_short,
                                                        {"name": "sb-x", "mode": "inherit"}), True),
        ("create with unknown mode", _req("POST", P, 201, good_short, {"name": "sb-x", "mode": "magic"}), True),
        ("create answer without publicAccess",
         _req("POST", P, 201, {k: v for k, v in good_short.items() if k != "publicAccess"},
              {"name": "sb-x", "mode": "inherit", "parentID": PARENT}), True),
        ("409 on create (departure)", _req("POST", P, 409, {"id": "r", "message": "branch [x] already exists"},
                                           {"name": "sb-x", "mode": "inherit", "parentID": PARENT}), False),
        ("409 without a message", _req("POST", P, 409, {"id": "r"},
                                       {"name": "sb-x", "mode": "inherit", "parentID": PARENT}), True),
        ("list item without id", _req("GET", P, 200, {"branches": [{"name": "x"}]}), True),
        ("list without branches", _req("GET", P, 200, {}), True),
        ("credentials, hosted fields (departure)",
         _req("GET", P + "/" + BID + "/credentials", 200, {"username": "u", "password": "p", "hostname": "h",
                                                           "port": 5432, "dbname": "d",
                                                           "connectionString": "postgresql://u:p@h:5432/d"},
              query="username=xata"), False),
        ("credentials with an unknown field",
         _req("GET", P + "/" + BID + "/credentials", 200, {"username": "u", "password": "p", "token": "t"},
              query="username=xata"), True),
        ("credentials without password",
         _req("GET", P + "/" + BID + "/credentials", 200, {"username": "u"}, query="username=xata"), True),
        ("answer not JSON", _req("GET", P + "/" + BID, 200, "<html>"), True),
        ("hosted limits (departure)", _req("GET", P.rsplit("/", 1)[0] + "/limits", 200,
                                           {"maxBranchesPerProject": 100, "maxBranchesPerHour": 50,
                                            "maxStorageGBPerBranch": 0}), False),
        ("limits without maxBranchesPerHour", _req("GET", P.rsplit("/", 1)[0] + "/limits", 200,
                                                   {"maxBranchesPerProject": 100}), True),
        ("limits with a text cap", _req("GET", P.rsplit("/", 1)[0] + "/limits", 200,
                                        {"maxBranchesPerProject": "100", "maxBranchesPerHour": 5}), True),
        ("limits 404 on Xata Core (departure)", _req("GET", P.rsplit("/", 1)[0] + "/limits", 404,
                                                     {"id": "r", "message": "not found"}), False),
        ("limits 404 without a message", _req("GET", P.rsplit("/", 1)[0] + "/limits", 404, {"id": "r"}), True),
        ("limits 400", _req("GET", P.rsplit("/", 1)[0] + "/limits", 400, {"id": "r", "message": "x"}), True),
        ("PATCH 409 modified concurrently", _req("PATCH", P + "/" + BID, 409,
                                                 {"id": "r", "message": "branch [x] was modified "
                                                  "concurrently, please retry"}, {"hibernate": False}), False),
        ("PATCH 403 update unavailable", _req("PATCH", P + "/" + BID, 403,
                                              {"id": "r", "message": "Branch [x] update is temporarily "
                                               "unavailable"}, {"description": "xb1 abc"}), False),
        ("PATCH with a bad description", _req("PATCH", P + "/" + BID, 200, good_short,
                                              {"description": "_bad"}), True),
        ("unknown operation", _req("PUT", P + "/" + BID, 200, {}), True),
        ("401 error body", _req("GET", P, 401, {"id": "r", "message": "invalid token"}), False),
        ("401 without message", _req("GET", P, 401, {"id": "r"}), True),
        ("injected fault skipped", _req("GET", P + "/" + BID, 200, "{not json", fault="malformed"), False),
        ("valid delete", _req("DELETE", P + "/" + BID, 204), False),
        ("wake", _req("PATCH", P + "/" + BID, 200, good_short, {"hibernate": False}), False),
    ]
    failures = []
    for label, record, flagged in cases:
        checker = Checker(contract)
        checker.check("self-test", record)
        got = bool(checker.problems)
        print("%-45s %s%s" % (label, "flagged" if got else "accepted",
                               "" if got == flagged else "   <-- WRONG"))
        if got != flagged:
            failures.append((label, checker.problems))
    if failures:
        print("FAIL: %d self-test case(s) wrong: %r" % (len(failures), failures))
        return 1
    print("OK: %d self-test cases" % len(cases))
    return 0


def main(argv):
    path = openapi_path()
    if not os.path.isfile(path):
        print("SKIP: the OpenAPI document %s is absent (set XBRANCH_OPENAPI to check the recorded traffic)"
              % path)
        return SKIP
    if "--self-test" in argv:
        return self_test()
    traffic = os.environ.get("XBRANCH_TRAFFIC_DIR")
    if len(argv) > 1 and not argv[1].startswith("-"):
        traffic = argv[1]
    if not traffic:
        print("FAIL: XBRANCH_TRAFFIC_DIR is not set")
        return 1
    return run(traffic)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
