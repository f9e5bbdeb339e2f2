"""The hooks run only while their run holds the hooks' lock, end to end: the
real binary, the emulator on real PostgreSQL, a lagging password.

- A create whose first lock try gets no answer (--no-connect-check while the
  password lags) tries again until the lock is taken, and only then runs its
  hook; a second create of the same sandbox meanwhile waits and adopts, it
  never deletes the branch the first run's hook uses.
- Two creates of the same sandbox started together under a lagging password,
  XBRANCH_HOOK_RACE_RUNS times (default 3): the hook runs once, on the branch
  both hand out, and no branch is deleted.
- No lock before --timeout: exit 6, no hook ran.
- kill -9 of create while its --exec hook runs ends the hook's whole process
  group (a background child included); a rerun recreates the branch and the
  old hook writes nothing more.
"""

import json
import os
import signal
import subprocess
import time

from e2e_common import E2ECase, harness, read_outputs

# Long enough that every create meets the lag (the first lock tries fail).
LAG_MS = 1500
FLAGS = ["--sslmode", "disable", "--timeout", "40s", "--no-connect-check"]


def seed_hook(marker, sleep_s):
    """Records its start, sleeps, then writes to the database (which needs the
    password to work) and records its end."""
    return ('echo "start $XBRANCH_BRANCH_ID" >> {m}; sleep {s}; '
            'psql -X -q -v ON_ERROR_STOP=1 -c "CREATE TABLE seeded (x int)" "$DATABASE_URL" '
            '&& echo "end $XBRANCH_BRANCH_ID" >> {m}').format(m=marker, s=sleep_s)


