"""End to end: `create --ttl` records an expiry in the branch's tag, `status`
shows it, an adopted branch keeps its own, and `gc --expired` deletes the
branch whose expiry passed and nothing else."""

import calendar
import json
import shutil
import time

from e2e_common import E2ECase, main


def unix(rfc3339):
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


class TtlTest(E2ECase):

    def setUp(self):
        super().setUp()
        self.addCleanup(lambda: (self.emu.stop(), shutil.rmtree(self.emu.tmp, ignore_errors=True)))

    def expiry_of(self, sandbox):
        code, out, err = self.xb("status", "--sandbox", sandbox, "--output", "json")
        self.assertEqual(code, 0, err)
        return json.loads(out)["expiresAt"]

    def description_of(self, name_prefix):
        [b] = self.active(name_prefix)
        r = self.emu.api("GET", "/branches/" + b["id"])
        self.assertEqual(r.status, 200, r)
        return b["id"], r.json().get("description")

    def test_ttl_is_recorded_shown_and_kept_by_an_adopting_run(self):
        before = int(time.time())
        self.create("ttl-a", "--ttl", "1m")
        after = int(time.time())
        expires = self.expiry_of("ttl-a")
        self.assertIsNotNone(expires)
        # now + 1 minute, rounded up to a whole minute: never early, at most a minute late.
        self.assertEqual(unix(expires) % 60, 0, expires)
        self.assertGreaterEqual(unix(expires), before + 60, expires)
        self.assertLessEqual(unix(expires), after + 120, expires)
        _, description = self.description_of("sb-ttl-a-")
        self.assertRegex(description, r"^xb1 r[a-z0-9]{10} e\d{12}$")
        code, out, err = self.xb("status", "--sandbox", "ttl-a")
        self.assertEqual(code, 0, err)
        self.assertIn("expires    " + expires, out)

        # A second run adopts the branch: its expiry stays, and -v says so.
        code, out, err = self.create("ttl-a", "--ttl", "2h", "-v")
        self.assertIn("keeps its own expiry", err)
        self.assertEqual(self.expiry_of("ttl-a"), expires)
        self.assertEqual(len(self.api_calls("POST", r"/branches$")), 1)

        # Without --ttl: no expiry.
        self.create("ttl-none")
        self.assertIsNone(self.expiry_of("ttl-none"))

    def test_gc_expired_deletes_the_expired_branch_and_nothing_else(self):
        self.create("ttl-live", "--ttl", "1h")
        self.create("ttl-gone", "--ttl", "1m")
        self.create("ttl-never")
        # Let ttl-gone's expiry pass: rewrite its tag's expiry into the past.
        gone_id, description = self.description_of("sb-ttl-gone-")
        token = description.split(" ")[1]
        r = self.emu.api("PATCH", "/branches/" + gone_id, {"description": "xb1 %s e202001010000" % token})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.expiry_of("ttl-gone"), "2020-01-01T00:00:00Z")
        names_before = sorted(b["name"] for b in self.active(""))

        code, out, err = self.xb("gc", "--expired")
        self.assertEqual(code, 0, err)
        self.assertIn("deleted 1, kept 2", out)
        deletes = self.api_calls("DELETE")
        self.assertEqual([d["path"].rsplit("/", 1)[1] for d in deletes], [gone_id])
        after = sorted(b["name"] for b in self.active(""))
        self.assertEqual(after, [n for n in names_before if not n.startswith("sb-ttl-gone-")])
        self.assertEqual(len(after), 3)  # main, ttl-live, ttl-never

    def test_bad_ttl_is_a_usage_error_before_any_request(self):
        for bad in ("soon", "0s", "-5m", "100000d"):
            code, out, err = self.create("ttl-bad", "--ttl", bad, expect=2)
            self.assertIn("--ttl", err, bad)
        self.assertEqual(self.emu.requests(), [])


if __name__ == "__main__":
    main()
