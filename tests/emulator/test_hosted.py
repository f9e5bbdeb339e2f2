"""What the hosted service adds or does that the emulator models: /limits
(404 on Xata Core), the branch caps, descriptions (describe only, never
the list), publicAccess, and the PATCH refusals 409 and 403."""

import shutil

from emu_common import EmulatorTestCase, harness

LIMIT_FIELDS = {"maxDescriptionLength", "maxBranchesPerProject", "maxInstancesPerBranch",
                "minInstancesPerBranch", "maxAllowedInstanceType", "maxBranchesPerHour",
                "maxStorageGBPerBranch"}


class LimitsTest(EmulatorTestCase):
    def test_hosted_limits_from_the_flags(self):
        with harness.Emulator(pg=False, max_branches=7, max_branches_per_hour=3) as emu:
            r = emu.api("GET", "/limits")
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertEqual(set(body), LIMIT_FIELDS)
            self.assertEqual((body["maxBranchesPerProject"], body["maxBranchesPerHour"]), (7, 3))
            emu.set_config(maxBranches=9, maxBranchesPerHour=4)
            body = emu.api("GET", "/limits").json()
            self.assertEqual((body["maxBranchesPerProject"], body["maxBranchesPerHour"]), (9, 4))

    def test_default_limits(self):
        with harness.Emulator(pg=False) as emu:
            body = emu.api("GET", "/limits").json()
            self.assertEqual(body["maxBranchesPerProject"], 100)
            self.assertGreaterEqual(body["maxBranchesPerHour"], 100000)

    def test_core_shape_has_no_limits(self):
        with harness.Emulator(pg=False, credentials_shape="core") as emu:
            self.assert_error(emu.api("GET", "/limits"), 404, "not found")
            self.assert_error(emu.api("POST", "/limits", {}), 405)

    def test_branches_per_hour_cap_is_403(self):
        with harness.Emulator(pg=False, hibernated_ms=0, transient_ms=0,
                              max_branches_per_hour=2) as emu:
            self.assertEqual(emu.create_branch("sb-h1").status, 201)
            self.assertEqual(emu.create_branch("sb-h2").status, 201)
            # Deleting does not give the hour back.
            sb1 = [b for b in emu.branches() if b["name"] == "sb-h1"][0]["id"]
            self.assertEqual(emu.api("DELETE", "/branches/" + sb1).status, 204)
            body = self.assert_error(emu.create_branch("sb-h3"), 403)
            self.assertIn("2 branches per hour", body["message"])

    def test_too_many_branches_message(self):
        with harness.Emulator(pg=False, hibernated_ms=0, transient_ms=0, max_branches=2) as emu:
            self.assertEqual(emu.create_branch("sb-c1").status, 201)  # root + 1
            self.assert_error(emu.create_branch("sb-c2"), 400,
                              "project [%s] has too many branches" % emu.project)


class DescriptionAndAccessTest(EmulatorTestCase):
    def setUp(self):
        self.emu = harness.Emulator(pg=False, hibernated_ms=0, transient_ms=0).start()
        self.root = self.emu.root_branch()["id"]

    def tearDown(self):
        self.emu.stop()
        shutil.rmtree(self.emu.tmp, ignore_errors=True)

    def listed(self, bid):
        return [b for b in self.emu.api("GET", "/branches").json()["branches"] if b["id"] == bid][0]

    def test_description_in_describe_not_in_list(self):
        r = self.emu.create_branch("sb-d", description="xb1 t0k3n-x")
        self.assertEqual(r.status, 201, r)
        bid = r.json()["id"]
        self.assertEqual(self.emu.api("GET", "/branches/" + bid).json()["description"],
                         "xb1 t0k3n-x")
        self.assertNotIn("description", self.listed(bid))

    def test_patch_description(self):
        bid = self.emu.create_branch("sb-pd").json()["id"]
        self.assertNotIn("description", self.emu.api("GET", "/branches/" + bid).json())
        r = self.emu.api("PATCH", "/branches/" + bid, {"description": "x" * 50})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.emu.api("GET", "/branches/" + bid).json()["description"], "x" * 50)
        self.assertNotIn("description", self.listed(bid))
        for bad in ("x" * 51, " lead", "-lead", "under_score", "", "tab\tx", "ünï", 5, None):
            self.assert_error(self.emu.api("PATCH", "/branches/" + bid, {"description": bad}), 400)
        self.assertEqual(self.emu.api("GET", "/branches/" + bid).json()["description"], "x" * 50)

    def test_patch_checks_everything_before_changing_anything(self):
        bid = self.emu.create_branch("sb-atomic").json()["id"]
        r = self.emu.api("PATCH", "/branches/" + bid, {"name": "sb-renamed", "description": "_"})
        self.assert_error(r, 400)
        self.assertEqual(self.emu.api("GET", "/branches/" + bid).json()["name"], "sb-atomic")

    def test_patch_scale_to_zero_minutes_must_be_an_integer(self):
        # A null (or text) inactivityPeriodMinutes was taken silently by PATCH
        # while create refused it.
        bid = self.emu.create_branch("sb-stz").json()["id"]
        for minutes in (None, "30", 1.5):
            r = self.emu.api("PATCH", "/branches/" + bid,
                             {"scaleToZero": {"enabled": True, "inactivityPeriodMinutes": minutes}})
            self.assert_error(r, 400, "invalid scaleToZero")
        self.assert_error(self.emu.api("PATCH", "/branches/" + bid, {"scaleToZero": None}), 400)
        r = self.emu.api("PATCH", "/branches/" + bid,
                         {"scaleToZero": {"enabled": True, "inactivityPeriodMinutes": 5}})
        self.assertEqual(r.status, 200, r)
        stz = self.emu.api("GET", "/branches/" + bid).json()["scaleToZero"]
        self.assertEqual(stz, {"enabled": True, "inactivityPeriodMinutes": 5})

    def test_public_access_true_by_default(self):
        r = self.emu.create_branch("sb-pub")
        self.assertIs(r.json()["publicAccess"], True)
        bid = r.json()["id"]
        self.assertIs(self.emu.api("GET", "/branches/" + bid).json()["publicAccess"], True)
        self.assertIs(self.listed(bid)["publicAccess"], True)

    def test_private_branches_at_run_time(self):
        before = self.emu.create_branch("sb-before").json()["id"]
        self.assertIs(self.emu.set_config(publicAccess=False)["publicAccess"], False)
        r = self.emu.create_branch("sb-private")
        self.assertIs(r.json()["publicAccess"], False)
        bid = r.json()["id"]
        self.assertIs(self.emu.api("GET", "/branches/" + bid).json()["publicAccess"], False)
        self.assertIs(self.listed(bid)["publicAccess"], False)
        # Branches made before keep theirs.
        self.assertIs(self.emu.api("GET", "/branches/" + before).json()["publicAccess"], True)

    def test_private_branches_flag(self):
        with harness.Emulator(pg=False, private_branches=True) as emu:
            root = emu.root_branch()["id"]
            self.assertIs(emu.api("GET", "/branches/" + root).json()["publicAccess"], False)
            self.assertIs(emu.create_branch("sb-p").json()["publicAccess"], False)


