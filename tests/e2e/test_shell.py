"""xbranch shell end to end on real PostgreSQL, as a user types it: psql on a
pseudo-terminal answers a query, Ctrl-C at its prompt leaves xbranch and psql
running, SIGTERM reaches psql, psql's exit status (and 128+N for a signal)
passes through, the password is never on psql's command line nor in
xbranch's output, and without psql on PATH the documented 127 and hint."""

import fcntl
import os
import select
import signal
import subprocess
import termios
import time

from e2e_common import CREATE_FLAGS, E2ECase, harness
from urllib.parse import unquote, urlparse

SHELL_FLAGS = ["--sslmode", "disable"]


def children(pid):
    """PIDs whose parent is pid (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


class Terminal:
    """xbranch as the session leader of a new pseudo-terminal."""

    def __init__(self, case, args, env):
        self.master, slave = os.openpty()
        case.addCleanup(os.close, self.master)

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([harness.require_xbranch(), *args], env=env, stdin=slave,
                                     stdout=slave, stderr=slave, preexec_fn=controlling_terminal)
        os.close(slave)
        case.addCleanup(self.stop)
        self.seen = b""
        self.pos = 0  # where the next expect() starts looking

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def type(self, text):
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def expect(self, needle, timeout=20):
        """Reads the terminal until needle appears after the previous match (one
        read may hold both an answer and the prompt after it)."""
        deadline = time.monotonic() + timeout
        while needle.encode() not in self.seen[self.pos:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%r not on the terminal; it shows %r" % (needle, self.seen))
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the other side closed
                    chunk = b""
                if not chunk:
                    raise AssertionError("terminal closed before %r; it showed %r" % (needle, self.seen))
                self.seen += chunk
        self.pos = self.seen.index(needle.encode(), self.pos) + len(needle.encode())

    def drain(self):
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                return
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk


class ShellTest(E2ECase):
    def setUp(self):
        super().setUp()
        self.create("shell-a")
        code, out, err = self.xb("url", "--sandbox", "shell-a", *SHELL_FLAGS)
        self.assertEqual(code, 0, err)
        self.password = unquote(urlparse(out.strip()).password)
        self.assertGreater(len(self.password), 8)

    def env(self, **extra):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "dumb", "PAGER": "cat"}
        e.update(self.emu.env())
        e.update(extra)
        return e

    def shell(self, *psql_args, flags=(), env=None):
        return harness.run_xbranch(["shell", "--sandbox", "shell-a", *SHELL_FLAGS, *flags, "--",
                                    *psql_args], env or self.env(), timeout=60)

    def psql_of(self, term):
        """The psql process xbranch started (waits for it)."""
        found = []
        harness.wait_until(lambda: found.extend(children(term.proc.pid)) or found, 20,
                           "xbranch to start psql")
        self.assertEqual(len(found), 1, found)
        return found[0]

    def test_a_query_typed_at_the_prompt_and_ctrl_c_at_the_prompt(self):
        term = Terminal(self, ["shell", "--sandbox", "shell-a", *SHELL_FLAGS, "--", "-X"],
                        self.env())
        term.expect("=>")  # psql's prompt: it connected with the branch's password
        term.type("SELECT 'n=' || count(*) FROM users;\n")
        term.expect("n=3")  # the parent's seed, copied into the branch
        term.expect("=>")
        # Ctrl-C at the prompt: psql clears the line, nobody dies.
        term.type("SELECT 'half typed\x03")
        time.sleep(0.5)
        self.assertIsNone(term.proc.poll(), "Ctrl-C ended xbranch: %r" % term.seen)
        term.type("SELECT 'after' || '-ctrl-c';\n")
        term.expect("after-ctrl-c")
        # A SIGINT sent to xbranch alone (not from the terminal) is ignored too.
        os.kill(term.proc.pid, signal.SIGINT)
        time.sleep(0.3)
        self.assertIsNone(term.proc.poll(), "a SIGINT ended xbranch: %r" % term.seen)
        term.type("SELECT 'still' || '-here';\n")
        term.expect("still-here")
        term.type("\\q\n")
        self.assertEqual(term.proc.wait(timeout=20), 0, term.seen)
        term.drain()
        self.assertNotIn(self.password.encode(), term.seen)

    def test_the_password_is_in_psqls_environment_not_its_command_line(self):
        term = Terminal(self, ["shell", "--sandbox", "shell-a", *SHELL_FLAGS, "--", "-X"],
                        self.env())
        term.expect("=>")
        pid = self.psql_of(term)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().split(b"\0")
        self.assertTrue(any(b"psql" in a for a in cmdline), cmdline)
        self.assertTrue(any(b"host=" in a and b"user=" in a for a in cmdline), cmdline)
        self.assertNotIn(self.password.encode(), b" ".join(cmdline))
        ps = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True,
                            text=True).stdout
        self.assertIn("psql", ps)
        self.assertNotIn(self.password, ps)
        with open("/proc/%d/environ" % pid, "rb") as f:
            environ = f.read().split(b"\0")
        self.assertIn(b"PGPASSWORD=" + self.password.encode(), environ)
        # xbranch's own environment never had it.
        with open("/proc/%d/environ" % term.proc.pid, "rb") as f:
            self.assertNotIn(self.password.encode(), f.read())
        term.type("\\q\n")
        self.assertEqual(term.proc.wait(timeout=20), 0, term.seen)

    def test_sigterm_reaches_psql_and_signal_death_is_128_plus_n(self):
        term = Terminal(self, ["shell", "--sandbox", "shell-a", *SHELL_FLAGS, "--", "-X"],
                        self.env())
        term.expect("=>")
        self.psql_of(term)
        term.proc.send_signal(signal.SIGTERM)
        self.assertEqual(term.proc.wait(timeout=20), 128 + signal.SIGTERM, term.seen)

        term = Terminal(self, ["shell", "--sandbox", "shell-a", *SHELL_FLAGS, "--", "-X"],
                        self.env())
        term.expect("=>")
        os.kill(self.psql_of(term), signal.SIGKILL)
        self.assertEqual(term.proc.wait(timeout=20), 128 + signal.SIGKILL, term.seen)

    def test_psql_args_after_the_double_dash_and_its_exit_status(self):
        code, out, err = self.shell("-X", "-A", "-t", "-c", "select 1")
        self.assertEqual((code, out), (0, "1\n"), err)
        # A user PGPASSWORD does not win over the branch's own.
        code, out, err = self.shell("-X", "-A", "-t", "-c", "select current_user",
                                    env=self.env(PGPASSWORD="wrong"))
        self.assertEqual(code, 0, err)
        code, out, err = self.shell("-X", "-c", "select nosuch")
        self.assertEqual(code, 1, err)  # psql's code for a failed command
        self.assertIn("nosuch", err)
        script = os.path.join(self.tmp, "fail.sql")
        with open(script, "w") as f:
            f.write("select 1;\nselect nosuch;\nselect 2;\n")
        code, out, err = self.shell("-X", "-v", "ON_ERROR_STOP=1", "-f", script)
        self.assertEqual(code, 3, err)  # psql's code for a script stopped on an error
        for text in (out, err):
            self.assertNotIn(self.password, text)

    def test_no_psql_on_path_is_127_with_a_hint_and_no_request(self):
        empty = os.path.join(self.tmp, "empty-bin")
        os.mkdir(empty)
        before = len(self.emu.requests())
        code, out, err = self.shell("-c", "select 1", env=self.env(PATH=empty))
        self.assertEqual(code, 127, err)
        self.assertEqual(out, "")
        self.assertIn("'psql' not found on PATH", err)
        self.assertIn("apt-get install postgresql-client", err)
        self.assertEqual(len(self.emu.requests()), before)

    def test_a_root_branch_needs_force(self):
        code, out, err = harness.run_xbranch(
            ["shell", "--branch", self.root["name"], *SHELL_FLAGS, "--", "-c", "select 1"],
            self.env(), timeout=60)
        self.assertEqual(code, 5, err)
        self.assertIn("--force", err)


if __name__ == "__main__":
    harness.main()
