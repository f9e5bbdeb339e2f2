"""The readiness timeline and the per-branch behaviours."""

import time

from emu_common import EmulatorTestCase, harness


def status(emu, bid):
    r = emu.api("GET", "/branches/" + bid)
    assert r.status == 200, r
    return r.json()["status"]


class ReadinessTest(EmulatorTestCase):
    def setUp(self):
        self.emu = harness.Emulator(pg=False, hibernated_ms=500, transient_ms=500).start()

    def tearDown(self):
        self.emu.stop()

    def watch(self, bid, seconds):
        """statusType sequence (deduplicated) over some seconds."""
        seen = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            s = status(self.emu, bid)
            self.assert_full(self.emu.api("GET", "/branches/" + bid).json())
            if not seen or seen[-1][0] != s["statusType"]:
                seen.append((s["statusType"], s["status"], s["instanceCount"],
                             s["instanceReadyCount"]))
            time.sleep(0.03)
        return seen

    def test_timeline_hibernated_transient_healthy(self):
        bid = self.emu.create_branch("sb-t").json()["id"]
        seen = self.watch(bid, 1.5)
        self.assertEqual([s[0] for s in seen],
                         ["STATUS_TYPE_HIBERNATED", "STATUS_TYPE_TRANSIENT", "STATUS_TYPE_HEALTHY"])
        self.assertEqual(seen[0][2:], (0, 0))  # no instances while HIBERNATED at first
        self.assertEqual(seen[1][1], "Setting up primary")
        self.assertEqual(seen[1][2:], (1, 0))
        self.assertEqual(seen[2][1], "Cluster in healthy state")
        self.assertEqual(seen[2][2:], (1, 1))
        self.assertEqual(status(self.emu, bid)["instances"][0]["primary"], True)

    def test_config_changes_timeline_of_new_branches(self):
        self.emu.set_config(hibernatedMs=0, transientMs=0)
        bid = self.emu.create_branch("sb-fast").json()["id"]
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_HEALTHY")

    def test_fault_behavior(self):
        self.emu.next_behavior("fault")
        bid = self.emu.create_branch("sb-f").json()["id"]
        seen = self.watch(bid, 1.5)
        self.assertEqual([s[0] for s in seen],
                         ["STATUS_TYPE_HIBERNATED", "STATUS_TYPE_TRANSIENT", "STATUS_TYPE_FAULT"])
        self.assertTrue(seen[-1][1])
        # next-behavior applies to one branch only
        other = self.emu.create_branch("sb-ok").json()["id"]
        self.emu.wait_ready(other, timeout=5)

    def test_behavior_on_existing_branch(self):
        bid = self.emu.create_branch("sb-e").json()["id"]
        self.emu.wait_ready(bid, timeout=5)
        self.emu.set_behavior(bid, "fault")
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_FAULT")
        self.emu.set_behavior(bid, "normal")
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_HEALTHY")

    def test_never_ready(self):
        self.emu.next_behavior("never_ready")
        bid = self.emu.create_branch("sb-n").json()["id"]
        seen = self.watch(bid, 1.8)
        self.assertEqual([s[0] for s in seen], ["STATUS_TYPE_HIBERNATED", "STATUS_TYPE_TRANSIENT"])
        self.emu.mark_ready(bid)
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_HEALTHY")

    def test_stay_hibernated_until_woken(self):
        self.emu.next_behavior("stay_hibernated")
        bid = self.emu.create_branch("sb-h").json()["id"]
        seen = self.watch(bid, 1.2)
        self.assertEqual([s[0] for s in seen], ["STATUS_TYPE_HIBERNATED"])
        self.assertEqual(seen[0][2:], (0, 0))
        r = self.emu.api("PATCH", "/branches/" + bid, {"hibernate": False})
        self.assertEqual(r.status, 200)
        self.assert_short(r.json())
        seen = self.watch(bid, 1.0)
        self.assertEqual([s[0] for s in seen], ["STATUS_TYPE_TRANSIENT", "STATUS_TYPE_HEALTHY"])

    def test_patch_hibernate_true_then_wake(self):
        self.emu.set_config(hibernatedMs=0, transientMs=200)
        bid = self.emu.create_branch("sb-p").json()["id"]
        self.emu.wait_ready(bid, timeout=5)
        self.assertEqual(self.emu.api("PATCH", "/branches/" + bid, {"hibernate": True}).status, 200)
        s = status(self.emu, bid)
        self.assertEqual((s["statusType"], s["instanceCount"]), ("STATUS_TYPE_HIBERNATED", 0))
        self.emu.api("PATCH", "/branches/" + bid, {"hibernate": False})
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_TRANSIENT")
        self.emu.wait_ready(bid, timeout=5)
        # Waking a healthy branch changes nothing.
        self.emu.api("PATCH", "/branches/" + bid, {"hibernate": False})
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_HEALTHY")

    def test_mark_ready(self):
        bid = self.emu.create_branch("sb-m").json()["id"]
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_HIBERNATED")
        self.emu.mark_ready(bid)
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_HEALTHY")

    def test_no_credentials_503_then_works(self):
        self.emu.set_config(hibernatedMs=0, transientMs=0)
        self.emu.next_behavior("no_credentials")
        bid = self.emu.create_branch("sb-c").json()["id"]
        path = "/branches/%s/credentials?username=xata" % bid
        for _ in range(3):
            r = self.emu.api("GET", path)
            self.assert_error(r, 503)
            self.assertEqual(r.headers.get("retry-after"), "1")
        self.assertEqual(self.emu.api("GET", path).status, 200)

    def test_no_credentials_404_with_count(self):
        self.emu.set_config(hibernatedMs=0, transientMs=0)
        bid = self.emu.create_branch("sb-c4").json()["id"]
        self.emu.set_behavior(bid, "no_credentials", status=404, count=1)
        path = "/branches/%s/credentials?username=xata" % bid
        self.assert_error(self.emu.api("GET", path), 404, "Branch [%s]: not found" % bid)
        self.assertEqual(self.emu.api("GET", path).status, 200)

    def test_next_behavior_keeps_status_and_count(self):
        self.emu.set_config(hibernatedMs=0, transientMs=0)
        self.emu.next_behavior("no_credentials", status=404, count=2)
        bid = self.emu.create_branch("sb-nb").json()["id"]
        path = "/branches/%s/credentials?username=xata" % bid
        self.assertEqual([self.emu.api("GET", path).status for _ in range(3)], [404, 404, 200])

    def test_no_credentials_forever(self):
        self.emu.set_config(hibernatedMs=0, transientMs=0)
        bid = self.emu.create_branch("sb-c0").json()["id"]
        self.emu.set_behavior(bid, "no_credentials", count=0)
        for _ in range(5):
            self.assert_error(self.emu.api("GET", "/branches/%s/credentials?username=xata" % bid), 503)
        self.assertEqual(status(self.emu, bid)["statusType"], "STATUS_TYPE_HEALTHY")

    def test_admin_errors(self):
        r = harness.http_request(self.emu.port, "POST", "/_emulator/branches/%s/behavior" % ("a" * 26),
                                 body={"behavior": "fault"})
        self.assertEqual(r.status, 404)
        r = harness.http_request(self.emu.port, "POST", "/_emulator/next-behavior",
                                 body={"behavior": "sometimes"})
        self.assertEqual(r.status, 400)


if __name__ == "__main__":
    harness.main()