class PatchRefusalsTest(EmulatorTestCase):
    """PATCH answers 409 (modified concurrently) and 403 (update temporarily
    unavailable) N times through the fault layer, then goes through."""

    def setUp(self):
        self.emu = harness.Emulator(pg=False, hibernated_ms=0, transient_ms=0).start()
        self.bid = self.emu.create_branch("sb-patch").json()["id"]

    def tearDown(self):
        self.emu.stop()
        shutil.rmtree(self.emu.tmp, ignore_errors=True)

    def refused_then_done(self, status, message):
        self.emu.set_faults([{"method": "PATCH", "path": "/branches/[^/]+$", "kind": "status",
                              "status": status, "times": 2}])
        for _ in range(2):
            r = self.emu.api("PATCH", "/branches/" + self.bid, {"name": "sb-renamed"})
            self.assert_error(r, status, message % self.bid)
            # Not performed.
            self.assertEqual(self.emu.api("GET", "/branches/" + self.bid).json()["name"],
                             "sb-patch")
        r = self.emu.api("PATCH", "/branches/" + self.bid, {"name": "sb-renamed"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.emu.api("GET", "/branches/" + self.bid).json()["name"],
                         "sb-renamed")
        rule = self.emu.admin_get("faults")["faults"][0]
        self.assertEqual((rule["seen"], rule["fired"]), (3, 2))

    def test_409_modified_concurrently(self):
        self.refused_then_done(409, "branch [%s] was modified concurrently, please retry")

    def test_403_update_temporarily_unavailable(self):
        self.refused_then_done(403, "Branch [%s] update is temporarily unavailable")

    def test_wake_patch_meets_them_too(self):
        self.emu.api("PATCH", "/branches/" + self.bid, {"hibernate": True})
        self.emu.set_faults([{"method": "PATCH", "kind": "status", "status": 409, "times": 1},
                             {"method": "PATCH", "kind": "status", "status": 403, "times": 1}])
        self.assert_error(self.emu.api("PATCH", "/branches/" + self.bid, {"hibernate": False}), 409)
        self.assert_error(self.emu.api("PATCH", "/branches/" + self.bid, {"hibernate": False}), 403)
        self.assertEqual(self.emu.api("GET", "/branches/" + self.bid).json()["status"]["statusType"],
                         "STATUS_TYPE_HIBERNATED")
        self.assertEqual(self.emu.api("PATCH", "/branches/" + self.bid,
                                      {"hibernate": False}).status, 200)

    def test_custom_message_and_retry_after(self):
        self.emu.set_faults([{"method": "PATCH", "kind": "status", "status": 403,
                              "message": "nope [ID]", "retryAfter": 2}])
        r = self.emu.api("PATCH", "/branches/" + self.bid, {"name": "x"})
        self.assert_error(r, 403, "nope [%s]" % self.bid)
        self.assertEqual(r.headers.get("retry-after"), "2")


if __name__ == "__main__":
    harness.main()
