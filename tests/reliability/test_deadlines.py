"""Deadlines, signals and hostile servers, against the real binary.

- Every API answer takes 1.5 s: `create --timeout 8s` of a branch that never
  gets ready deletes it and ends within 0.5 s of the limit; a fast API
  keeps the whole limit for the wait.
- A server that accepts TCP and never answers: `create --timeout 5s` ends in
  about 5 s (exit 6); answering 503 with Retry-After: 30, about 5 s too (exit 8);
  a sub-millisecond --request-timeout never means "no timeout".
- SIGHUP while waiting deletes the branch this run created (exit 129).
- The API freezes (a proxy stops forwarding), then SIGTERM: xbranch exits
  within 30 s (its cleanup budget is about 10 s), names the branch id left
  behind and the command that deletes it, and never says "was deleted".
- A second signal ends the cleanup at once.
- `list` stops on Ctrl-C with exit 130 (no "?" rows).
- A 50 MB answer is refused with exit 10 and little memory.
- `delete --branch-id` in a wrong project is exit 4, not "already deleted".
- 30 parallel creates of one sandbox under dropped POST answers: every run
  exits 0 with the same id, exactly one says it created the branch, the
  branch is alive at the end and no DELETE was ever sent.
Figures are printed ("FIGURE name value") for RELIABILITY.md.
"""

import json
import os
import resource
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402
from rel import harness  # noqa: E402

SLOW = {"hibernatedMs": 100, "transientMs": 60000}
FAST = {"hibernatedMs": 50, "transientMs": 100}


def figure(name, value):
    print("FIGURE %s %s" % (name, value), flush=True)


class Listener:
    """A loopback TCP server; `serve(conn)` runs on its own thread per connection."""

    def __init__(self, serve):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.serve = serve
        self.stopped = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.serve(conn)
        except OSError:
            pass

    def close(self):
        self.stopped.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(timeout=5)


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class FreezingProxy(Listener):
    """Forwards to the emulator until freeze(); then holds every byte."""

    def __init__(self, target_port):
        self.target = target_port
        self.frozen = threading.Event()
        super().__init__(self._proxy)

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.frozen.is_set() and not self.stopped.is_set():
                    time.sleep(0.05)  # swallow: the API stopped answering
                if self.stopped.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _proxy(self, conn):
        while self.frozen.is_set() and not self.stopped.is_set():
            time.sleep(0.05)
        up = socket.create_connection(("127.0.0.1", self.target))
        self.conns.append(up)
        t = threading.Thread(target=self._pipe, args=(up, conn), daemon=True)
        t.start()
        self._pipe(conn, up)
        t.join()

    def freeze(self):
        self.frozen.set()


def api_env(port):
    return {"XATA_API_KEY": "xau_deadlineTestKey0123", "XATA_API_BASE_URL":
            "http://127.0.0.1:%d" % port, "XATA_ORGANIZATION_ID": "org123",
            "XATA_PROJECT_ID": "prj_deadlines"}


def timed(args, env, timeout=120):
    t = time.monotonic()
    code, out, err = rel.run(args, env, timeout=timeout)
    return code, out, err, time.monotonic() - t


