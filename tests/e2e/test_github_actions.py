"""End to end: xbranch create inside a GitHub Actions job (GITHUB_ACTIONS=true,
GITHUB_OUTPUT set): masks first, outputs appended multi-line safe, read
back the way the runner reads the file."""

import json
import os
import re
import stat
import subprocess
import sys
import unittest
import urllib.parse

import yaml

from e2e_common import E2ECase, harness, main

SRC = os.environ.get("XBRANCH_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MASK_RE = re.compile(r"^::add-mask::(.*)$")


def unescape(data):
    """The runner's unescaping of a workflow command's data."""
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def parse_github_output(text):
    """The runner's reading of a GITHUB_OUTPUT file: NAME=VALUE lines and
    NAME<<DELIM ... DELIM blocks; later entries win."""
    out = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise AssertionError("entry %s: delimiter %s never closes it" % (name, delim))
            out[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        elif line:
            raise AssertionError("bad GITHUB_OUTPUT line %r" % line)
        i += 1
    return out


class GithubActionsTest(E2ECase):
    # Passwords with @:/?#%&+ space and quotes: their encoded forms differ.
    emulator_options = {"password_style": "special"}

    def gh_env(self, actions=True, output=True):
        env = {}
        if actions:
            env["GITHUB_ACTIONS"] = "true"
        if output:
            self.out_file = os.path.join(self.tmp, "github_output")
            env["GITHUB_OUTPUT"] = self.out_file
        return env

    def read_output_file(self):
        with open(self.out_file) as f:
            return f.read()

    def real_url(self, sandbox):
        code, url, err = self.xb("url", "--sandbox", sandbox, "--sslmode", "disable")
        self.assertEqual(code, 0, err)
        return url.strip()

    def test_masks_come_first_and_outputs_reach_the_file(self):
        env = self.gh_env()
        with open(self.out_file, "w") as f:
            f.write("earlier=from another step\n")  # the file is shared by the job's steps
        code, out, err = self.create("gha", "--show-secrets", "--output", "json", env=env)
        url = self.real_url("gha")
        password = urllib.parse.unquote(urllib.parse.urlsplit(url).password)

        lines = out.split("\n")
        masks = []
        for line in lines:
            m = MASK_RE.match(line)
            if not m:
                break
            masks.append(unescape(m.group(1)))
        # Every secret is masked before the first other line of stdout, which
        # (with --show-secrets) is where the password first appears.
        self.assertIn(password, masks)
        self.assertIn(url, masks)
        # The encoded forms too: xbranch's own (in the URL), Python's quote
        # and quote_plus, so a step printing one of them shows ***.
        for form in (urllib.parse.quote(password, safe=""), urllib.parse.quote(password),
                     urllib.parse.quote_plus(password)):
            self.assertIn(form, masks)
        first_other = "\n".join(lines[len(masks):])
        self.assertEqual(json.loads(first_other)["connection"]["password"], password)
        self.assertNotIn("::add-mask::", first_other)
        self.assertNotIn(password, err)

        text = self.read_output_file()
        got = parse_github_output(text)
        self.assertEqual(got["earlier"], "from another step")
        branch = self.active("sb-gha-")
        self.assertEqual(len(branch), 1)
        self.assertEqual(got["branch-name"], branch[0]["name"])
        self.assertEqual(got["branch-id"], branch[0]["id"])
        self.assertEqual(got["connection-string"], url)
        self.assertEqual(got["password"], password)
        self.assertEqual(got["created"], "true")
        self.assertEqual(harness.psql(got["connection-string"], "SELECT count(*) FROM users").strip(), "3")
        # Every delimiter is unique and never part of a value.
        delims = re.findall(r"^[A-Za-z0-9_-]+<<(.*)$", text, re.M)
        self.assertEqual(len(delims), len(set(delims)))
        for d in delims:
            self.assertRegex(d, r"^ghadelimiter_[0-9a-f]{32}$")
            for v in got.values():
                self.assertNotIn(d, v)

        # A second run adopts the branch: created=false, appended after the first.
        code, out2, err2 = self.create("gha", env=env)
        got2 = parse_github_output(self.read_output_file())
        self.assertEqual(got2["created"], "false")
        self.assertEqual(got2["branch-id"], got["branch-id"])
        self.assertTrue(out2.startswith("::add-mask::"), out2)
        rest = "\n".join(line for line in out2.split("\n") if not MASK_RE.match(line))
        self.assertNotIn(password, rest)  # without --show-secrets only the masks carry it
        self.assertEqual(len(self.active("sb-gha-")), 1)

    def test_missing_output_file_is_created_mode_0600(self):
        env = self.gh_env()
        self.create("ghnew", env=env)
        self.assertEqual(stat.S_IMODE(os.stat(self.out_file).st_mode), 0o600)
        self.assertEqual(parse_github_output(self.read_output_file())["created"], "true")

    def test_outside_actions_no_masks_but_github_output_is_honoured(self):
        env = self.gh_env(actions=False)
        _, out, _ = self.create("ghplain", env=env)
        self.assertNotIn("::add-mask::", out)
        got = parse_github_output(self.read_output_file())
        self.assertEqual(got["connection-string"], self.real_url("ghplain"))

    def test_actions_without_output_file_only_masks(self):
        env = self.gh_env(output=False)
        env["GITHUB_ACTIONS"] = "true"
        _, out, _ = self.create("ghmask", env=env)
        masks = [unescape(m.group(1)) for m in map(MASK_RE.match, out.split("\n")) if m]
        self.assertIn(self.real_url("ghmask"), masks)
        # The connection string (the pooled one is the same URL on an IP host)
        # and the password in each of its forms, nothing else.
        url = self.real_url("ghmask")
        password = urllib.parse.unquote(urllib.parse.urlsplit(url).password)
        forms = {password, urllib.parse.quote(password, safe=""), urllib.parse.quote(password),
                 urllib.parse.quote_plus(password), json.dumps(password)[1:-1]}
        self.assertEqual(set(masks), {url} | forms, out)
        self.assertEqual(len(masks), len(set(masks)), out)
        self.assertEqual(os.listdir(self.tmp), [])

    def test_other_values_of_github_actions_print_no_masks(self):
        _, out, _ = self.create("ghfalse", env={"GITHUB_ACTIONS": "false"})
        self.assertNotIn("::add-mask::", out)

    def test_unwritable_output_file_fails_with_exit_9_and_leaves_no_branch(self):
        env = self.gh_env()
        env["GITHUB_OUTPUT"] = self.tmp  # a folder, not a file
        code, out, err = self.create("ghbad", env=env, expect=None)
        self.assertEqual(code, 9, err)
        self.assertIn("GITHUB_OUTPUT", err)
        self.assertEqual(self.active("sb-ghbad-"), [])
        self.assertIn("deleted", err)


# Stands in for `docker run` in the action's script: runs XBRANCH_BIN with
# only the env the script passes (-e) and the mounts (-v) mapped back to
# host paths, and logs the invocation.
FAKE_DOCKER = r"""#!/usr/bin/python3
import json, os, sys
args = sys.argv[1:]
log = os.environ["FAKE_DOCKER_LOG"]
if args[:1] != ["run"]:
    with open(log, "a") as f:
        f.write(json.dumps({"unexpected": args}) + "\n")
    sys.exit(99)
env, mounts, user, i = {"PATH": "/usr/bin:/bin"}, {}, None, 1
while args[i].startswith("-"):
    a = args[i]
    if a == "--rm":
        i += 1
        continue
    v = args[i + 1]
    i += 2
    if a == "--user":
        user = v
    elif a == "-e":
        k, eq, val = v.partition("=")
        env[k] = val if eq else os.environ.get(k, "")
    elif a == "-v":
        src, dst = v.split(":")[:2]
        mounts[dst] = src
image, xargs = args[i], args[i + 1:]
xargs = [mounts.get(x, x) for x in xargs]
env = {k: mounts.get(v, v) for k, v in env.items()}
with open(log, "a") as f:
    f.write(json.dumps({"image": image, "user": user, "args": xargs, "env": sorted(env)}) + "\n")
os.execve(os.environ["XBRANCH_BIN"], ["xbranch"] + xargs, env)
"""


class ActionScriptTest(E2ECase):
    """The composite action's shell step (action.yml), run with bash the way
    the runner would (inputs as env), with a stand-in for `docker run` that
    runs the real binary against the emulator."""

    def setUp(self):
        super().setUp()
        with open(os.path.join(SRC, "action.yml")) as f:
            self.action = yaml.safe_load(f)
        self.step = next(st for st in self.action["runs"]["steps"] if st.get("id") == "xbranch")
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin)
        with open(os.path.join(self.bin, "docker"), "w") as f:
            f.write(FAKE_DOCKER)
        os.chmod(os.path.join(self.bin, "docker"), 0o755)
        self.log = os.path.join(self.tmp, "docker.log")
        self.out_file = os.path.join(self.tmp, "github_output")

    def run_action(self, inputs, github=None, extra_env=None):
        github = github or {"action_repository": "Example/XBranch", "action_ref": "v0.2.0",
                            "action_path": "/nonexistent"}
        env = {"PATH": self.bin + ":/usr/bin:/bin", "GITHUB_OUTPUT": self.out_file,
               "FAKE_DOCKER_LOG": self.log, "XBRANCH_BIN": harness.xbranch_bin(), **self.emu.env(),
               **(extra_env or {})}
        for k, v in self.step["env"].items():
            m = re.fullmatch(r"\$\{\{ (inputs|github)\.([\w-]+) \}\}", v)
            self.assertTrue(m, v)
            if m.group(1) == "inputs":
                env[k] = str(inputs.get(m.group(2), self.action["inputs"][m.group(2)].get("default", "")))
            else:
                env[k] = github[m.group(2)]
        p = subprocess.run(["bash", "-c", self.step["run"]], env=env, capture_output=True, text=True,
                           timeout=120, cwd=self.tmp)
        calls = []
        if os.path.exists(self.log):
            with open(self.log) as f:
                calls = [json.loads(line) for line in f]
            os.unlink(self.log)
        return p.returncode, p.stdout, p.stderr, calls

    def outputs(self):
        with open(self.out_file) as f:
            return parse_github_output(f.read())

    def test_create_then_delete_through_the_action(self):
        rc, out, err, calls = self.run_action({"sandbox": "pr-7", "sslmode": "disable", "timeout": "30s"})
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(len(calls), 1, calls)
        call = calls[0]
        self.assertEqual(call["image"], "ghcr.io/example/xbranch:0.2.0")  # the release matching the tag
        self.assertEqual(call["user"], "%d:%d" % (os.getuid(), os.getgid()))
        self.assertEqual(call["args"][:3], ["create", "--sandbox", "pr-7"])
        for flag in ("--database", "--ttl", "--sql", "--parent"):
            self.assertNotIn(flag, call["args"])  # empty inputs are not passed
        self.assertIn("XATA_API_KEY", call["env"])
        got = self.outputs()
        self.assertEqual(got["created"], "true")
        self.assertEqual(got["branch-name"], self.active("sb-pr-7-")[0]["name"])
        self.assertEqual(harness.psql(got["connection-string"], "SELECT count(*) FROM users").strip(), "3")
        self.assertTrue(out.startswith("::add-mask::"), out)
        password = urllib.parse.unquote(urllib.parse.urlsplit(got["connection-string"]).password)
        rest = "\n".join(line for line in (out + err).split("\n") if not MASK_RE.match(line))
        self.assertNotIn(password, rest)

        rc, out, err, calls = self.run_action({"sandbox": "pr-7", "command": "delete"})
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(calls[0]["args"], ["delete", "--sandbox", "pr-7"])
        self.assertEqual(self.active("sb-pr-7-"), [])
        self.assertEqual(self.outputs()["created"], "false")

    def test_parent_input_is_passed(self):
        rc, out, err, calls = self.run_action({"sandbox": "pr-8", "parent": "main", "sslmode": "disable"})
        self.assertEqual(rc, 0, out + err)
        self.assertIn("--parent", calls[0]["args"])
        self.assertEqual(calls[0]["args"][calls[0]["args"].index("--parent") + 1], "main")

    def test_explicit_image_wins(self):
        rc, out, err, calls = self.run_action({"sandbox": "pr-9", "sslmode": "disable", "image": "registry.test/xb:dev"})
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(calls[0]["image"], "registry.test/xb:dev")

    def test_ttl_sql_inputs_and_pooled_output(self):
        sql = os.path.join(self.tmp, "seed.sql")
        with open(sql, "w") as f:
            f.write("create table seeded (x int); insert into seeded values (42);")
        rc, out, err, calls = self.run_action({"sandbox": "pr-10", "sslmode": "disable",
                                               "ttl": "2h", "sql": "seed.sql"})
        self.assertEqual(rc, 0, out + err)
        args = calls[0]["args"]
        self.assertEqual(args[args.index("--sql") + 1], sql)  # mounted file, mapped back
        self.assertEqual(args[args.index("--ttl") + 1], "2h")
        got = self.outputs()
        self.assertEqual(harness.psql(got["connection-string"], "select x from seeded").strip(), "42")
        self.assertTrue(got["pooled-connection-string"].startswith("postgresql://"))

    def test_database_input_reaches_xbranch(self):
        # The emulator's branch has one database (the served dbname): "app" is
        # not there, so xbranch's connection check refuses it with exit 11.
        rc, out, err, calls = self.run_action({"sandbox": "pr-11", "sslmode": "disable",
                                               "database": "app"})
        args = calls[0]["args"]
        self.assertEqual(args[args.index("--database") + 1], "app")
        self.assertEqual(rc, 11, out + err)

    def test_diff_gives_the_markdown_as_an_output(self):
        rc, out, err, calls = self.run_action({"sandbox": "pr-12", "sslmode": "disable",
                                               "timeout": "30s"})
        self.assertEqual(rc, 0, out + err)
        url = self.outputs()["connection-string"]
        summary = os.path.join(self.tmp, "step_summary")
        # A fresh branch: exit 0, no change.
        rc, out, err, calls = self.run_action({"sandbox": "pr-12", "command": "diff",
                                               "sslmode": "disable"})
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(calls[0]["args"], ["diff", "--sandbox", "pr-12", "--format", "markdown",
                                            "--sslmode", "disable"])
        got = self.outputs()
        self.assertEqual(got["schema-changed"], "false")
        self.assertIn("No schema changes.", got["schema-diff"])
        # A migration: xbranch exits 14, the step succeeds with the Markdown.
        harness.psql(url, "CREATE TABLE invoices (id int PRIMARY KEY, note text)")
        rc, out, err, calls = self.run_action({"sandbox": "pr-12", "command": "diff",
                                               "sslmode": "disable"},
                                              extra_env={"GITHUB_STEP_SUMMARY": summary})
        self.assertEqual(rc, 0, out + err)
        got = self.outputs()
        self.assertEqual(got["schema-changed"], "true")
        md = got["schema-diff"]
        self.assertTrue(md.startswith("<!-- xbranch-schema-diff -->\n"), md)
        self.assertIn("| added | table | `public.invoices` |", md)
        self.assertEqual(md + "\n", out)  # also in the log
        with open(summary) as f:
            self.assertEqual(f.read(), md + "\n")  # and in the job's summary
        password = urllib.parse.unquote(urllib.parse.urlsplit(url).password)
        self.assertNotIn(password, out + err)
        # An error keeps its code and sets no output.
        rc, out, err, calls = self.run_action({"sandbox": "pr-none", "command": "diff",
                                               "sslmode": "disable"})
        self.assertEqual(rc, 4, out + err)

    def test_bad_command_and_missing_name_fail_before_docker(self):
        rc, out, err, calls = self.run_action({"sandbox": "pr-1", "command": "destroy"})
        self.assertEqual(rc, 2)
        self.assertIn("::error::", out)
        rc, out, err, calls2 = self.run_action({})
        self.assertEqual(rc, 2)
        self.assertIn("sandbox", out)
        self.assertEqual(calls + calls2, [])


if __name__ == "__main__":
    main()
