#!/usr/bin/python3
"""The plugin validator: the shipped plugin and sandbox pass, broken
variants of them are rejected with a message naming the rule."""

import copy
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("XBRANCH_SOURCE_DIR") or HERE.parents[1])
sys.path.insert(0, str(HERE))
import run_workflow as rw  # noqa: E402

VALUES = {"image": "registry.example/xbranch:0.3.0", "namespace": "signadot"}


def load(name: str) -> dict:
    return yaml.safe_load((SRC / "plugin" / name).read_text())


def expanded_plugin() -> dict:
    problems: list[str] = []
    doc = rw.expand_vars(load("xata-branch.yaml"), VALUES, SRC / "plugin", problems)
    assert not problems, problems
    return doc


def project_version() -> str:
    text = (SRC / "CMakeLists.txt").read_text()
    return re.search(r"^project\(xbranch VERSION ([0-9.]+)", text, re.M).group(1)


def overlay(doc: dict) -> dict:
    return yaml.safe_load(doc["spec"]["runner"]["podTemplateOverlay"])


def set_overlay(doc: dict, pod: dict) -> None:
    doc["spec"]["runner"]["podTemplateOverlay"] = yaml.safe_dump(pod)


class ShippedFiles(unittest.TestCase):
    def test_plugin_is_valid(self):
        self.assertEqual(rw.validate_plugin(expanded_plugin()), [])

    def test_sandbox_is_valid(self):
        problems: list[str] = []
        sbx = rw.expand_vars(load("sandbox.yaml"), {"cluster": "c"}, SRC / "plugin", problems)
        self.assertEqual(problems, [])
        self.assertEqual(rw.validate_sandbox(sbx, expanded_plugin()), [])

    def test_plugin_names_and_links(self):
        doc = expanded_plugin()
        self.assertEqual(doc["name"], "xata-branch@" + project_version())
        create, delete = rw.step_order(doc)
        # `provision` and `parent-branch`: the Signadot Xata tutorial's
        # sandboxes (outputKey provision.connection-string) work unchanged.
        self.assertEqual([s["name"] for s in create], ["provision"])
        self.assertEqual([s["name"] for s in delete], ["deprovision"])
        outs = {o["name"]: o["valueFromPath"] for o in create[0]["outputs"]}
        self.assertEqual(set(outs), {"branch-name", "branch-id", "connection-string", "pooled-connection-string",
                                     "host", "port", "database", "username", "password",
                                     "schema-diff"})
        for name, path in outs.items():
            # The file names xbranch --output-dir writes (schema-diff: the step's own).
            self.assertEqual(path, "/outputs/" + name)
        params = {i["name"] for i in create[0]["inputs"] if i.get("valueFromSandbox")}
        self.assertEqual(params, {"parent-branch", "database", "seed-sql", "ttl", "endpoint"})
        seed = next(i for i in create[0]["inputs"] if i["name"] == "seed-sql")
        self.assertEqual(seed["as"], {"path": "/inputs/seed.sql"})  # SQL text arrives as a file
        self.assertEqual(delete[0]["inputs"][0]["valueFromStep"], {"name": "provision", "output": "branch-id"})

    def test_overlay_puts_secrets_in_main(self):
        pod = overlay(expanded_plugin())
        main = next(c for c in pod["spec"]["containers"] if c["name"] == "main")
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in main["env"]}
        self.assertEqual(refs["XATA_API_KEY"], {"name": "xata", "key": "api-key", "optional": True})
        self.assertEqual(refs["XATA_ORGANIZATION_ID"]["key"], "organization-id")
        self.assertEqual(refs["XATA_PROJECT_ID"]["key"], "project-id")
        # The tutorial's Secret, whole, as the other supported layout.
        self.assertEqual(main["envFrom"], [{"secretRef": {"name": "xata-credentials", "optional": True}}])

    def test_overlay_runs_main_as_non_root(self):
        main = next(c for c in overlay(expanded_plugin())["spec"]["containers"] if c["name"] == "main")
        sc = main["securityContext"]
        self.assertEqual((sc["runAsNonRoot"], sc["runAsUser"], sc["runAsGroup"]), (True, 10001, 10001))
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})

    def test_unset_variable_is_reported(self):
        problems: list[str] = []
        rw.expand_vars(load("xata-branch.yaml"), {"image": "x"}, SRC / "plugin", problems)
        self.assertTrue(any("@{namespace}" in p for p in problems), problems)

    def test_embed(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "s.sh").write_text("#!/bin/sh\necho @{notexpanded}\n")
            problems: list[str] = []
            out = rw.expand_vars({"script": "@{embed: ./s.sh}"}, {}, Path(d), problems)
            self.assertEqual(problems, [])
            self.assertEqual(out["script"], "#!/bin/sh\necho @{notexpanded}\n")

    def test_scripts_are_valid_sh(self):
        for s in expanded_plugin()["spec"]["create"] + expanded_plugin()["spec"]["delete"]:
            p = subprocess.run(["sh", "-n"], input=s["script"], text=True, capture_output=True)
            self.assertEqual(p.returncode, 0, f"{s['name']}: {p.stderr}")

    def test_cli_rejects_invalid_with_exit_2(self):
        with tempfile.TemporaryDirectory() as d:
            doc = expanded_plugin()
            doc["spec"]["runnner"] = doc["spec"].pop("runner")
            Path(d, "p.yaml").write_text(yaml.safe_dump(doc))
            p = subprocess.run([sys.executable, str(HERE / "run_workflow.py"), "--plugin", str(Path(d, "p.yaml")),
                                "--sandbox", str(SRC / "plugin/sandbox.yaml"), "--sandbox-set", "cluster=c"],
                               capture_output=True, text=True, env={**os.environ, "XBRANCH_BIN": "/bin/true"})
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("unknown key 'runnner'", p.stdout)


