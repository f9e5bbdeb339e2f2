"""What a person sees: `xbranch create` under a real pseudo-terminal (the
pty module; stderr on the terminal, 80x24 unless said otherwise), with
colours and without, and with stderr on a plain pipe; plus --version, status
and url.

The bytes written to the terminal are also replayed through a small screen
model (autowrap at the terminal width, \\r, ESC[K) so the test sees what is
left on the screen, not just which bytes went by.
"""

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402
from rel import harness  # noqa: E402

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
COLOUR = re.compile(r"\x1b\[3\dm")


def run_in_pty(args, env, cols=80, rows=24, timeout=60):
    """Runs xbranch with stderr (and stdin) on a new pty, stdout on a pipe.
    Returns (code, stdout, terminal bytes decoded)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    chunks = []

    def reader():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the last writer closed the pty
                return
            if not data:
                return
            chunks.append(data)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    p = subprocess.Popen([rel.xbranch()] + list(args), env=rel.base_env(env), stdin=slave,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    out, _ = p.communicate(timeout=timeout)
    t.join(10)
    os.close(master)
    return p.returncode, out.decode("utf-8"), b"".join(chunks).decode("utf-8")


def screen(text, cols=80):
    """Replays terminal output; returns the screen's rows (trailing blanks cut)."""
    grid = [[]]
    r = c = 0

    def row(i):
        while len(grid) <= i:
            grid.append([])
        return grid[i]

    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\x1b":
            m = CSI.match(text, i)
            if m:
                if m.group(2) == "K":
                    del row(r)[c:]
                i = m.end()
                continue
            i += 1
            continue
        if ch == "\r":
            c = 0
        elif ch == "\n":
            r += 1
            c = 0
        else:
            if c >= cols:  # autowrap
                r += 1
                c = 0
            line = row(r)
            while len(line) < c:
                line.append(" ")
            if c < len(line):
                line[c] = ch
            else:
                line.append(ch)
            c += 1
        i += 1
    return ["".join(x).rstrip() for x in grid]


def drawn_lines(text):
    """Each in-place redraw of the progress line, colour codes removed."""
    parts = text.split("\r\x1b[K")[1:]
    out = []
    for p in parts:
        p = CSI.sub("", p).split("\n")[0].split("\r")[0]
        if p and p[0] in SPINNER:  # not the clear before a note or the end
            out.append(p)
    return out


