"""pytest glue for every Python test (tests/pytest.ini makes this apply).

- Session fixtures: `pg_cluster` (the ctest run's cluster from XBRANCH_PG_DIR,
  else a private throwaway one via tests/fixtures/pg.sh, stopped at the end),
  `emulator_bin`, `xbranch_bin`, and `emulator` (one started emulator per
  test). unittest.TestCase tests get the same through tests/e2e/harness.py.
- Nothing left behind: the session runs with TMPDIR set to a private folder;
  at the end every emulator and the private cluster are stopped, and a file a
  test left in that folder fails the session (the folder is removed anyway).
- Exit 77 (ctest SKIP_RETURN_CODE) when tests ran and every one skipped, so
  ctest shows the file as skipped, never as passed. Exit 5 (nothing
  collected) stays a failure.
"""

import os
import shutil
import sys
import tempfile
import unittest

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e"))

import harness  # noqa: E402

_counts = {"passed": 0, "failed": 0, "skipped": 0}
_tmp = {}


def pytest_configure(config):
    root = tempfile.mkdtemp(prefix="xbranch-pytest-")
    _tmp.update(root=root, environ=os.environ.get("TMPDIR"))
    # Children (emulator, xbranch, pg.sh) and tempfile in this process.
    os.environ["TMPDIR"] = root
    tempfile.tempdir = root


def pytest_runtest_logreport(report):
    if report.failed:
        _counts["failed"] += 1
    elif report.skipped:
        _counts["skipped"] += 1
    elif report.passed and report.when == "call":
        _counts["passed"] += 1


def _say(session, text):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(text)
    else:
        print(text, file=sys.stderr)


def pytest_sessionfinish(session, exitstatus):
    harness.cleanup()
    root = _tmp.get("root")
    left = []
    if root:
        # pytest-of-USER is pytest's own tmp_path base, removed with the folder.
        left = sorted(n for n in os.listdir(root) if not n.startswith("pytest-of-"))
        tempfile.tempdir = None
        if _tmp["environ"] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = _tmp["environ"]
        shutil.rmtree(root, ignore_errors=True)
    if left:
        _say(session, "FAILED: tests left files in their temp folder: %s" % ", ".join(left))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif exitstatus == pytest.ExitCode.OK and _counts["passed"] == 0 and _counts["skipped"] > 0:
        _say(session, "every test skipped: exit %d (ctest: skipped)" % harness.SKIP)
        session.exitstatus = harness.SKIP


def _required(get):
    try:
        return get()
    except unittest.SkipTest as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def pg_cluster():
    """harness.PgCluster: XBRANCH_PG_DIR's cluster, else a private one."""
    return _required(harness.pg_cluster)


@pytest.fixture(scope="session")
def emulator_bin():
    return _required(harness.require_emulator)


@pytest.fixture(scope="session")
def xbranch_bin():
    return _required(harness.require_xbranch)


@pytest.fixture
def emulator(pg_cluster, emulator_bin):
    """A started harness.Emulator on the session's cluster, stopped after the test."""
    with harness.Emulator() as emu:
        yield emu
