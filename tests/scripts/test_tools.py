#!/usr/bin/python3
"""scripts_tools: the small scripts the README and CI rely on.

- scripts/deps.sh as a user without root and without sudo says what is
  missing and how to install it (not "sudo: not found", exit 127).
- scripts/ctest-summary.sh counts each skipped test once (ctest names it
  twice in its log).
- A release configure on a machine without GoogleTest works (the README's
  Install snippet), and asking for the tests there is a clear error.
- tests/fixtures/pg.sh keeps the cluster's data in /dev/shm when it may,
  removes that folder at stop and at a later start on the same folder (a
  killed run), and keeps the data on disk with XBRANCH_PG_IN_MEMORY=0."""

import os
import shutil
import subprocess
import tempfile
import unittest

SRC = os.environ.get("XBRANCH_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))


class Deps(unittest.TestCase):
    def test_non_root_without_sudo_says_what_to_do(self):
        with tempfile.TemporaryDirectory() as tmp:
            # A PATH with no sudo, an `id` that says uid 1000 and a
            # dpkg-query that knows no package.
            for tool in ("sh", "grep", "dirname"):
                os.symlink(shutil.which(tool), os.path.join(tmp, tool))
            for name, body in (("id", "echo 1000"), ("dpkg-query", "exit 1")):
                with open(os.path.join(tmp, name), "w") as f:
                    f.write("#!/bin/sh\n%s\n" % body)
                os.chmod(os.path.join(tmp, name), 0o755)
            run = subprocess.run(["sh", os.path.join(SRC, "scripts", "deps.sh"), "--test"],
                                 env={"PATH": tmp}, capture_output=True, text=True, cwd=SRC)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertNotIn("not found", run.stderr)
        self.assertIn("missing", run.stderr)
        self.assertIn("libgtest-dev", run.stderr)
        self.assertIn("sudo is not installed", run.stderr)
        self.assertIn("su -c 'sh scripts/deps.sh --test'", run.stderr)


def shm_qualifies():
    """What pg.sh checks: a writable tmpfs /dev/shm with 2 GiB free."""
    if not (os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)):
        return False
    fs = subprocess.run(["stat", "-f", "-c", "%T", "/dev/shm"], capture_output=True, text=True)
    st = os.statvfs("/dev/shm")
    return fs.stdout.strip() == "tmpfs" and st.f_bavail * st.f_frsize >= 2 * 1024 ** 3


class PgCluster(unittest.TestCase):
    PG_SH = os.path.join(SRC, "tests", "fixtures", "pg.sh")

    def pg(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        run = subprocess.run(["sh", self.PG_SH] + list(args), env=e, capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        return run

    def setUp(self):
        # (pg.sh says itself when PostgreSQL is missing, honouring PG_BINDIR.)
        self.dir = tempfile.mkdtemp(prefix="xbranch-pgsh-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.cluster = os.path.join(self.dir, "c")
        self.addCleanup(self.pg, "stop", self.cluster)

    def test_data_in_memory_removed_at_stop_and_at_a_later_start(self):
        if not shm_qualifies():
            self.skipTest("/dev/shm is no writable tmpfs with 2 GiB free here")
        self.pg("start", self.cluster)
        data = os.path.join(self.cluster, "data")
        self.assertTrue(os.path.islink(data))
        first = os.readlink(data)
        self.assertTrue(first.startswith("/dev/shm/xbranch-pg."), first)
        self.assertTrue(os.path.isfile(os.path.join(first, "PG_VERSION")))
        # A start on the same folder, as after a killed run: the old data goes.
        self.pg("start", self.cluster)
        second = os.readlink(data)
        self.assertNotEqual(first, second)
        self.assertFalse(os.path.exists(first))
        self.pg("stop", self.cluster)
        self.assertFalse(os.path.exists(second))
        self.assertFalse(os.path.exists(self.cluster))

    def test_in_memory_0_keeps_the_data_on_disk(self):
        self.pg("start", self.cluster, env={"XBRANCH_PG_IN_MEMORY": "0"})
        data = os.path.join(self.cluster, "data")
        self.assertFalse(os.path.islink(data))
        self.assertTrue(os.path.isfile(os.path.join(data, "PG_VERSION")))


LOG = """\
Test project /x/build/debug
      Start  1: pg_cluster_start
 1/7 Test  #1: pg_cluster_start .................   Passed    1.20 sec
 2/7 Test  #4: contract ........................***Skipped   0.30 sec
 3/7 Test  #5: contract_signadot ...............***Skipped   0.20 sec
 4/7 Test  #2: unit.A ..........................   Passed    0.01 sec
 5/7 Test  #3: unit.B ..........................***Failed    0.01 sec
 6/7 Test  #6: contract_selftest ...............***Skipped   0.10 sec
 7/7 Test  #7: pg_cluster_stop .................   Passed    0.50 sec

86% tests passed, 1 tests failed out of 7

Total Test time (real) =   2.40 sec

The following tests did not run:
\t  4 - contract (Skipped)
\t  5 - contract_signadot (Skipped)
\t  6 - contract_selftest (Skipped)

The following tests FAILED:
\t  3 - unit.B (Failed)
"""


class CtestSummary(unittest.TestCase):
    def test_each_skip_counted_once(self):
        with tempfile.NamedTemporaryFile("w", suffix=".log") as f:
            f.write(LOG)
            f.flush()
            run = subprocess.run(["sh", os.path.join(SRC, "scripts", "ctest-summary.sh"), f.name],
                                 capture_output=True, text=True, check=True)
        lines = run.stdout.splitlines()
        self.assertEqual(lines[0], "3 passed, 1 failed, 3 skipped")
        self.assertEqual(lines[1:], ["   skipped: contract", "   skipped: contract_signadot",
                                     "   skipped: contract_selftest"])

    def test_test_sh_uses_it(self):
        with open(os.path.join(SRC, "scripts", "test.sh")) as f:
            text = f.read()
        self.assertIn("scripts/ctest-summary.sh", text)
        self.assertNotIn("grep -c 'Skipped'", text)


class ReleaseConfigure(unittest.TestCase):
    def configure(self, *extra):
        with tempfile.TemporaryDirectory() as build:
            return subprocess.run(
                ["cmake", "-S", SRC, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                 "-DXBRANCH_BUILD_EMULATOR=OFF", "-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON",
                 "-DCMAKE_CXX_COMPILER_LAUNCHER=", *extra],
                capture_output=True, text=True)

    def test_no_googletest_needed(self):
        run = self.configure()
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("GoogleTest not found: the tests are not built", run.stdout)

    def test_tests_asked_for_need_googletest(self):
        run = self.configure("-DXBRANCH_BUILD_TESTS=ON")
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("GTest", run.stdout + run.stderr)

    def test_readme_install_snippet_uses_the_release_preset(self):
        with open(os.path.join(SRC, "README.md")) as f:
            readme = f.read()
        install = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
        self.assertIn("cmake --preset release && cmake --build --preset release --target xbranch",
                      install)
        # Presets that build tests say so; the release preset leaves it to AUTO.
        with open(os.path.join(SRC, "CMakePresets.json")) as f:
            import json
            presets = {p["name"]: p for p in json.load(f)["configurePresets"]}
        self.assertNotIn("XBRANCH_BUILD_TESTS", presets["release"].get("cacheVariables", {}))
        self.assertEqual(presets["debug"]["cacheVariables"]["XBRANCH_BUILD_TESTS"], "ON")


if __name__ == "__main__":
    unittest.main()
