#!/usr/bin/python3
"""scripts_demo: scripts/demo.sh run for real with the built binaries
(XBRANCH_BIN and XATA_EMULATOR_BIN make it skip the install and the build).

- On a terminal two rows high, with a pager that would never return, the
  demo still runs to its end: psql must not page.
- SIGTERM in the middle of a step stops the demo at once: exit 143,
  cleanup once, no later step, nothing left running or on disk.
- A terminal's Ctrl-C (SIGINT to the whole process group): exit 130, the
  same."""

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import tempfile
import termios
import time
import unittest

SRC = os.environ.get("XBRANCH_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(SRC, "scripts", "demo.sh")


def binaries():
    xb = os.environ.get("XBRANCH_BIN", "")
    emu = os.environ.get("XATA_EMULATOR_BIN", "")
    if not (os.access(xb, os.X_OK) and os.access(emu, os.X_OK)):
        raise unittest.SkipTest("XBRANCH_BIN and XATA_EMULATOR_BIN must name built binaries")
    return xb, emu


def leftovers(tmp):
    """The demo's work folders still in tmp, and processes still naming one."""
    dirs = [d for d in os.listdir(tmp) if d.startswith("xbranch-demo.")]
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    procs = [line for line in ps.splitlines() if tmp in line and "ps -eo" not in line]
    return dirs, procs


class Demo(unittest.TestCase):
    def setUp(self):
        self.xb, self.emu = binaries()
        # Short: PostgreSQL puts its socket in the demo's folder (107 bytes at most).
        self.tmp = tempfile.mkdtemp(prefix="xbd.", dir="/tmp")
        self.env = dict(os.environ, XBRANCH_BIN=self.xb, XATA_EMULATOR_BIN=self.emu,
                        TMPDIR=self.tmp)

    def tearDown(self):
        dirs, procs = leftovers(self.tmp)
        for line in procs:
            try:
                os.kill(int(line.split()[0]), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["rm", "-rf", self.tmp])

    def assert_nothing_left(self):
        deadline = time.monotonic() + 5
        while True:
            dirs, procs = leftovers(self.tmp)
            if not dirs and not procs:
                return
            if time.monotonic() > deadline:
                self.fail("left behind: folders %s, processes %s" % (dirs, procs))
            time.sleep(0.1)

    def test_terminal_with_a_pager_that_never_returns(self):
        # A pager that waits forever, as less does for a key press.
        pager = os.path.join(self.tmp, "pager")
        with open(pager, "w") as f:
            f.write("#!/bin/sh\ntouch %s/pager-ran\nexec sleep 600\n" % self.tmp)
        os.chmod(pager, 0o755)
        env = dict(self.env, PAGER=pager, PSQL_PAGER=pager, TERM="xterm")
        pid, fd = pty.fork()
        if pid == 0:
            os.execve("/bin/sh", ["sh", DEMO], env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 2, 80, 0, 0))
        out = b""
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                out += chunk
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                break
        if status is None:
            os.killpg(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            self.fail("demo still running after 90 s on a 2-row terminal:\n"
                      + out.decode(errors="replace")[-2000:])
        os.close(fd)
        text = out.decode(errors="replace")
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, text[-3000:])
        self.assertIn("users_in_parent", text)
        self.assertIn("Done. To do the same against the real Xata service", text)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "pager-ran")), "psql ran the pager")
        self.assert_nothing_left()

    def interrupt(self, sig, whole_group):
        # An xbranch whose `url` step hangs: the demo is interrupted there,
        # in the middle of a step, after the branch, the cluster and the
        # emulator exist.
        slow = os.path.join(self.tmp, "xbranch-slow-url")
        with open(slow, "w") as f:
            f.write('#!/bin/sh\ncase " $* " in *" url "*) exec sleep 120 ;; esac\n'
                    'exec "%s" "$@"\n' % self.xb)
        os.chmod(slow, 0o755)
        env = dict(self.env, XBRANCH_BIN=slow)
        proc = subprocess.Popen(["sh", DEMO], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        out = b""
        deadline = time.monotonic() + 60
        while b"is not seen by the parent" not in out:
            self.assertLess(time.monotonic(), deadline, out.decode(errors="replace"))
            r, _, _ = select.select([proc.stdout], [], [], 0.5)
            if r:
                chunk = os.read(proc.stdout.fileno(), 65536)
                self.assertTrue(chunk or proc.poll() is None, out.decode(errors="replace"))
                out += chunk
        time.sleep(0.5)  # the slow step is running
        sent = time.monotonic()
        if whole_group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        try:
            rest, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            self.fail("the demo did not stop within 20 s of the signal")
        took = time.monotonic() - sent
        out += rest
        text, err = out.decode(errors="replace"), err.decode(errors="replace")
        expected = 128 + sig
        self.assertEqual(proc.returncode, expected, text + err)
        self.assertLess(took, 10, "stopped only after the step ended")
        self.assertNotIn("Running create again", text)
        self.assertNotIn("Done.", text)
        self.assertEqual(err.count("demo interrupted (exit %d)" % expected), 1, err)
        self.assertNotIn("demo failed", err)
        self.assert_nothing_left()

    def test_sigterm_mid_step(self):
        self.interrupt(signal.SIGTERM, whole_group=False)

    def test_ctrl_c_mid_step(self):
        self.interrupt(signal.SIGINT, whole_group=True)


if __name__ == "__main__":
    unittest.main()
