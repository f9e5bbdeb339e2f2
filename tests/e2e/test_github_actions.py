"""End to end: xbranch create inside a GitHub Actions job (GITHUB_ACTIONS=true,
GITHUB_OUTPUT set): masks first, outputs appended multi-line safe, read
back the way the runner reads the file."""

import os
import re
import stat
import urllib.parse

from e2e_common import E2ECase, harness, main

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
        first_other = "\n".join(lines[len(masks):])
        self.assertIn(password, first_other)
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
        self.assertEqual(len(masks), 2, out)  # password and connection string
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


if __name__ == "__main__":
    main()
