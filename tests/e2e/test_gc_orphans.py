"""End to end: `xbranch gc --orphans` asks the Signadot stand-in which
sandboxes live and deletes only prefixed branches none of them explains;
an answer it cannot trust deletes nothing. `gc --expired` deletes what the
tag says expired, and nothing else. `status`/`list` show the expiry."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

from e2e_common import E2ECase, harness, main

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from signadot_standin import SignadotStandin, sandbox  # noqa: E402

SD_KEY = "sd-e2e-secret-key-7f3a9c1d5e"
PAST = "xb1 rpasttoken1 e202001010000"      # expired on 2020-01-01
FUTURE = "xb1 rfuturetok1 e209912312359"    # expires in 2099


class GcOrphansCase(E2ECase):

    def setUp(self):
        super().setUp()
        # E2ECase stops the emulator but leaves its temp folder: remove it too.
        self.addCleanup(lambda: (self.emu.stop(), shutil.rmtree(self.emu.tmp, ignore_errors=True)))
        self.sd = SignadotStandin(api_key=SD_KEY, org="acme").start()
        self.addCleanup(self.sd.stop)

    def sd_env(self, **extra):
        e = {"SIGNADOT_API_KEY": SD_KEY, "SIGNADOT_ORG": "acme", "SIGNADOT_API_URL": self.sd.base_url}
        e.update(extra)
        return e

    def gc(self, *args, env=None):
        e = self.sd_env()
        e.update(env or {})
        code, out, err = self.xb("gc", *args, env=e)
        self.assertNotIn(SD_KEY, out + err)
        self.assertNotIn(self.emu.api_key, out + err)
        return code, out, err

    def names_active(self):
        return sorted(b["name"] for b in self.emu.branches() if b["deletedAt"] is None)

    def branch_named(self, start):
        found = [b for b in self.emu.branches() if b["deletedAt"] is None and b["name"].startswith(start)]
        self.assertEqual(len(found), 1, found)
        return found[0]

    def deletes(self):
        return [r for r in self.emu.requests() if r["method"] == "DELETE"]

    def make(self, name, description=None, parent_id=None):
        extra = {"description": description} if description else {}
        r = self.emu.create_branch(name, parent_id=parent_id, **extra)
        self.assertEqual(r.status, 201, r)
        return r.json()


class OrphanTest(GcOrphansCase):

    def setUp(self):
        super().setUp()
        # Two live sandboxes made their branches the way the plugin does
        # (name, routing key, resource); a third sandbox is gone.
        self.create("alive", "--sandbox-id", "rkalive001", "--resource", "usersdb")
        self.create("alive-two", "--sandbox-id", "rkalive002")
        self.create("gone", "--sandbox-id", "rkgone0001", "--resource", "usersdb")
        self.make("manual-branch")  # no prefix: never touched
        self.sd.sandboxes = [sandbox("alive", "rkalive001", ["usersdb"]),
                             sandbox("alive-two", "rkalive002", ["cache"])]

    # The request cost, JSON, grace, renamed sandboxes, failed describes and
    # the rest of the procedure: GcRunTest.* (tests/unit/test_gc_run.cpp).
    def test_orphan_deleted_live_and_unprefixed_kept(self):
        before = self.names_active()
        code, out, err = self.gc("--orphans", "--grace", "0s", "-v")
        self.assertEqual(code, 0, err)
        after = self.names_active()
        gone = set(before) - set(after)
        self.assertEqual(len(gone), 1, (before, after))
        self.assertTrue(next(iter(gone)).startswith("sb-gone-usersdb-rkgone0001-"), gone)
        self.assertIn("manual-branch", after)
        self.assertIn("main", after)
        self.assertEqual(len([n for n in after if n.startswith("sb-alive")]), 2, after)
        self.assertIn("deleted 1, kept 2", out)
        self.assertRegex(out, r"sb-gone-\S+\s+\S+\s+-\s+orphan\s+deleted")
        self.assertEqual(len(self.deletes()), 1)
        # One Signadot request, with the key header.
        self.assertEqual(len(self.sd.requests), 1)
        self.assertEqual(self.sd.requests[0]["path"], "/api/v2/orgs/acme/sandboxes")
        # One list, one describe (only the orphan's tag is read), one delete.
        self.assertIn("gc cost 3 Xata API request(s) and 1 Signadot API request(s)", err)
        self.assertIn("signadot api key = ********", err)

class UntaggedTest(GcOrphansCase):
    """A branch with the prefix that xbranch never made (no tag) is never
    deleted, in any mode; a real xbranch orphan beside it still is."""

    def setUp(self):
        super().setUp()
        self.human = self.make("sb-human-work", "my own branch")
        self.bare = self.make("sb-human-bare")  # no description at all
        self.damaged = self.make("sb-human-xb1", "xb1 not a tag")
        self.create("gone", "--sandbox-id", "rkgone0001")
        self.gone = self.branch_named("sb-gone-")
        self.sd.sandboxes = [sandbox("other", "rkother001")]
        self.humans = ["sb-human-bare", "sb-human-work", "sb-human-xb1"]

    def kept_rows(self, doc):
        return {c["name"]: c["kept"] for c in doc["candidates"] if c["action"] == "kept"}

    def test_orphans_keeps_the_untagged_and_deletes_the_orphan(self):
        code, out, err = self.gc("--orphans", "--grace", "0s", "--dry-run", "--output", "json", "-v")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        self.assertEqual([c["name"] for c in doc["candidates"] if c["action"] == "would delete"],
                         [self.gone["name"]])
        kept = self.kept_rows(doc)
        self.assertEqual(kept["sb-human-work"], "no xbranch tag")
        self.assertEqual(kept["sb-human-bare"], "no xbranch tag")
        self.assertEqual(kept["sb-human-xb1"], "unreadable tag")
        # 1 list + 4 describes (the four that look like orphans), no more.
        self.assertIn("gc cost 5 Xata API request(s)", err)

        code, out, err = self.gc("--orphans", "--grace", "0s")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"(?m)^sb-human-work .* kept \(no xbranch tag\)$")
        self.assertIn("deleted 1, kept 3", out)
        after = self.names_active()
        self.assertNotIn(self.gone["name"], after)
        for name in self.humans:
            self.assertIn(name, after)
        self.assertEqual([r["path"].rsplit("/", 1)[1] for r in self.deletes()], [self.gone["id"]])

class InterruptTest(GcOrphansCase):

    def test_ctrl_c_stops_with_130_and_a_summary(self):
        for name in ("cut-a", "cut-b", "cut-c"):
            self.create(name)
        self.sd.sandboxes = [sandbox("other", "rkother001")]  # an empty list deletes nothing
        # Every DELETE is done at once but answered 3 s later.
        self.emu.set_faults([{"method": "DELETE", "path": "/branches/", "kind": "delay",
                              "delayMs": 3000, "times": 10}])
        e = dict(self.emu.env())
        e.update(self.sd_env())
        e["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        proc = subprocess.Popen([harness.xbranch_bin(), "gc", "--orphans", "--grace", "0s"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        try:
            # Two deleted on the server: the first answered, the second in flight.
            self.wait_until(lambda: len([b for b in self.emu.branches()
                                         if b["name"].startswith("sb-cut-") and b["deletedAt"]]) >= 2,
                            timeout=30, what="two deletes")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 130, (out, err))
        self.assertEqual(len(re.findall(r" deleted$", out, re.M)), 1, out)
        self.assertEqual(len(re.findall(r" not done \(interrupted", out)), 2, out)
        self.assertIn("deleted 1, kept 0, interrupted", out)
        self.assertIn("stopped after deleting 1 branch(es)", err)
        # The third was never asked for (the in-flight one is logged only
        # once its delayed answer is written, so count the server's state).
        self.assertEqual(len(self.active("sb-cut-")), 1)


class UntrustedAnswerTest(GcOrphansCase):
    """Each answer gc cannot trust: exit non-zero, a clear message, no DELETE."""

    # Only what needs the real transport and the real exit code; every other
    # answer: SignadotFixture.EveryUntrustedAnswerThrows and
    # GcRunTest.AnUntrustedSandboxListDeletesNothing.
    CASES = [
        # mode, env override, exit code, text in stderr
        ("status_401", {}, 3, "HTTP 401 (request id sd-req-"),
        ("ok", {"SIGNADOT_ORG": "wrong-org"}, 4, "no such Signadot organization"),
        ("silence", {}, 8, "timeout"),
        ("truncated", {}, 8, "connection dropped"),
        ("huge", {}, 10, "larger than"),  # an answer over 8 MiB: unexpected, not unavailable
    ]

    def test_each_untrusted_answer_deletes_nothing(self):
        self.create("gone", "--sandbox-id", "rkgone0001")
        self.sd.sandboxes = [sandbox("other", "rkother001")]
        before = self.names_active()
        rows = []
        for mode, env, want, text in self.CASES:
            with self.subTest(mode=mode, env=env):
                self.sd.mode = mode
                code, out, err = self.gc("--orphans", "--grace", "0s", "--request-timeout", "2",
                                         env=env)
                rows.append((mode, env, code))
                self.assertEqual(code, want, (mode, out, err))
                self.assertIn(text, err)
                self.assertIn("nothing was deleted", err)
                self.assertEqual(self.deletes(), [])
                self.assertEqual(self.names_active(), before)
        self.sd.mode = "ok"
        code, out, err = self.gc("--orphans", "--grace", "0s")
        self.assertEqual(code, 0, err)
        self.assertEqual(len(self.deletes()), 1)  # the same run, trusted, does delete

    def test_missing_settings_are_usage_errors(self):
        code, out, err = self.xb("gc", "--orphans", env={"SIGNADOT_ORG": "acme"})
        self.assertEqual(code, 2, err)
        self.assertIn("SIGNADOT_API_KEY is not set", err)
        code, out, err = self.xb("gc", "--orphans", env={"SIGNADOT_API_KEY": SD_KEY})
        self.assertEqual(code, 2, err)
        self.assertIn("SIGNADOT_ORG is not set", err)
        code, out, err = self.xb("gc", "--orphans", env=self.sd_env(SIGNADOT_API_URL="ftp://x"))
        self.assertEqual(code, 2, err)
        self.assertEqual(self.sd.requests, [])


class EmptySandboxListTest(GcOrphansCase):
    """Signadot lists no sandboxes at all (a key for the wrong or an empty
    organization) while tagged branches would go as orphans: nothing is
    deleted, exit 5, and the message says how to confirm."""

    def setUp(self):
        super().setUp()
        self.create("one", "--sandbox-id", "rkone00001")
        self.create("two", "--sandbox-id", "rktwo00001")
        self.sd.sandboxes = []
        self.before = self.names_active()

    def test_an_empty_list_deletes_nothing_and_exits_5(self):
        # With --dry-run, --expired or JSON too: GcRunTest.AnEmptySandboxListIsDoubtUnlessConfirmed
        # and GcEmptyList.*.
        code, out, err = self.gc("--orphans", "--grace", "0s")
        self.assertEqual(code, 5, (out, err))
        self.assertIn("Signadot listed no live sandboxes in organization 'acme'", err)
        self.assertIn("2 branch(es) would be deleted as orphans", err)
        self.assertIn("nothing was deleted", err)
        self.assertIn("--allow-empty-sandbox-list", err)
        self.assertIn("SIGNADOT_ORG", err)
        self.assertEqual(self.deletes(), [])
        self.assertEqual(self.names_active(), self.before)

    def test_young_branches_only_still_exit_0(self):
        # Within the grace period nothing would go: no doubt to raise.
        code, out, err = self.gc("--orphans")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.deletes(), [])

    def test_the_confirmation_flag_deletes_them(self):
        code, out, err = self.gc("--orphans", "--grace", "0s", "--allow-empty-sandbox-list")
        self.assertEqual(code, 0, err)
        self.assertIn("deleted 2, kept 0", out)
        self.assertEqual([n for n in self.names_active() if n.startswith("sb-")], [])

    def test_the_age_threshold_trusts_only_old_enough_branches(self):
        # The branches are seconds old: a 1h threshold does not cover them.
        code, out, err = self.gc("--orphans", "--grace", "0s",
                                 "--empty-sandbox-list-older-than", "1h")
        self.assertEqual(code, 5, (out, err))
        self.assertIn("younger than --empty-sandbox-list-older-than", err)
        self.assertEqual(self.deletes(), [])
        code, out, err = self.gc("--orphans", "--grace", "0s",
                                 "--empty-sandbox-list-older-than", "0s")
        self.assertEqual(code, 0, err)
        self.assertEqual(len(self.deletes()), 2)

class ExpiryTest(GcOrphansCase):

    def setUp(self):
        super().setUp()
        root = self.root["id"]
        self.past = self.make("sb-exp-past", PAST, root)
        self.future = self.make("sb-exp-future", FUTURE, root)
        self.untagged = self.make("sb-exp-none", None, root)
        self.foreign = self.make("sb-exp-foreign", "made by hand", root)
        self.manual = self.make("manual-expired", PAST, root)  # no prefix

    def test_expired_deletes_only_expired_prefixed_branches(self):
        code, out, err = self.gc("--expired", "-v", env={"SIGNADOT_API_KEY": ""})
        self.assertEqual(code, 0, err)
        after = self.names_active()
        self.assertNotIn("sb-exp-past", after)
        for name in ("sb-exp-future", "sb-exp-none", "sb-exp-foreign", "manual-expired", "main"):
            self.assertIn(name, after)
        self.assertEqual(len(self.deletes()), 1)
        self.assertIn("deleted 1, kept 3", out)
        self.assertIn("2099-12-31T23:59:00Z", out)
        # Describes only the four prefixed branches: 1 list + 4 describes + 1 delete.
        describes = [r for r in self.emu.requests()
                     if r["method"] == "GET" and r["path"].count("/branches/") == 1]
        self.assertEqual(len(describes), 4, describes)
        self.assertIn("gc cost 6 Xata API request(s) and 0 Signadot API request(s)", err)
        self.assertEqual(self.sd.requests, [])  # --expired alone never asks Signadot

    def test_expired_dry_run_json(self):
        code, out, err = self.gc("--expired", "--dry-run", "--output", "json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        byname = {c["name"]: c for c in doc["candidates"]}
        self.assertEqual(byname["sb-exp-past"]["reason"], "expired")
        self.assertEqual(byname["sb-exp-past"]["action"], "would delete")
        self.assertEqual(byname["sb-exp-past"]["expiresAt"], "2020-01-01T00:00:00Z")
        self.assertEqual(byname["sb-exp-future"]["kept"], "not expired")
        self.assertEqual(byname["sb-exp-none"]["kept"], "no xbranch tag")
        self.assertNotIn("manual-expired", byname)
        self.assertEqual(self.deletes(), [])

    def test_status_and_list_show_the_expiry(self):
        code, out, err = self.xb("status", "--branch", "sb-exp-future", "--output", "json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["expiresAt"], "2099-12-31T23:59:00Z")
        code, out, err = self.xb("status", "--branch", "sb-exp-none")
        self.assertEqual(code, 0, err)
        self.assertIn("expires    never", out)
        code, out, err = self.xb("list", "--output", "json")
        self.assertEqual(code, 0, err)
        rows = {r["name"]: r for r in json.loads(out)["branches"]}
        self.assertEqual(rows["sb-exp-past"]["expiresAt"], "2020-01-01T00:00:00Z")
        self.assertIsNone(rows["sb-exp-none"]["expiresAt"])
        code, out, err = self.xb("list")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"sb-exp-future .* 2099-12-31T23:59:00Z")

if __name__ == "__main__":
    main()
