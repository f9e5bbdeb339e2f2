"""Kill and restart: `xbranch create` stopped by SIGTERM or SIGKILL at the
worst moments, then run again for the same sandbox.

- SIGTERM while waiting for readiness: exit 143, the branch this run created
  is deleted, the output folder is left empty; a rerun creates one branch.
- SIGKILL while waiting: no cleanup is possible; the branch stays; a rerun
  adopts it (adopted=true, same id, still one branch); delete removes it.
- SIGKILL while the answer to the POST is pending (the emulator performs the
  create, then answers late): the branch exists server-side; a rerun adopts it.
- SIGTERM while the answer to the POST is pending: see test_sigterm_during_post
  (parent by name and by id).
After every kill the output folder holds no temp files and either all eight
files or none.
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402
from rel import harness  # noqa: E402

OUTPUT_FILES = sorted(["branch-name", "branch-id", "connection-string", "host", "port",
                       "database", "username", "password", "pooled-connection-string"])
SLOW = {"hibernatedMs": 100, "transientMs": 5000}
FAST = {"hibernatedMs": 50, "transientMs": 100}


class KillTest(rel.Case):
    emulator_options = dict(pg=True, hibernated_ms=100, transient_ms=5000, quiet=True)
    tmp_prefix = "xbranch-kill-"

    def setUp(self):
        super().setUp()
        self.emu.set_faults([])
        self.emu.set_config(**SLOW)

    # ------------------------------------------------------------ helpers
    def start_create(self, sandbox, outdir, *extra):
        p = rel.start_xbranch(["create", "--sandbox", sandbox, "--sslmode", "disable",
                               "--output-dir", outdir, "--timeout", "60s"] + list(extra),
                              self.emu.env())
        self.procs.append(p)
        return p

    def rows(self, name):
        return [b for b in self.emu.branches() if b["name"] == name]

    def active_rows(self, name):
        return [b for b in self.rows(name) if b["deletedAt"] is None]

    def wait_polling(self, proc, name):
        """Until the branch exists and the process has described it (it is in
        the readiness wait)."""
        def ready():
            if proc.poll() is not None:
                raise AssertionError("xbranch ended early (%d): %s"
                                     % (proc.returncode, proc.communicate()[1]))
            act = self.active_rows(name)
            if not act:
                return None
            bid = act[0]["id"]
            return any(r["method"] == "GET" and r["path"].endswith("/branches/" + bid)
                       for r in self.emu.requests()) and act[0]
        return rel.wait_for(ready, timeout=30, what="xbranch polling " + name)

    def assert_outdir_all_or_nothing(self, outdir, expect):
        names = sorted(os.listdir(outdir)) if os.path.isdir(outdir) else []
        self.assertEqual([n for n in names if ".tmp-" in n or "probe" in n], [],
                         "temp files left in %s" % outdir)
        if expect == "none":
            self.assertEqual(names, [])
        else:
            self.assertEqual(names, OUTPUT_FILES)

    def rerun_create(self, sandbox, outdir):
        self.emu.set_config(**FAST)
        code, out, err = rel.run(["create", "--sandbox", sandbox, "--sslmode", "disable",
                                  "--output-dir", outdir, "--output", "json"], self.emu.env())
        self.assertEqual(code, 0, err)
        return json.loads(out), err

    # ------------------------------------------------------------ tests
    def test_sigterm_while_waiting_deletes_branch(self):
        sandbox, name = "kill-term", rel.branch_name("kill-term")
        outdir = os.path.join(self.tmp, "out")
        p = self.start_create(sandbox, outdir)
        row = self.wait_polling(p, name)
        at_signal = len(self.emu.requests())
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 143, err)
        # It stops polling at once: after the signal at most the describe in
        # flight, then the DELETE, nothing else.
        after = [r["method"] for r in self.emu.requests()[at_signal:]]
        self.assertIn(after, (["DELETE"], ["GET", "DELETE"]), after)
        self.assertIn("interrupted", err)
        self.assertIn("created by this run was deleted", err)
        # The branch it created is gone, database and role dropped.
        rows = self.rows(name)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["id"], row["id"])
        self.assertIsNotNone(rows[0]["deletedAt"])
        rel.wait_for(lambda: self.rows(name)[0]["dbState"] == "dropped", timeout=30,
                     what="database dropped")
        deletes = [r for r in self.emu.requests()
                   if r["method"] == "DELETE" and r["path"].endswith("/branches/" + row["id"])]
        self.assertEqual([r["status"] for r in deletes], [204])
        self.assert_outdir_all_or_nothing(outdir, "none")
        # Running again makes a new branch: exactly one active, files complete.
        result, _ = self.rerun_create(sandbox, outdir)
        self.assertFalse(result["branch"]["adopted"])
        act = self.active_rows(name)
        self.assertEqual(len(act), 1)
        self.assertNotEqual(act[0]["id"], row["id"])
        self.assertEqual(result["branch"]["id"], act[0]["id"])
        self.assert_outdir_all_or_nothing(outdir, "all")
        with open(os.path.join(outdir, "branch-id")) as f:
            self.assertEqual(f.read(), act[0]["id"])
        code, _, err = rel.run(["delete", "--sandbox", sandbox], self.emu.env())
        self.assertEqual(code, 0, err)
        self.assertEqual(self.active_rows(name), [])

    def test_sigkill_while_waiting_then_rerun_adopts(self):
        sandbox, name = "kill-nine", rel.branch_name("kill-nine")
        outdir = os.path.join(self.tmp, "out")
        p = self.start_create(sandbox, outdir)
        row = self.wait_polling(p, name)
        p.kill()
        p.communicate(timeout=30)
        self.assertEqual(p.returncode, -signal.SIGKILL)
        # Nothing could clean up: the branch is still there, the folder empty.
        act = self.active_rows(name)
        self.assertEqual([b["id"] for b in act], [row["id"]])
        self.assert_outdir_all_or_nothing(outdir, "none")
        result, err = self.rerun_create(sandbox, outdir)
        self.assertTrue(result["branch"]["adopted"], err)
        self.assertEqual(result["branch"]["id"], row["id"])
        self.assertIn("adopt", err)
        self.assertEqual([b["id"] for b in self.active_rows(name)], [row["id"]])
        self.assertEqual(len(self.rows(name)), 1, "a second branch was created")
        self.assert_outdir_all_or_nothing(outdir, "all")
        code, _, err = rel.run(["delete", "--sandbox", sandbox], self.emu.env())
        self.assertEqual(code, 0, err)
        self.assertEqual(self.active_rows(name), [])

    def _post_pending(self, sandbox, name, sig, *extra):
        """Starts create with the POST answer held back 4 s; sends sig once the
        branch exists server-side and the answer is still pending."""
        self.emu.set_config(**FAST)
        self.emu.set_faults([{"method": "POST", "path": "/branches$", "kind": "delay",
                              "delayMs": 4000, "times": 1}])
        outdir = os.path.join(self.tmp, "out")
        p = self.start_create(sandbox, outdir, *extra)

        def created():
            if p.poll() is not None:
                raise AssertionError("xbranch ended early: %s" % p.communicate()[1])
            return self.active_rows(name)
        row = rel.wait_for(created, timeout=30, what="branch created by the delayed POST")[0]
        rules = self.emu.admin_get("faults")["faults"]
        self.assertEqual(rules[0]["fired"], 1)
        # The answer is still held back: the process has not described the branch.
        self.assertFalse(any(r["path"].endswith("/branches/" + row["id"])
                             for r in self.emu.requests()))
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
        time.sleep(4.2)  # let the held-back answer go out to a closed socket
        self.emu.set_faults([])
        return p, row, outdir, err

    def test_sigkill_while_post_pending_then_rerun_adopts(self):
        sandbox, name = "kill-post", rel.branch_name("kill-post")
        p, row, outdir, _ = self._post_pending(sandbox, name, signal.SIGKILL)
        self.assertEqual(p.returncode, -signal.SIGKILL)
        self.assertEqual([b["id"] for b in self.active_rows(name)], [row["id"]])
        self.assert_outdir_all_or_nothing(outdir, "none")
        result, err = self.rerun_create(sandbox, outdir)
        self.assertTrue(result["branch"]["adopted"], err)
        self.assertEqual(result["branch"]["id"], row["id"])
        self.assertEqual(len(self.rows(name)), 1, "a second branch was created")
        self.assertEqual(len(rel.posts(self.emu, name)), 1, "the rerun POSTed again")
        self.assert_outdir_all_or_nothing(outdir, "all")
        code, _, err = rel.run(["delete", "--sandbox", sandbox], self.emu.env())
        self.assertEqual(code, 0, err)
        self.assertEqual(self.active_rows(name), [])

    def test_sigterm_after_a_dropped_post_deletes_branch(self):
        """The connection drops after the create was performed (the answer is
        lost). xbranch must settle by name and treat the branch as its own:
        not adopted, and deleted when a SIGTERM ends the wait."""
        sandbox, name = "kill-dropped", rel.branch_name("kill-dropped")
        self.emu.set_faults([{"method": "POST", "path": "/branches$", "kind": "drop_after",
                              "times": 1}])
        outdir = os.path.join(self.tmp, "out")
        p = self.start_create(sandbox, outdir, "-v")
        row = self.wait_polling(p, name)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 143, err)
        self.assertIn("outcome unknown", err)
        self.assertNotIn("waking hibernated branch", err)  # it is not treated as adopted
        self.assertIn("created by this run was deleted", err)
        self.assertEqual(self.active_rows(name), [], "branch %s left behind" % row["id"])
        # One POST performed and dropped; any second one is xbranch's own
        # decision after a name lookup, never a silent re-send.
        statuses = [r["status"] for r in rel.posts(self.emu, name)]
        self.assertEqual(statuses[0], 0, statuses)
        self.assertNotIn(409, statuses, "the POST was sent again blindly: %s" % statuses)
        self.assert_outdir_all_or_nothing(outdir, "none")

    def test_sigterm_during_post(self):
        """SIGTERM while the POST's answer is pending: exit 143, and the branch
        the POST created must not be left behind (it was made by this run)."""
        sandbox, name = "term-post", rel.branch_name("term-post")
        p, row, outdir, err = self._post_pending(sandbox, name, signal.SIGTERM)
        self.assertEqual(p.returncode, 143, err)
        self.assertIn("interrupted", err)
        self.assert_outdir_all_or_nothing(outdir, "none")
        self.assertEqual(self.active_rows(name), [],
                         "SIGTERM during the POST left branch %s behind: %s" % (row["id"], err))

    def test_sigterm_during_post_with_the_parent_as_id(self):
        """The same with --parent ID (XATA_BRANCH_ID in plugins): no listing
        happened before the POST, yet the branch carries this run's tag, so
        it is found and deleted."""
        [root] = [b for b in self.emu.branches() if b["parentID"] is None]
        sandbox, name = "term-post-id", rel.branch_name("term-post-id")
        p, row, outdir, err = self._post_pending(sandbox, name, signal.SIGTERM,
                                                 "--parent", root["id"])
        self.assertEqual(p.returncode, 143, err)
        self.assertIn("created by this run was deleted", err)
        self.assertEqual(self.active_rows(name), [],
                         "SIGTERM during the POST left branch %s behind: %s" % (row["id"], err))
        self.assert_outdir_all_or_nothing(outdir, "none")


if __name__ == "__main__":
    harness.main()