def mutate_create(doc):
    return doc["spec"]["create"][0]


def mutate_delete(doc):
    return doc["spec"]["delete"][0]


# (title, mutation, a substring the problem must contain)
BROKEN = [
    ("unknown top-level key", lambda d: d.update(kind="ResourcePlugin"), "unknown key 'kind'"),
    ("unknown spec key", lambda d: d["spec"].update(descripton="x"), "unknown key 'descripton'"),
    ("unknown runner key", lambda d: d["spec"]["runner"].update(serviceAccount="x"), "unknown key 'serviceAccount'"),
    ("unknown step key", lambda d: mutate_create(d).update(image="x"), "unknown key 'image'"),
    ("unknown input key", lambda d: mutate_create(d)["inputs"][0].update(default="main"), "unknown key 'default'"),
    ("unknown output key", lambda d: mutate_create(d)["outputs"][0].update(valueFromFile="/x"), "unknown key 'valueFromFile'"),
    ("unknown as key", lambda d: mutate_create(d)["inputs"][0]["as"].update(file="/x"), "unknown key 'file'"),
    ("unknown valueFromStep key", lambda d: mutate_delete(d)["inputs"][0]["valueFromStep"].update(step="x"), "unknown key 'step'"),
    ("step name of 31 characters", lambda d: mutate_create(d).update(name="c" * 31), "31 characters"),
    ("step name with underscore", lambda d: mutate_create(d).update(name="create_branch"), "does not match"),
    ("step name ending with dash", lambda d: mutate_create(d).update(name="create-"), "does not match"),
    ("input name starting with a digit", lambda d: mutate_create(d)["inputs"][0].update(name="1parent"), "does not match"),
    ("output name too long", lambda d: mutate_create(d)["outputs"][0].update(name="o" * 40), "40 characters"),
    ("plugin name too long", lambda d: d.update(name="x" * 31 + "@0.1.0"), "31 characters"),
    ("plugin version not semver", lambda d: d.update(name="xata-branch@1.0"), "not semver"),
    ("reserved step name", lambda d: mutate_create(d).update(name="signadot-execunit-io"), "reserved"),
    ("duplicate step name across create and delete", lambda d: mutate_delete(d).update(name="provision"), "used twice"),
    ("input with both value sources",
     lambda d: mutate_delete(d)["inputs"][0].update(valueFromSandbox=True), "exactly one of"),
    ("input with no value source", lambda d: mutate_create(d)["inputs"][0].pop("valueFromSandbox"), "exactly one of"),
    ("valueFromSandbox false", lambda d: mutate_create(d)["inputs"][0].update(valueFromSandbox=False), "must be true"),
    ("valueFromStep to an unknown step",
     lambda d: mutate_delete(d)["inputs"][0]["valueFromStep"].update(name="makebranch"), "unknown step 'makebranch'"),
    ("valueFromStep to an unknown output",
     lambda d: mutate_delete(d)["inputs"][0]["valueFromStep"].update(output="id"), "has no output 'id'"),
    ("create step taking a delete step's output",
     lambda d: (mutate_delete(d).update(outputs=[{"name": "x", "valueFromPath": "/outputs/x"}]),
                mutate_create(d)["inputs"].append({"name": "x", "valueFromStep": {"name": "deprovision", "output": "x"}})),
     "cannot depend on delete step"),
    ("output without valueFromPath", lambda d: mutate_create(d)["outputs"][0].pop("valueFromPath"), "valueFromPath missing"),
    ("relative valueFromPath", lambda d: mutate_create(d)["outputs"][0].update(valueFromPath="outputs/x"), "absolute"),
    ("duplicate output", lambda d: mutate_create(d)["outputs"].append(dict(mutate_create(d)["outputs"][0])), "declared twice"),
    ("script without shebang", lambda d: mutate_create(d).update(script="xbranch create\n"), "shebang"),
    ("script with leading blank line", lambda d: mutate_delete(d).update(script="\n#!/bin/sh\nxbranch delete\n"), "shebang"),
    ("missing script", lambda d: mutate_delete(d).pop("script"), "script missing"),
    ("description over 255 bytes", lambda d: d["spec"].update(description="é" * 128), "256 bytes"),
    ("no create step", lambda d: d["spec"].update(create=[]), "at least one step"),
    ("missing runner image", lambda d: d["spec"]["runner"].pop("image"), "image: missing"),
    ("overlay as a mapping, not a string",
     lambda d: d["spec"]["runner"].update(podTemplateOverlay=overlay(d)), "must be a string"),
    ("overlay not YAML", lambda d: d["spec"]["runner"].update(podTemplateOverlay="spec: [unclosed"), "not valid YAML"),
    ("overlay container not main",
     lambda d: set_overlay(d, {"spec": {"containers": [{"name": "runner", "env": []}]}}), "no container named 'main'"),
    ("overlay restartPolicy Always",
     lambda d: set_overlay(d, {"spec": {"restartPolicy": "Always", "containers": [{"name": "main"}]}}), "restartPolicy"),
    ("overlay reserved volume",
     lambda d: set_overlay(d, {"spec": {"containers": [{"name": "main"}],
                                        "volumes": [{"name": "signadot-execunit-io", "emptyDir": {}}]}}), "reserved"),
    ("overlay reserved init container",
     lambda d: set_overlay(d, {"spec": {"containers": [{"name": "main"}],
                                        "initContainers": [{"name": "signadot-execunit-input-manager"}]}}), "reserved"),
    ("as.env not a variable name", lambda d: mutate_create(d)["inputs"][0]["as"].update(env="PARENT-BRANCH"), "not an environment"),
    ("as.path relative", lambda d: mutate_create(d)["inputs"][0]["as"].update(path="parent"), "absolute"),
    ("input env shadowing the operator's", lambda d: mutate_create(d)["inputs"][0]["as"].update(env="SIGNADOT_SANDBOX_ID"),
     "set by the operator"),
    ("two inputs on one env",
     lambda d: mutate_create(d)["inputs"].append({"name": "other", "valueFromSandbox": True, "as": {"env": "PARENT_BRANCH"}}),
     "also set by input"),
    ("steps in a cycle",
     lambda d: d["spec"].update(create=[
         {"name": "a", "inputs": [{"name": "x", "valueFromStep": {"name": "b", "output": "y"}}],
          "outputs": [{"name": "x", "valueFromPath": "/outputs/x"}], "script": "#!/bin/sh\n"},
         {"name": "b", "inputs": [{"name": "y", "valueFromStep": {"name": "a", "output": "x"}}],
          "outputs": [{"name": "y", "valueFromPath": "/outputs/y"}], "script": "#!/bin/sh\n"}],
         delete=[]), "cycle"),
]


