"""PostgreSQL mode, "ready means usable": the password lag (the served
password is refused with 28P01 until N ms after HEALTHY, also when no HTTP
request arrives) and the branch's one database (any other name is 3D000)."""

import time
import urllib.parse

from emu_common import EmulatorTestCase, harness

AUTH_FAILED = "password authentication failed"  # SQLSTATE 28P01's message


def login(url, sql="SELECT 1"):
    """(ok, stderr) of one psql login with that URL."""
    code, out, err = harness.psql(url, sql, check=False)
    return code == 0 and out.strip() == "1", err


def url_for(creds, dbname=None):
    return "postgresql://%s:%s@%s:%d/%s?sslmode=disable" % (
        urllib.parse.quote(creds["username"], safe=""), urllib.parse.quote(creds["password"], safe=""),
        creds["hostname"], creds["port"], dbname or creds["dbname"])


class PasswordLagTest(EmulatorTestCase):
    LAG_MS = 2000

    def healthy_branch(self, emu, name):
        bid = emu.create_branch(name).json()["id"]
        emu.wait_ready(bid)
        seen = time.monotonic()
        r = emu.api("GET", "/branches/%s/credentials?username=xata" % bid)
        self.assertEqual(r.status, 200, r)
        return bid, r.json(), seen

    def test_served_password_refused_until_the_lag_passes(self):
        with harness.Emulator(hibernated_ms=0, transient_ms=0,
                              password_lag_ms=self.LAG_MS) as emu:
            bid, creds, healthy = self.healthy_branch(emu, "sb-lag")
            ok, err = login(url_for(creds))
            self.assertFalse(ok)
            self.assertIn(AUTH_FAILED, err)
            self.assertNotIn(creds["password"], err)
            # No HTTP request from here on: the emulator's ticker must do it.
            before = len(emu.requests())
            while True:
                ok, err = login(url_for(creds))
                if ok:
                    break
                self.assertIn(AUTH_FAILED, err)
                self.assertLess(time.monotonic() - healthy, self.LAG_MS / 1000 + 10)
                time.sleep(0.05)
            took = time.monotonic() - healthy
            self.assertGreaterEqual(took, self.LAG_MS / 1000 - 0.3)
            self.assertEqual(len(emu.requests()), before)
            state = [b for b in emu.branches() if b["id"] == bid][0]
            self.assertEqual((state["passwordLagMs"], state["passwordLive"]), (self.LAG_MS, True))

    def test_no_lag_by_default(self):
        with harness.Emulator(hibernated_ms=0, transient_ms=0) as emu:
            _, creds, _ = self.healthy_branch(emu, "sb-nolag")
            ok, err = login(url_for(creds))
            self.assertTrue(ok, err)

    def test_lag_set_at_run_time_and_per_branch(self):
        with harness.Emulator(hibernated_ms=0, transient_ms=0) as emu:
            self.assertEqual(emu.set_config(passwordLagMs=1500)["passwordLagMs"], 1500)
            _, creds, _ = self.healthy_branch(emu, "sb-rt")
            ok, err = login(url_for(creds))
            self.assertFalse(ok)
            self.assertIn(AUTH_FAILED, err)
            # Per branch, on one whose password works already (the root):
            root = emu.root_branch()
            rc = emu.api("GET", "/branches/%s/credentials?username=xata" % root["id"]).json()
            self.assertTrue(login(url_for(rc))[0])
            state = emu.admin_post("branches/%s/password-lag" % root["id"], {"ms": 1000})
            self.assertEqual((state["passwordLagMs"], state["passwordLive"]), (1000, False))
            ok, err = login(url_for(rc))
            self.assertFalse(ok)
            self.assertIn(AUTH_FAILED, err)
            deadline = time.monotonic() + 15
            while not login(url_for(rc))[0]:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            # Bad bodies.
            for body in ({}, {"ms": -1}, {"ms": "5"}):
                r = harness.http_request(emu.port, "POST",
                                         "/_emulator/branches/%s/password-lag" % root["id"],
                                         body=body)
                self.assertEqual(r.status, 400, body)
            r = harness.http_request(emu.port, "POST", "/_emulator/branches/nosuch/password-lag",
                                     body={"ms": 1})
            self.assertEqual(r.status, 404)

    def test_only_the_served_database_exists(self):
        with harness.Emulator(hibernated_ms=0, transient_ms=0) as emu:
            bid, creds, _ = self.healthy_branch(emu, "sb-db")
            self.assertTrue(creds["dbname"].startswith(emu.prefix))
            self.assertTrue(creds["dbname"].endswith("_" + bid))
            self.assertTrue(login(url_for(creds))[0])
            for other in ("xata", "app"):
                ok, err = login(url_for(creds, other))
                self.assertFalse(ok)
                self.assertIn('database "%s" does not exist' % other, err)  # SQLSTATE 3D000
            names = harness.psql(emu.cluster.conninfo(),
                                 "SELECT datname FROM pg_database WHERE datname LIKE '%s%%'"
                                 % emu.prefix.replace("_", "\\_")).split()
            active = {b["database"] for b in emu.branches() if b["deletedAt"] is None}
            self.assertEqual(set(names), active)


if __name__ == "__main__":
    harness.main()
