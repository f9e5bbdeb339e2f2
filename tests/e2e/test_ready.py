"""Ready means usable, end to end on real PostgreSQL: the connection check
under the emulator's password lag (and without it, to show the test can
fail), a missing database, --sql and --exec hooks, and a rerun after a run
was killed mid-hook, and a rerun while the first run's hook still runs."""

import os
import socket
import signal
import subprocess
import time

from e2e_common import CREATE_FLAGS, E2ECase, harness, present_outputs, read_outputs

LAG_MS = 2500


class ReadyTest(E2ECase):
    emulator_options = {"password_lag_ms": LAG_MS}

    def login(self, url):
        return harness.psql(url, "SELECT 1", check=False)[0]

    def test_login_works_the_instant_create_exits_under_the_password_lag(self):
        out_dir = os.path.join(self.tmp, "checked")
        start = time.monotonic()
        code, _, err = self.create("lag", "--output-dir", out_dir)
        took = time.monotonic() - start
        v = read_outputs(out_dir)
        self.assertEqual(self.login(v["connection-string"]), 0, err)
        self.assertIn("connecting, try", err)
        # It waited for the password (the lag starts at HEALTHY), not much longer.
        self.assertGreater(took, LAG_MS / 1000.0 - 0.2)
        self.assertLess(took, LAG_MS / 1000.0 + 5)
        self.assertEqual(self.xb("delete", "--sandbox", "lag")[0], 0)

    def test_without_the_check_create_exits_before_the_password_works(self):
        out_dir = os.path.join(self.tmp, "unchecked")
        self.create("nocheck", "--output-dir", out_dir, "--no-connect-check")
        v = read_outputs(out_dir)
        # The proof that the test above can fail: right after an unchecked
        # create, the handed-out login is still refused.
        self.assertNotEqual(self.login(v["connection-string"]), 0)
        harness.wait_until(lambda: self.login(v["connection-string"]) == 0, 15, "the password")
        self.assertEqual(self.xb("delete", "--sandbox", "nocheck")[0], 0)