class HostileServerTest(unittest.TestCase):
    """No emulator needed: servers written here."""

    def setUp(self):
        rel.xbranch()

    def silent(self):
        def serve(conn):
            read_head(conn)
            while not srv.stopped.is_set():
                time.sleep(0.05)
        srv = Listener(serve)
        self.addCleanup(srv.close)
        return srv

    def test_timeout_5s_against_a_silent_server(self):
        srv = self.silent()
        code, _, err, took = timed(["create", "--sandbox", "silent", "--parent",
                                    "a0000000000000000000000001", "--timeout", "5s"],
                                   api_env(srv.port))
        figure("silent_server_timeout_5s_wall_s", "%.2f" % took)
        self.assertEqual(code, 6, err)
        self.assertGreaterEqual(took, 4.5)
        self.assertLess(took, 8.0, err)
        self.assertIn("time limit", err)

    def test_timeout_5s_against_retry_after_30(self):
        def serve(conn):
            while read_head(conn):
                body = b'{"id":"r","message":"branch creation is disabled"}'
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\n"
                             b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
        srv = Listener(serve)
        self.addCleanup(srv.close)
        code, _, err, took = timed(["create", "--sandbox", "busy", "--timeout", "5s"],
                                   api_env(srv.port))
        figure("retry_after_30_timeout_5s_wall_s", "%.2f" % took)
        self.assertEqual(code, 8, err)
        self.assertLess(took, 8.0, err)

    def test_sub_millisecond_request_timeout_never_hangs(self):
        # (0.0004 s once reached libcurl as 0, "no timeout": list hung forever)
        srv = self.silent()
        for flags in (["--request-timeout", "0.0004"],
                      ["--connect-timeout", "0.0004", "--request-timeout", "1"]):
            code, _, err, took = timed(flags + ["list", "--no-status"], api_env(srv.port),
                                       timeout=60)
            self.assertNotEqual(code, 0, err)
            self.assertLess(took, 30.0, "%s ran %.1fs" % (flags, took))

    def test_huge_answer_is_refused_with_little_memory(self):
        size = 50 * 1024 * 1024

        def serve(conn):
            read_head(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % size)
            conn.sendall(b'{"branches":[')
            chunk = b'{"id":"x","name":"y"},' * 3000
            sent = 0
            while sent < size:
                conn.sendall(chunk)
                sent += len(chunk)
        srv = Listener(serve)
        self.addCleanup(srv.close)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        code, _, err, _ = timed(["list", "--no-status"], api_env(srv.port))
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        figure("huge_answer_50mb_peak_rss_mib", "%.1f" % (peak_kib / 1024.0))
        self.assertEqual(code, 10, err)
        self.assertIn("larger than 8 MiB", err)
        if peak_kib > before:  # the child set a new maximum: it is this run's
            self.assertLess(peak_kib, 100 * 1024, "peak RSS %d KiB" % peak_kib)

    def test_deeply_nested_answer_is_refused(self):
        def serve(conn):
            while read_head(conn):
                body = b'{"branches":' + b"[" * 100000 + b"]" * 100000 + b"}"
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        srv = Listener(serve)
        self.addCleanup(srv.close)
        code, _, err, _ = timed(["list", "--no-status"], api_env(srv.port))
        self.assertEqual(code, 10, err)
        self.assertIn("nested", err)

    def test_redirect_names_its_location(self):
        def serve(conn):
            while read_head(conn):
                conn.sendall(b"HTTP/1.1 301 Moved Permanently\r\n"
                             b"Location: https://elsewhere.example.test/v2\r\n"
                             b"Content-Length: 0\r\n\r\n")
        srv = Listener(serve)
        self.addCleanup(srv.close)
        code, _, err, _ = timed(["list", "--no-status"], api_env(srv.port))
        self.assertEqual(code, 10, err)
        self.assertIn("https://elsewhere.example.test/v2", err)


class SlowApiDeadlineTest(rel.Case):
    """--timeout bounds the whole command, the delete of the branch the run
    made included, also when every API answer takes 1.5 s (it ran 1.5 s over:
    the delete came after the limit)."""
    emulator_options = dict(pg=True, hibernated_ms=100, transient_ms=60000, quiet=True)
    tmp_prefix = "xbranch-slowapi-"
    TIMEOUT = 8.0
    # The promise is 0.5 s; the rest is this machine (process start, a busy CI).
    ALLOWED = TIMEOUT + 0.5 + 0.3

    def setUp(self):
        super().setUp()
        self.emu.set_faults([])
        self.emu.set_config(**SLOW)  # never ready within the limit

    def create(self, sandbox):
        name = rel.branch_name(sandbox)
        code, _, err, took = timed(["create", "--sandbox", sandbox, "--no-connect-check",
                                    "--timeout", "%gs" % self.TIMEOUT], self.emu.env())
        self.assertEqual(code, 6, err)
        self.assertIn("created by this run was deleted", err)
        left = [b for b in self.emu.branches() if b["name"] == name and b["deletedAt"] is None]
        self.assertEqual(left, [], err)
        return took

    def test_the_delete_after_the_time_limit_stays_within_half_a_second(self):
        self.emu.set_faults([{"path": "/projects/", "kind": "delay", "delayMs": 1500,
                              "times": 1000000}])
        took = self.create("slow-api")
        figure("slow_api_1500ms_timeout_8s_wall_s", "%.2f" % took)
        self.assertLessEqual(took, self.ALLOWED)
        self.assertGreaterEqual(took, self.TIMEOUT - 2.0)

    def test_a_fast_api_keeps_the_whole_limit_for_the_wait(self):
        took = self.create("fast-api")
        figure("fast_api_timeout_8s_wall_s", "%.2f" % took)
        self.assertLessEqual(took, self.ALLOWED)
        self.assertGreaterEqual(took, self.TIMEOUT - 0.2)


