#!/usr/bin/python3
"""plugin_workflow_params: the plugin's params and credential layouts, each a
full workflow run (tests/plugin/test_workflow.py on the host, its own
emulator) with one variation. The cases marked TODO need xbranch flags that
are being added in this round (--database, --sql, the
pooled-connection-string output, the XATA_ORG_ID alias): they are skipped
with that reason until the lead enables them after the merge."""

import os
import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = 77

TODO_AFTER_MERGE = "TODO after merge: needs %s, not in main yet (enable this test with it)"


class WorkflowParams(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for var in ("XATA_EMULATOR_BIN", "XBRANCH_BIN"):
            if not os.environ.get(var):
                raise AssertionError(f"{var} not set: ctest gives it (this is a failure, not a skip)")

    def workflow(self, *args):
        p = subprocess.run([sys.executable, str(HERE / "test_workflow.py"), *args],
                           capture_output=True, text=True, timeout=600)
        return p.returncode, p.stdout + p.stderr

    def assert_workflow_ok(self, *args):
        rc, log = self.workflow(*args)
        self.assertNotEqual(rc, SKIP, log)
        self.assertEqual(rc, 0, log[-6000:])
        return log

    # -- params that work today

    def test_endpoint_param_reaches_xbranch(self):
        log = self.assert_workflow_ok("--param", "endpoint=rw")
        self.assertIn("BRANCH_ENDPOINT=rw", log)  # the step's env, as the runner logs it
        self.assertIn("plugin_workflow: OK", log)

    def test_bad_endpoint_param_fails_the_step_and_leaves_nothing(self):
        rc, log = self.workflow("--param", "endpoint=sideways")
        self.assertNotEqual(rc, 0, log)
        self.assertIn("[FAIL] create steps succeeded", log)
        self.assertIn("--endpoint", log)  # xbranch's own message names the flag
        self.assertNotIn("orphan branches left", log)

    def test_parent_branch_by_name(self):
        self.assert_workflow_ok("--param", "parent-branch=main")

    def test_empty_params_mean_defaults(self):
        self.assert_workflow_ok("--param", "parent-branch=", "--param", "endpoint=")

    # -- TODO after merge (skipped, not passing)

    # The flag is in; the emulator gives each branch exactly one database, so
    # "app" does not exist there and xbranch rightly fails with exit 11. Enable
    # when the emulator can hold a second database per branch.
    @unittest.skip("needs an emulator branch with a database named app (xbranch answers exit 11)")
    def test_database_param(self):
        self.assert_workflow_ok("--param", "database=app", "--fork-expect", "select current_database()", "app")

    def test_seed_sql_param(self):
        self.assert_workflow_ok(
            "--param", "seed-sql=create table seeded (x int); insert into seeded values (42);",
            "--fork-expect", "select x from seeded", "42")

    def test_ttl_param(self):
        log = self.assert_workflow_ok("--param", "ttl=2h")
        self.assertIn("BRANCH_TTL=2h", log)  # the step's env, as the runner logs it
        self.assertIn("plugin_workflow: OK", log)

    def test_pooled_connection_string(self):
        self.assert_workflow_ok("--require-output", "pooled-connection-string")

    @unittest.skip(TODO_AFTER_MERGE % "XATA_ORG_ID as another name of the organization")
    def test_tutorial_secret_layout(self):
        self.assert_workflow_ok("--secret-layout", "tutorial")


if __name__ == "__main__":
    unittest.main(verbosity=2)