class HooksTest(E2ECase):
    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_missing_database_is_a_clear_error_not_a_retry_loop(self):
        out_dir = os.path.join(self.tmp, "out")
        start = time.monotonic()
        code, out, err = self.create("nodb", "--database", "nope_db", "--output-dir", out_dir,
                                     expect=11)
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn("nope_db", err)
        self.assertIn("does not exist", err)
        self.assertEqual(self.active("sb-nodb-"), [])
        self.assertEqual(present_outputs(out_dir), [])

    def test_database_flag_and_env_reach_the_url(self):
        code, out, err = self.xb("url", "--sandbox", "x", env={"XATA_DATABASE_NAME": "bad/name"})
        self.assertEqual(code, 2, err)

    def test_sql_hooks_run_in_order_and_a_failure_removes_the_branch(self):
        schema = self.write("schema.sql", "CREATE TABLE pets (name text);\n")
        seed = self.write("seed.sql", "INSERT INTO pets VALUES ('rex');\n"
                                      "INSERT INTO pets VALUES ('tom');\n")
        out_dir = os.path.join(self.tmp, "ok")
        self.create("sqlok", "--sql", schema, "--sql", seed, "--output-dir", out_dir)
        v = read_outputs(out_dir)
        self.assertEqual(harness.psql(v["connection-string"], "SELECT count(*) FROM pets").strip(), "2")
        self.assertEqual(self.xb("delete", "--sandbox", "sqlok")[0], 0)

        bad = self.write("bad.sql", "SELECT 1;\n\nSELECT * FROM no_such_table;\n")
        out_dir = os.path.join(self.tmp, "bad")
        code, out, err = self.create("sqlbad", "--sql", bad, "--output-dir", out_dir, expect=13)
        self.assertIn("bad.sql:3", err)
        self.assertIn("no_such_table", err)
        self.assertIn("deleted", err)
        self.assertEqual(self.active("sb-sqlbad-"), [])
        self.assertEqual(present_outputs(out_dir), [])

    def test_exec_hooks_get_the_environment_and_their_status_counts(self):
        code, out, err = self.create(
            "execok", "--output", "json",
            "--exec", 'echo "hook id=$XBRANCH_BRANCH_ID db=$PGDATABASE pw=$PGPASSWORD"',
            "--exec", 'psql -X -q -A -t -c "SELECT 40+2" "$DATABASE_URL"')
        import json
        result = json.loads(out)  # stdout holds only the result
        password = harness.psql  # noqa: F841 (the real password is never printed)
        self.assertIn("hook id=%s db=" % result["branch"]["id"], err)
        self.assertIn("42", err.splitlines())
        self.assertNotIn("pw=\n", err)
        self.assertEqual(self.xb("delete", "--sandbox", "execok")[0], 0)

        code, out, err = self.create("execbad", "--exec", "exit 7", expect=13)
        self.assertIn("exit 7", err)
        self.assertIn("exit status 7", err)
        self.assertEqual(out, "")
        self.assertEqual(self.active("sb-execbad-"), [])

    def test_a_rerun_after_a_kill_mid_hook_recreates_the_branch(self):
        marker = os.path.join(self.tmp, "marker")
        pidfile = os.path.join(self.tmp, "pid")
        hook = ('if [ -n "$SLOW" ]; then echo $$ > %s; touch %s; exec sleep 60; fi; '
                'echo seeded-now' % (pidfile, marker))
        env = self.emu.env()
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        env["SLOW"] = "1"
        proc = subprocess.Popen([harness.require_xbranch(), "create", "--sandbox", "killed",
                                 *CREATE_FLAGS, "--exec", hook], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            harness.wait_until(lambda: os.path.exists(marker), 30, "the hook to start")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
            try:
                with open(pidfile) as f:
                    os.kill(int(f.read().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        first = self.active("sb-killed-")
        self.assertEqual(len(first), 1)
        code, out, err = self.create("killed", "--exec", hook, "--output", "json")
        import json
        new_id = json.loads(out)["branch"]["id"]
        self.assertNotEqual(new_id, first[0]["id"])
        self.assertIn("afresh", err)
        self.assertIn("seeded-now", err)
        # A third run adopts it (hooks done) and runs nothing.
        code, out, err = self.create("killed", "--exec", hook, "--output", "json")
        self.assertEqual(json.loads(out)["branch"]["id"], new_id)
        self.assertNotIn("seeded-now", err)
        self.assertEqual(self.xb("delete", "--sandbox", "killed")[0], 0)

    def test_a_rerun_while_the_first_runs_hooks_waits_and_adopts_never_deletes(self):
        marker = os.path.join(self.tmp, "ran")
        hook = "echo once >> %s; sleep 4" % marker
        out_a = os.path.join(self.tmp, "A")
        out_b = os.path.join(self.tmp, "B")
        env = self.emu.env()
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        first = subprocess.Popen([harness.require_xbranch(), "create", "--sandbox", "conc1",
                                  *CREATE_FLAGS, "--exec", hook, "--output-dir", out_a], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            # The hook runs: its Pending tag is written and its lock is held.
            harness.wait_until(lambda: os.path.exists(marker), 30, "the first run's hook")
            code_b, _, err_b = self.create("conc1", "--exec", hook, "--output-dir", out_b)
            _, err_a = first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(10)
        self.assertEqual(first.returncode, 0, err_a)
        self.assertNotIn("afresh", err_b)
        self.assertIn("another xbranch run", err_b)
        self.assertEqual(self.api_calls("DELETE"), [])
        id_a = read_outputs(out_a)["branch-id"]
        self.assertEqual(read_outputs(out_b)["branch-id"], id_a)
        self.assertEqual([b["id"] for b in self.active("sb-conc1-")], [id_a])
        with open(marker) as f:
            self.assertEqual(f.read().splitlines(), ["once"])


def _refused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PrivateBranchHintTest(E2ECase):
    """The "branch is private" hint only where the failure fits a host this
    machine cannot reach: the server answering "password authentication
    failed" was reached, so a private branch does not explain it."""
    emulator_options = {"private_branches": True, "password_lag_ms": 600000}

    def test_a_refused_password_gets_no_private_branch_hint(self):
        code, _, err = self.xb("create", "--sandbox", "priv", "--sslmode", "disable",
                               "--timeout", "3s")
        self.assertEqual(code, 11, err)
        self.assertIn("password authentication failed", err)
        self.assertNotIn("private", err)


class PrivateBranchUnreachableTest(E2ECase):
    # The credentials name a port where nothing listens, as a private
    # endpoint looks from outside its network.
    emulator_options = {"private_branches": True, "pg_public_host": "127.0.0.1",
                        "pg_public_port": _refused_port()}

    def test_an_unreachable_private_branch_gets_the_hint(self):
        code, _, err = self.xb("create", "--sandbox", "privnet", "--sslmode", "disable",
                               "--timeout", "2s")
        self.assertEqual(code, 11, err)
        self.assertIn("the branch is private", err)


if __name__ == "__main__":
    harness.main()


class VanishedDuringTheLoginWaitTest(E2ECase):
    # The password never arrives within the test: only noticing the delete ends the create.
    emulator_options = {"password_lag_ms": 600000}

    def test_a_branch_deleted_while_logins_fail_ends_create_at_once_with_exit_4(self):
        out_dir = os.path.join(self.tmp, "out")
        err_path = os.path.join(self.tmp, "stderr")
        env = self.emu.env()
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        start = time.monotonic()
        with open(err_path, "w") as err_file:
            proc = subprocess.Popen([harness.require_xbranch(), "create", "--sandbox", "gone",
                                     "--sslmode", "disable", "--timeout", "90s",
                                     "--output-dir", out_dir],
                                    env=env, stdout=subprocess.DEVNULL, stderr=err_file)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))

        def stderr_text():
            with open(err_path) as f:
                return f.read()

        # A few refused logins first: the check is waiting for the password.
        harness.wait_until(lambda: "connecting, try 3" in stderr_text(), 30, "failing logins")
        [branch] = self.active("sb-gone-")
        r = self.emu.api("DELETE", "/branches/" + branch["id"])
        self.assertIn(r.status, (200, 202, 204), r)
        deleted = time.monotonic()
        code = proc.wait(60)
        ended = time.monotonic()
        err = stderr_text()
        self.assertEqual(code, 4, err)
        # Within a look or two (one per 5 s), far before --timeout.
        self.assertLess(ended - deleted, 15, err)
        self.assertLess(ended - start, 45, err)
        self.assertIn(branch["name"], err)
        self.assertIn(branch["id"], err)
        self.assertIn("deleted", err)
        self.assertNotIn("no login to branch", err)
        # The only DELETE is the test's own: xbranch tried to delete nothing.
        self.assertEqual(len(self.api_calls("DELETE")), 1)
        self.assertEqual(self.active("sb-gone-"), [])
        self.assertEqual(present_outputs(out_dir), [])
