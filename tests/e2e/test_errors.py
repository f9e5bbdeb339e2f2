"""End to end: how xbranch fails (exit codes, messages, cleanup) against the
emulator's error answers and branch behaviours.

Unknown organization vs. unknown project: the API (Xata Core, and the
emulator after it) answers 401 `no access to organization [x]` for an
organization the key does not belong to, and 404 `project [x] not found`
for an unknown project in the key's organization. xbranch maps 401/403 to
exit 3 and 404 to exit 4, so those are asserted."""

import calendar
import json
import os
import re
import signal
import subprocess
import time

from e2e_common import E2ECase, harness, main, CREATE_FLAGS, OUTPUT_FILES

READONLY_KEY = "xau_readonlykey0000000000000000000000"


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class ErrorsTest(E2ECase):
    emulator_options = {"readonly_key": READONLY_KEY}

    def assert_request_id_in(self, text, status):
        ids = [r["requestId"] for r in self.emu.requests() if r["status"] == status]
        self.assertTrue(ids, "no %d in the request log" % status)
        self.assertIn(ids[-1], text)

    def test_wrong_key_is_exit_3_with_the_request_id(self):
        code, out, err = self.create("auth", env={"XATA_API_KEY": "xau_wrongwrongwrongwrong"}, expect=3)
        self.assertIn("401", err)
        self.assert_request_id_in(err, 401)
        self.assertIn("XATA_API_KEY", err)
        for cmd in (["delete", "--sandbox", "auth"], ["status", "--sandbox", "auth"], ["list"],
                    ["url", "--sandbox", "auth"]):
            code, out, err = self.xb(*cmd, env={"XATA_API_KEY": "xau_wrongwrongwrongwrong"})
            self.assertEqual(code, 3, (cmd, out, err))
        self.assertEqual(self.active("sb-auth"), [])

    def test_readonly_key_is_exit_3_and_creates_nothing(self):
        code, out, err = self.create("ro", env={"XATA_API_KEY": READONLY_KEY}, expect=3)
        self.assertIn("403", err)
        self.assert_request_id_in(err, 403)
        self.assertEqual(self.active("sb-ro-"), [])

    def test_unknown_organization_is_3_and_unknown_project_is_4(self):
        code, out, err = self.create("org", env={"XATA_ORGANIZATION_ID": "zzzzzz"}, expect=3)
        self.assertIn("zzzzzz", err)
        self.assert_request_id_in(err, 401)
        code, out, err = self.create("prj", env={"XATA_PROJECT_ID": "prj_nosuchproject0000000000000"},
                                     expect=4)
        self.assertIn("prj_nosuchproject0000000000000", err)
        self.assert_request_id_in(err, 404)
        self.assertEqual(self.api_calls("POST"), [])

    def test_missing_key_and_bad_flags_are_exit_2_before_any_request(self):
        e = self.emu.env()
        del e["XATA_API_KEY"]
        code, out, err = harness.run_xbranch(["create", "--sandbox", "nokey"] + CREATE_FLAGS, e)
        self.assertEqual(code, 2, err)
        self.assertIn("XATA_API_KEY", err)
        self.assertIn("hint", err)
        for args in (["create", "--sandbox", "x", "--bogus"],
                     ["create"],
                     ["create", "--sandbox", "x", "--timeout", "soon"],
                     ["create", "--sandbox", "x", "--output", "yaml"],
                     ["create", "--sandbox", "x", "--endpoint", "primary"],
                     ["frobnicate"],
                     ["delete"]):
            code, out, err = self.xb(*args)
            self.assertEqual(code, 2, (args, out, err))
            self.assertTrue(err.strip(), args)
        e = self.emu.env()
        del e["XATA_PROJECT_ID"]
        code, out, err = harness.run_xbranch(["create", "--sandbox", "x"], e)
        self.assertEqual(code, 2, err)
        self.assertEqual(self.emu.requests(), [])

    def test_output_dir_is_made_like_mkdir_p(self):
        missing = os.path.join(self.tmp, "no-such-parent", "out")
        self.create("io", "--output-dir", missing)
        self.assertEqual(sorted(os.listdir(missing)), sorted(OUTPUT_FILES))
        self.assertEqual(os.stat(os.path.dirname(missing)).st_mode & 0o777, 0o755 & ~current_umask())

    def test_output_dir_below_a_file_is_exit_9_and_costs_no_branch(self):
        plain = os.path.join(self.tmp, "plain")
        with open(plain, "w") as f:
            f.write("x")
        code, out, err = self.create("io2", "--output-dir", os.path.join(plain, "out"), expect=9)
        self.assertIn(plain + " is a file, not a folder", err)
        self.assertEqual(self.all_named("sb-io2-"), [])
        self.assertEqual(self.api_calls("POST"), [])

    def test_folder_at_an_output_name_costs_no_branch(self):
        out_dir = os.path.join(self.tmp, "blocked")
        os.makedirs(os.path.join(out_dir, "password"))
        code, out, err = self.create("io3", "--output-dir", out_dir, expect=9)
        self.assertIn("password", err)
        self.assertEqual(self.all_named("sb-io3-"), [])
        self.assertEqual(self.api_calls("POST"), [])

    def test_api_key_with_a_trailing_newline_works(self):
        # A Secret made from a file: the key ends in a newline.
        key = self.emu.env()["XATA_API_KEY"]
        self.create("nlkey", env={"XATA_API_KEY": key + "\n"})
        self.assertEqual(len(self.active("sb-nlkey-")), 1)

    def test_control_characters_in_the_key_are_refused_before_any_request(self):
        key = self.emu.env()["XATA_API_KEY"]
        for bad in (key + "\r\nX-Injected: yes", key[:6] + "\x01" + key[6:]):
            code, out, err = self.xb("status", "--sandbox", "x", env={"XATA_API_KEY": bad})
            self.assertEqual(code, 2, err)
            self.assertIn("XATA_API_KEY", err)
            self.assertNotIn(key, out + err)
            self.assertNotIn("Injected", out + err)
        self.assertEqual(self.emu.requests(), [])

    def test_malformed_base_urls_are_exit_2_without_requests(self):
        base = self.emu.env()["XATA_API_BASE_URL"]
        for bad in (base + " ", base + "\n", "http://127.0.0.1:70000", "http://", "ftp://127.0.0.1:1"):
            code, out, err = self.xb("status", "--sandbox", "x", env={"XATA_API_BASE_URL": bad})
            self.assertEqual(code, 2, (bad, err))
            self.assertIn("XATA_API_BASE_URL", err)
        # Plain http to a host that is not loopback would send the key in clear.
        code, out, err = self.xb("--base-url", "http://api.example.invalid", "status", "--sandbox", "x")
        self.assertEqual(code, 2, err)
        self.assertIn("--allow-insecure-http", err)
        self.assertEqual(self.emu.requests(), [])

    def test_bad_sslmode_and_tiny_timeouts_are_exit_2_and_cost_no_branch(self):
        code, out, err = self.xb("create", "--sandbox", "ssl", "--sslmode", "requre")
        self.assertEqual(code, 2, err)
        self.assertIn("requre", err)
        code, out, err = self.xb("url", "--sandbox", "ssl", env={"XBRANCH_SSLMODE": "verify_full"})
        self.assertEqual(code, 2, err)
        self.assertIn("XBRANCH_SSLMODE", err)
        for flag in ("--request-timeout", "--connect-timeout"):
            for value in ("0.0004", "0", "0ms"):
                code, out, err = self.xb(flag, value, "status", "--sandbox", "ssl")
                self.assertEqual(code, 2, (flag, value, err))
        self.assertEqual(self.api_calls("POST"), [])
        self.assertEqual(self.emu.requests(), [])

    def test_compound_durations_work_and_every_duration_error_has_one_style(self):
        code, out, err = self.xb("create", "--sandbox", "dur", "--sslmode", "disable",
                                 "--timeout", "1h30m", "--ttl", "1d12h", "--output", "json")
        self.assertEqual(code, 0, err)
        code, out, err = self.xb("--request-timeout", "1m0.5s", "--connect-timeout", "2m30s",
                                 "gc", "--expired", "--older-than", "1h30m", "--grace", "1m30s",
                                 "--dry-run")
        self.assertEqual(code, 0, err)
        before = len(self.emu.requests())
        bad = "1x\x1b[2J"
        for args, flag in ((["create", "--sandbox", "dur", "--timeout", bad], "--timeout"),
                           (["create", "--sandbox", "dur", "--ttl", bad], "--ttl"),
                           (["run", "--timeout", bad, "--", "true"], "--timeout"),
                           (["reset", "--sandbox", "dur", "--timeout", bad], "--timeout"),
                           (["--request-timeout", bad, "status", "--sandbox", "dur"],
                            "--request-timeout"),
                           (["--connect-timeout", bad, "list"], "--connect-timeout"),
                           (["gc", "--expired", "--older-than", bad], "--older-than"),
                           (["gc", "--expired", "--grace", bad], "--grace")):
            code, out, err = self.xb(*args)
            self.assertEqual(code, 2, (args, err))
            self.assertIn("error: invalid %s '1x\\x1b[2J': not a duration" % flag, err)
            self.assertIn("hint: e.g. %s 1h30m;" % flag, err)
            self.assertNotIn("\x1b", err)
        # The ranges stay: no sub-millisecond request timeout, a TTL of at least 1s.
        code, out, err = self.xb("--request-timeout", "0.4ms", "list")
        self.assertEqual(code, 2, err)
        self.assertIn("invalid --request-timeout '0.4ms': use a duration from 1ms to 1d", err)
        code, out, err = self.xb("create", "--sandbox", "dur", "--ttl", "0.5s")
        self.assertEqual(code, 2, err)
        self.assertIn("invalid --ttl '0.5s': use a duration from 1s to 3650d", err)
        code, out, err = self.xb("gc", "--older-than", "59m59s")
        self.assertEqual(code, 2, err)
        self.assertIn("--force", err)
        self.assertEqual(len(self.emu.requests()), before)

    def test_ctrl_c_during_a_slow_describe_names_the_wait_not_the_url(self):
        # The first describe of the new branch is answered only after 4 s.
        self.emu.set_faults([{"method": "GET", "path": "/branches/[a-z0-9]+$", "kind": "delay",
                              "delayMs": 4000, "times": 1}])
        proc = subprocess.Popen([harness.require_xbranch(), "create", "--sandbox", "sig",
                                 *CREATE_FLAGS], env=self.emu.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            harness.wait_until(lambda: self.api_calls("POST"), 20, "the POST")
            time.sleep(1.0)  # the describe is in flight now
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 130, err)
        name = self.all_named("sb-sig-")[0]["name"]
        self.assertIn("error: wait for branch %s: interrupted by signal 2" % name, err)
        error_lines = [line for line in err.splitlines() if line.startswith("xbranch: error:")]
        self.assertEqual(len(error_lines), 1, err)
        self.assertNotIn("http://", error_lines[0])
        self.assertNotIn("GET ", error_lines[0])
        self.assertIn("was deleted", err)
        self.assertEqual(self.active("sb-sig-"), [])

    def test_org_id_alias_of_the_tutorial_secret(self):
        e = self.emu.env()
        org = e.pop("XATA_ORGANIZATION_ID")
        e["XATA_ORG_ID"] = org
        code, out, err = harness.run_xbranch(["-v", "list"], e)
        self.assertEqual(code, 0, err)
        self.assertIn("organization = %s (env XATA_ORG_ID)" % org, err)

    def test_verbose_shows_every_setting_origin(self):
        code, out, err = self.xb("-v", "list", env={"XBRANCH_SSLMODE": "disable", "NO_COLOR": "1",
                                                    "TERM": "dumb"})
        self.assertEqual(code, 0, err)
        for line in ("sslmode = disable (env XBRANCH_SSLMODE)", "no color = 1 (env NO_COLOR)",
                     "terminal = dumb (env TERM)", "log format = text (default)",
                     "api key = ******** (env XATA_API_KEY)"):
            self.assertIn(line, err)
        self.assertNotIn(self.emu.env()["XATA_API_KEY"], err)

    def test_json_logs_apply_to_flag_parse_errors(self):
        for args, env in ((["--log-format", "json", "create", "--bogus"], None),
                          (["create", "--bogus"], {"XBRANCH_LOG_FORMAT": "json"})):
            code, out, err = self.xb(*args, env=env)
            self.assertEqual(code, 2, err)
            line = json.loads(err.strip().splitlines()[-1])
            self.assertEqual((line["level"], line["exitCode"]), ("error", 2))
            self.assertIn("--bogus", line["msg"])
            # The same time field as every other JSON log line: RFC 3339 UTC, near now.
            self.assertEqual(list(line)[0], "time")
            self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            stamp = calendar.timegm(time.strptime(line["time"][:19], "%Y-%m-%dT%H:%M:%S"))
            self.assertLess(abs(stamp - time.time()), 60)
        # An error after logging started (bad duration) carries it too.
        code, out, err = self.xb("--log-format", "json", "list", "--connect-timeout", "soon")
        self.assertEqual(code, 2, err)
        line = json.loads(err.strip().splitlines()[-1])
        self.assertIn("time", line)
        self.assertIn("--connect-timeout", line["msg"])

    def test_each_command_help_lists_the_exit_codes_it_can_return(self):
        def codes(*args):
            code, out, err = self.xb(*args, "--help")
            self.assertEqual(code, 0, err)
            table = out.split("Exit codes:\n", 1)[1].split("\n\n", 1)[0]
            return {line.split()[0] for line in table.splitlines() if line.startswith("  ")}

        everywhere = {"0", "1", "2", "3", "4", "8", "9", "10", "130/143/129"}
        lifecycle = everywhere | {"5", "6", "7", "11", "12", "13"}
        self.assertEqual(codes(), lifecycle | {"14", "127"})  # 127: shell without psql
        self.assertEqual(codes("diff"), everywhere | {"6", "11", "14"})
        for command in ("create", "run", "reset"):
            self.assertEqual(codes(command), lifecycle, command)
        for command in ("list", "status"):
            self.assertEqual(codes(command), everywhere, command)
        for command in ("delete", "url", "gc"):  # gc: an empty sandbox list is refused
            self.assertEqual(codes(command), everywhere | {"5"}, command)
        self.assertEqual(codes("shell"), everywhere | {"5", "127"})
        # The command's own footer is still there, before the table.
        code, out, err = self.xb("gc", "--help")
        self.assertIn("xbranch gc --orphans --expired --dry-run", out.split("Exit codes:")[0])

    def test_global_flags_after_the_command_work_and_foreign_flags_are_named(self):
        code, out, err = self.xb("list", "-v", "--log-format", "json", "--request-timeout", "5s")
        self.assertEqual(code, 0, err)
        self.assertIn('"level":"debug"', err)
        before = len(self.emu.requests())
        for args, message in (
                (["create", "--sandbox", "x", "--force"],
                 "xbranch create has no flag '--force' (it is a flag of url, delete, gc, reset, shell)"),
                (["gc", "--expired", "--sslmode=disable"],
                 "xbranch gc has no flag '--sslmode' (it is a flag of create, url, run, reset, diff, shell)"),
                (["list", "--bogus\x1b[2J"], "unknown flag '--bogus\\x1b[2J' for xbranch list")):
            code, out, err = self.xb(*args)
            self.assertEqual(code, 2, (args, err))
            self.assertIn("xbranch: error: " + message + "\n", err)
            self.assertNotIn("not expected", err)
            self.assertIn("hint: run `xbranch %s --help` for its flags" % args[0], err)
        self.assertEqual(len(self.emu.requests()), before)

    def test_a_command_flag_before_the_command_is_named_as_misplaced(self):
        before = len(self.emu.requests())
        code, out, err = self.xb("--timeout", "1s", "create", "--sandbox", "x")
        self.assertEqual(code, 2, err)
        self.assertIn("xbranch: error: '--timeout' is a flag of xbranch create: "
                      "it goes after the command's name\n", err)
        self.assertNotIn("has no flag", err)
        self.assertEqual(len(self.emu.requests()), before)

    def test_an_empty_value_after_equals_does_not_swallow_the_next_flag(self):
        # CLI11 alone took `--no-connect-check` as the sandbox's name and
        # created sb-no-connect-check-...
        before = len(self.emu.requests())
        for args in (["create", "--sandbox=", "--no-connect-check"],
                     ["create", "--sandbox", "x", "--ttl=", "--no-connect-check"],
                     ["status", "--sandbox=", "--output", "json"]):
            code, out, err = self.xb(*args)
            self.assertEqual(code, 2, (args, err))
            name = next(a for a in args if a.endswith("="))[:-1]
            self.assertIn("xbranch: error: the flag '%s' has nothing after its '='\n" % name, err)
        self.assertEqual(len(self.emu.requests()), before)
        # After `--` the arguments are run's CMD: an empty `--x=` there is CMD's business.
        code, out, err = self.xb("run", "--sandbox", "x", "--timeout", "nope", "--", "env", "--x=")
        self.assertEqual(code, 2, err)
        self.assertIn("invalid --timeout", err)
        self.assertNotIn("nothing after its", err)

    def test_version_has_no_trailing_blank_line(self):
        code, out, err = self.xb("--version")
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith("xbranch "), out)
        self.assertTrue(out.endswith("\n") and not out.endswith("\n\n"), repr(out))

    def test_url_of_a_root_branch_needs_force(self):
        code, out, err = self.xb("url", "--branch", "main", "--sslmode", "disable")
        self.assertEqual(code, 5, err)
        self.assertIn("--force", err)
        self.assertEqual(out, "")
        code, out, err = self.xb("url", "--branch", "main", "--sslmode", "disable", "--force")
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith("postgresql://"), out)

    def test_hints_are_joined_cleanly(self):
        for args in (["create"], ["status", "--branch-id", "nope"], ["url", "--sandbox", "gone-away"]):
            code, out, err = self.xb(*args)
            self.assertNotEqual(code, 0)
            for line in err.splitlines():
                if line.startswith("hint:"):
                    self.assertNotIn(". .", line)
                    self.assertNotIn("..", line)

    def test_409_race_is_adopted(self):
        """The branch appears between xbranch's lookup and its POST: the POST
        gets 409 and xbranch adopts the branch (same parent)."""
        self.emu.set_faults([{"method": "GET", "path": "/branches$", "kind": "delay", "delayMs": 1500,
                              "times": 1}])
        proc = subprocess.Popen([harness.xbranch_bin(), "create", "--branch", "sb-racer", "--output", "json"]
                                + CREATE_FLAGS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(self.emu.env(), PATH=os.environ.get("PATH", "/usr/bin:/bin")))
        try:
            self.wait_until(lambda: self.emu.admin_get("faults")["faults"][0]["fired"] == 1, 30,
                            "the delayed list call")
            r = self.emu.create_branch("sb-racer")
            self.assertEqual(r.status, 201, r)
            theirs = r.json()["id"]
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["branch"]["id"], theirs)
        self.assertTrue(doc["branch"]["adopted"])
        self.assertEqual([p["status"] for p in self.api_calls("POST", r"/branches$")], [201, 409])
        self.assertEqual(len(self.active("sb-racer")), 1)

    def test_existing_branch_same_parent_is_adopted(self):
        r = self.emu.create_branch("sb-premade")
        self.assertEqual(r.status, 201, r)
        code, out, err = self.xb("create", "--branch", "sb-premade", "--output", "json", *CREATE_FLAGS)
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["branch"]["id"], r.json()["id"])
        self.assertTrue(doc["branch"]["adopted"])
        self.assertEqual([p["status"] for p in self.api_calls("POST", r"/branches$")], [201])

    def test_existing_branch_of_a_foreign_parent_is_a_conflict(self):
        r = self.emu.create_branch("staging")
        staging = r.json()["id"]
        self.emu.wait_ready(staging)
        r = self.emu.create_branch("sb-foreign", parent_id=staging)
        self.assertEqual(r.status, 201, r)
        foreign = r.json()["id"]
        self.emu.wait_ready(foreign)
        before = self.emu.requests()
        code, out, err = self.xb("create", "--branch", "sb-foreign", *CREATE_FLAGS)
        self.assertEqual(code, 5, (out, err))
        self.assertIn(foreign, err)
        [b] = self.all_named("sb-foreign")
        self.assertIsNone(b["deletedAt"])
        self.assertEqual(b["parentID"], staging)
        after = self.emu.requests()[len(before):]
        self.assertEqual([r for r in after if r["method"] not in ("GET",)], [],
                         "xbranch changed the foreign branch")

    def test_unhealthy_parent_is_exit_10(self):
        self.emu.next_behavior("never_ready")
        r = self.emu.create_branch("wobbly")
        self.assertEqual(r.status, 201, r)
        code, out, err = self.create("onwobbly", "--parent", "wobbly", expect=10)
        self.assertIn("412", err)
        self.assert_request_id_in(err, 412)
        self.assertEqual(self.active("sb-onwobbly"), [])

    def test_branch_limit_is_a_clear_failure(self):
        # Core shape (no /limits): the server's own 400 refusal, exit 12 (quota).
        self.emu.set_config(maxBranches=2, credentialsShape="core")
        self.create("first")
        code, out, err = self.create("second", expect=12)
        self.assertIn("400", err)
        posts = self.api_calls("POST", r"/branches$")
        self.assertEqual(posts[-1]["status"], 400)
        self.assertIn(json.loads(posts[-1]["responseBody"])["message"], err)
        self.assertEqual(len(posts), 2, "a 400 was retried")
        self.assertEqual(self.active("sb-second"), [])


if __name__ == "__main__":
    main()
