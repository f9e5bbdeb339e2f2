"""End to end: quota awareness. The POST is the check: under the cap a
create makes no limits call; at the project's branch cap the server's 400
"too many branches" (one POST, not retried, nothing created) is exit 12, and
only then the limits call (the hosted shape serves /limits) names the cap,
with the oldest xbranch branches and the gc command that frees room; on Xata
Core (/limits 404) and for the hosted 403 over the hourly allowance the
server's refusal is the same exit 12."""

import re
import shutil

from e2e_common import E2ECase, main


class QuotaCase(E2ECase):

    def setUp(self):
        super().setUp()
        self.addCleanup(lambda: (self.emu.stop(), shutil.rmtree(self.emu.tmp, ignore_errors=True)))

    def posts(self):
        return self.api_calls("POST", r"/branches$")

    def limits_calls(self):
        return self.api_calls("GET", r"/limits$")


class HostedCapTest(QuotaCase):
    emulator_options = {"credentials_shape": "hosted", "max_branches": 4}

    def test_at_the_cap_create_fails_naming_the_cap_the_oldest_and_gc(self):
        self.create("q-a")
        self.create("q-b")
        r = self.emu.create_branch("manual")  # not ours: never offered for deletion
        self.assertEqual(r.status, 201, r)
        self.assertEqual(len(self.active("")), 4)
        self.assertEqual(self.limits_calls(), [], "a create under the cap reads no limits")
        posts_before = len(self.posts())

        code, out, err = self.create("q-c", "-v", expect=12)
        refused = self.posts()[posts_before:]
        self.assertEqual([r["status"] for r in refused], [400], "one POST, refused, not retried")
        self.assertEqual(len(self.limits_calls()), 1)
        self.assertIn("the project has 4 branches, its cap is 4", err)
        self.assertIn("has too many branches", err)
        m = re.search(r"oldest of ours: (sb-q-a-\S+) \(\S+\), (sb-q-b-\S+) \(", err)
        self.assertTrue(m, err)
        self.assertNotIn("manual (", err)
        self.assertIn("`xbranch gc --orphans --expired --dry-run`", err)
        self.assertIn("xbranch delete --branch NAME", err)
        self.assertIn("quota check after the server's refusal: 4 active branches, cap 4 "
                      "(cost 1 request: limits)", err)
        self.assertEqual(out, "")
        self.assertEqual(self.active("sb-q-c-"), [])

        # Room freed: the same create goes through, with no limits call.
        code, out, err = self.xb("delete", "--sandbox", "q-a")
        self.assertEqual(code, 0, err)
        limits_before = len(self.limits_calls())
        self.create("q-c")
        self.assertEqual(len(self.limits_calls()), limits_before)
        self.assertEqual(len(self.active("sb-q-c-")), 1)

    def test_parent_as_id_lists_once_for_the_count(self):
        self.create("q-a")
        self.create("q-b")
        self.create("q-c")
        before = len(self.emu.requests())
        code, out, err = self.create("q-d", "--parent", self.root["id"], expect=12)
        calls = [(r["method"], r["path"].rsplit("/", 1)[1]) for r in self.emu.requests()[before:]]
        self.assertEqual(calls, [("POST", "branches"), ("GET", "limits"), ("GET", "branches")], calls)
        self.assertIn("its cap is 4", err)


class CoreServerRefusalTest(QuotaCase):
    emulator_options = {"credentials_shape": "core", "max_branches": 2}

    def test_the_servers_too_many_branches_is_exit_12(self):
        self.create("q-a")
        code, out, err = self.create("q-b", "-v", expect=12)
        self.assertIn("too many branches", err)
        self.assertIn("HTTP 400", err)
        self.assertRegex(err, r"oldest of ours: sb-q-a-\S+ \(")
        self.assertIn("xbranch gc --orphans --expired", err)
        self.assertIn("quota check: the API has no project limits (404, Xata Core); skipped after 1 request", err)
        self.assertEqual(len(self.limits_calls()), 1)  # after the refusal only, answered 404
        self.assertEqual(len(self.posts()), 2)  # the refusal is not retried
        self.assertEqual(self.active("sb-q-b-"), [])


class HostedHourlyRefusalTest(QuotaCase):
    emulator_options = {"credentials_shape": "hosted", "max_branches_per_hour": 1}

    def test_the_hourly_allowance_is_exit_12(self):
        self.create("q-a")
        code, out, err = self.create("q-b", expect=12)
        self.assertIn("may create at most 1 branches per hour", err)
        self.assertIn("HTTP 403", err)
        self.assertIn("waiting frees room", err)
        self.assertNotIn("oldest of ours", err)  # deleting does not reset an hourly count
        self.assertEqual(len(self.posts()), 2)
        self.assertEqual(self.active("sb-q-b-"), [])


if __name__ == "__main__":
    main()
