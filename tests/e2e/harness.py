"""Shared test harness: PostgreSQL cluster, xata-emulator, psql, xbranch.

Standard library only, so it also serves bench/run_bench.py. Tests run under
pytest (tests/conftest.py: session fixtures, exit 77 when every test skipped,
the private temp folder, cleanup()); unittest.TestCase classes and pytest
functions both work. ``harness.main()`` at the end of a test file runs that
file under pytest when it is started as a script.

Environment (set by tests/CMakeLists.txt):
  XATA_EMULATOR_BIN   the emulator binary
  XBRANCH_BIN         the xbranch binary
  XBRANCH_PG_DIR      a cluster started by tests/fixtures/pg.sh; when unset a
                      private one is started and stopped at exit
  XBRANCH_TRAFFIC_DIR where each emulator's request log is saved as JSON
"""

import atexit
import http.client
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PG_SH = os.path.join(HERE, "..", "fixtures", "pg.sh")
SKIP = 77

DEFAULT_KEY = "xau_emulatortestkey000000000000000000"
DEFAULT_ORG = "emuorg"
DEFAULT_PROJECT = "prj_emulator00000000000000000"

_counter = itertools.count(1)
_private_pg = None
_running = []  # emulators started and not yet stopped (cleanup() stops them)
_cleanups = []  # at_cleanup() callbacks


def test_name():
    """The running test file's name without .py (names traffic files)."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")  # "dir/test_x.py::Class::test (call)"
    source = current.split("::", 1)[0] if current else (sys.argv[0] or "test")
    return os.path.splitext(os.path.basename(source))[0] or "test"


def wait_until(predicate, timeout=10, what="condition", step=0.05):
    """Polls predicate until it returns something truthy and returns that;
    AssertionError naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(step)


# ------------------------------------------------------------------ binaries

def emulator_bin():
    path = os.environ.get("XATA_EMULATOR_BIN", "")
    return path if path and os.access(path, os.X_OK) else None


def xbranch_bin():
    path = os.environ.get("XBRANCH_BIN", "")
    return path if path and os.access(path, os.X_OK) else None


def require_emulator():
    if not emulator_bin():
        raise unittest.SkipTest("XATA_EMULATOR_BIN is not set or not executable")
    return emulator_bin()


def require_xbranch():
    if not xbranch_bin():
        raise unittest.SkipTest("XBRANCH_BIN is not set or not executable")
    return xbranch_bin()


# ---------------------------------------------------------------- PostgreSQL

class PgCluster:
    def __init__(self, directory, port):
        self.dir = directory
        self.host = "127.0.0.1"
        self.port = int(port)
        self.user = "postgres"

    def conninfo(self, dbname="postgres"):
        return "host=%s port=%d user=%s dbname=%s" % (self.host, self.port, self.user, dbname)


def _read_cluster(directory):
    try:
        with open(os.path.join(directory, "port")) as f:
            return PgCluster(directory, f.read().strip())
    except OSError:
        return None


