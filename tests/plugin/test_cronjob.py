#!/usr/bin/python3
"""plugin/gc-cronjob.yaml: its structure (hourly, Forbid, non-root, resource
limits, both keys from Secrets), and exactly its command line and env names
run against xata-emulator and the Signadot stand-in."""

import json
import os
import re
import shutil
import sys
import unittest
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("XBRANCH_SOURCE_DIR") or HERE.parents[1])
sys.path.insert(0, str(SRC / "tests" / "e2e"))
sys.path.insert(0, str(SRC / "tests" / "fixtures"))
import harness  # noqa: E402
from signadot_standin import SignadotStandin, sandbox  # noqa: E402

SECRET_ENV = {"XATA_API_KEY", "SIGNADOT_API_KEY"}


def load():
    return yaml.safe_load((SRC / "plugin" / "gc-cronjob.yaml").read_text())


def container(doc):
    containers = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    return containers[0]


class Structure(unittest.TestCase):
    def setUp(self):
        self.doc = load()
        self.pod = self.doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        self.c = container(self.doc)

    def test_kind_and_schedule(self):
        self.assertEqual(self.doc["apiVersion"], "batch/v1")
        self.assertEqual(self.doc["kind"], "CronJob")
        fields = self.doc["spec"]["schedule"].split()
        self.assertEqual(len(fields), 5)
        self.assertRegex(fields[0], r"^([0-9]|[1-5][0-9])$")  # one fixed minute...
        self.assertEqual(fields[1:], ["*", "*", "*", "*"])   # ...of every hour
        self.assertEqual(self.doc["spec"]["concurrencyPolicy"], "Forbid")
        self.assertIn(self.pod["restartPolicy"], ("Never", "OnFailure"))
        self.assertGreater(self.doc["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"], 0)
        # A run ends well before the next one starts.
        self.assertLessEqual(self.doc["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"], 3600)

    def test_command(self):
        self.assertEqual(self.c["command"], ["/usr/local/bin/xbranch"])
        self.assertEqual(self.c["args"][:3], ["gc", "--orphans", "--expired"])
        self.assertNotIn("--older-than", self.c["args"])
        self.assertNotIn("--force", self.c["args"])

    def test_non_root_and_locked_down(self):
        psc = self.pod["securityContext"]
        self.assertIs(psc["runAsNonRoot"], True)
        self.assertGreater(psc["runAsUser"], 0)
        self.assertIs(self.pod["automountServiceAccountToken"], False)
        csc = self.c["securityContext"]
        self.assertIs(csc["allowPrivilegeEscalation"], False)
        self.assertIs(csc["readOnlyRootFilesystem"], True)
        self.assertEqual(csc["capabilities"]["drop"], ["ALL"])

    def test_resources(self):
        for part in ("requests", "limits"):
            for what in ("cpu", "memory"):
                self.assertIn(what, self.c["resources"][part], part)

    def test_keys_come_from_secrets(self):
        env = {e["name"]: e for e in self.c["env"]}
        for name in ("XATA_API_KEY", "XATA_ORGANIZATION_ID", "XATA_PROJECT_ID", "SIGNADOT_API_KEY",
                     "SIGNADOT_ORG"):
            self.assertIn(name, env)
        for name in SECRET_ENV:
            self.assertNotIn("value", env[name], name)
            ref = env[name]["valueFrom"]["secretKeyRef"]
            self.assertTrue(ref["name"] and ref["key"], ref)
        self.assertNotEqual(env["XATA_API_KEY"]["valueFrom"]["secretKeyRef"]["name"],
                            env["SIGNADOT_API_KEY"]["valueFrom"]["secretKeyRef"]["name"])


class RunsItsCommandLine(unittest.TestCase):
    """The manifest's args and env, resolved from test Secrets, with the two
    API addresses pointed at loopback (the only thing a test adds)."""

    def setUp(self):
        harness.require_xbranch()
        harness.require_emulator()
        harness.pg_cluster()
        self.emu = harness.Emulator(hibernated_ms=50, transient_ms=50).start()
        self.addCleanup(lambda: (self.emu.stop(), shutil.rmtree(self.emu.tmp, ignore_errors=True)))
        self.sd = SignadotStandin(api_key="sd-cronjob-key-000000000000", org="acme").start()
        self.addCleanup(self.sd.stop)
        self.secrets = {("xata", "api-key"): self.emu.api_key,
                        ("xata", "organization-id"): self.emu.org,
                        ("xata", "project-id"): self.emu.project,
                        ("signadot", "api-key"): self.sd.api_key,
                        ("signadot", "org"): self.sd.org}

    def manifest_env(self, c):
        env = {}
        for e in c["env"]:
            if "value" in e:
                env[e["name"]] = str(e["value"])
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = self.secrets[(ref["name"], ref["key"])]
        env["XATA_API_BASE_URL"] = self.emu.base_url
        env["SIGNADOT_API_URL"] = self.sd.base_url
        return env

    def xb(self, *args):
        return harness.run_xbranch(list(args), self.emu.env(), timeout=120)

    def active(self):
        return sorted(b["name"] for b in self.emu.branches() if b["deletedAt"] is None)

    def test_the_cronjob_command_against_the_stand_ins(self):
        for sandbox_name, rk in (("live-one", "rklive0001"), ("gone-one", "rkgone0001")):
            code, out, err = self.xb("create", "--sandbox", sandbox_name, "--sandbox-id", rk,
                                     "--resource", "usersdb", "--sslmode", "disable",
                                     "--timeout", "30s")
            self.assertEqual(code, 0, err)
        root = self.emu.root_branch()["id"]
        r = self.emu.create_branch("sb-ttl-over", parent_id=root,
                                   description="xb1 rcronjobtok e202001010000")
        self.assertEqual(r.status, 201, r)
        self.sd.sandboxes = [sandbox("live-one", "rklive0001", ["usersdb"])]

        c = container(load())
        binary = os.environ["XBRANCH_BIN"]
        self.assertEqual(os.path.basename(c["command"][0]), "xbranch")
        code, out, err = harness.run_xbranch(c["args"], self.manifest_env(c), timeout=120)
        self.assertEqual(code, 0, (out, err))
        self.assertTrue(binary)
        after = self.active()
        self.assertNotIn("sb-ttl-over", after)  # expired: deleted
        self.assertEqual(len([n for n in after if n.startswith("sb-live-one-")]), 1, after)
        # The orphan is seconds old: the default 15-minute grace keeps it.
        self.assertEqual(len([n for n in after if n.startswith("sb-gone-one-")]), 1, after)
        self.assertIn("within the grace period", out)
        self.assertEqual(len(self.sd.requests), 1)
        self.assertEqual(self.sd.requests[0]["headers"]["signadot-api-key"], self.sd.api_key)
        for secret in (self.emu.api_key, self.sd.api_key):
            self.assertNotIn(secret, out + err)
        # XBRANCH_LOG_FORMAT=json from the manifest: any log line is JSON.
        for line in err.splitlines():
            json.loads(line)

        # Signadot down: the Job fails and nothing is deleted.
        self.sd.mode = "status_502"
        before = self.active()
        code, out, err = harness.run_xbranch(c["args"], self.manifest_env(c), timeout=120)
        self.assertEqual(code, 8, err)
        self.assertEqual(self.active(), before)
        self.assertTrue(re.search(r"nothing was deleted", err), err)


if __name__ == "__main__":
    harness.main()
