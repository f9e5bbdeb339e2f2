#!/usr/bin/python3
"""scripts_readme: the README's snippets, pasted.

- Every `sh` block parses as shell (`sh -n`).
- Every repository path the README names (docs/, plugin/, scripts/, ...)
  exists, so moving a file cannot leave the guide pointing at nothing.
- The "by hand" block (the emulator in memory mode) runs as pasted, except
  its two build lines: the binaries come from this build (XBRANCH_BIN,
  XATA_EMULATOR_BIN) and the emulator's port is a free one, not 8090."""

import os
import re
import socket
import subprocess
import tempfile
import unittest

SRC = os.environ.get("XBRANCH_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
README = os.path.join(SRC, "README.md")


def blocks(text, lang="sh"):
    return re.findall(r"^```%s\n(.*?)^```$" % lang, text, flags=re.S | re.M)


def readme():
    with open(README) as f:
        return f.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Snippets(unittest.TestCase):
    def test_every_sh_block_parses(self):
        found = blocks(readme())
        self.assertGreaterEqual(len(found), 5)
        for block in found:
            run = subprocess.run(["sh", "-n"], input=block, capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, block + run.stderr)

    def test_every_named_path_exists(self):
        names = set(re.findall(
            r"`((?:docs|plugin|scripts|bench|docker|tests|src|emulator|\.ci|\.github)/[^`\s]*)`",
            readme()))
        names |= {"action.yml", "CHANGELOG.md"} & set(re.findall(r"`([\w.]+)`", readme()))
        self.assertGreater(len(names), 10)
        missing = sorted(n for n in names if not os.path.exists(os.path.join(SRC, n.rstrip("/"))))
        self.assertEqual(missing, [])

    def test_the_by_hand_block_runs_as_pasted(self):
        xbranch = os.path.abspath(os.environ.get("XBRANCH_BIN", ""))
        emulator = os.path.abspath(os.environ.get("XATA_EMULATOR_BIN", ""))
        if not os.environ.get("XBRANCH_BIN") or not os.environ.get("XATA_EMULATOR_BIN"):
            self.skipTest("XBRANCH_BIN and XATA_EMULATOR_BIN are not set (run under ctest)")
        block = next(b for b in blocks(readme()) if "xata-emulator --port 8090" in b)
        lines = block.splitlines()
        # The build and install lines are the only ones replaced.
        self.assertTrue(lines[0].startswith("cmake --preset release"), lines[0])
        self.assertTrue(lines[1].startswith("cmake --install"), lines[1])
        port = str(free_port())
        body = "\n".join(lines[2:])
        body = body.replace("build/release/emulator/xata-emulator", emulator).replace("8090", port)
        with tempfile.TemporaryDirectory() as home:
            bindir = os.path.join(home, ".local", "bin")
            os.makedirs(bindir)
            os.symlink(xbranch, os.path.join(bindir, "xbranch"))
            # A person waits for the emulator's "listening" line; the test polls.
            wait = ("for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:%s/ "
                    "&& break; sleep 0.05; done\n" % port)
            # If a line fails, the emulator must not outlive the script.
            stop = "trap 'kill $emu_pid 2>/dev/null' EXIT\n"
            body = body.replace("emu_pid=$!\n", "emu_pid=$!\n" + stop + wait, 1)
            script = 'export PATH="$HOME/.local/bin:$PATH"\nset -e\n' + body
            env = {"HOME": home, "PATH": "/usr/bin:/bin", "TMPDIR": os.environ.get("TMPDIR", "/tmp")}
            run = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                                 timeout=60, cwd=SRC)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("Created branch", run.stdout)
        self.assertRegex(run.stdout, r"postgresql://[^\s]+:[^*\s]+@127\.0\.0\.1:1/")
        self.assertNotIn("Traceback", run.stderr)


if __name__ == "__main__":
    unittest.main()
