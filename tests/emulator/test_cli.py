"""The emulator's command line: every flag in --help, ranges checked
(exit 2), the API key from the environment, localhost as 127.0.0.1."""

import os
import subprocess

from emu_common import EmulatorTestCase, harness

FLAGS = ["--host", "--port", "--port-file", "--api-key", "--readonly-key", "--org", "--project",
         "--root-branch", "--pg", "--pg-public-host", "--pg-public-port", "--db-prefix",
         "--seed-sql", "--credentials-shape", "--password-style", "--hibernated-ms",
         "--transient-ms", "--password-lag-ms", "--max-branches", "--max-branches-per-hour",
         "--private-branches", "--seed", "--fault-rate", "--latency-ms", "--rate-limit",
         "--drop-on-exit",
         "--quiet"]


def run(args, env=None):
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    return subprocess.run([harness.require_emulator()] + args, capture_output=True, text=True,
                          env=e, timeout=30)


class CliTest(EmulatorTestCase):
    def test_help_lists_every_flag_and_the_lag(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for flag in FLAGS:
            self.assertIn(flag, r.stdout)
        for text in ("28P01", "3D000", "password-lag", "XATA_EMULATOR_API_KEY", "/_emulator/"):
            self.assertIn(text, r.stdout)

    def test_bad_values_exit_2(self):
        for args in (["--hibernated-ms", "-5"], ["--transient-ms", "-1"],
                     ["--password-lag-ms", "-1"], ["--hibernated-ms", "abc"],
                     ["--port", "65536"], ["--port", "-1"], ["--pg-public-port", "70000"],
                     ["--fault-rate", "1.5"], ["--fault-rate", "-0.1"], ["--rate-limit", "-3"],
                     ["--latency-ms", "-1"],
                     ["--max-branches", "0"], ["--max-branches-per-hour", "0"],
                     ["--credentials-shape", "cloud"], ["--password-style", "fancy"],
                     ["--no-such-flag"], ["--port"]):
            r = run(["--api-key", "k"] + args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("xata-emulator:", r.stderr)

    def test_api_key_required(self):
        r = run([])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--api-key is required", r.stderr)

    def test_api_key_from_env_and_localhost(self):
        old = os.environ.get("PATH")
        proc = subprocess.Popen([harness.require_emulator(), "--port", "0", "--host", "localhost",
                                 "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={"PATH": old or "/usr/bin:/bin",
                                     "XATA_EMULATOR_API_KEY": "envkey"}, text=True)
        try:
            line = proc.stdout.readline()
            self.assertTrue(line.startswith("xata-emulator listening on http://127.0.0.1:"), line)
            port = int(line.strip().rsplit(":", 1)[1])
            r = harness.http_request(port, "GET", "/organizations/emuorg/projects/"
                                     "prj_emulator00000000000000000/branches",
                                     headers={"Authorization": "Bearer envkey"})
            self.assertEqual(r.status, 200, r)
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(timeout=30), 0)
            proc.stdout.close()
            proc.stderr.close()


if __name__ == "__main__":
    harness.main()