class SignalTest(rel.Case):
    emulator_options = dict(pg=True, hibernated_ms=100, transient_ms=60000, quiet=True)
    tmp_prefix = "xbranch-deadline-"

    def setUp(self):
        super().setUp()
        self.emu.set_faults([])
        self.emu.set_config(**SLOW)

    def active(self, name):
        return [b for b in self.emu.branches() if b["name"] == name and b["deletedAt"] is None]

    def start(self, args, env):
        p = rel.start_xbranch(args, env)
        self.procs.append(p)
        return p

    def wait_polling(self, p, name):
        def polling():
            if p.poll() is not None:
                raise AssertionError("xbranch ended early: %s" % p.communicate()[1])
            act = self.active(name)
            return act and any(r["method"] == "GET" and r["path"].endswith("/branches/" +
                                                                          act[0]["id"])
                               for r in self.emu.requests()) and act[0]
        return rel.wait_for(polling, timeout=30, what="xbranch polling " + name)

    def test_sighup_while_waiting_deletes_the_branch(self):
        sandbox, name = "hup-wait", rel.branch_name("hup-wait")
        p = self.start(["create", "--sandbox", sandbox, "--timeout", "60s"], self.emu.env())
        row = self.wait_polling(p, name)
        p.send_signal(signal.SIGHUP)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 129, err)
        self.assertIn("created by this run was deleted", err)
        self.assertEqual(self.active(name), [], "branch %s left behind" % row["id"])

    def _frozen_then_term(self, sandbox, second_signal):
        name = rel.branch_name(sandbox)
        proxy = FreezingProxy(self.emu.port)
        self.addCleanup(proxy.close)
        env = dict(self.emu.env(), XATA_API_BASE_URL="http://127.0.0.1:%d" % proxy.port)
        p = self.start(["create", "--sandbox", sandbox, "--timeout", "120s"], env)
        row = self.wait_polling(p, name)
        proxy.freeze()
        time.sleep(0.5)
        t = time.monotonic()
        p.send_signal(signal.SIGTERM)
        if second_signal:
            time.sleep(1.0)
            p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        took = time.monotonic() - t
        self.assertEqual(p.returncode, 143, err)
        self.assertIn(row["id"], err)
        self.assertIn("xbranch delete --branch-id " + row["id"], err)
        self.assertNotIn("was deleted", err)
        self.assertEqual([b["id"] for b in self.active(name)], [row["id"]])
        code, _, derr = rel.run(["delete", "--branch-id", row["id"]], self.emu.env())
        self.assertEqual(code, 0, derr)
        return took

    def test_frozen_api_during_cleanup_exits_within_30s_naming_the_branch(self):
        took = self._frozen_then_term("frozen-term", second_signal=False)
        figure("sigterm_to_exit_frozen_api_s", "%.2f" % took)
        self.assertLess(took, 30.0)
        self.assertGreater(took, 5.0, "the cleanup did not even try")

    def test_second_signal_ends_the_cleanup_at_once(self):
        took = self._frozen_then_term("frozen-twice", second_signal=True)
        figure("sigterm_twice_to_exit_frozen_api_s", "%.2f" % took)
        self.assertLess(took, 4.0)

    def test_list_stops_on_ctrl_c(self):
        proxy = FreezingProxy(self.emu.port)
        self.addCleanup(proxy.close)
        env = dict(self.emu.env(), XATA_API_BASE_URL="http://127.0.0.1:%d" % proxy.port)
        proxy.freeze()
        p = self.start(["list", "--all"], env)
        time.sleep(1.0)
        t = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        self.assertLess(time.monotonic() - t, 5.0)
        self.assertNotIn("?", out)

    def test_delete_by_id_in_a_wrong_project_is_exit_4(self):
        env = dict(self.emu.env(), XATA_PROJECT_ID="prj_doesnotexist000000000000")
        code, out, err = rel.run(["delete", "--branch-id", "e80atan1sl5khdkr8pkc33fovk"], env)
        self.assertEqual(code, 4, (out, err))
        self.assertNotIn("already deleted", out)
        self.assertIn("XATA_PROJECT_ID", err)

    def test_thirty_parallel_creates_of_one_sandbox_under_faults(self):
        self.emu.set_config(**FAST)
        # The first POSTs are performed but their answers dropped: outcome
        # unknown, the name then found. Only the run whose tag is on the
        # branch may call it its own.
        self.emu.set_faults([{"method": "POST", "path": "/branches$", "kind": "drop_after",
                              "times": 12}])
        sandbox, name = "crowd", rel.branch_name("crowd")
        # sslmode disable: the connection check logs in, and the test cluster has no TLS.
        procs = [self.start(["create", "--sandbox", sandbox, "--output", "json",
                             "--timeout", "120s", "--sslmode", "disable"], self.emu.env())
                 for _ in range(30)]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=180)
            self.assertEqual(p.returncode, 0, err)
            results.append(json.loads(out)["branch"])
        ids = {r["id"] for r in results}
        self.assertEqual(len(ids), 1, ids)
        creators = [r for r in results if not r["adopted"]]
        self.assertEqual(len(creators), 1, "runs claiming the branch: %d" % len(creators))
        self.assertEqual([b["id"] for b in self.active(name)], list(ids))
        [bid] = ids
        deletes = [r for r in self.emu.requests()
                   if r["method"] == "DELETE" and r["path"].endswith("/branches/" + bid)]
        self.assertEqual(deletes, [])
        code, _, err = rel.run(["delete", "--sandbox", sandbox], self.emu.env())
        self.assertEqual(code, 0, err)


if __name__ == "__main__":
    harness.main()
