"""End to end: `xbranch list` and `xbranch gc` only ever touch branches with
xbranch's prefix, never the parent, never a kept sandbox's branch."""

import json
import re
import shutil

from e2e_common import CREATE_FLAGS, E2ECase, main


class GcTest(E2ECase):

    def setUp(self):
        super().setUp()
        # E2ECase stops the emulator but leaves its temp folder: remove it too.
        self.addCleanup(lambda: (self.emu.stop(), shutil.rmtree(self.emu.tmp, ignore_errors=True)))
        for sandbox in ("gc-keep", "gc-old-a", "gc-old-b"):
            self.create(sandbox)
        # A branch someone made by hand, without the prefix.
        r = self.emu.create_branch("manual-branch")
        self.assertEqual(r.status, 201, r)
        self.manual_id = r.json()["id"]

    @staticmethod
    def describes(calls):
        return [r for r in calls if r["method"] == "GET" and r["path"].rstrip("/").count("/branches/") == 1]

    def names_active(self):
        return sorted(b["name"] for b in self.emu.branches() if b["deletedAt"] is None)

    def test_list_shows_only_prefixed_branches_unless_all(self):
        before = len(self.emu.requests())
        code, out, err = self.xb("list", "--output", "json")
        self.assertEqual(code, 0, err)
        # With the status: the list, then one describe per listed branch.
        self.assertEqual(len(self.describes(self.emu.requests()[before:])), 3)
        rows = json.loads(out)["branches"]
        self.assertEqual(len(rows), 3, rows)
        self.assertTrue(all(r["name"].startswith("sb-gc-") for r in rows), rows)
        self.assertTrue(all(r["status"] == "HEALTHY" for r in rows), rows)
        self.assertTrue(all(r["parentID"] == self.root["id"] for r in rows), rows)
        self.assertTrue(all(0 <= r["ageSeconds"] < 600 for r in rows), rows)

        before = len(self.emu.requests())
        code, out, err = self.xb("list", "--all", "--no-status", "--output", "json")
        self.assertEqual(code, 0, err)
        names = sorted(r["name"] for r in json.loads(out)["branches"])
        self.assertIn("manual-branch", names)
        self.assertIn(self.root["name"], names)
        # --no-status makes one request: the list.
        calls = self.emu.requests()[before:]
        self.assertEqual([(r["method"], r["path"]) for r in calls],
                         [("GET", self.emu.project_path + "/branches")], calls)

    def test_in_flight_bounds_the_status_lookups_and_is_checked(self):
        # --in-flight 2 or 1: the same rows, one describe per listed branch
        # either way; outside 1-64 a usage error before any request.
        rows = {}
        for n in ("2", "1"):
            before = len(self.emu.requests())
            code, out, err = self.xb("list", "--in-flight", n, "--output", "json")
            self.assertEqual(code, 0, err)
            self.assertEqual(len(self.describes(self.emu.requests()[before:])), 3)
            rows[n] = [(r["name"], r["status"]) for r in json.loads(out)["branches"]]
        self.assertEqual(rows["2"], rows["1"])
        self.assertTrue(all(status == "HEALTHY" for _, status in rows["1"]), rows)
        for cmd in (["list"], ["gc", "--expired", "--dry-run"]):
            for bad in ("0", "65", "x"):
                before = len(self.emu.requests())
                code, _, err = self.xb(*cmd, "--in-flight", bad)
                self.assertEqual(code, 2, (cmd, bad, err))
                self.assertEqual(len(self.emu.requests()), before)

    def test_gc_respects_age_prefix_parent_and_kept_sandboxes(self):
        before = self.names_active()
        self.assertEqual(len(before), 5, before)  # root + manual + 3 sandboxes

        # Nothing is old enough: nothing goes.
        code, out, err = self.xb("gc", "--older-than", "1h")
        self.assertEqual(code, 0, err)
        self.assertIn("deleted 0, kept 3", out)
        self.assertEqual(self.names_active(), before)

        # A dry run says what it would do and does nothing.
        code, out, err = self.xb("gc", "--older-than", "0s", "--force", "--keep-sandbox", "gc-keep",
                                 "--dry-run")
        self.assertEqual(code, 0, err)
        self.assertEqual(len(re.findall(r"^sb-gc-old-\S+ .* older-than +would delete$", out, re.M)), 2, out)
        self.assertRegex(out, r"(?m)^sb-gc-keep-\S+ .* - +kept \(sandbox 'gc-keep' is kept\)$")
        self.assertIn("would delete 2, kept 1", out)
        self.assertEqual(self.names_active(), before)
        self.assertFalse([r for r in self.emu.requests() if r["method"] == "DELETE"])

        # For real: the two old sandboxes' branches go, nothing else does.
        code, out, err = self.xb("gc", "--older-than", "0s", "--force", "--keep-sandbox", "gc-keep")
        self.assertEqual(code, 0, err)
        self.assertIn("deleted 2, kept 1", out)
        after = self.names_active()
        self.assertEqual(len(after), 3, after)
        self.assertIn(self.root["name"], after)
        self.assertIn("manual-branch", after)
        self.assertEqual([n for n in after if n.startswith("sb-")], [n for n in before if n.startswith("sb-gc-keep-")])
        deletes = [r for r in self.emu.requests() if r["method"] == "DELETE"]
        self.assertEqual(len(deletes), 2, deletes)

    def test_gc_sees_the_branches_run_makes(self):
        # `xbranch run` names its branches run-<8 characters>, not with the
        # prefix: one left behind must not be invisible to gc.
        code, out, err = self.xb("run", *CREATE_FLAGS, "--keep", "--",
                                 "sh", "-c", 'echo "$XBRANCH_BRANCH_NAME"')
        self.assertEqual(code, 0, err)
        name = out.strip()
        self.assertRegex(name, r"^run-[a-z0-9]{8}$")
        r = self.emu.create_branch("run-byhand1")  # the name, but not xbranch's tag
        self.assertEqual(r.status, 201, r)
        keep = ("--keep-sandbox", "gc-keep", "--keep-sandbox", "gc-old-a",
                "--keep-sandbox", "gc-old-b")
        code, out, err = self.xb("gc", "--older-than", "0s", "--force", *keep)
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"(?m)^%s .* older-than +deleted$" % name)
        self.assertRegex(out, r"(?m)^run-byhand1 .* kept \(no xbranch tag\)$")
        self.assertIn("deleted 1, kept 4", out)
        self.assertNotIn(name, self.names_active())
        self.assertIn("run-byhand1", self.names_active())

    def test_gc_never_deletes_the_parent_even_with_a_matching_prefix(self):
        # A parent whose name carries the prefix is still protected.
        code, out, err = self.xb("gc", "--older-than", "0s", "--force", "--prefix", "manual-",
                                 "--parent", "manual-branch")
        self.assertEqual(code, 0, err)
        self.assertIn("manual-branch", self.names_active())
        self.assertIn("main", self.names_active())

    def test_a_prefix_without_a_closing_dash_is_refused(self):
        # "a" would match "analytics", "main" the parent: exit 2 before any request.
        r = self.emu.create_branch("analytics")
        self.assertEqual(r.status, 201, r)
        before = len(self.emu.requests())
        for value in ("a", "sb", "main"):
            with self.subTest(value=value):
                code, out, err = self.xb("gc", "--orphans", "--dry-run", "--grace", "0s",
                                         env={"XBRANCH_PREFIX": value})
                self.assertEqual(code, 2, err)
                self.assertIn("invalid prefix '%s' (env XBRANCH_PREFIX)" % value, err)
                self.assertIn("must end with '-'", err)
                self.assertIn("XBRANCH_PREFIX=%s-" % value, err)
                code, out, err = self.xb("gc", "--older-than", "1s", "--force", "--prefix", value)
                self.assertEqual(code, 2, err)
                self.assertIn("--prefix %s-" % value, err)
                code, out, err = self.xb("create", "--sandbox", "pfx", "--prefix", value)
                self.assertEqual(code, 2, err)
                self.assertIn("must end with '-'", err)
        self.assertEqual(len(self.emu.requests()), before)
        self.assertIn("analytics", self.names_active())
        # A prefix ending with '-' still works.
        code, out, err = self.xb("gc", "--older-than", "1s", "--force", "--prefix", "a-", "--dry-run")
        self.assertEqual(code, 0, err)

    def test_delete_refuses_a_root_branch_even_forced(self):
        code, out, err = self.xb("delete", "--branch", "main", "--force", "--parent", "manual-branch")
        self.assertEqual(code, 5, err)
        self.assertIn("root branch", err)
        self.assertIn("main", self.names_active())
        self.assertFalse([r for r in self.emu.requests() if r["method"] == "DELETE"])

    def test_gc_rejects_a_bad_duration(self):
        code, out, err = self.xb("gc", "--older-than", "soon")
        self.assertEqual(code, 2, err)
        self.assertIn("--older-than", err)
        code, out, err = self.xb("gc", "--orphans", "--grace", "soon")
        self.assertEqual(code, 2, err)
        self.assertIn("--grace", err)

    def test_gc_needs_a_mode_and_force_under_an_hour(self):
        code, out, err = self.xb("gc", "--dry-run")
        self.assertEqual(code, 2, err)
        self.assertIn("--orphans, --expired, --older-than", err)
        code, out, err = self.xb("gc", "--older-than", "59m")
        self.assertEqual(code, 2, err)
        self.assertIn("--force", err)
        self.assertEqual(self.emu.requests() and [r for r in self.emu.requests() if r["method"] == "DELETE"], [])

    def test_keep_sandbox_does_not_match_a_longer_name(self):
        # Old behaviour: "gc-old" kept every name starting with sb-gc-old-.
        code, out, err = self.xb("gc", "--older-than", "0s", "--force", "--keep-sandbox", "gc-old",
                                 "--output", "json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["deleted"], 3, doc)
        self.assertFalse([n for n in self.names_active() if n.startswith("sb-")])


if __name__ == "__main__":
    main()
