#!/usr/bin/python3
"""plugin_workflow_params: the plugin's params and credential layouts, each a
full workflow run (tests/plugin/test_workflow.py on the host, its own
emulator) with one variation: database, seed-sql, ttl, the pooled output,
the Signadot tutorial's Secret layout."""

import os
import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = 77



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

    def test_database_param_reaches_the_connection_check(self):
        # The emulator gives each branch exactly one database (the served
        # dbname), so "app" does not exist there: the param must reach
        # xbranch, whose connection check then refuses the branch (exit 11)
        # instead of handing out a URL that cannot log in.
        rc, log = self.workflow("--param", "database=app")
        self.assertNotEqual(rc, SKIP, log)
        self.assertNotEqual(rc, 0, log[-6000:])
        self.assertIn("exit 11", log, log[-6000:])
        self.assertIn('"app"', log.replace("'app'", '"app"'), log[-6000:])

    def test_seed_sql_param(self):
        self.assert_workflow_ok(
            "--param", "seed-sql=create table seeded (x int); insert into seeded values (42);",
            "--fork-expect", "select x from seeded", "42")

    def test_schema_diff_output_shows_what_seed_sql_changed(self):
        log = self.assert_workflow_ok(
            "--param", "seed-sql=create table seeded (x int primary key);")
        # The step's outputs, as the runner logs them (JSON-quoted).
        self.assertIn('"schema-diff": "<!-- xbranch-schema-diff -->\\n', log)
        self.assertIn("| added | table | `public.seeded` | `x integer not null`", log)

    def test_ttl_param(self):
        log = self.assert_workflow_ok("--param", "ttl=2h")
        self.assertIn("BRANCH_TTL=2h", log)  # the step's env, as the runner logs it
        self.assertIn("plugin_workflow: OK", log)

    def test_pooled_connection_string(self):
        self.assert_workflow_ok("--require-output", "pooled-connection-string")

    def test_tutorial_secret_layout(self):
        self.assert_workflow_ok("--secret-layout", "tutorial")


if __name__ == "__main__":
    unittest.main(verbosity=2)
