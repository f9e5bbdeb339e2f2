"""End to end: what a failed create leaves behind and how text from the API
reaches the terminal, against the emulator's fault rules.

- A failed create removes the output folders it made itself (never one that
  was there before, never one holding a file).
- An API error body with terminal control characters (an ESC sequence, C1,
  DEL, invalid UTF-8) is shown escaped on stderr, in text and json logs."""

import json
import os

from e2e_common import E2ECase, main, CREATE_FLAGS

POST = {"method": "POST", "path": "/branches$"}
CREDS = {"method": "GET", "path": "/credentials$"}


def fault(target, **kw):
    r = dict(target)
    r.update({"kind": "status", "times": 1})
    r.update(kw)
    return r


class FailedCreateFolderTest(E2ECase):
    def test_a_failed_create_removes_the_folders_it_made(self):
        out = os.path.join(self.tmp, "new", "deeper")
        self.emu.set_faults([fault(POST, status=400, message="bad request")])
        code, _, err = self.create("fold1", "--output-dir", out, expect=10)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "new")), err)
        self.assertTrue(os.path.isdir(self.tmp))  # there before

    def test_a_failure_after_the_branch_exists_removes_them_too(self):
        out = os.path.join(self.tmp, "made")
        self.emu.set_faults([fault(CREDS, status=403, message="no credentials for you", times=0)])
        code, _, err = self.create("fold2", "--output-dir", out, expect=3)
        self.assertFalse(os.path.exists(out), err)
        self.assertEqual(self.active("sb-fold2"), [])  # and the branch it made is gone

    def test_a_folder_that_was_there_before_stays(self):
        before = os.path.join(self.tmp, "before")
        os.mkdir(before)
        out = os.path.join(before, "inner")
        self.emu.set_faults([fault(POST, status=400, message="bad request")])
        self.create("fold3", "--output-dir", before, expect=10)
        self.assertTrue(os.path.isdir(before))
        self.assertEqual(os.listdir(before), [])
        self.emu.set_faults([fault(POST, status=400, message="bad request")])
        self.create("fold4", "--output-dir", out, expect=10)
        self.assertEqual(os.listdir(before), [])  # inner made and removed, before kept
        # A successful create keeps the folder it made, with the files.
        code, _, err = self.create("fold5", "--output-dir", out)
        self.assertEqual(len(os.listdir(out)), 9, err)


NASTY = "bad \x1b[2J\x1b]0;pwned\x07 \u009b31m \x7f request"
SHOWN = "bad \\x1b[2J\\x1b]0;pwned\\x07 \\u009b31m \\x7f request"
RAW = ("\x1b", "\x07", "\u009b", "\x7f")


class OutsideTextTest(E2ECase):
    def assert_clean(self, err):
        for ch in RAW:
            self.assertNotIn(ch, err, "a raw %r reached stderr: %r" % (ch, err))

    def test_an_api_error_body_is_printed_escaped(self):
        self.emu.set_faults([fault(POST, status=400, message=NASTY)])
        code, _, err = self.create("esc1", expect=10)
        self.assertIn(SHOWN, err)
        self.assert_clean(err)

    def test_in_json_logs_too(self):
        self.emu.set_faults([fault(POST, status=400, message=NASTY)])
        code, _, err = self.create("esc2", "--log-format", "json", expect=10)
        # Progress notes ("creating branch ...") are plain text in both formats.
        lines = [json.loads(t) for t in err.splitlines() if t.startswith("{")]
        error = [line for line in lines if line["level"] == "error"][-1]
        self.assertIn(SHOWN, error["msg"])
        self.assert_clean(error["msg"])
        self.assert_clean(err)

    def test_an_error_logged_on_the_way_is_escaped(self):
        self.emu.set_faults([fault(CREDS, status=403, message=NASTY, times=0)])
        code, _, err = self.create("esc3", expect=3)
        because = [line for line in err.splitlines() if "created by this run, because" in line]
        self.assertEqual(len(because), 1, err)  # the log sink's warning
        self.assertIn(SHOWN, because[0])
        self.assertIn("xbranch: error: ", err)
        self.assert_clean(err)

    def test_hook_output_and_libpq_messages_are_escaped(self):
        sql = os.path.join(self.tmp, "raise.sql")
        with open(sql, "w") as f:
            f.write("DO $$ BEGIN RAISE EXCEPTION E'no \\x1b[2Jway'; END $$;\n")
        code, _, err = self.create("esc4", "--exec", "printf 'hook \\033[2J\\007out\\n'",
                                   expect=0)
        self.assertIn("hook \\x1b[2J\\x07out", err)
        self.assert_clean(err)
        code, _, err = self.create("esc5", "--sql", sql, expect=13)
        self.assertIn("no \\x1b[2Jway", err)
        self.assert_clean(err)


if __name__ == "__main__":
    main()
