#!/usr/bin/python3
"""ci_files: the structure of action.yml, .github/workflows/release.yml and
the example workflow plugin/ci/github-actions.yml. GitHub cannot run here:
these checks read the files (python3-yaml) and run what can run locally
(the shell of the action's step through `bash -n`, release-notes.sh on
CHANGELOG.md)."""

import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("XBRANCH_SOURCE_DIR") or HERE.parents[1])


def load(rel):
    with open(SRC / rel) as f:
        return yaml.safe_load(f)


def on_of(doc):
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return doc.get("on", doc.get(True))


def project_version():
    m = re.search(r"^project\(xbranch VERSION ([0-9.]+)", (SRC / "CMakeLists.txt").read_text(), re.M)
    return m.group(1)


class Action(unittest.TestCase):
    def setUp(self):
        self.doc = load("action.yml")

    def test_inputs_and_outputs(self):
        self.assertTrue(self.doc["name"] and self.doc["description"])
        inputs = self.doc["inputs"]
        for name in ("command", "sandbox", "branch", "parent", "database", "ttl", "sql", "timeout"):
            self.assertIn(name, inputs)
            self.assertIn("description", inputs[name])
        self.assertEqual(inputs["command"]["default"], "create")
        outputs = self.doc["outputs"]
        self.assertEqual(set(outputs), {"branch-name", "branch-id", "connection-string",
                                        "pooled-connection-string", "created", "schema-diff",
                                        "schema-changed"})
        for name, out in outputs.items():
            self.assertEqual(out["value"], "${{ steps.xbranch.outputs.%s }}" % name)

    def test_composite_step_reads_inputs_only_through_env(self):
        runs = self.doc["runs"]
        self.assertEqual(runs["using"], "composite")
        step = next(s for s in runs["steps"] if s.get("id") == "xbranch")
        self.assertEqual(step["shell"], "bash")
        # No expression inside the script text: an input holding shell code
        # cannot become part of it.
        self.assertNotIn("${{", step["run"])
        env_values = " ".join(str(v) for v in step["env"].values())
        for name in self.doc["inputs"]:
            self.assertIn("inputs.%s }}" % name, env_values, name)
        p = subprocess.run(["bash", "-n"], input=step["run"], text=True, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_secrets_are_not_inputs(self):
        self.assertFalse([n for n in self.doc["inputs"] if re.search(r"key|token|password", n, re.I)])

    # -- the step's script, run here with a fake `docker` that records its
    # command line (GitHub runs it with bash -e -o pipefail).

    def tmpdir(self, prefix):
        d = tempfile.TemporaryDirectory(prefix=prefix)
        self.addCleanup(d.cleanup)
        return Path(d.name)

    def run_step(self, inputs, job_env=None):
        step = next(s for s in self.doc["runs"]["steps"] if s.get("id") == "xbranch")
        tmp = self.tmpdir("xbranch-action-")
        record = tmp / "docker-args"
        fake = tmp / "bin" / "docker"
        fake.parent.mkdir()
        fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >"$DOCKER_RECORD"\n')
        fake.chmod(0o755)
        script = tmp / "step.sh"
        script.write_text(step["run"])
        env = {"PATH": "%s:%s" % (fake.parent, os.environ["PATH"]), "DOCKER_RECORD": str(record),
               "GITHUB_OUTPUT": str(tmp / "github_output"), "HOME": str(tmp)}
        values = {"command": "create", "sandbox": "pr-1", "timeout": "10m", "sslmode": "require",
                  "image": "xbranch:test", "build": "false"}
        values.update(inputs)
        for name, expr in step["env"].items():
            m = re.match(r"\$\{\{ inputs\.([a-z-]+) \}\}$", str(expr))
            env[name] = values.get(m.group(1), "") if m else ""
        env.update(job_env or {})
        p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                           env=env, text=True, capture_output=True, cwd=tmp)
        args = record.read_text().split("\n")[:-1] if record.exists() else None
        return p, args

    def test_every_variable_xbranch_reads_reaches_the_container(self):
        # The table in src/cli/settings.cpp names every variable and alias.
        text = (SRC / "src/cli/settings.cpp").read_text()
        rows = text[text.index("setting_rows()"):text.index("return k_rows;")]
        names = set()
        for group in re.findall(r"\{((?:\s*\"[A-Z][A-Z0-9_]*\",?)+)\s*\}", rows):
            names.update(re.findall(r"\"([A-Z][A-Z0-9_]*)\"", group))
        self.assertIn("XATA_ORG_ID", names)
        # Not for this action: the terminal, gc's Signadot settings, and the
        # sandbox identity (the inputs name the branch).
        names -= {"TERM", "SIGNADOT_API_KEY", "SIGNADOT_ORG", "SIGNADOT_API_URL",
                  "SIGNADOT_SANDBOX_NAME", "SIGNADOT_SANDBOX_ID", "SIGNADOT_SANDBOX_ROUTING_KEY",
                  "SIGNADOT_RESOURCE_NAME"}
        # libcurl's proxy variables (README: as libcurl reads them).
        proxies = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY", "no_proxy", "NO_PROXY"}
        ca = {"CURL_CA_BUNDLE", "SSL_CERT_FILE"}
        plain = (names | proxies) - ca
        job_env = {n: "value-of-" + n for n in plain}
        p, args = self.run_step({}, job_env)
        self.assertEqual(p.returncode, 0, p.stderr)
        passed = {args[i + 1] for i, a in enumerate(args[:-1]) if a == "-e"}
        for n in plain:
            self.assertIn(n, passed, "%s is dropped" % n)
        # Unset variables are not passed (an empty one would mean "set").
        p, args = self.run_step({}, {})
        self.assertEqual({args[i + 1] for i, a in enumerate(args[:-1]) if a == "-e"},
                         {"GITHUB_ACTIONS=true", "GITHUB_OUTPUT=/github/output"})

    def test_a_ca_bundle_of_the_runner_is_mounted_and_named(self):
        for var in ("CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            ca = self.tmpdir("xbranch-ca-") / "corp-ca.pem"
            ca.write_text("-----BEGIN CERTIFICATE-----\n")
            for command in ("create", "delete"):
                p, args = self.run_step({"command": command}, {var: str(ca)})
                self.assertEqual(p.returncode, 0, p.stderr)
                mounts = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-v"]
                envs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-e"]
                inside = [m.split(":")[1] for m in mounts if m.startswith(str(ca) + ":")]
                self.assertEqual(len(inside), 1, (var, command, args))
                self.assertTrue(mounts[[m.startswith(str(ca) + ":") for m in mounts].index(True)]
                                .endswith(":ro"), args)
                self.assertIn("CURL_CA_BUNDLE=" + inside[0], envs, (var, command, args))

    def test_an_input_in_an_error_line_cannot_start_a_workflow_command(self):
        evil = "x'\n::add-mask::nothing\r\n::set-output name=created::true 100%"
        p, args = self.run_step({"command": evil})
        self.assertEqual(p.returncode, 2)
        self.assertIsNone(args)
        lines = p.stdout.split("\n")
        commands = [l for l in lines if l.startswith("::")]
        self.assertEqual(len(commands), 1, p.stdout)
        self.assertTrue(commands[0].startswith("::error::"), p.stdout)
        # GitHub's escaping of command data: % CR LF.
        self.assertIn("x'%0A::add-mask::nothing%0D%0A::set-output name=created::true 100%25",
                      commands[0])
        self.assertNotIn("\r", p.stdout)


class ReleaseWorkflow(unittest.TestCase):
    def setUp(self):
        self.doc = load(".github/workflows/release.yml")
        self.jobs = self.doc["jobs"]

    def test_runs_on_version_tags_only(self):
        on = on_of(self.doc)
        self.assertEqual(set(on), {"push"})
        self.assertNotIn("branches", on["push"])
        patterns = on["push"]["tags"]
        # GitHub's filter: + means one or more of the preceding class.
        as_re = [re.compile("^" + p.replace(".", r"\.").replace("]+", "]+") + "$") for p in patterns]
        self.assertTrue(any(r.match("v" + project_version()) for r in as_re))
        for bad in ("main", "0.2.0", "v0.2", "latest"):
            self.assertFalse(any(r.match(bad) for r in as_re), bad)

    def test_builds_and_pushes_both_architectures(self):
        steps = self.jobs["image"]["steps"]
        build = next(s for s in steps if str(s.get("uses", "")).startswith("docker/build-push-action@"))
        w = build["with"]
        self.assertEqual(w["file"], "docker/Dockerfile")
        self.assertEqual(set(w["platforms"].split(",")), {"linux/amd64", "linux/arm64"})
        self.assertIs(w["push"], True)
        self.assertIn("VERSION=${{ needs.check.outputs.version }}", w["build-args"])
        uses = [s.get("uses", "") for s in steps]
        self.assertTrue(any(u.startswith("docker/setup-qemu-action@") for u in uses))
        self.assertTrue(any(u.startswith("docker/setup-buildx-action@") for u in uses))
        self.assertTrue(any(u.startswith("docker/login-action@") for u in uses))
        self.assertEqual(self.jobs["image"]["permissions"]["packages"], "write")

    def test_every_action_is_pinned_to_a_version(self):
        for name, job in self.jobs.items():
            for s in job["steps"]:
                if "uses" in s:
                    self.assertRegex(s["uses"], r"^[\w.-]+/[\w.-]+@v\d+", f"{name}: {s['uses']}")

    def test_release_needs_the_image_and_uses_the_changelog(self):
        rel = self.jobs["release"]
        self.assertIn("image", rel["needs"])
        self.assertEqual(rel["permissions"]["contents"], "write")
        script = "\n".join(s.get("run", "") for s in rel["steps"])
        self.assertIn(".github/release-notes.sh", script)
        self.assertIn("gh release create", script)
        check = "\n".join(s.get("run", "") for s in self.jobs["check"]["steps"])
        self.assertIn("CMakeLists.txt", check)
        self.assertEqual(self.doc["permissions"], {"contents": "read"})

    def test_scripts_are_valid_bash(self):
        for name, job in self.jobs.items():
            for s in job["steps"]:
                if "run" in s:
                    p = subprocess.run(["bash", "-n"], input=s["run"], text=True, capture_output=True)
                    self.assertEqual(p.returncode, 0, f"{name}: {p.stderr}")


class ReleaseNotes(unittest.TestCase):
    def notes(self, version, changelog=None):
        args = [str(SRC / ".github/release-notes.sh"), version]
        if changelog:
            args.append(str(changelog))
        return subprocess.run(args, capture_output=True, text=True)

    def test_this_version_has_notes(self):
        p = self.notes(project_version())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("### ", p.stdout)
        self.assertNotIn("## [", p.stdout)  # one section only

    def test_changelog_starts_with_the_project_version(self):
        text = (SRC / "CHANGELOG.md").read_text()
        first = re.search(r"^## \[([^\]]+)\]", text, re.M).group(1)
        self.assertEqual(first, project_version())
        self.assertEqual(self.notes("0.1.0").returncode, 0)

    def test_unknown_or_empty_version_fails(self):
        self.assertNotEqual(self.notes("9.9.9").returncode, 0)
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".md") as f:
            f.write("# Changelog\n\n## [1.0.0]\n\n## [0.9.0]\n- x\n")
            f.flush()
            self.assertNotEqual(self.notes("1.0.0", f.name).returncode, 0)
            p = self.notes("0.9.0", f.name)
            self.assertEqual((p.returncode, p.stdout), (0, "- x\n"))


