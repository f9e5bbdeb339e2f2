"""The fault matrix machinery (test_faults*.py): xbranch create and delete
against injected API faults (emulator fault rules), with real PostgreSQL
branches.

Each case names its expected exit code up front (0 = recovered by retrying
or by settling an uncertain POST by name; otherwise the documented code).
After every case the emulator's branch table must show no duplicate branch
with the case's name, no orphan (a failed create leaves no active branch),
and the output folder holds all 8 files or none. Every case's outcome goes
into the fault table (printed, and merged into fault-table.md next to
$XBRANCH_TRAFFIC_DIR)."""

import json
import os
import shutil
import tempfile
import time
import unittest

import e2e_common
from e2e_common import harness, main, OUTPUT_FILES

POST = ("POST", "/branches$")
LIST = ("GET", "/branches$")
DESCRIBE = ("GET", "/branches/[a-v0-9]{26}$")
CREDS = ("GET", "/credentials$")
DELETE = ("DELETE", "/branches/[a-v0-9]{26}$")

REQUEST_TIMEOUT = "2"  # seconds; delay rules answer after 4 s


def rule(target, kind, **kw):
    method, path = target
    r = {"method": method, "path": path, "kind": kind, "times": 1}
    r.update(kw)
    return r


def describe_rules(rules):
    out = []
    names = {POST: "POST /branches", LIST: "GET /branches", DESCRIBE: "GET /branches/{id}",
             CREDS: "GET .../credentials", DELETE: "DELETE /branches/{id}"}
    for r in rules:
        target = names.get((r["method"], r["path"]), r["method"] + " " + r["path"])
        what = r["kind"]
        if r["kind"] == "status":
            what = str(r.get("status", 503))
            if "retryAfter" in r:
                what += " Retry-After:" + r["retryAfter"]
        elif r["kind"] == "html":
            what = "html %s" % r.get("status", 502)
        elif r["kind"] == "delay":
            what = "delay %dms > --request-timeout %ss" % (r["delayMs"], REQUEST_TIMEOUT)
        times = r.get("times", 1)
        out.append("%s on %s%s" % (what, target, " x%d" % times if times != 1 else " (always)" if times == 0
                                   else ""))
    return "; ".join(out)


# (case, rules, expected exit code)
CREATE_CASES = [
    ("429 no Retry-After", [rule(POST, "status", status=429)], 0),
    ("429 Retry-After", [rule(POST, "status", status=429, retryAfter="1")], 0),
    ("429 on describe x2", [rule(DESCRIBE, "status", status=429, times=2)], 0),
    ("503 Retry-After", [rule(POST, "status", status=503, retryAfter="1")], 0),
    ("503 Retry-After describe", [rule(DESCRIBE, "status", status=503, retryAfter="1")], 0),
    ("500", [rule(POST, "status", status=500)], 0),
    ("500 describe", [rule(DESCRIBE, "status", status=500)], 0),
    ("502 html", [rule(POST, "html", status=502)], 0),
    ("502 credentials", [rule(CREDS, "status", status=502)], 0),
    ("504", [rule(POST, "status", status=504)], 0),
    ("504 list", [rule(LIST, "status", status=504)], 0),
    ("503 always", [rule(POST, "status", status=503, retryAfter="1", times=0)], 8),
    ("drop_before POST", [rule(POST, "drop_before")], 0),
    ("drop_after POST", [rule(POST, "drop_after")], 0),
    ("drop_after POST x2", [rule(POST, "drop_after", times=2)], 0),
    # The branch a dropped POST created must count as this run's: when the
    # branch then fails, it is deleted (no orphan).
    ("drop_after POST, then FAULT", [rule(POST, "drop_after")], 7, "fault"),
    ("delay POST, then FAULT", [rule(POST, "delay", delayMs=4000)], 7, "fault"),
    ("drop describe", [rule(DESCRIBE, "drop_before")], 0),
    ("drop_after credentials", [rule(CREDS, "drop_after")], 0),
    ("delay POST", [rule(POST, "delay", delayMs=4000)], 0),
    ("delay describe", [rule(DESCRIBE, "delay", delayMs=4000)], 0),
    ("malformed POST", [rule(POST, "malformed")], 0),
    ("truncated POST", [rule(POST, "truncated")], 0),
    ("missing id POST", [rule(POST, "missing_field")], 0),
    ("malformed describe", [rule(DESCRIBE, "malformed")], 0),
    ("truncated describe", [rule(DESCRIBE, "truncated")], 0),
    ("html describe", [rule(DESCRIBE, "html")], 0),
    ("missing status describe", [rule(DESCRIBE, "missing_field")], 0),
    ("malformed describe always", [rule(DESCRIBE, "malformed", times=0)], 10),
    ("malformed credentials", [rule(CREDS, "malformed")], 0),
    ("truncated credentials", [rule(CREDS, "truncated")], 0),
    ("html credentials", [rule(CREDS, "html")], 0),
    ("missing password credentials", [rule(CREDS, "missing_field")], 0),
    ("missing password always", [rule(CREDS, "missing_field", times=0)], 10),
    ("malformed list", [rule(LIST, "malformed")], 0),
    ("truncated list", [rule(LIST, "truncated")], 0),
    ("html list", [rule(LIST, "html")], 0),
    ("missing branches list", [rule(LIST, "missing_field")], 0),
    ("malformed list always", [rule(LIST, "malformed", times=0)], 10),
]