class TutorialMigration(unittest.TestCase):
    """plugin/README.md's "Coming from the Signadot Xata tutorial": the
    sandbox it shows is what a tutorial user ends up with, and it works with
    the shipped plugin; the tutorial's own (unpinned, one param) does not."""

    def section(self) -> str:
        text = (SRC / "plugin" / "README.md").read_text()
        start = text.index("## Coming from the Signadot Xata tutorial")
        end = text.find("\n## ", start + 3)
        return text[start:end if end >= 0 else len(text)]

    def shown_sandbox(self) -> dict:
        blocks = re.findall(r"```yaml\n(.*?)```", self.section(), re.S)
        docs = [yaml.safe_load(b) for b in blocks]
        sandboxes = [d for d in docs if isinstance(d, dict) and "spec" in d and "resources" in d["spec"]]
        self.assertEqual(len(sandboxes), 1, "the section shows one sandbox file")
        return sandboxes[0]

    def test_the_shown_sandbox_validates_against_the_plugin(self):
        plugin = expanded_plugin()
        sbx = self.shown_sandbox()
        self.assertEqual(rw.validate_sandbox(sbx, plugin), [])
        (res,) = sbx["spec"]["resources"]
        # The version pin is the published one (the plugin file's, the release's).
        self.assertEqual(res["plugin"], plugin["name"])
        self.assertEqual(plugin["name"], "xata-branch@" + project_version())
        # What stays from the tutorial: the param and the output key.
        self.assertEqual(res["params"]["parent-branch"], "main")
        keys = [e["valueFrom"]["resource"]["outputKey"] for f in sbx["spec"]["forks"]
                for e in f["customizations"]["env"]]
        self.assertEqual(keys, ["provision.connection-string"])
        # Every param the plugin reads is named, the new ones empty.
        wanted = {i["name"] for s in plugin["spec"]["create"] for i in s.get("inputs") or []
                  if i.get("valueFromSandbox")}
        self.assertEqual(set(res["params"]), wanted)
        self.assertEqual({k for k, v in res["params"].items() if v != ""}, {"parent-branch"})

    def test_the_tutorials_unpinned_sandbox_does_not_use_the_plugin(self):
        # The tutorial's sandbox: `plugin: xata-branch` (Signadot reads a bare
        # name as @0.0.0) and only parent-branch; the section says what changes.
        sbx = self.shown_sandbox()
        tutorial = copy.deepcopy(sbx)
        res = tutorial["spec"]["resources"][0]
        res["plugin"] = "xata-branch"
        res["params"] = {"parent-branch": "main"}
        self.assertNotEqual(rw.validate_sandbox(tutorial, expanded_plugin()), [])
        pinned = copy.deepcopy(tutorial)
        pinned["spec"]["resources"][0]["plugin"] = expanded_plugin()["name"]
        self.assertTrue(any("params has no" in p for p in rw.validate_sandbox(pinned, expanded_plugin())))
        text = self.section()
        self.assertIn("`plugin: xata-branch`", text)
        self.assertIn("`plugin: %s`" % expanded_plugin()["name"], text)
        self.assertNotIn("stay as they are", text)

    def test_every_pinned_name_in_the_docs_is_the_published_one(self):
        name = expanded_plugin()["name"]
        for rel in ("plugin/README.md", "plugin/sandbox.yaml", "README.md"):
            for found in re.findall(r"xata-branch@[0-9][0-9A-Za-z.+-]*[0-9A-Za-z]", (SRC / rel).read_text()):
                if found != "xata-branch@0.0.0":  # what Signadot reads a bare name as
                    self.assertEqual(found, name, rel)


