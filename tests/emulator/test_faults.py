"""Injected faults: what a client sees for each kind, whether the call was
performed, rule counting, seeded random faults and the rate limit."""

import http.client
import json
import threading
import time

from emu_common import EmulatorTestCase, harness


class FaultRulesTest(EmulatorTestCase):
    def setUp(self):
        self.emu = harness.Emulator(pg=False, hibernated_ms=0, transient_ms=0).start()
        self.root = self.emu.root_branch()["id"]

    def tearDown(self):
        self.emu.stop()

    def create_with_fault(self, name, rule):
        rule = dict({"method": "POST", "path": "/branches$"}, **rule)
        self.emu.set_faults([rule])
        return self.emu.create_branch(name)

    def names(self):
        return [b["name"] for b in self.emu.branches() if b["deletedAt"] is None]

    def last_log(self):
        return self.emu.requests()[-1]

    def test_status_with_retry_after_not_performed(self):
        r = self.create_with_fault("sb-s", {"kind": "status", "status": 503, "retryAfter": "30"})
        self.assert_error(r, 503)
        self.assertEqual(r.headers.get("retry-after"), "30")
        self.assertNotIn("sb-s", self.names())
        self.assertEqual(self.last_log()["fault"], "status")
        # times=1 by default: the next call goes through
        self.assertEqual(self.emu.create_branch("sb-s").status, 201)

    def test_status_without_retry_after(self):
        r = self.create_with_fault("sb-s2", {"kind": "status", "status": 500})
        self.assert_error(r, 500)
        self.assertNotIn("retry-after", r.headers)

    def test_drop_before_closes_without_performing(self):
        with self.assertRaises(http.client.RemoteDisconnected):
            self.create_with_fault("sb-db", {"kind": "drop_before"})
        self.assertNotIn("sb-db", self.names())
        entry = self.last_log()
        self.assertEqual((entry["status"], entry["fault"]), (0, "drop_before"))

    def test_drop_after_closes_after_performing(self):
        with self.assertRaises(http.client.RemoteDisconnected):
            self.create_with_fault("sb-da", {"kind": "drop_after"})
        self.assertIn("sb-da", self.names())
        # A retry then meets the 409 of the branch it created.
        self.assert_error(self.emu.create_branch("sb-da"), 409, "branch [sb-da] already exists")

    def test_delay_performs_then_answers_late(self):
        t0 = time.time()
        r = self.create_with_fault("sb-dl", {"kind": "delay", "delayMs": 700})
        self.assertGreaterEqual(time.time() - t0, 0.7)
        self.assertEqual(r.status, 201)
        with self.assertRaises(OSError):  # socket.timeout is an OSError
            self.emu.set_faults([{"path": "/branches$", "kind": "delay", "delayMs": 1500}])
            self.emu.api("GET", "/branches", timeout=0.5)

    def test_malformed_json(self):
        r = self.create_with_fault("sb-mf", {"kind": "malformed"})
        self.assertEqual(r.status, 201)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        with self.assertRaises(ValueError):
            json.loads(r.body)
        self.assertIn("sb-mf", self.names())

    def test_truncated_body(self):
        with self.assertRaises(http.client.IncompleteRead) as ctx:
            self.create_with_fault("sb-tr", {"kind": "truncated"})
        self.assertGreater(ctx.exception.expected, 0)
        self.assertIn("sb-tr", self.names())
        # DELETE answers 204 without a body; truncated turns it into a cut 200.
        bid = [b["id"] for b in self.emu.branches() if b["name"] == "sb-tr"][0]
        self.emu.set_faults([{"method": "DELETE", "path": "/branches/", "kind": "truncated"}])
        with self.assertRaises(http.client.IncompleteRead):
            self.emu.api("DELETE", "/branches/" + bid)

    def test_html_error_page(self):
        r = self.create_with_fault("sb-h", {"kind": "html", "status": 502})
        self.assertEqual(r.status, 502)
        self.assertEqual(r.headers["content-type"], "text/html")
        self.assertTrue(r.body.startswith(b"<html>"))
        self.assertTrue(r.headers["x-request-id"])
        self.assertNotIn("sb-h", self.names())

    def test_missing_field(self):
        r = self.create_with_fault("sb-mi", {"kind": "missing_field"})
        self.assertEqual(r.status, 201)
        self.assertNotIn("id", r.json())
        self.assertEqual(r.json()["name"], "sb-mi")
        bid = [b["id"] for b in self.emu.branches() if b["name"] == "sb-mi"][0]
        self.emu.set_faults([{"method": "GET", "path": "/branches/[^/]+$", "kind": "missing_field"}])
        d = self.emu.api("GET", "/branches/" + bid).json()
        self.assertNotIn("status", d)
        self.emu.set_faults([{"path": "/credentials$", "kind": "missing_field", "field": "username"}])
        c = self.emu.api("GET", "/branches/%s/credentials?username=xata" % bid).json()
        self.assertNotIn("username", c)
        self.assertIn("password", c)

    def test_times_after_and_method(self):
        self.emu.set_faults([{"method": "GET", "path": "/branches$", "kind": "status",
                              "status": 503, "times": 2, "after": 1}])
        self.assertEqual(self.emu.api("POST", "/branches", {}).status, 400)  # other method
        got = [self.emu.api("GET", "/branches").status for _ in range(5)]
        self.assertEqual(got, [200, 503, 503, 200, 200])
        rules = self.emu.admin_get("faults")["faults"]
        self.assertEqual((rules[0]["seen"], rules[0]["fired"]), (5, 2))

    def test_times_zero_is_always(self):
        self.emu.set_faults([{"path": "/branches$", "kind": "status", "status": 502, "times": 0}])
        self.assertEqual([self.emu.api("GET", "/branches").status for _ in range(4)], [502] * 4)
        self.emu.set_faults([])
        self.assertEqual(self.emu.api("GET", "/branches").status, 200)

    def test_bad_rules_rejected(self):
        for rule in ({"kind": "explode"}, {"kind": "status", "path": "("}):
            r = harness.http_request(self.emu.port, "POST", "/_emulator/faults",
                                     body={"faults": [rule]})
            self.assertEqual(r.status, 400, rule)


