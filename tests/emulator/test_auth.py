"""Authentication and authorization answers of the emulator."""

from emu_common import EmulatorTestCase, harness

RO_KEY = "xau_readonly0000000000000000000000000"


class AuthTest(harness.SharedEmulatorCase, EmulatorTestCase):
    emulator_options = dict(pg=False, readonly_key=RO_KEY)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.emu.root_branch()["id"]

    def test_missing_token(self):
        self.assert_error(self.emu.api("GET", "/branches", token=""), 401, "no token found")
        r = self.emu.api("GET", "/branches", token="", headers={"Authorization": "Basic abc"})
        self.assert_error(r, 401, "no token found")

    def test_wrong_token(self):
        self.assert_error(self.emu.api("GET", "/branches", token="xau_wrong"), 401, "invalid token")

    def test_foreign_org(self):
        r = harness.http_request(self.emu.port, "GET",
                                 "/organizations/zzzzzz/projects/%s/branches" % self.emu.project,
                                 headers={"Authorization": "Bearer " + self.emu.api_key})
        self.assert_error(r, 401, "no access to organization [zzzzzz]")

    def test_readonly_key_reads_but_cannot_write(self):
        self.assertEqual(self.emu.api("GET", "/branches", token=RO_KEY).status, 200)
        self.assertEqual(self.emu.api("GET", "/branches/" + self.root, token=RO_KEY).status, 200)
        body = {"name": "sb-ro", "mode": "inherit", "parentID": self.root}
        self.assert_error(self.emu.api("POST", "/branches", body, token=RO_KEY), 403, "access denied")
        self.assert_error(self.emu.api("PATCH", "/branches/" + self.root, {"hibernate": False},
                                       token=RO_KEY), 403, "access denied")
        self.assert_error(self.emu.api("DELETE", "/branches/" + self.root, token=RO_KEY), 403,
                          "access denied")
        self.assertIsNone(self.emu.root_branch()["deletedAt"])
        self.assertNotIn("sb-ro", [b["name"] for b in self.emu.branches()])

    def test_every_answer_has_a_request_id(self):
        ids = set()
        for r in (self.emu.api("GET", "/branches"), self.emu.api("GET", "/branches", token="bad"),
                  self.emu.api("GET", "")):
            rid = r.headers.get("x-request-id")
            self.assertTrue(rid)
            ids.add(rid)
        self.assertEqual(len(ids), 3)

    def test_request_log_never_holds_the_token(self):
        self.emu.api("GET", "/branches")
        self.emu.api("GET", "/branches", token="xau_secretwrongtoken")
        text = str(self.emu.requests())
        self.assertNotIn(self.emu.api_key, text)
        self.assertNotIn("xau_secretwrongtoken", text)
        self.assertNotIn("authorization", text.lower())
        entry = self.emu.requests()[-1]
        for f in ("seq", "method", "path", "query", "status", "requestBody", "responseBody",
                  "responseHeaders", "fault", "ms"):
            self.assertIn(f, entry)
        self.assertEqual(entry["status"], 401)
        self.assertEqual(entry["responseHeaders"]["X-Request-Id"],
                         __import__("json").loads(entry["responseBody"])["id"])
        self.assertNotIn(self.emu.api_key, self.emu.stderr_text())

    def test_admin_api_needs_no_token_and_is_not_logged(self):
        before = len(self.emu.requests())
        self.assertEqual(self.emu.admin_get("health"), {"ok": True})
        self.emu.branches()
        self.assertEqual(len(self.emu.requests()), before)


if __name__ == "__main__":
    harness.main()
