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

    def test_no_command_at_all_says_so(self):
        err = self.usage()
        self.assertIn("no command given", err)


if __name__ == "__main__":
    main()