class TerminalTest(rel.Case):
    emulator_options = dict(pg=True, hibernated_ms=500, transient_ms=1000, quiet=True)

    def env(self, **extra):
        e = self.emu.env()
        e["TERM"] = "xterm-256color"
        e.update(extra)
        return e

    def create_args(self, sandbox, *extra):
        return ["create", "--sandbox", sandbox, "--sslmode", "disable"] + list(extra)

    def delete(self, sandbox):
        code, _, err = rel.run(["delete", "--sandbox", sandbox], self.emu.env())
        self.assertEqual(code, 0, err)

    def assert_clean_screen(self, text, cols, name):
        rows = screen(text, cols)
        leftover = [r for r in rows if "waiting for" in r or any(s in r for s in SPINNER)]
        self.assertEqual(leftover, [], "progress left on the screen:\n" + "\n".join(rows))
        note = "creating branch %s from main" % name
        if len(note) < cols:
            self.assertIn(note, rows)
        else:  # a plain line may wrap; it was written once, from column 0
            self.assertEqual(len([r for r in rows if r.startswith(note[:cols - 1])]), 1, rows)
        for line in drawn_lines(text):
            self.assertLess(len(line), cols, "a redraw wider than the terminal wraps "
                            "and cannot be rewritten in place: %r" % line)

    # ------------------------------------------------------------ tests
    def test_spinner_on_a_terminal(self):
        name = rel.branch_name("tty-spin")
        code, out, tty = run_in_pty(self.create_args("tty-spin"), self.env())
        self.addCleanup(self.delete, "tty-spin")
        self.assertEqual(code, 0, tty)
        self.assertIn("Created branch " + name, out)
        self.assertIn("\r\x1b[K", tty)
        lines = drawn_lines(tty)
        self.assertGreaterEqual(len(lines), 8, lines)  # a redraw every 100 ms over ~1.5 s
        for line in lines:
            self.assertRegex(line, r"^[%s] waiting for %s  [A-Z]+( \([^)]*\))?  \d+\.\ds$"
                             % (SPINNER, re.escape(name)))
        self.assertGreaterEqual(len({l[0] for l in lines}), 3, "the spinner does not turn")
        joined = "\n".join(lines)
        self.assertIn("HIBERNATED (Cluster hibernated)", joined)
        self.assertIn("TRANSIENT (Setting up primary)", joined)
        self.assertIn("HEALTHY (Cluster in healthy state)", joined)
        seconds = [float(re.search(r"(\d+\.\d)s$", l).group(1)) for l in lines]
        self.assertEqual(seconds, sorted(seconds), "elapsed time goes backwards")
        self.assertGreaterEqual(seconds[-1], 1.0)
        # colours: yellow while waiting, green once healthy, reset after each
        self.assertIn("\x1b[33mHIBERNATED", tty)
        self.assertIn("\x1b[33mTRANSIENT", tty)
        self.assertIn("\x1b[32mHEALTHY", tty)
        self.assertIn("\x1b[0m", tty)
        self.assert_clean_screen(tty, 80, name)

    def test_long_name_fits_the_terminal(self):
        for cols in (80, 40, 12):
            sandbox = "a-rather-long-sandbox-name-to-check-the-terminal-width-%d-0123456789" % cols
            name = rel.branch_name(sandbox)
            self.assertEqual(len(name), 63)
            code, out, tty = run_in_pty(self.create_args(sandbox), self.env(), cols=cols)
            self.addCleanup(self.delete, sandbox)
            self.assertEqual(code, 0, tty)
            self.assertIn(name, out)
            lines = drawn_lines(tty)
            self.assertGreater(len(lines), 3, tty)
            self.assertTrue(all(re.search(r"\d+\.\ds$", l) for l in lines), lines)
            if cols >= 40:
                self.assertTrue(any("TRANSIENT" in l for l in lines), lines)
            self.assert_clean_screen(tty, cols, name)

    def test_log_line_during_the_spinner(self):
        """A retry message logged while the spinner is drawn must start on a
        line of its own, not be glued to the end of the spinner line."""
        sandbox = "tty-retry"
        name = rel.branch_name(sandbox)
        self.emu.set_faults([{"method": "GET", "path": "/branches/[^/]+$", "kind": "status",
                              "status": 503, "times": 1, "after": 4}])
        self.addCleanup(self.emu.set_faults, [])
        code, out, tty = run_in_pty(self.create_args(sandbox), self.env())
        self.addCleanup(self.delete, sandbox)
        self.assertEqual(code, 0, tty)
        self.assertEqual(self.emu.admin_get("faults")["faults"][0]["fired"], 1)
        rows = screen(tty, 80)
        retry = [r for r in rows if "retrying in" in r]
        self.assertEqual(len(retry), 1, "\n".join(rows))
        self.assertTrue(retry[0].startswith("describe branch"), "\n".join(rows))
        self.assert_clean_screen(tty, 80, name)

    def test_no_color(self):
        for sandbox, extra_env, flags in (("tty-nocolor-env", {"NO_COLOR": "1"}, []),
                                          ("tty-nocolor-flag", {}, ["--no-color"]),
                                          ("tty-dumb", {"TERM": "dumb"}, [])):
            code, out, tty = run_in_pty(flags + self.create_args(sandbox), self.env(**extra_env))
            self.addCleanup(self.delete, sandbox)
            self.assertEqual(code, 0, tty)
            self.assertIsNone(COLOUR.search(tty), "%s: colour codes: %r" % (sandbox, tty[:300]))
            self.assertNotIn("\x1b[0m", tty)
            self.assertIn("\r\x1b[K", tty)  # still rewritten in place
            self.assertIn("waiting for " + rel.branch_name(sandbox), tty)
            self.assert_clean_screen(tty, 80, rel.branch_name(sandbox))

    def test_plain_pipe(self):
        name = rel.branch_name("tty-pipe")
        code, out, err = rel.run(self.create_args("tty-pipe"), self.env())
        self.addCleanup(self.delete, "tty-pipe")
        self.assertEqual(code, 0, err)
        self.assertNotIn("\x1b", err + out)
        self.assertNotIn("\r", err + out)
        phases = [l for l in err.splitlines() if l.startswith("[")]
        self.assertEqual(len(phases), 3, err)
        for line, phase in zip(phases, ("HIBERNATED (Cluster hibernated), instances 0/0",
                                        "TRANSIENT (Setting up primary), instances 0/1",
                                        "HEALTHY (Cluster in healthy state), instances 1/1")):
            self.assertRegex(line, r"^\[ *\d+\.\ds\] branch %s: %s$"
                             % (re.escape(name), re.escape(phase)))
        self.assertIn("creating branch %s from main" % name, err.splitlines())

    def test_version(self):
        code, out, err = rel.run(["--version"], {})
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^xbranch \d+\.\d+\.\d+")
        self.assertRegex(out, r"libcurl/\d+\.\d+")
        self.assertRegex(out, r"(OpenSSL|GnuTLS|LibreSSL|BoringSSL|wolfSSL|mbedTLS)/\d")

    def test_status_and_url(self):
        sandbox = "tty-status"
        name = rel.branch_name(sandbox)
        code, _, err = rel.run(self.create_args(sandbox), self.env())
        self.addCleanup(self.delete, sandbox)
        self.assertEqual(code, 0, err)
        row = [b for b in rel.active(self.emu) if b["name"] == name][0]
        code, out, err = rel.run(["status", "--sandbox", sandbox], self.env())
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"(?m)^branch +%s$" % re.escape(name))
        self.assertRegex(out, r"(?m)^id +%s$" % row["id"])
        self.assertRegex(out, r"(?m)^status +HEALTHY \(Cluster in healthy state\)$")
        self.assertRegex(out, r"(?m)^instances +1/1 ready$")
        self.assertRegex(out, r"(?m)^age +\d+s$")
        self.assertNotIn("\x1b", out)
        code, out, err = rel.run(["status", "--sandbox", sandbox, "--output", "json"], self.env())
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertEqual((j["name"], j["id"], j["status"], j["instances"], j["readyInstances"]),
                         (name, row["id"], "HEALTHY", 1, 1))
        self.assertEqual(j["parentID"], self.emu.root_branch()["id"])
        code, out, err = rel.run(["url", "--sandbox", sandbox, "--sslmode", "disable"], self.env())
        self.assertEqual(code, 0, err)
        url = out.strip()
        self.assertTrue(url.startswith("postgresql://"), url)
        got = harness.psql(url, "select current_user || ' ' || current_database()").strip()
        self.assertEqual(got, "%s %s" % (row["role"], row["database"]))


if __name__ == "__main__":
    harness.main()
