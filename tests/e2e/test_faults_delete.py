"""The fault matrix, part 3: delete against faults on DELETE and on the name
lookup; then random faults (--fault-rate 0.1, fixed seed) over 10
create/delete cycles, which must all succeed and leave no branch. See
test_faults.py."""

import os
import shutil
import tempfile
import time
import unittest

import e2e_common
from e2e_common import harness, OUTPUT_FILES
from faults_common import DELETE_CASES, FaultMatrix, add_cases, main

RANDOM_SEED = 20261124
CYCLES = 10


class DeleteFaults(FaultMatrix):
    part = "3-delete"


add_cases(DeleteFaults, DELETE_CASES, "delete")


class RandomFaults(unittest.TestCase):
    def setUp(self):
        e2e_common.strict_requirements()
        self.emu = harness.Emulator(seed_sql=e2e_common.seed_file(), hibernated_ms=20, transient_ms=20,
                                    fault_rate=0.1, seed=RANDOM_SEED).start()
        self.addCleanup(self.emu.stop)
        self.tmp = tempfile.mkdtemp(prefix="xbranch-random-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_random_faults_over_create_delete_cycles(self):
        env = self.emu.env()
        failures = []
        t0 = time.time()
        for i in range(CYCLES):
            out_dir = os.path.join(self.tmp, "c%d" % i)
            code, out, err = harness.run_xbranch(
                ["--request-timeout", "5", "create", "--sandbox", "rnd%d" % i, "--sslmode", "disable",
                 "--timeout", "30s", "--output-dir", out_dir], env, timeout=120)
            if code != 0:
                failures.append(("create", i, code, err))
            elif sorted(os.listdir(out_dir)) != sorted(OUTPUT_FILES):
                failures.append(("outputs", i, os.listdir(out_dir), ""))
            code, out, err = harness.run_xbranch(["--request-timeout", "5", "delete", "--sandbox", "rnd%d" % i],
                                                 env, timeout=120)
            if code != 0:
                failures.append(("delete", i, code, err))
        log = self.emu.requests()
        faults = [r for r in log if r["fault"]]
        kinds = sorted({r["fault"] for r in faults})
        branches = [b for b in self.emu.branches() if b["name"].startswith("sb-rnd")]
        active = [b for b in branches if b["deletedAt"] is None]
        e2e_common.record_fault_rows("4-random", [{
            "case": "random faults, seed %d" % RANDOM_SEED, "op": "%d x create+delete" % CYCLES,
            "fault": "--fault-rate 0.1 (500, 502 html, 503, 504, drops, truncated, malformed)",
            "expected": "0 (all)", "got": "0 (all)" if not failures else "%d failed" % len(failures),
            "outcome": "%d API calls, %d faulted (%s); %d branches made, %d left; %.0fs" % (
                len(log), len(faults), ", ".join(kinds), len(branches), len(active), time.time() - t0)}])
        self.assertEqual(failures, [])
        self.assertGreater(len(faults), 0, "no fault was injected: the test proves nothing")
        self.assertEqual(active, [], "branches left behind")
        self.assertEqual(len(branches), CYCLES, "duplicate branches: %r" % [b["name"] for b in branches])


if __name__ == "__main__":
    main()
