"""Starting and stopping the emulator; the harness around it."""

import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

from emu_common import EmulatorTestCase, harness


class LifecycleTest(EmulatorTestCase):
    def test_prints_address_and_writes_port_file(self):
        emu = harness.Emulator(pg=False).start()
        try:
            self.assertEqual(emu.stdout_text().strip(),
                             "xata-emulator listening on http://127.0.0.1:%d" % emu.port)
            with socket.create_connection(("127.0.0.1", emu.port), timeout=5):
                pass
        finally:
            self.assertEqual(emu.stop(), 0)

    def test_sigterm_and_sigint_stop_cleanly_and_fast(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig):
                emu = harness.Emulator(pg=False, save_traffic=False).start()
                # An idle keep-alive connection must not hold the stop up.
                idle = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
                idle.request("GET", "/_emulator/health")
                idle.getresponse().read()
                # Stopped while the idle connection is still open, well
                # before the server's 60 s idle timeout would have closed it
                # (after 30 s stop() kills it: exit -9, not 0).
                self.assertEqual(emu.stop(sig=sig, timeout=30), 0)
                self.assertEqual(idle.sock.recv(1), b"")  # closed by the server
                idle.close()
                self.assertIn("stopped", emu.stderr_text())
                with self.assertRaises(OSError):
                    socket.create_connection(("127.0.0.1", emu.port), timeout=2).close()

    def test_stop_waits_for_a_call_in_flight(self):
        emu = harness.Emulator(pg=False, save_traffic=False).start()
        emu.set_faults([{"path": "/branches$", "kind": "delay", "delayMs": 800}])
        got = {}

        def call():
            try:
                got["r"] = emu.api("GET", "/branches", timeout=10)
            except Exception as e:  # noqa: BLE001
                got["e"] = e

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.2)
        self.assertEqual(emu.stop(), 0)
        t.join()
        self.assertIn("r", got, got)
        self.assertEqual(got["r"].status, 200)

    def test_bad_arguments_exit_2(self):
        binary = harness.require_emulator()
        for args in (["--port", "0"], ["--api-key", "k", "--bogus"],
                     ["--api-key", "k", "--hibernated-ms", "soon"],
                     ["--api-key", "k", "--credentials-shape", "cloud"]):
            r = subprocess.run([binary] + args, capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("xata-emulator:", r.stderr)

    def test_unreachable_pg_exits_1(self):
        binary = harness.require_emulator()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        r = subprocess.run([binary, "--api-key", "k", "--pg",
                            "host=127.0.0.1 port=%d user=postgres connect_timeout=2" % port],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("xata-emulator:", r.stderr)

    def test_harness_saves_traffic(self):
        with tempfile.TemporaryDirectory() as d:
            old = os.environ.get("XBRANCH_TRAFFIC_DIR")
            os.environ["XBRANCH_TRAFFIC_DIR"] = d
            try:
                with harness.Emulator(pg=False, name="lifecycle-traffic") as emu:
                    emu.api("GET", "/branches")
                    n = emu.n
            finally:
                if old is None:
                    del os.environ["XBRANCH_TRAFFIC_DIR"]
                else:
                    os.environ["XBRANCH_TRAFFIC_DIR"] = old
            with open(os.path.join(d, "lifecycle-traffic-%d.json" % n)) as f:
                saved = json.load(f)
            self.assertEqual(len(saved["requests"]), 1)
            self.assertEqual(saved["requests"][0]["status"], 200)
            self.assertEqual(saved["project"], harness.DEFAULT_PROJECT)

    def test_many_concurrent_clients(self):
        with harness.Emulator(pg=False, hibernated_ms=0, transient_ms=0, save_traffic=False) as emu:
            root = emu.root_branch()["id"]
            errors = []

            def client(i):
                try:
                    r = emu.api("POST", "/branches", {"name": "sb-%d" % i, "mode": "inherit",
                                                      "parentID": root})
                    assert r.status == 201, r
                    bid = r.json()["id"]
                    for _ in range(5):
                        assert emu.api("GET", "/branches/" + bid).status == 200
                    assert emu.api("DELETE", "/branches/" + bid).status == 204
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))

            threads = [threading.Thread(target=client, args=(i,)) for i in range(60)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(emu.requests()), 60 * 7 + 0)
            self.assertEqual(len([b for b in emu.branches() if b["deletedAt"]]), 60)


if __name__ == "__main__":
    harness.main()
