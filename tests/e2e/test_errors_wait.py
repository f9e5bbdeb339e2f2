"""End to end: failures while waiting for the branch (FAULT, never ready,
stays hibernated, credentials late or never): exit codes, cleanup, --keep-on-failure.
The API-answer failures are in test_errors.py."""

import json
import os
import time

from e2e_common import E2ECase, harness, main


class WaitErrorsTest(E2ECase):
    def test_fault_is_exit_7_branch_deleted_no_files(self):
        self.emu.next_behavior("fault")
        out_dir = os.path.join(self.tmp, "out")
        code, out, err = self.create("faulty", "--output-dir", out_dir, expect=7)
        self.assertIn("FAULT", err)
        [b] = self.all_named("sb-faulty-")
        self.assertIsNotNone(b["deletedAt"], "the faulted branch was left behind")
        self.assertEqual(self.assert_no_partial_outputs(out_dir), [])
        self.assertEqual(out, "")

    def test_never_ready_times_out_with_exit_6_and_cleans_up(self):
        self.emu.next_behavior("never_ready")
        out_dir = os.path.join(self.tmp, "out")
        before = len(self.emu.requests())
        t = time.monotonic()
        code, out, err = self.xb("create", "--sandbox", "slow", "--sslmode", "disable", "--timeout", "2s",
                                 "--output-dir", out_dir)
        took = time.monotonic() - t
        self.assertEqual(code, 6, (out, err))
        # Not before the deadline (a busy machine only makes this later) ...
        self.assertGreaterEqual(took, 1.9)
        # ... and at the deadline it stops polling: POST, describes, then the
        # DELETE of the branch it made, and nothing after that.
        calls = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in self.emu.requests()[before:]]
        self.assertIn(("POST", "branches"), calls)
        self.assertEqual(calls[-1][0], "DELETE", calls)
        post = calls.index(("POST", "branches"))
        self.assertGreaterEqual(sum(1 for m, _ in calls[post + 1:-1] if m == "GET"), 2, calls)
        self.assertTrue(all(m == "GET" for m, _ in calls[post + 1:-1]), calls)
        self.assertRegex(err, r"(?i)not ready|timed out|timeout")
        [b] = self.all_named("sb-slow-")
        self.assertIsNotNone(b["deletedAt"])
        self.assertEqual(self.assert_no_partial_outputs(out_dir), [])

        # --keep-on-failure keeps it, and says so.
        self.emu.next_behavior("never_ready")
        code, out, err = self.xb("create", "--sandbox", "slow2", "--sslmode", "disable", "--timeout", "2s",
                                 "--keep-on-failure")
        self.assertEqual(code, 6, (out, err))
        [b] = self.all_named("sb-slow2-")
        self.assertIsNone(b["deletedAt"], "--keep-on-failure deleted the branch")
        self.assertIn(b["id"], err)
        self.assertEqual(self.api_calls("DELETE")[-1]["path"].rsplit("/", 1)[1],
                         self.all_named("sb-slow-")[0]["id"])

    def test_stay_hibernated_is_woken(self):
        self.emu.next_behavior("stay_hibernated")
        code, out, err = self.create("sleepy", "--output", "json")
        doc = json.loads(out)
        patches = self.api_calls("PATCH")
        self.assertTrue(patches, "no PATCH sent")
        self.assertTrue(all(p["path"].endswith("/branches/" + doc["branch"]["id"]) for p in patches))
        self.assertEqual([json.loads(p["requestBody"]) for p in patches][0], {"hibernate": False})
        [b] = self.active("sb-sleepy-")
        self.assertEqual(b["state"], "STATUS_TYPE_HEALTHY")

    def test_credentials_late_then_available(self):
        # 503 + Retry-After twice, then normal: the GET is retried.
        self.emu.next_behavior("no_credentials", status=503, count=2)
        out_dir = os.path.join(self.tmp, "a")
        self.create("late503", "--output-dir", out_dir)
        v = self.assert_output_dir(out_dir)
        self.assertEqual(harness.psql(v["connection-string"], "SELECT 1").strip(), "1")
        creds = self.api_calls("GET", r"/credentials$")
        self.assertEqual([c["status"] for c in creds], [503, 503, 200])
        # 404 `Branch [ID]: not found` three times: waited for, within --timeout.
        self.emu.next_behavior("no_credentials", status=404, count=3)
        out_dir = os.path.join(self.tmp, "b")
        self.create("late404", "--output-dir", out_dir)
        self.assert_output_dir(out_dir)
        # Never: a clear failure (API unavailable), the branch deleted, no files.
        self.emu.next_behavior("no_credentials", status=503, count=0)
        out_dir = os.path.join(self.tmp, "c")
        # (unanswered credentials calls are asked again until --timeout; keep it short)
        code, out, err = self.xb("create", "--sandbox", "never", "--sslmode", "disable", "--timeout", "4s",
                                 "--output-dir", out_dir)
        self.assertEqual(code, 8, (out, err))
        self.assertIn("503", err)
        self.assertIn("credentials", err)
        [b] = self.all_named("sb-never-")
        self.assertIsNotNone(b["deletedAt"])
        self.assertEqual(self.assert_no_partial_outputs(out_dir), [])


if __name__ == "__main__":
    main()
