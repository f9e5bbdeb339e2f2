"""Shared pieces of the end-to-end tests: the real xbranch binary against
the emulator backed by the real PostgreSQL cluster of the ctest run.

Strict: a missing binary or cluster is an error here, never a skip (the
harness's require_* helpers raise SkipTest, which these tests turn into a
failure)."""

import os
import shutil
import stat
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402  (re-exported)

OUTPUT_FILES = ("branch-name", "branch-id", "connection-string", "host", "port", "database",
                "username", "password", "pooled-connection-string")
SECRET_FILES = ("password", "connection-string", "pooled-connection-string")

SEED_SQL = """
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO users (name) VALUES ('ada'), ('grace'), ('linus');
"""

# A short HIBERNATED -> TRANSIENT -> HEALTHY progression: create's wait loop
# polls through each state (CreateDeleteTest, and tests that need it).
FAST = {"hibernated_ms": 50, "transient_ms": 50}
# E2ECase's default: HEALTHY at the first look. The wait loop's states and
# timing are the unit tests' (tests/unit, fake clock) and FAST's; here each
# create would only wait two poll intervals more.
INSTANT = {"hibernated_ms": 0, "transient_ms": 0}
# Flags every create run needs against the local PostgreSQL (no TLS).
CREATE_FLAGS = ["--sslmode", "disable", "--timeout", "30s"]


def strict_requirements():
    """Fails (not skips) when the binaries or the cluster are missing."""
    try:
        harness.require_xbranch()
        harness.require_emulator()
        harness.pg_cluster()
    except unittest.SkipTest as e:
        raise AssertionError("e2e prerequisites missing (this is a failure, not a skip): %s" % e)


_seed_path = None


def seed_file():
    global _seed_path
    if _seed_path is None:
        fd, _seed_path = tempfile.mkstemp(prefix="xbranch-e2e-seed-", suffix=".sql")
        with os.fdopen(fd, "w") as f:
            f.write(SEED_SQL)
        harness.at_cleanup(_remove_seed_file)
    return _seed_path


def _remove_seed_file():
    global _seed_path
    if _seed_path is not None and os.path.exists(_seed_path):
        os.unlink(_seed_path)
    _seed_path = None


def read_outputs(directory):
    out = {}
    for name in OUTPUT_FILES:
        with open(os.path.join(directory, name), "rb") as f:
            out[name] = f.read().decode("utf-8")
    return out


def present_outputs(directory):
    """The names of the output files (and any stray temp files) in directory."""
    if not os.path.isdir(directory):
        return []
    return sorted(os.listdir(directory))