class BrokenPlugins(unittest.TestCase):
    def test_each_broken_variant_is_rejected(self):
        for title, mutate, expect in BROKEN:
            with self.subTest(title):
                doc = copy.deepcopy(expanded_plugin())
                mutate(doc)
                problems = rw.validate_plugin(doc)
                self.assertTrue(problems, f"{title}: accepted")
                self.assertTrue(any(expect in p for p in problems), f"{title}: {problems}")


class BrokenSandboxes(unittest.TestCase):
    def setUp(self):
        problems: list[str] = []
        self.sbx = rw.expand_vars(load("sandbox.yaml"), {"cluster": "c"}, SRC / "plugin", problems)
        self.plugin = expanded_plugin()

    def test_missing_param(self):
        self.sbx["spec"]["resources"][0]["params"] = {}
        self.assertTrue(any("no 'parent-branch'" in p for p in rw.validate_sandbox(self.sbx, self.plugin)))

    def test_unknown_output_key(self):
        env = self.sbx["spec"]["forks"][0]["customizations"]["env"][0]
        env["valueFrom"]["resource"]["outputKey"] = "provision.url"
        self.assertTrue(any("provision.url" in p for p in rw.validate_sandbox(self.sbx, self.plugin)))

    def test_delete_step_output_is_not_for_forks(self):
        env = self.sbx["spec"]["forks"][0]["customizations"]["env"][0]
        env["valueFrom"]["resource"]["outputKey"] = "deprovision.branch-id"
        self.assertTrue(rw.validate_sandbox(self.sbx, self.plugin))

    def test_other_plugin(self):
        self.sbx["spec"]["resources"][0]["plugin"] = "xata-branch@0.1.0"
        self.assertTrue(any("no resource uses plugin" in p for p in rw.validate_sandbox(self.sbx, self.plugin)))


