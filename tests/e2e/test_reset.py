"""xbranch reset end to end on real PostgreSQL: the branch made afresh from
its parent under the same name (a new id, the old data gone), the outputs
rewritten with the new id, and the branches delete refuses refused."""

import json
import os

from e2e_common import CREATE_FLAGS, OUTPUT_FILES, E2ECase, harness, present_outputs, read_outputs


class ResetTest(E2ECase):
    def reset(self, sandbox, *extra, expect=0):
        code, out, err = self.xb("reset", "--sandbox", sandbox, *CREATE_FLAGS, *extra)
        if expect is not None:
            self.assertEqual(code, expect, "reset: stdout=%r stderr=%r" % (out, err))
        return code, out, err

    def test_reset_makes_the_branch_afresh_under_the_same_name(self):
        out_dir = os.path.join(self.tmp, "out")
        self.create("rs", "--output-dir", out_dir)
        before = read_outputs(out_dir)
        harness.psql(before["connection-string"], "CREATE TABLE scratch (x int); "
                                                  "INSERT INTO scratch VALUES (1)")

        code, out, err = self.reset("rs", "--output-dir", out_dir)
        after = read_outputs(out_dir)
        self.assertEqual(after["branch-name"], before["branch-name"])
        self.assertNotEqual(after["branch-id"], before["branch-id"])
        self.assertIn("%s -> %s" % (before["branch-id"], after["branch-id"]), err)
        self.assertIn("replaced    %s -> %s" % (before["branch-id"], after["branch-id"]), out)
        # The write made before the reset is gone; the parent's seed is there.
        self.assertEqual(harness.psql(after["connection-string"],
                                      "SELECT count(*) FROM pg_tables WHERE tablename = 'scratch'")
                         .strip(), "0")
        self.assertEqual(harness.psql(after["connection-string"],
                                      "SELECT count(*) FROM users").strip(), "3")
        active = self.active(before["branch-name"])
        self.assertEqual([b["id"] for b in active], [after["branch-id"]])

        code, out, err = self.reset("rs", "--output", "json")
        result = json.loads(out)
        self.assertEqual(result["replacedId"], after["branch-id"])
        self.assertNotEqual(result["branch"]["id"], after["branch-id"])
        self.assertEqual(self.xb("delete", "--sandbox", "rs")[0], 0)

    def test_reset_without_a_branch_creates_one(self):
        code, out, err = self.reset("fresh", "--output", "json")
        self.assertIn("there was no branch", err)
        result = json.loads(out)
        self.assertIsNone(result["replacedId"])
        self.assertEqual([b["id"] for b in self.active("sb-fresh-")], [result["branch"]["id"]])
        self.assertEqual(self.xb("delete", "--sandbox", "fresh")[0], 0)

    def test_a_create_that_fails_after_the_delete_says_the_old_branch_is_gone(self):
        self.create("rs-fail")
        [old] = self.active("sb-rs-fail-")
        old_id = old["id"]
        self.emu.set_faults([{"method": "POST", "path": "/branches$", "kind": "status",
                              "status": 503, "times": 0}])
        try:
            code, out, err = self.reset("rs-fail", expect=None)
        finally:
            self.emu.set_faults([])
        self.assertEqual(code, 8, err)
        self.assertEqual(out, "")
        self.assertIn("reset had deleted the old branch (id %s)" % old_id, err)
        self.assertEqual(self.active("sb-rs-fail-"), [])
        self.assertEqual(self.xb("delete", "--sandbox", "rs-fail")[0], 0)  # nothing: exit 0

    def test_a_failed_reset_removes_the_output_files_of_the_branch_it_deleted(self):
        # Each fault makes the create after the delete fail: no POST at all,
        # and credentials that never come (the new branch is then deleted).
        faults = [
            ("POST 503", [{"method": "POST", "path": "/branches$", "kind": "status",
                           "status": 503, "times": 0}], 8),
            ("credentials 500", [{"method": "GET", "path": "/credentials$", "kind": "status",
                                  "status": 500, "times": 0}], 8),
        ]
        for what, rules, want in faults:
            with self.subTest(fault=what):
                out_dir = os.path.join(self.tmp, "out-" + what.split()[0])
                os.makedirs(out_dir)
                with open(os.path.join(out_dir, "mine.txt"), "w") as f:
                    f.write("not xbranch's")
                self.create("rs-out", "--output-dir", out_dir)
                old_id = read_outputs(out_dir)["branch-id"]
                self.emu.set_faults(rules)
                try:
                    code, out, err = self.xb("reset", "--sandbox", "rs-out", "--sslmode",
                                             "disable", "--timeout", "4s", "--request-timeout",
                                             "2s", "--output-dir", out_dir)
                finally:
                    self.emu.set_faults([])
                self.assertEqual(code, want, err)
                self.assertIn("reset had deleted the old branch (id %s)" % old_id, err)
                # None of the files names the branch that is gone; nothing else was touched.
                self.assertEqual(present_outputs(out_dir), ["mine.txt"])
                self.assertIn("removed the output files in %s" % out_dir, err)
                self.assertEqual(self.active("sb-rs-out-"), [])

    def test_a_reset_refused_before_the_delete_keeps_the_output_files(self):
        out_dir = os.path.join(self.tmp, "out-kept")
        self.create("rs-keep", "--output-dir", out_dir)
        before = read_outputs(out_dir)
        self.emu.set_faults([{"method": "GET", "path": "/branches$", "kind": "status",
                              "status": 401, "times": 0}])
        try:
            code, out, err = self.reset("rs-keep", "--output-dir", out_dir, expect=None)
        finally:
            self.emu.set_faults([])
        self.assertEqual(code, 3, err)
        # The branch is still there, and the files still describe it.
        self.assertEqual(read_outputs(out_dir), before)
        self.assertEqual(sorted(OUTPUT_FILES), present_outputs(out_dir))
        self.assertEqual(self.xb("delete", "--sandbox", "rs-keep")[0], 0)

    def status(self, sandbox):
        code, out, err = self.xb("status", "--sandbox", sandbox, "--output", "json")
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def test_reset_keeps_the_expiry_and_the_note(self):
        self.create("rs-ttl", "--ttl", "2h", "--description", "my note")
        before = self.status("rs-ttl")
        self.assertIsNotNone(before["expiresAt"])
        [old] = self.active("sb-rs-ttl-")
        old_tag = old["description"].split()
        self.reset("rs-ttl")
        after = self.status("rs-ttl")
        self.assertNotEqual(after["id"], before["id"])
        # The same expiry (what was left of the TTL), not "never".
        self.assertEqual(after["expiresAt"], before["expiresAt"])
        [new] = self.active("sb-rs-ttl-")
        tag = new["description"].split()
        self.assertEqual(tag[0], "xb1")                    # the ownership tag
        self.assertNotEqual(tag[1], old_tag[1])            # this run's token: it made the branch
        self.assertEqual(tag[2], old_tag[2])               # e<expiry>
        self.assertTrue(new["description"].endswith(" - my note"), new["description"])
        # An explicit --ttl and --description win.
        self.reset("rs-ttl", "--ttl", "30d", "--description", "other")
        later = self.status("rs-ttl")
        self.assertGreater(later["expiresAt"], before["expiresAt"])
        self.assertTrue(self.active("sb-rs-ttl-")[0]["description"].endswith(" - other"))
        self.assertEqual(self.xb("delete", "--sandbox", "rs-ttl")[0], 0)

    def test_a_reset_branch_past_its_expiry_is_still_gc_expired(self):
        r = self.emu.create_branch("sb-rs-old", parent_id=self.root["id"],
                                   description="xb1 rpasttoken1 e202001010000 - old one")
        self.assertEqual(r.status, 201, r)
        code, out, err = self.xb("reset", "--branch", "sb-rs-old", *CREATE_FLAGS)
        self.assertEqual(code, 0, err)
        self.assertIn("keeps its expiry 2020-01-01T00:00:00Z, which has passed", err)
        [new] = self.active("sb-rs-old")
        self.assertNotEqual(new["id"], r.json()["id"])
        self.assertIn(" e202001010000 - old one", new["description"])
        code, out, err = self.xb("gc", "--expired")
        self.assertEqual(code, 0, err)
        self.assertIn("deleted 1", out)
        self.assertEqual(self.active("sb-rs-old"), [])

    def test_reset_refuses_the_root_and_parent_branch(self):
        root = self.root["name"] if isinstance(self.root, dict) else self.root
        before = [b["id"] for b in self.active("")]
        code, out, err = self.xb("reset", "--branch", root, "--force", *CREATE_FLAGS)
        self.assertEqual(code, 5, err)  # what delete answers: a conflict
        self.assertIn("refusing to delete", err)
        self.assertEqual(out, "")
        self.assertEqual([b["id"] for b in self.active("")], before)

        # A parent of a live branch, reset through another name as the parent.
        self.create("kid")
        kid = self.active("sb-kid-")[0]
        self.create("grandkid", "--parent", kid["name"])
        code, out, err = self.xb("reset", "--branch", kid["name"], "--parent", root, "--force",
                                 *CREATE_FLAGS)
        self.assertNotEqual(code, 0, err)
        self.assertIn("refusing to delete", err)
        self.assertEqual([b["id"] for b in self.active("sb-kid-")], [kid["id"]])

    def test_reset_refuses_a_name_without_the_prefix_unless_forced(self):
        self.emu.create_branch("plain-name")
        old = self.active("plain-name")[0]["id"]
        code, out, err = self.xb("reset", "--branch", "plain-name", *CREATE_FLAGS)
        self.assertEqual(code, 2, err)
        self.assertIn("prefix", err)
        self.assertEqual([b["id"] for b in self.active("plain-name")], [old])
        code, out, err = self.xb("reset", "--branch", "plain-name", "--force", *CREATE_FLAGS)
        self.assertEqual(code, 0, err)
        new = [b["id"] for b in self.active("plain-name")]
        self.assertEqual(len(new), 1)
        self.assertNotEqual(new[0], old)


if __name__ == "__main__":
    harness.main()
