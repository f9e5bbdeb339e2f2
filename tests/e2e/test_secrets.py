"""Secrets never leave: the API key and the branch passwords (with URL-special
characters) appear only in the 0600 output files, `xbranch url`'s stdout and
`--show-secrets` stdout. Everything else is captured and scanned: stdout and
stderr of every run (text and json logs, -v/-vv, failures, a 401), the other
output files, the emulator's request log (no Authorization header stored)
and its stderr."""

import json
import os
import stat
import urllib.parse

from e2e_common import E2ECase, harness, main, CREATE_FLAGS, OUTPUT_FILES, SECRET_FILES

API_KEY = "xau_SECRETKEYxbranchtest1234567890abc"
WRONG_KEY = "xau_SECRETWRONGKEYxbranch00000000000"


def forms(secret):
    """The ways a secret could show up in text."""
    out = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret),
           urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1]}
    return {f for f in out if len(f) >= 8}


class SecretsTest(E2ECase):
    emulator_options = {"api_key": API_KEY, "password_style": "special"}

    def setUp(self):
        super().setUp()
        self.runs = []  # (label, stdout, stderr, stdout_may_hold_secrets)

    def run_xb(self, label, args, env=None, expect=0, secret_stdout=False):
        code, out, err = self.xb(*args, env=env)
        self.assertEqual(code, expect, "%s: stdout=%r stderr=%r" % (label, out, err))
        self.runs.append((label, out, err, secret_stdout))
        return out, err

    def passwords_seen(self):
        """Every password the API handed out to xbranch (credentials answers)."""
        pws = set()
        for r in self.emu.requests():
            if r["path"].endswith("/credentials") and r["status"] == 200 and not r["fault"]:
                pws.add(json.loads(r["responseBody"])["password"])
        return pws

    def test_secrets_stay_in_their_places(self):
        out_dir = os.path.join(self.tmp, "outputs")
        c = CREATE_FLAGS
        self.run_xb("create text", ["create", "--sandbox", "sec", "--output-dir", out_dir] + c)
        self.run_xb("create json", ["create", "--sandbox", "sec", "--output", "json"] + c)
        self.run_xb("create env", ["create", "--sandbox", "sec", "--output", "env"] + c)
        self.run_xb("create -v json", ["-v", "create", "--sandbox", "sec", "--output", "json"] + c)
        self.run_xb("create -vv log json", ["-vv", "--log-format", "json", "create", "--sandbox", "sec"] + c)
        self.run_xb("create env log json", ["-v", "create", "--sandbox", "sec", "--output", "env"] + c,
                    env={"XBRANCH_LOG_FORMAT": "json"})
        self.run_xb("status", ["status", "--sandbox", "sec"])
        self.run_xb("status -v json", ["-v", "status", "--sandbox", "sec", "--output", "json"])
        self.run_xb("list", ["list"])
        self.run_xb("list -vv json", ["-vv", "list", "--all", "--output", "json"])
        self.run_xb("gc dry run", ["-v", "gc", "--older-than", "1s", "--force", "--dry-run"])
        url, _ = self.run_xb("url", ["url", "--sandbox", "sec", "--sslmode", "disable"], secret_stdout=True)
        shown, _ = self.run_xb("create --show-secrets", ["create", "--sandbox", "sec", "--output", "json",
                                                         "--show-secrets"] + c, secret_stdout=True)
        self.run_xb("create --show-secrets env", ["create", "--sandbox", "sec", "--output", "env",
                                                  "--show-secrets"] + c, secret_stdout=True)

        # A hook printing the password the ways a script encodes it for a URL
        # (its stderr goes through the same redaction as the logs).
        hook = ("python3 -c 'import os, urllib.parse as u; p = os.environ[\"PGPASSWORD\"]; "
                "print(p); print(u.quote(p)); print(u.quote(p, safe=\"\")); print(u.quote_plus(p)); "
                "print(os.environ[\"DATABASE_URL\"])'")
        _, hook_err = self.run_xb("create with a hook printing the password",
                                  ["create", "--sandbox", "sechook", "--exec", hook] + c)
        self.assertGreaterEqual(hook_err.count("********"), 5, hook_err)

        # Recovering from a garbled credentials answer, logged at -vv in json.
        self.emu.set_faults([{"method": "GET", "path": "/credentials$", "kind": "malformed", "times": 1},
                             {"method": "GET", "path": "/credentials$", "kind": "truncated", "times": 1}])
        self.run_xb("create after garbled credentials", ["-vv", "--log-format", "json", "create",
                                                         "--sandbox", "sec2"] + c)
        self.emu.set_faults([])
        # Failures, verbose.
        self.emu.next_behavior("fault")
        self.run_xb("FAULT -v json", ["-v", "--log-format", "json", "create", "--sandbox", "bad"] + c, expect=7)
        self.emu.next_behavior("never_ready")
        self.run_xb("timeout -vv", ["-vv", "create", "--sandbox", "slow", "--sslmode", "disable",
                                    "--timeout", "1s"], expect=6)
        self.run_xb("401 -vv", ["-vv", "create", "--sandbox", "sec"] + c, env={"XATA_API_KEY": WRONG_KEY},
                    expect=3)
        self.run_xb("401 log json", ["-v", "--log-format", "json", "status", "--sandbox", "sec"],
                    env={"XATA_API_KEY": WRONG_KEY}, expect=3)
        plain = os.path.join(self.tmp, "plainfile")  # a folder cannot be made below it
        with open(plain, "w") as f:
            f.write("x")
        self.run_xb("io error -v", ["-v", "create", "--sandbox", "sec3", "--output-dir",
                                    os.path.join(plain, "x")] + c, expect=9)
        self.emu.set_faults([{"method": "DELETE", "path": "/branches/", "kind": "status", "status": 503,
                              "retryAfter": "1", "times": 1}])
        self.run_xb("delete -vv", ["-vv", "delete", "--sandbox", "sec2"])
        self.emu.set_faults([])

        # The secrets.
        with open(os.path.join(out_dir, "password")) as f:
            main_password = f.read()
        passwords = self.passwords_seen()
        self.assertIn(main_password, passwords)
        self.assertGreaterEqual(len(passwords), 2)
        for pw in passwords:
            self.assertRegex(pw, r"[@:/?#%&+ '\"]", "not a special password: %r" % pw)
        secrets = {}
        for pw in passwords:
            for f in forms(pw):
                secrets[f] = "a branch password"
        for key in (API_KEY, WRONG_KEY):
            secrets[key] = "an API key"
            secrets[key[4:]] = "an API key"

        # The allowed places do hold them (so the scan can see them).
        self.assertIn(urllib.parse.quote(main_password, safe=""), url)
        self.assertEqual(json.loads(shown)["connection"]["password"], main_password)
        values = self.assert_output_dir(out_dir)
        self.assertEqual(values["password"], main_password)
        self.assertIn(urllib.parse.quote(main_password, safe=""), values["connection-string"])

        leaks = []
        for label, out, err, secret_stdout in self.runs:
            for secret, what in secrets.items():
                if secret in err:
                    leaks.append("%s: %s on stderr" % (label, what))
                if secret in out and not (secret_stdout and what == "a branch password"):
                    leaks.append("%s: %s on stdout" % (label, what))
        for name in OUTPUT_FILES:
            if name in SECRET_FILES:
                mode = stat.S_IMODE(os.stat(os.path.join(out_dir, name)).st_mode)
                self.assertEqual(mode, 0o600)
                continue
            for secret, what in secrets.items():
                if secret in values[name]:
                    leaks.append("output file %s: %s" % (name, what))
        for secret in (API_KEY, WRONG_KEY, API_KEY[4:]):
            for name in OUTPUT_FILES:
                if secret in values[name]:
                    leaks.append("output file %s: an API key" % name)

        # The emulator: no Authorization header kept, no key anywhere in the
        # log, no key or password in its own stderr lines.
        log = self.emu.requests()
        self.assertTrue(log)
        for r in log:
            self.assertIn("user-agent", {k.lower() for k in r["requestHeaders"]})  # headers are kept...
            headers = {k.lower() for k in r["requestHeaders"]}
            self.assertNotIn("authorization", headers, r)  # ...but never this one
            text = json.dumps(r)
            for key in (API_KEY, WRONG_KEY, API_KEY[4:]):
                if key in text:
                    leaks.append("emulator request log #%s: an API key" % r["seq"])
        emu_err = self.emu.stderr_text() + self.emu.stdout_text()
        for secret, what in secrets.items():
            if secret in emu_err:
                leaks.append("emulator stderr: %s" % what)
        self.assertEqual(leaks, [])
        self.assertGreaterEqual(len(self.runs), 20)


if __name__ == "__main__":
    main()