class Entrypoint(unittest.TestCase):
    """docker/xbranch-entrypoint.sh, with xbranch replaced by a fake that
    prints its arguments (the image test runs the real one)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = Path(self.tmp.name)
        fake = d / "fake-xbranch"
        fake.write_text('#!/bin/sh\necho "xbranch $*"\n')
        fake.chmod(0o755)
        text = (SRC / "docker/xbranch-entrypoint.sh").read_text()
        self.assertIn("xbranch=/usr/local/bin/xbranch\n", text)
        self.entry = d / "entrypoint"
        self.entry.write_text(text.replace("xbranch=/usr/local/bin/xbranch\n", f"xbranch={fake}\n"))
        self.entry.chmod(0o755)
        self.dir = d

    def tearDown(self):
        self.tmp.cleanup()

    def run_entry(self, *args):
        p = subprocess.run([str(self.entry), *args], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "TMPDIR": self.tmp.name}, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def test_subcommands_and_flags_go_to_xbranch(self):
        for cmd in ("create", "delete", "status", "url", "list", "gc"):
            self.assertEqual(self.run_entry(cmd, "--sandbox", "a b"), f"xbranch {cmd} --sandbox a b")
        self.assertEqual(self.run_entry("--version"), "xbranch --version")
        self.assertEqual(self.run_entry("-v", "create"), "xbranch -v create")

    def test_no_arguments_shows_help(self):
        self.assertEqual(self.run_entry(), "xbranch --help")

    def test_other_commands_run_as_given(self):
        self.assertEqual(self.run_entry("sh", "-c", "echo $((1 + 2))"), "3")
        self.assertEqual(self.run_entry("echo", "create"), "create")

    def test_executable_script_path(self):
        s = self.dir / "step.sh"
        s.write_text("#!/bin/sh\necho step \"$1\"\n")
        s.chmod(0o755)
        self.assertEqual(self.run_entry(str(s), "arg one"), "step arg one")

    def test_script_path_without_x_bit(self):
        s = self.dir / "step.sh"
        s.write_text("#!/bin/sh -e\necho plain \"$1\"\n")
        s.chmod(0o644)
        self.assertEqual(self.run_entry(str(s), "x"), "plain x")

    def test_script_text_as_argument(self):
        self.assertEqual(self.run_entry("#!/bin/sh\nset -eu\necho text \"$1\"\n", "y"), "text y")


class ProvisionScript(unittest.TestCase):
    """The create step's script with a fake xbranch that prints its
    arguments: which flags each param turns into, and the output folder."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)
        (self.d / "bin").mkdir()
        fake = self.d / "bin" / "xbranch"
        # create writes the branch id (diff reads it); diff answers 14 (a change).
        fake.write_text('#!/bin/sh\necho "$*"\n'
                        'if [ "$1" = create ]; then printf b1 >"$3/branch-id"; fi\n'
                        'if [ "$1" = diff ]; then exit "${FAKE_DIFF_EXIT:-14}"; fi\n')
        fake.chmod(0o755)
        step = next(s for s in expanded_plugin()["spec"]["create"] if s["name"] == "provision")
        self.script_text = step["script"]

    def tearDown(self):
        self.tmp.cleanup()

    def run_script(self, out_dir, env=None, seed=None):
        seed_path = self.d / "seed.sql"
        if seed is not None:
            seed_path.write_text(seed)
        text = self.script_text.replace("/outputs", str(out_dir)).replace("/inputs/seed.sql", str(seed_path))
        path = self.d / "provision.sh"
        path.write_text(text)
        path.chmod(0o755)
        e = {"PATH": f"{self.d / 'bin'}:/usr/bin:/bin", **(env or {})}
        return subprocess.run([str(path)], capture_output=True, text=True, env=e, timeout=30)

    def test_empty_params_pass_no_flags_and_the_folder_is_made(self):
        out = self.d / "outputs"
        p = self.run_script(out, {"PARENT_BRANCH": "", "BRANCH_DATABASE": "", "BRANCH_TTL": "",
                                  "BRANCH_ENDPOINT": ""}, seed="")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), f"create --output-dir {out} --output json")
        self.assertTrue(out.is_dir())
        self.assertEqual((out / "schema-diff").read_text(), "")  # no seed-sql: no diff

    def test_each_param_becomes_its_flag(self):
        p = self.run_script(self.d / "o", {"PARENT_BRANCH": "staging", "BRANCH_DATABASE": "app",
                                           "BRANCH_TTL": "2h", "BRANCH_ENDPOINT": "pooler",
                                           "XBRANCH_SSLMODE": "verify-full"}, seed="select 1;")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(),
                         f"create --output-dir {self.d / 'o'} --output json --parent staging --database app "
                         f"--sql {self.d / 'seed.sql'} --ttl 2h --endpoint pooler --sslmode verify-full")
        # After seed-sql: the diff against the parent, into the output schema-diff.
        self.assertEqual((self.d / "o" / "schema-diff").read_text(),
                         "diff --branch-id b1 --format markdown --database app --sslmode verify-full\n")

    def test_a_failed_diff_leaves_the_output_empty_and_the_step_ok(self):
        out = self.d / "o"
        p = self.run_script(out, {"FAKE_DIFF_EXIT": "11"}, seed="select 1;")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("xbranch diff failed (exit 11)", p.stderr)
        self.assertEqual((out / "schema-diff").read_text(), "")
        self.assertEqual(sorted(f.name for f in out.iterdir()), ["branch-id", "schema-diff"])

    def test_unmakeable_output_folder_fails_with_exit_9_and_says_why(self):
        blocker = self.d / "file"
        blocker.write_text("not a folder")
        p = self.run_script(blocker / "outputs")
        self.assertEqual(p.returncode, 9)
        self.assertIn(f"cannot create or write the output folder {blocker / 'outputs'}", p.stderr)
        self.assertEqual(p.stdout, "")  # xbranch never ran


if __name__ == "__main__":
    unittest.main(verbosity=2)