class HookLockUnderLagTest(E2ECase):
    emulator_options = {"password_lag_ms": LAG_MS}

    def start(self, sandbox, hook, out_dir, err_path, *extra):
        env = self.emu.env()
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        err = open(err_path, "w")
        self.addCleanup(err.close)
        p = subprocess.Popen([harness.require_xbranch(), "create", "--sandbox", sandbox, *FLAGS,
                              "--exec", hook, "--output-dir", out_dir, *extra],
                             env=env, stdout=subprocess.DEVNULL, stderr=err)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        return p

    def text(self, path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""

    def deletes(self):
        return self.api_calls("DELETE")

    def check_one_hook_on_the_handed_out_branch(self, marker, out_dirs, errs):
        ids = [read_outputs(d)["branch-id"] for d in out_dirs]
        self.assertEqual(len(set(ids)), 1, (ids, errs))
        self.assertEqual(self.text(marker).splitlines(),
                         ["start " + ids[0], "end " + ids[0]], errs)
        url = read_outputs(out_dirs[0])["connection-string"]
        self.assertEqual(harness.psql(url, "SELECT count(*) FROM seeded").strip(), "0")
        name = read_outputs(out_dirs[0])["branch-name"]
        self.assertEqual([b["id"] for b in self.active(name)], [ids[0]])
        for err in errs:
            self.assertNotIn("without their lock", err)
        return ids[0]

    def test_a_lock_try_without_answer_is_retried_and_a_second_create_never_deletes(self):
        marker = os.path.join(self.tmp, "marker")
        hook = seed_hook(marker, 3)
        out_a, out_b = os.path.join(self.tmp, "A"), os.path.join(self.tmp, "B")
        err_a, err_b = os.path.join(self.tmp, "err-a"), os.path.join(self.tmp, "err-b")
        start = time.monotonic()
        a = self.start("lock1", hook, out_a, err_a)
        # The first run's hook starts (only once its lock is taken, that is once
        # the password works): the second run comes while it runs.
        harness.wait_until(lambda: os.path.exists(marker) or a.poll() is not None, 30,
                           "the first run's hook")
        started = time.monotonic() - start
        b = self.start("lock1", hook, out_b, err_b)
        self.assertEqual(b.wait(60), 0, self.text(err_b))
        self.assertEqual(a.wait(60), 0, self.text(err_a))
        self.assertEqual(self.deletes(), [], (self.text(err_a), self.text(err_b)))
        self.check_one_hook_on_the_handed_out_branch(marker, [out_a, out_b],
                                                     [self.text(err_a), self.text(err_b)])
        # It waited for the lock, that is for the password (the lag starts at HEALTHY).
        self.assertGreater(started, LAG_MS / 1000.0 - 0.5, self.text(err_a))
        self.assertIn("another xbranch run", self.text(err_b))

    def test_two_creates_of_one_sandbox_under_a_lagging_password_never_delete(self):
        runs = int(os.environ.get("XBRANCH_HOOK_RACE_RUNS", "3"))
        began = time.monotonic()
        for n in range(runs):
            sandbox = "race%d" % n
            marker = os.path.join(self.tmp, "marker%d" % n)
            hook = seed_hook(marker, 1)
            outs = [os.path.join(self.tmp, "%s-%d" % (w, n)) for w in "AB"]
            errs = [os.path.join(self.tmp, "err-%s-%d" % (w, n)) for w in "AB"]
            before = len(self.deletes())
            procs = [self.start(sandbox, hook, outs[0], errs[0])]
            time.sleep((n % 4) * 0.15)  # together, or a little apart
            procs.append(self.start(sandbox, hook, outs[1], errs[1]))
            codes = [p.wait(90) for p in procs]
            texts = [self.text(e) for e in errs]
            self.assertEqual(codes, [0, 0], (n, texts))
            self.assertEqual(self.deletes()[before:], [], (n, texts))
            self.check_one_hook_on_the_handed_out_branch(marker, outs, texts)
            code, _, err = self.xb("delete", "--sandbox", sandbox)
            self.assertEqual(code, 0, err)
        print("hook race: %d rounds in %.1f s" % (runs, time.monotonic() - began))

    def test_no_lock_before_the_timeout_is_exit_6_and_no_hook_runs(self):
        self.emu.set_config(passwordLagMs=600000)
        marker = os.path.join(self.tmp, "marker")
        out_dir = os.path.join(self.tmp, "out")
        start = time.monotonic()
        code, out, err = self.xb("create", "--sandbox", "nolock", "--sslmode", "disable",
                                 "--timeout", "4s", "--no-connect-check",
                                 "--exec", "echo ran >> %s" % marker, "--output-dir", out_dir)
        took = time.monotonic() - start
        self.assertEqual(code, 6, err)
        self.assertFalse(os.path.exists(marker), err)
        self.assertIn("lock", err)
        self.assertLess(took, 4 + 3, err)
        self.assertFalse(os.path.exists(os.path.join(out_dir, "branch-id")))


class HookKilledWithCreateTest(E2ECase):
    def alive(self, pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def test_kill_9_of_create_ends_the_hooks_whole_process_group(self):
        marker = os.path.join(self.tmp, "ticks")
        pids = os.path.join(self.tmp, "pids")
        # The shell and a background child, both in the hook's group, both writing.
        hook = ('if [ -n "$SLOW" ]; then '
                '(while :; do echo tick >> {m}; sleep 0.1; done) & echo $! >> {p}; '
                'echo $$ >> {p}; while :; do echo tock >> {m}; sleep 0.1; done; fi; '
                'echo seeded-now').format(m=marker, p=pids)
        env = self.emu.env()
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        env["SLOW"] = "1"
        proc = subprocess.Popen([harness.require_xbranch(), "create", "--sandbox", "nine",
                                 "--sslmode", "disable", "--timeout", "30s", "--exec", hook],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hook_pids = []

        def read_pids():
            try:
                with open(pids) as f:
                    return [int(x) for x in f.read().split()]
            except (OSError, ValueError):
                return []

        def kill_leftovers():
            for pid in hook_pids or read_pids():
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except OSError:
                    pass
        self.addCleanup(kill_leftovers)
        try:
            harness.wait_until(lambda: len(read_pids()) == 2, 30, "the hook to start")
            hook_pids = read_pids()
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        killed = time.monotonic()
        harness.wait_until(lambda: not any(self.alive(p) for p in hook_pids), 5,
                           "the hook's process group to end")
        self.assertLess(time.monotonic() - killed, 3)
        size = os.path.getsize(marker)
        time.sleep(0.5)
        self.assertEqual(os.path.getsize(marker), size, "the hook still writes")
        # The rerun recreates the branch; the old hook is gone for good.
        code, out, err = self.create("nine", "--exec", hook, "--output", "json")
        self.assertIn("afresh", err)
        self.assertIn("seeded-now", err)
        self.assertEqual(os.path.getsize(marker), size)
        self.assertEqual(len(self.active("sb-nine-")), 1)
        self.assertEqual(json.loads(out)["branch"]["id"], self.active("sb-nine-")[0]["id"])
        self.assertEqual(self.xb("delete", "--sandbox", "nine")[0], 0)


if __name__ == "__main__":
    harness.main()
