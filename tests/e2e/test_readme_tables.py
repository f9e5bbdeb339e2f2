"""The README's exit-code and configuration tables against the binary's
--help, which the core's error-kind table and the CLI's settings table
generate: a code, a variable or a default that one side gains and the
other does not is a failure here, not a drift found by a user. No
emulator: only --help runs."""

import os
import re
import unittest

from e2e_common import harness, main

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
COMMANDS = ["create", "delete", "status", "url", "list", "gc", "run", "reset", "diff", "shell"]
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def section(text, title):
    start = text.index("\n## " + title + "\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def table_rows(text):
    """The first table of `text`, without its header."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        if not re.match(r"^\|[-| ]+\|$", line):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows[1:]


def help_codes(help_text):
    """The exit codes an --help lists, in its order."""
    block = help_text[help_text.index("Exit codes:"):]
    codes = []
    for line in block.splitlines()[1:]:
        m = re.match(r"^  (\d+(?:/\d+)*)\s{2,}\S", line)
        if not m:
            break
        codes.append(sorted(int(c) for c in m.group(1).split("/")))
    return codes


def backticked_names(cell):
    return [re.sub(r"=.*", "", n) for n in re.findall(r"`([A-Za-z_][A-Za-z0-9_=]*)`", cell)]


class ReadmeTablesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            harness.require_xbranch()
        except unittest.SkipTest as e:
            raise AssertionError("xbranch binary missing (a failure, not a skip): %s" % e)
        with open(README, encoding="utf-8") as f:
            cls.readme = f.read()
        cls.help = {}
        for cmd in [None] + COMMANDS:
            code, out, err = harness.run_xbranch(([cmd] if cmd else []) + ["--help"], ENV,
                                                 timeout=30)
            assert code == 0, (cmd, err)
            cls.help[cmd] = out

    # -- exit codes
    def test_the_exit_code_table_lists_the_codes_help_lists(self):
        rows = table_rows(section(self.readme, "Exit codes"))
        readme = [sorted(int(c) for c in re.findall(r"\d+", r[0])) for r in rows]
        self.assertEqual(readme, help_codes(self.help[None]))

    def test_the_codes_only_some_commands_return(self):
        text = section(self.readme, "Exit codes")
        m = re.search(r"\(([\d,\sand]+?)\s+only\s+come\s+from\s+create,\s+run\s+and\s+reset\)",
                      text)
        self.assertIsNotNone(m, "the README no longer says which codes only create, run "
                                "and reset return")
        only = {int(c) for c in re.findall(r"\d+", m.group(1))}
        lifecycle = {"create", "run", "reset"}
        for cmd in COMMANDS:
            listed = {c for codes in help_codes(self.help[cmd]) for c in codes}
            for code in only:
                self.assertEqual(code in listed, cmd in lifecycle, (cmd, code))
        # And no other code is limited to those three.
        for code in {c for codes in help_codes(self.help[None]) for c in codes} - only:
            listed_by = [cmd for cmd in COMMANDS
                         if code in {c for cs in help_codes(self.help[cmd]) for c in cs}]
            self.assertNotEqual(set(listed_by), lifecycle, code)

    # -- configuration
    def option_help(self, flag):
        """The help line of `flag` in any command's --help."""
        for text in self.help.values():
            for line in text.splitlines():
                if re.match(r"^\s+(-\w,)?" + re.escape(flag) + r"\b(?!-)", line):
                    return line
        self.fail("no --help lists " + flag)

    def test_every_flags_environment_and_default_match_the_help(self):
        rows = table_rows(section(self.readme, "Configuration"))
        checked = 0
        for flag_cell, env_cell, default_cell, _ in rows:
            flags = re.findall(r"`(--[a-z-]+)", flag_cell)
            if not flags:
                continue
            line = self.option_help(flags[0])
            bracket = re.search(r"\[((?:env [^\]]*?)?(?:, )?(?:default [^\]]*)?)\]$", line)
            env = backticked_names(env_cell)
            if not bracket:
                self.assertEqual(env, [], (flags[0], line))
                continue
            checked += 1
            part = bracket.group(1)
            help_env = []
            m = re.match(r"env ((?:[A-Z_]+(?:, )?)+)", part)
            if m:
                help_env = [n for n in m.group(1).split(", ") if n]
            self.assertEqual(env, help_env, flags[0])
            d = re.search(r"default (.*)$", part)
            if d:
                self.assertEqual(default_cell.replace("`", ""), d.group(1), flags[0])
        self.assertGreaterEqual(checked, 15)

    def test_variables_without_a_flag_are_in_the_help(self):
        everything = "\n".join(self.help.values())
        for flag_cell, env_cell, _, _ in table_rows(section(self.readme, "Configuration")):
            if flag_cell:
                continue
            for name in backticked_names(env_cell):
                if name.endswith("_proxy"):
                    continue  # libcurl's, not xbranch's
                self.assertIn(name, everything)


if __name__ == "__main__":
    main()
