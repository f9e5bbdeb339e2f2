"""Helpers shared by the reliability tests (stdlib only).

Imports tests/e2e/harness.py and adds what the load, kill, output-dir, TLS
and terminal tests need: the branch name xbranch derives for a sandbox
(recomputed here independently of the C++ code), the active branches of an
emulator, and a way to start xbranch without waiting for it.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402

SKIP = harness.SKIP


def _sanitize(raw):
    out = []
    pending = False
    for ch in raw.encode("utf-8"):
        c = chr(ch)
        if "A" <= c <= "Z":
            c = c.lower()
        if ("a" <= c <= "z") or ("0" <= c <= "9"):
            if pending and out:
                out.append("-")
            pending = False
            out.append(c)
        else:
            pending = True
    return "".join(out)


def _short_hash(data):
    h = 14695981039346656037
    for b in data.encode("utf-8"):
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    out = []
    for _ in range(8):
        out.append(alphabet[h & 31])
        h >>= 5
    return "".join(out)


def branch_name(sandbox, sandbox_id="", resource="", prefix="sb-"):
    """The name `xbranch create --sandbox ...` gives the branch (docs/interfaces.md:
    PREFIX + sandbox [+ resource] [+ id] + a hash of all three, <= 63 chars)."""
    readable = _sanitize(sandbox)
    for part in (resource, sandbox_id):
        label = _sanitize(part)
        if label:
            readable += "-" + label
    digest = _short_hash("xbranch/v1\n%s\n%s\n%s" % (sandbox, sandbox_id, resource))
    room = 63 - len(prefix) - 1 - len(digest)
    if len(readable) > room:
        readable = readable[:room].rstrip("-")
    return prefix + readable + "-" + digest


def xbranch():
    """The xbranch binary; a missing one is a failure, not a skip."""
    path = os.environ.get("XBRANCH_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("XBRANCH_BIN is not set or not executable: %r" % path)
    return path


def require_binaries():
    xbranch()
    path = os.environ.get("XATA_EMULATOR_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("XATA_EMULATOR_BIN is not set or not executable: %r" % path)


class Case(harness.SharedEmulatorCase):
    """harness.SharedEmulatorCase with both binaries required (a missing one
    fails the class)."""

    @classmethod
    def setUpClass(cls):
        require_binaries()
        super().setUpClass()


def base_env(extra=None):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if extra:
        e.update(extra)
    return e


def start_xbranch(args, env, **popen):
    """Starts xbranch without waiting; stdout/stderr are pipes unless given."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([xbranch()] + list(args), env=base_env(env), text=True, **popen)


def run(args, env, timeout=120):
    r = subprocess.run([xbranch()] + list(args), env=base_env(env), capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def active(emu, include_root=False):
    """Active (not deleted) branches on the emulator, root left out by default."""
    return [b for b in emu.branches()
            if b["deletedAt"] is None and (include_root or b["parentID"] is not None)]


def wait_for(predicate, timeout=30, step=0.02, what="condition"):
    return harness.wait_until(predicate, timeout, what, step=step)


def posts(emu, name=None):
    """The POST /branches calls in the request log (for one branch name if given)."""
    out = []
    for r in emu.requests():
        if r["method"] == "POST" and r["path"].endswith("/branches"):
            if name is None or ('"%s"' % name) in (r.get("requestBody") or ""):
                out.append(r)
    return out