DELETE_CASES = [
    ("429 DELETE", [rule(DELETE, "status", status=429)], 0),
    ("503 Retry-After DELETE", [rule(DELETE, "status", status=503, retryAfter="1")], 0),
    ("500 DELETE", [rule(DELETE, "status", status=500)], 0),
    ("502 html DELETE", [rule(DELETE, "html", status=502)], 0),
    ("504 DELETE", [rule(DELETE, "status", status=504)], 0),
    ("drop_before DELETE", [rule(DELETE, "drop_before")], 0),
    ("drop_after DELETE", [rule(DELETE, "drop_after")], 0),
    ("delay DELETE", [rule(DELETE, "delay", delayMs=4000)], 0),
    ("malformed DELETE", [rule(DELETE, "malformed")], 0),
    ("truncated DELETE", [rule(DELETE, "truncated")], 0),
    ("malformed list (delete)", [rule(LIST, "malformed")], 0),
    ("truncated list (delete)", [rule(LIST, "truncated")], 0),
    ("503 DELETE always", [rule(DELETE, "status", status=503, retryAfter="1", times=0)], 8),
    ("malformed list always (delete)", [rule(LIST, "malformed", times=0)], 10),
]


def error_line(err):
    lines = [l for l in err.strip().splitlines() if l.startswith("xbranch: error:")]
    return (lines[-1] if lines else err.strip().splitlines()[-1] if err.strip() else "no message")[:110]


def slug(case):
    return "".join(c if c.isalnum() else "-" for c in case.lower()).strip("-")