class ExampleWorkflow(unittest.TestCase):
    def test_branch_per_pull_request_with_the_action(self):
        doc = load("plugin/ci/github-actions.yml")
        types = on_of(doc)["pull_request"]["types"]
        self.assertTrue({"opened", "synchronize", "closed"} <= set(types))
        jobs = doc["jobs"]
        create = [s for j in jobs.values() for s in j["steps"]
                  if re.match(r"^[\w-]+/xbranch@", s.get("uses", "")) and s.get("with", {}).get("command", "create") == "create"]
        delete = [(j, s) for j in jobs.values() for s in j["steps"]
                  if re.match(r"^[\w-]+/xbranch@", s.get("uses", "")) and s.get("with", {}).get("command") == "delete"]
        self.assertEqual(len(create), 1)
        self.assertEqual(len(delete), 1)
        self.assertIn("closed", delete[0][0]["if"])
        self.assertEqual(create[0]["with"]["sandbox"], delete[0][1]["with"]["sandbox"])
        # The tests read the action's output.
        runs = " ".join(str(s.get("env", "")) for j in jobs.values() for s in j["steps"])
        self.assertIn("steps.%s.outputs.connection-string" % create[0]["id"], runs)
        # The schema diff goes to a comment only when there is one.
        diff = [s for j in jobs.values() for s in j["steps"]
                if re.match(r"^[\w-]+/xbranch@", s.get("uses", "")) and s.get("with", {}).get("command") == "diff"]
        self.assertEqual(len(diff), 1)
        self.assertEqual(diff[0]["with"]["sandbox"], create[0]["with"]["sandbox"])
        self.assertIn("steps.%s.outputs.schema-diff" % diff[0]["id"], runs)
        comment = next(s for j in jobs.values() for s in j["steps"]
                       if "schema-diff" in str(s.get("env", "")))
        self.assertEqual(comment["if"], "steps.%s.outputs.schema-changed == 'true'" % diff[0]["id"])
        self.assertNotIn("${{", comment["run"])  # values reach the script as env only
        self.assertEqual(doc["permissions"]["pull-requests"], "write")
        p = subprocess.run(["bash", "-n"], input=comment["run"], text=True, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
