#!/usr/bin/python3
"""buildah_retry: docker/buildah-retry tries buildah again only when buildah
failed on its self re-exec's memfd seal (EBUSY), and passes everything else
through: exit status, stdout, stderr, arguments. A fake buildah stands in
(no image needed)."""

import os
import subprocess
import tempfile
import textwrap
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("XBRANCH_SOURCE_DIR") or HERE.parents[1])
RETRY = SRC / "docker" / "buildah-retry"

SEAL = "Close_Fd sealing memfd copy: Device or resource busy"

# Fails with the given stderr line and status for the first FAILS calls, then
# prints its arguments and exits 0. Counts its calls in a file.
FAKE = textwrap.dedent("""\
    #!/bin/sh
    n=$(cat "$FAKE_COUNT" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE_COUNT"
    if [ "$n" -le "$FAKE_FAILS" ]; then echo "$FAKE_ERR" >&2; exit "$FAKE_RC"; fi
    echo "out: $*"; echo "err line" >&2; exit "${FAKE_OK_RC:-0}"
    """)


class BuildahRetry(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="buildah-retry-")
        d = Path(self.tmp.name)
        self.fake = d / "buildah"
        self.fake.write_text(FAKE)
        self.fake.chmod(0o755)
        self.count = d / "count"

    def tearDown(self):
        self.tmp.cleanup()

    def run_retry(self, fails, err, rc=1, tries=None, ok_rc=0, args=("run", "c1", "--", "a b")):
        env = {**os.environ, "BUILDAH_RETRY_BIN": str(self.fake), "FAKE_COUNT": str(self.count),
               "FAKE_FAILS": str(fails), "FAKE_ERR": err, "FAKE_RC": str(rc),
               "FAKE_OK_RC": str(ok_rc), "TMPDIR": self.tmp.name}
        if tries is not None:
            env["BUILDAH_RETRY_TRIES"] = str(tries)
        p = subprocess.run([str(RETRY), *args], env=env, capture_output=True, text=True, timeout=30)
        calls = int(self.count.read_text()) if self.count.exists() else 0
        return p, calls

    def test_seal_race_is_tried_again(self):
        p, calls = self.run_retry(fails=2, err=SEAL)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(calls, 3)
        self.assertEqual(p.stdout, "out: run c1 -- a b\n")  # arguments unchanged, stdout only once
        self.assertEqual(p.stderr.count("trying again"), 2)
        self.assertIn("err line", p.stderr)

    def test_gives_up_after_the_tries(self):
        p, calls = self.run_retry(fails=10, err=SEAL, rc=125, tries=3)
        self.assertEqual(p.returncode, 125)
        self.assertEqual(calls, 3)
        self.assertIn(SEAL, p.stderr)

    def test_other_failures_are_not_retried(self):
        p, calls = self.run_retry(fails=10, err="Error: no such container c1", rc=125)
        self.assertEqual((p.returncode, calls), (125, 1))
        self.assertIn("no such container", p.stderr)
        self.assertNotIn("trying again", p.stderr)

    def test_the_commands_own_status_passes_through(self):
        # The command inside the container failed (exit 3) and printed nothing
        # about memfd: one call, its status.
        p, calls = self.run_retry(fails=0, err="", ok_rc=3)
        self.assertEqual((p.returncode, calls), (3, 1))

    def test_bad_tries_setting(self):
        p, calls = self.run_retry(fails=0, err="", tries="x")
        self.assertEqual((p.returncode, calls), (2, 0))

    def test_no_temp_file_left(self):
        self.run_retry(fails=1, err=SEAL)
        left = [f.name for f in Path(self.tmp.name).iterdir() if f.name.startswith("buildah-retry.")]
        self.assertEqual(left, [])


if __name__ == "__main__":
    unittest.main()