class FaultMatrix(unittest.TestCase):
    """Subclasses set `part` (the fault table part name) and get cases via add_cases."""
    maxDiff = None
    part = "faults"

    @classmethod
    def setUpClass(cls):
        e2e_common.strict_requirements()
        cls.emu = harness.Emulator(seed_sql=e2e_common.seed_file(), hibernated_ms=20, transient_ms=20).start()
        cls.tmp = tempfile.mkdtemp(prefix="xbranch-faults-")
        cls.n = 0
        cls.rows = []

    @classmethod
    def tearDownClass(cls):
        e2e_common.record_fault_rows(cls.part, cls.rows)
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.emu.set_faults([])

    def xb(self, *args):
        return harness.run_xbranch(["--request-timeout", REQUEST_TIMEOUT] + list(args), self.emu.env(),
                                   timeout=120)

    def wait_for(self, predicate, what, timeout=30):
        return harness.wait_until(predicate, timeout, what)

    def wait_for_log(self, match, after_index):
        self.wait_for(lambda: any(match(r) for r in self.emu.requests()[after_index:]),
                      "the delayed call in the log")

    def named(self, name):
        return [b for b in self.emu.branches() if b["name"] == name]

    def fired(self):
        return [f.get("fired", 0) for f in self.emu.admin_get("faults")["faults"]]

    def check_create(self, case, rules, expected, behavior=None):
        type(self).n += 1
        name = "sb-fc%02d-%s" % (self.n, slug(case))[:40]
        name = name[:50]
        out_dir = os.path.join(self.tmp, name)
        before = len(self.emu.requests())
        self.emu.set_faults(rules)
        if behavior:
            self.emu.next_behavior(behavior)
        t = time.time()
        code, out, err = self.xb("create", "--branch", name, "--sslmode", "disable", "--timeout", "30s",
                                 "--output-dir", out_dir, "--output", "json")
        took = time.time() - t
        fired = self.fired()
        self.emu.set_faults([])
        if any(r["kind"] == "delay" for r in rules):
            # Let the late answer land in the log before the next case.
            self.wait_for_log(lambda r: r["method"] == r_method(rules) and r["fault"] == "delay", before)
        log = self.emu.requests()[before:]
        branches = self.named(name)
        active = [b for b in branches if b["deletedAt"] is None]
        posts = [r for r in log if r["method"] == "POST" and name in (r["requestBody"] or "")]
        files = e2e_common.present_outputs(out_dir)
        notes = []
        adopted = None
        if code == 0:
            adopted = json.loads(out)["branch"]["adopted"]
        notes.append("%d request(s), %d POST (%s), fault fired %s, %.1fs" % (
            len(log), len(posts), ",".join(str(r["status"]) for r in posts), "/".join(map(str, fired)), took))
        if code == 0:
            notes.append("adopted" if adopted else "created by this run")
        if any(r["status"] == 409 for r in posts):
            notes.append("POST answered 409")
        notes.append("branches with the name: %d (active %d)" % (len(branches), len(active)))
        if code != 0:
            notes.append(error_line(err))
        self.rows.append({"case": case, "op": "create", "fault": describe_rules(rules),
                          "expected": str(expected), "got": str(code), "outcome": "; ".join(notes)})

        self.assertTrue(all(f >= 1 for f in fired), "a fault rule never fired: %r" % fired)
        self.assertEqual(code, expected, "%s: stdout=%r stderr=%r" % (case, out, err))
        self.assertLessEqual(len(branches), 1, "duplicate branches for %s: %r" % (name, branches))
        self.assertIn(files, ([], sorted(OUTPUT_FILES)), "partial output folder: %r" % files)
        if code == 0:
            self.assertEqual(len(active), 1)
            self.assertEqual(files, sorted(OUTPUT_FILES))
            v = e2e_common.read_outputs(out_dir)
            self.assertEqual(v["branch-id"], active[0]["id"])
            self.assertEqual(harness.psql(v["connection-string"], "SELECT count(*) FROM users").strip(), "3")
            # Leave the project clean for the next case.
            self.assertEqual(self.emu.api("DELETE", "/branches/" + active[0]["id"]).status, 204)
        else:
            self.assertEqual(active, [], "orphan branch left by a failed create: %r" % active)
            self.assertEqual(files, [])
            self.assertTrue(err.strip())
        return code

    def check_delete(self, case, rules, expected):
        type(self).n += 1
        name = ("sb-fd%02d-%s" % (self.n, slug(case)))[:50]
        r = self.emu.create_branch(name)
        self.assertEqual(r.status, 201, r)
        bid = r.json()["id"]
        before = len(self.emu.requests())
        self.emu.set_faults(rules)
        t = time.time()
        code, out, err = self.xb("delete", "--branch", name)
        took = time.time() - t
        fired = self.fired()
        self.emu.set_faults([])
        if any(r["kind"] == "delay" for r in rules):
            self.wait_for_log(lambda r: r["method"] == "DELETE" and r["fault"] == "delay", before)
        log = self.emu.requests()[before:]
        [b] = self.named(name)
        deletes = [x for x in log if x["method"] == "DELETE"]
        notes = ["%d request(s), %d DELETE (%s), fault fired %s, %.1fs" % (
            len(log), len(deletes), ",".join(str(x["status"]) for x in deletes), "/".join(map(str, fired)),
            took)]
        notes.append("branch %s" % ("deleted" if b["deletedAt"] else "still active"))
        if code != 0:
            notes.append(error_line(err))
        self.rows.append({"case": case, "op": "delete", "fault": describe_rules(rules),
                          "expected": str(expected), "got": str(code), "outcome": "; ".join(notes)})
        self.assertTrue(all(f >= 1 for f in fired), "a fault rule never fired: %r" % fired)
        self.assertEqual(code, expected, "%s: stdout=%r stderr=%r" % (case, out, err))
        if code == 0:
            self.assertIsNotNone(b["deletedAt"], "exit 0 but the branch is still there")
            # 204 may come before the drop when the copy was still running.
            self.wait_for(lambda: self.named(name)[0]["dbState"] == "dropped", "database dropped")
            self.assertFalse(harness.psql(self.emu.cluster.conninfo(),
                                          "SELECT 1 FROM pg_database WHERE datname = '%s'" % b["database"]
                                          ).strip())
            # Deleting again: already gone.
            code2, out2, err2 = self.xb("delete", "--branch", name)
            self.assertEqual(code2, 0, err2)
        else:
            self.assertIsNone(b["deletedAt"], "failed delete, yet the branch is gone")
            self.assertTrue(err.strip())
            self.emu.api("DELETE", "/branches/" + bid)


def r_method(rules):
    return [r["method"] for r in rules if r["kind"] == "delay"][0]


def add_cases(cls, cases, op):
    """Adds one test method per case to cls, in the order given."""
    for i, (case, rules, expected, *behavior) in enumerate(cases):
        def test(self, case=case, rules=rules, expected=expected, behavior=behavior):
            if op == "create":
                self.check_create(case, rules, expected, *behavior)
            else:
                self.check_delete(case, rules, expected)
        setattr(cls, "test_%s_%02d_%s" % (op, i, slug(case).replace("-", "_")), test)


def targets(cases, *wanted):
    """The cases whose first rule aims at one of the wanted targets."""
    return [c for c in cases if (c[1][0]["method"], c[1][0]["path"]) in wanted]