class E2ECase(unittest.TestCase):
    """One emulator per test (PostgreSQL mode, seeded with a users table,
    INSTANT readiness unless emulator_options say otherwise)."""
    maxDiff = None
    emulator_options = {}

    @classmethod
    def setUpClass(cls):
        strict_requirements()

    def setUp(self):
        opts = dict(INSTANT)
        opts["seed_sql"] = seed_file()
        opts.update(self.emulator_options)
        self.emu = harness.Emulator(**opts).start()
        self.addCleanup(self.emu.stop)
        self.tmp = tempfile.mkdtemp(prefix="xbranch-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.root = self.emu.root_branch()

    # -- running xbranch
    def xb(self, *args, env=None, timeout=120):
        e = self.emu.env()
        if env:
            e.update(env)
        return harness.run_xbranch(list(args), e, timeout=timeout)

    def create(self, sandbox, *extra, env=None, expect=0):
        code, out, err = self.xb("create", "--sandbox", sandbox, *CREATE_FLAGS, *extra, env=env)
        if expect is not None:
            self.assertEqual(code, expect, "create %s %s: stdout=%r stderr=%r" % (sandbox, extra, out, err))
        return code, out, err

    # -- emulator state
    def active(self, name_prefix):
        """Active (not deleted) branches whose name starts with name_prefix."""
        return [b for b in self.emu.branches()
                if b["deletedAt"] is None and b["name"].startswith(name_prefix)]

    def all_named(self, name_prefix):
        return [b for b in self.emu.branches() if b["name"].startswith(name_prefix)]

    def api_calls(self, method=None, suffix_re=None):
        import re
        out = []
        for r in self.emu.requests():
            if method and r["method"] != method:
                continue
            if suffix_re and not re.search(suffix_re, r["path"]):
                continue
            out.append(r)
        return out

    # -- PostgreSQL
    def superuser(self, db="postgres"):
        return self.emu.cluster.conninfo(db)

    def db_exists(self, name):
        return harness.psql(self.superuser(),
                            "SELECT count(*) FROM pg_database WHERE datname = '%s'" % name).strip() == "1"

    def role_exists(self, name):
        return harness.psql(self.superuser(),
                            "SELECT count(*) FROM pg_roles WHERE rolname = '%s'" % name).strip() == "1"

    def assert_output_dir(self, directory):
        """All 8 files, no trailing newline, the right modes; returns the values."""
        self.assertEqual(present_outputs(directory), sorted(OUTPUT_FILES))
        values = read_outputs(directory)
        for name, value in values.items():
            self.assertTrue(value, "%s is empty" % name)
            self.assertFalse(value.endswith("\n") or value.endswith("\r"), "%s ends with a newline" % name)
            mode = stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode)
            self.assertEqual(mode, 0o600 if name in SECRET_FILES else 0o644,
                             "mode of %s is %o" % (name, mode))
        return values

    def assert_no_partial_outputs(self, directory):
        files = present_outputs(directory)
        self.assertIn(files, ([], sorted(OUTPUT_FILES)), "partial output dir: %r" % files)
        return files

    def wait_until(self, predicate, timeout=10, what="condition"):
        return harness.wait_until(predicate, timeout, what)


def main():
    harness.main()


# ------------------------------------------------------------ fault table

FAULT_TABLE_HEADER = ("| case | op | fault (rule) | expected | got | outcome |\n"
                      "|---|---|---|---|---|---|\n")


def fault_table_path():
    traffic = os.environ.get("XBRANCH_TRAFFIC_DIR")
    if not traffic:
        return None
    return os.path.join(os.path.dirname(os.path.abspath(traffic)), "fault-table.md")


def record_fault_rows(part, rows):
    """Prints rows and merges them into fault-table.md next to the traffic
    folder (one JSON part per test file, the markdown rebuilt from all parts).
    rows: dicts with case, op, fault, expected, got, outcome."""
    import json
    lines = ["| %s | %s | %s | %s | %s | %s |" % (r["case"], r["op"], r["fault"].replace("|", "\\|"),
                                                  r["expected"], r["got"], r["outcome"].replace("|", "\\|"))
             for r in rows]
    print("\nFault table (%s):\n%s%s" % (part, FAULT_TABLE_HEADER, "\n".join(lines)), file=sys.stderr)
    path = fault_table_path()
    if path is None:
        return
    parts_dir = path + ".d"
    os.makedirs(parts_dir, exist_ok=True)
    with open(os.path.join(parts_dir, part + ".json"), "w") as f:
        json.dump(rows, f, indent=1)
    all_lines = []
    for name in sorted(os.listdir(parts_dir)):
        if name.endswith(".json"):
            with open(os.path.join(parts_dir, name)) as f:
                for r in json.load(f):
                    all_lines.append("| %s | %s | %s | %s | %s | %s |" % (
                        r["case"], r["op"], r["fault"].replace("|", "\\|"), r["expected"], r["got"],
                        r["outcome"].replace("|", "\\|")))
    with open(path + ".tmp", "w") as f:
        f.write("# xbranch fault matrix (generated by tests/e2e/test_faults*.py)\n\n"
                "Exit codes: 0 ok, 7 branch FAULT, 8 API unavailable, 10 unexpected API answer. After every\n"
                "case the emulator's branch table held no duplicate and no orphan branch, and the output\n"
                "folder held all 8 files or none.\n\n")
        f.write(FAULT_TABLE_HEADER + "\n".join(all_lines) + "\n")
    os.replace(path + ".tmp", path)