class RandomFaultsTest(EmulatorTestCase):
    def sequence(self, seed, calls=40):
        with harness.Emulator(pg=False, fault_rate=0.5, seed=seed) as emu:
            for _ in range(calls):
                try:
                    emu.api("GET", "/branches")
                except (http.client.HTTPException, OSError):
                    pass
            return [(e["fault"], e["status"]) for e in emu.requests()]

    def test_same_seed_same_faults(self):
        a = self.sequence(42)
        b = self.sequence(42)
        c = self.sequence(43)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        faults = [f for f, _ in a if f]
        self.assertGreater(len(faults), 8)
        self.assertLess(len(faults), 32)
        self.assertGreater(len(set(faults)), 3)

    def test_seed_via_config_restarts_sequence(self):
        with harness.Emulator(pg=False, fault_rate=0.5, seed=5) as emu:
            def run():
                for _ in range(15):
                    try:
                        emu.api("GET", "/branches")
                    except (http.client.HTTPException, OSError):
                        pass
            emu.set_config(seed=9)
            run()
            first = [e["fault"] for e in emu.requests()]
            emu.admin_post("config", {"seed": 9})
            harness.http_request(emu.port, "DELETE", "/_emulator/requests")
            run()
            second = [e["fault"] for e in emu.requests()]
            self.assertEqual(first, second)


class RateLimitTest(EmulatorTestCase):
    def burst(self, seed):
        with harness.Emulator(pg=False, rate_limit=5, seed=seed) as emu:
            answers = [emu.api("GET", "/branches") for _ in range(40)]
            limited = [r for r in answers if r.status == 429]
            ok = [r for r in answers if r.status == 200]
            return limited, ok

    def test_429_plain_text_and_retry_after_per_seed(self):
        limited, ok = self.burst(3)
        self.assertGreaterEqual(len(ok), 5)
        self.assertGreater(len(limited), 10)
        for r in limited:
            self.assertTrue(r.headers["content-type"].startswith("text/plain"))
            self.assertTrue(r.headers["x-request-id"])
            with self.assertRaises(ValueError):
                json.loads(r.body)
        pattern = ["retry-after" in r.headers for r in limited]
        self.assertIn(True, pattern)
        self.assertIn(False, pattern)
        limited2, _ = self.burst(3)
        pattern2 = ["retry-after" in r.headers for r in limited2]
        n = min(len(pattern), len(pattern2))
        self.assertEqual(pattern[:n], pattern2[:n])

    def test_window_recovers(self):
        with harness.Emulator(pg=False, rate_limit=3) as emu:
            statuses = [emu.api("GET", "/branches").status for _ in range(6)]
            self.assertEqual(statuses[:3], [200, 200, 200])
            self.assertIn(429, statuses[3:])
            time.sleep(1.1)
            self.assertEqual(emu.api("GET", "/branches").status, 200)
            emu.set_config(rateLimit=0)
            self.assertEqual({emu.api("GET", "/branches").status for _ in range(10)}, {200})


class LatencyTest(EmulatorTestCase):
    """--latency-ms: every API call answers that much later, calls on other
    connections overlap (the delay holds no lock), admin calls are not delayed."""

    def test_every_call_waits_and_calls_overlap(self):
        with harness.Emulator(pg=False, latency_ms=1000) as emu:
            self.assertEqual(emu.admin_get("config")["latencyMs"], 1000)
            spans = []

            def one():
                start = time.monotonic()
                r = emu.api("GET", "/branches")
                spans.append((start, time.monotonic(), r.status))

            threads = [threading.Thread(target=one) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual([s[2] for s in spans], [200] * 4)
            for start, end, _ in spans:
                self.assertGreaterEqual(end - start, 1.0)
            # All four were in the emulator at once: none waited for another.
            self.assertLess(max(s[0] for s in spans), min(s[1] for s in spans))
            self.assertTrue(all(e["ms"] >= 1000 for e in emu.requests()))

    def test_set_at_run_time_and_checked(self):
        with harness.Emulator(pg=False) as emu:
            self.assertEqual(emu.admin_get("config")["latencyMs"], 0)
            self.assertEqual(emu.set_config(latencyMs=300)["latencyMs"], 300)
            start = time.monotonic()
            self.assertEqual(emu.api("GET", "/branches").status, 200)
            self.assertGreaterEqual(time.monotonic() - start, 0.3)
            for bad in (-1, "x", 10 ** 12):
                r = harness.http_request(emu.port, "POST", "/_emulator/config",
                                         {"latencyMs": bad})
                self.assertEqual(r.status, 400, bad)
            self.assertEqual(emu.admin_get("config")["latencyMs"], 300)


if __name__ == "__main__":
    harness.main()