def _stop_private_pg():
    global _private_pg
    if _private_pg is not None:
        subprocess.run(["sh", PG_SH, "stop", _private_pg.dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(os.path.dirname(_private_pg.dir), ignore_errors=True)
        _private_pg = None


def at_cleanup(fn):
    """Runs fn at cleanup(), before the session's temp folder is checked."""
    _cleanups.append(fn)


def cleanup():
    """Stops every emulator still running and the private cluster, runs the
    at_cleanup() callbacks (the session's end; also at exit)."""
    for emu in list(_running):
        emu.stop()
    while _cleanups:
        _cleanups.pop()()
    _stop_private_pg()


atexit.register(cleanup)


def pg_cluster():
    """The shared cluster from XBRANCH_PG_DIR, else a private one."""
    global _private_pg
    shared = os.environ.get("XBRANCH_PG_DIR")
    if shared:
        c = _read_cluster(shared)
        if c is not None:
            return c
    if _private_pg is not None:
        return _private_pg
    if not os.path.isdir("/usr/lib/postgresql/15/bin") and not os.environ.get("PG_BINDIR"):
        raise unittest.SkipTest("no PostgreSQL 15 and no XBRANCH_PG_DIR")
    base = tempfile.mkdtemp(prefix="xbranch-pg-")
    directory = os.path.join(base, "cluster")
    r = subprocess.run(["sh", PG_SH, "start", directory], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError("pg.sh start failed: " + r.stderr)
    _private_pg = _read_cluster(directory)
    return _private_pg


def psql(conninfo_or_url, sql, check=True, env=None):
    """Runs sql with psql; returns stdout (unaligned, tuples only)."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
           "-d", conninfo_or_url, "-c", sql]
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGCONNECT_TIMEOUT": "10"}
    if env:
        e.update(env)
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=120)
    if check and r.returncode != 0:
        raise RuntimeError("psql failed (%d): %s" % (r.returncode, r.stderr.strip()))
    return r.stdout if check else (r.returncode, r.stdout, r.stderr)


# ------------------------------------------------------------------ HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:200])


def http_request(port, method, path, body=None, headers=None, timeout=30):
    """One request on a fresh connection. Raises on dropped connections
    (http.client.RemoteDisconnected, IncompleteRead, ...)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None
        h = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode("utf-8")
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload)
    finally:
        conn.close()


# ------------------------------------------------------------------ emulator

def _die_with_parent():
    """In the child before exec: SIGTERM when the test process dies (a ctest
    timeout kills the test, which must not leave emulators behind)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Emulator:
    """A running xata-emulator. Keyword options become flags:
    hibernated_ms=0 -> --hibernated-ms 0; drop_on_exit=True -> --drop-on-exit.
    pg=False runs it in memory mode. Its folder (port file, stdout, stderr)
    is removed by stop(); the output stays readable through *_text()."""

    def __init__(self, pg=True, name=None, api_key=DEFAULT_KEY, org=DEFAULT_ORG,
                 project=DEFAULT_PROJECT, save_traffic=True, extra_args=(), binary=None,
                 **options):
        self.bin = binary or require_emulator()
        self.use_pg = pg
        self.name = name or test_name()
        self.n = next(_counter)
        self.api_key = api_key
        self.org = org
        self.project = project
        self.save_traffic = save_traffic
        self.options = dict(options)
        self.extra_args = list(extra_args)
        self.prefix = self.options.pop("db_prefix", "t%d_%d_" % (os.getpid() % 10000000, self.n))
        self.proc = None
        self.port = None
        self.cluster = None
        self.returncode = None
        self.stderr_path = None
        self.tmp = None
        self._saved_output = {}

    # -- lifecycle
    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="xata-emulator-")
        self._saved_output = {}
        port_file = os.path.join(self.tmp, "port")
        args = [self.bin, "--port", "0", "--port-file", port_file, "--api-key", self.api_key,
                "--org", self.org, "--project", self.project, "--db-prefix", self.prefix]
        if self.use_pg:
            self.cluster = pg_cluster()
            args += ["--pg", self.cluster.conninfo()]
            self.options.setdefault("drop_on_exit", True)
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is False or value is None:
                continue
            else:
                args += [flag, str(value)]
        args += self.extra_args
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self._stderr = open(self.stderr_path, "wb")
        self._stdout_path = os.path.join(self.tmp, "stdout")
        self._stdout = open(self._stdout_path, "wb")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.proc = subprocess.Popen(args, stdout=self._stdout, stderr=self._stderr, env=env,
                                     preexec_fn=_die_with_parent)
        _running.append(self)

        def port_written():
            if self.proc.poll() is not None:
                raise RuntimeError("xata-emulator exited with %d: %s"
                                   % (self.proc.returncode, self.stderr_text()))
            try:
                with open(port_file) as f:
                    return f.read().strip()
            except OSError:
                return ""

        try:
            self.port = int(wait_until(port_written, 60, "xata-emulator's port file", step=0.02))
        except BaseException:
            self.stop(save=False)
            raise
        return self

    def _read_output(self, path):
        if path in self._saved_output:
            return self._saved_output[path]
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def stderr_text(self):
        return self._read_output(self.stderr_path)

    def stdout_text(self):
        return self._read_output(getattr(self, "_stdout_path", None))

    def stop(self, sig=signal.SIGTERM, timeout=60, save=True):
        """Saves the request log, stops the emulator, removes its folder,
        returns its exit code."""
        if self.proc is None:
            return self.returncode
        if save and self.proc.poll() is None and self.save_traffic:
            self._save_traffic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        self.proc = None
        if self in _running:
            _running.remove(self)
        self._stderr.close()
        self._stdout.close()
        # Keep what it printed, then leave nothing behind.
        self._saved_output = {p: self._read_output(p) for p in (self.stderr_path, self._stdout_path)}
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.returncode

    def _save_traffic(self):
        directory = os.environ.get("XBRANCH_TRAFFIC_DIR")
        if not directory:
            return
        try:
            log = self.requests()
        except (OSError, http.client.HTTPException, ValueError):
            return
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "%s-%d.json" % (self.name, self.n))
        with open(path + ".tmp", "w") as f:
            json.dump({"test": self.name, "org": self.org, "project": self.project,
                       "requests": log}, f, indent=1)
        os.replace(path + ".tmp", path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- addresses
    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def project_path(self):
        return "/organizations/%s/projects/%s" % (self.org, self.project)

    # -- admin API
    def admin_get(self, path):
        r = http_request(self.port, "GET", "/_emulator/" + path.lstrip("/"))
        if r.status != 200:
            raise RuntimeError("admin GET %s: %d %r" % (path, r.status, r.body))
        return r.json()

    def admin_post(self, path, body):
        r = http_request(self.port, "POST", "/_emulator/" + path.lstrip("/"), body=body)
        if r.status != 200:
            raise RuntimeError("admin POST %s: %d %r" % (path, r.status, r.body))
        return r.json()

    def requests(self):
        return self.admin_get("requests")["requests"]

    def branches(self):
        return self.admin_get("branches")["branches"]

    def set_faults(self, rules):
        return self.admin_post("faults", {"faults": rules})["faults"]

    def set_config(self, **config):
        return self.admin_post("config", config)

    def set_behavior(self, branch_id, behavior, **extra):
        return self.admin_post("branches/%s/behavior" % branch_id, dict(behavior=behavior, **extra))

    def next_behavior(self, behavior, **extra):
        return self.admin_post("next-behavior", dict(behavior=behavior, **extra))

    def mark_ready(self, branch_id):
        return self.admin_post("branches/%s/mark-ready" % branch_id, {})

    # -- the API itself
    def api(self, method, path, body=None, token=None, headers=None, timeout=30):
        """Calls path under the project (path "" is the project itself)."""
        h = dict(headers or {})
        if token is None:
            token = self.api_key
        if token != "":
            h["Authorization"] = "Bearer " + token
        return http_request(self.port, method, self.project_path + path, body=body,
                            headers=h, timeout=timeout)

    def root_branch(self):
        for b in self.branches():
            if b["parentID"] is None and b["deletedAt"] is None:
                return b
        raise RuntimeError("no root branch")

    def create_branch(self, name, parent_id=None, **extra):
        body = {"name": name, "mode": "inherit",
                "parentID": parent_id or self.root_branch()["id"]}
        body.update(extra)
        return self.api("POST", "/branches", body)

    def wait_ready(self, branch_id, timeout=60):
        def healthy():
            r = self.api("GET", "/branches/" + branch_id)
            if r.status == 200 and r.json()["status"]["statusType"] == "STATUS_TYPE_HEALTHY":
                return r.json()
            return None

        return wait_until(healthy, timeout, "branch %s HEALTHY" % branch_id)

    def env(self):
        """Environment for xbranch pointed at this emulator."""
        return {"XATA_API_KEY": self.api_key, "XATA_API_BASE_URL": self.base_url,
                "XATA_ORGANIZATION_ID": self.org, "XATA_PROJECT_ID": self.project}


class SharedEmulatorCase(unittest.TestCase):
    """A TestCase class with one emulator for all its tests: cls.emu, started
    with `emulator_options` before the first test, stopped after the last
    (after tearDownClass).
    Each test gets self.procs (processes still running at its end are killed,
    then all are reaped) and, when `tmp_prefix` is set, a folder self.tmp
    removed after it. Subclasses calling super() keep all of this."""
    emulator_options = {}
    tmp_prefix = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emu = Emulator(**cls.emulator_options).start()
        # A class cleanup, not tearDownClass: it runs even when a subclass's
        # setUpClass fails after this one.
        cls.addClassCleanup(cls.emu.stop)

    def setUp(self):
        super().setUp()
        if self.tmp_prefix:
            self.tmp = tempfile.mkdtemp(prefix=self.tmp_prefix)
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.procs = []
        self.addCleanup(self._reap)

    def _reap(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


# ------------------------------------------------------------------ xbranch

def run_xbranch(args, env=None, timeout=300, input=None):
    """Runs XBRANCH_BIN with only PATH plus env; returns (code, stdout, stderr)."""
    binary = require_xbranch()
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if env:
        e.update(env)
    r = subprocess.run([binary] + list(args), capture_output=True, text=True, env=e,
                       timeout=timeout, input=input)
    return r.returncode, r.stdout, r.stderr


# ------------------------------------------------------------------ runner

def main():
    """For `python3 test_x.py`: runs that file under pytest (tests/conftest.py
    applies) and exits with pytest's code (77 when every test skipped)."""
    import pytest

    script = os.path.abspath(sys.modules["__main__"].__file__)
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", script] + sys.argv[1:]))
