"""End to end: the real binary's words for a mistyped command or flag and
for out-of-range or empty durations. Every case is a usage error (exit 2)
found before any request, so no emulator runs: the API address is a closed
port and an answer from it would show as another exit code."""

import unittest

from e2e_common import harness, main

ENV = {"XATA_API_KEY": "xau_cliwordscliwordscliwords0000",
       "XATA_ORGANIZATION_ID": "org1", "XATA_PROJECT_ID": "prj1",
       "XATA_API_BASE_URL": "http://127.0.0.1:9"}


class CliWordsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            harness.require_xbranch()
        except unittest.SkipTest as e:
            raise AssertionError("xbranch binary missing (a failure, not a skip): %s" % e)

    def usage(self, *args):
        code, out, err = harness.run_xbranch(list(args), ENV, timeout=30)
        self.assertEqual(code, 2, (args, out, err))
        self.assertEqual(out, "", args)
        return err

    # -- did you mean
    def test_a_mistyped_command_is_named_with_the_nearest_command(self):
        err = self.usage("crate", "--sandbox", "x")
        self.assertIn("unknown command 'crate'", err)
        self.assertIn("did you mean 'create'?", err)
        err = self.usage("--log-format", "text", "lst")  # after a global flag and its value
        self.assertIn("did you mean 'list'?", err)

    def test_a_command_far_from_every_command_gets_the_list(self):
        err = self.usage("frobnicate")
        self.assertIn("unknown command 'frobnicate'", err)
        self.assertNotIn("did you mean", err)
        self.assertIn("create", err)  # the hint names the commands

    def test_a_mistyped_flag_is_named_with_the_nearest_flag_of_that_command(self):
        err = self.usage("create", "--sandbx", "x")
        self.assertIn("unknown flag '--sandbx' for xbranch create", err)
        self.assertIn("did you mean --sandbox?", err)
        err = self.usage("gc", "--older-then", "7d")
        self.assertIn("did you mean --older-than?", err)
        # A global flag is known after every command.
        err = self.usage("create", "--verbos", "--sandbox", "x")
        self.assertIn("did you mean --verbose?", err)
        # Only that command's flags: --older-than is gc's, not create's.
        err = self.usage("create", "--older-then", "7d")
        self.assertNotIn("did you mean", err)

    # -- empty durations
    def test_an_empty_timeout_flag_is_exit_2_not_the_default(self):
        for flag, default in (("--request-timeout", "30s"), ("--connect-timeout", "10s")):
            for args in (["list", flag, ""], [flag, "", "status", "--sandbox", "x"]):
                err = self.usage(*args)
                self.assertIn("%s is empty: give a duration from 1ms to 1d" % flag, err)
                self.assertIn("(default %s)" % default, err)

    # -- every duration has a maximum
    def test_a_duration_over_its_maximum_is_exit_2_naming_the_maximum(self):
        cases = ((["create", "--sandbox", "x", "--timeout", "2d"], "--timeout", "1ms to 1d"),
                 (["run", "--timeout", "11574d", "--", "true"], "--timeout", "1ms to 1d"),
                 (["reset", "--sandbox", "x", "--timeout", "25h"], "--timeout", "1ms to 1d"),
                 (["diff", "--sandbox", "x", "--timeout", "25h"], "--timeout", "1ms to 1d"),
                 (["gc", "--older-than", "4000d"], "--older-than", "0s to 3650d"),
                 (["gc", "--expired", "--grace", "31d"], "--grace", "0s to 30d"),
                 (["create", "--sandbox", "x", "--ttl", "3651d"], "--ttl", "1s to 3650d"),
                 (["list", "--request-timeout", "2d"], "--request-timeout", "1ms to 1d"))
        for args, flag, range_text in cases:
            err = self.usage(*args)
            self.assertIn("invalid %s" % flag, err)
            self.assertIn("use a duration from %s" % range_text, err)
            self.assertNotIn("11574d", err.replace("'11574d'", ""))
        code, out, err = harness.run_xbranch(["create", "--help"], ENV, timeout=30)
        self.assertEqual(code, 0, err)
        self.assertIn("1ms to 1d", out)

    def test_no_command_at_all_says_so(self):
        err = self.usage()
        self.assertIn("no command given", err)
        for args in (["--verbos"], ["-v", "--verbos"], ["-q", "--verbos"]):
            err = self.usage(*args)
            self.assertIn("unknown flag '--verbos' (did you mean --verbose?)", err)
        err = self.usage("-v", "lst")  # a flag without a value does not take the next word
        self.assertIn("unknown command 'lst' (did you mean 'list'?)", err)
        err = self.usage("--sandbox", "x")
        self.assertIn("'--sandbox' is a flag of create, ", err)
        self.assertIn("give the command first", err)


if __name__ == "__main__":
    main()
