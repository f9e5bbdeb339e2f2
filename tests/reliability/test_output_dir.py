"""Output-folder failures of `xbranch create --output-dir`: exit 9, no partial
file, and no branch left behind (checked in the emulator's branch table).

Runs as root in CI, where chmod does not stop writes; unwritable folders are
made with paths under a regular file and with a read-only tmpfs, a full disk
with a tiny tmpfs. The tmpfs cases need mount(2); without it they skip with
a message saying so.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402
from rel import harness  # noqa: E402

OUTPUT_FILES = sorted(["branch-name", "branch-id", "connection-string", "host", "port",
                       "database", "username", "password", "pooled-connection-string"])


def try_mount(target, options):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", target],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr.strip()


def read_set(folder):
    out = {}
    for name in OUTPUT_FILES:
        with open(os.path.join(folder, name)) as f:
            out[name] = f.read()
    return out


def fill_disk(folder, give_back=0):
    """Writes folder/filler until the file system is full, then frees
    give_back bytes of it again."""
    fd = os.open(os.path.join(folder, "filler"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        try:
            while True:
                os.write(fd, b"\0" * 1024)
        except OSError:
            pass
        if give_back:
            os.ftruncate(fd, os.fstat(fd).st_size - give_back)
    finally:
        os.close(fd)


def umount(target):
    subprocess.run(["umount", target], capture_output=True)


class OutputDirTest(rel.Case):
    emulator_options = dict(pg=True, hibernated_ms=50, transient_ms=100, quiet=True)
    tmp_prefix = "xbranch-outdir-"

    def create(self, sandbox, outdir):
        return rel.run(["create", "--sandbox", sandbox, "--sslmode", "disable",
                        "--output-dir", outdir], self.emu.env())

    def rows(self, name):
        return [b for b in self.emu.branches() if b["name"] == name]

    def assert_no_branch_made(self, name, err):
        self.assertEqual(self.rows(name), [], "a branch was made: " + err)
        self.assertEqual(rel.posts(self.emu, name), [], "create was POSTed: " + err)

    def mount_tmpfs(self, options):
        target = os.path.join(self.tmp, "mnt")
        os.mkdir(target)
        ok, why = try_mount(target, options)
        if not ok:
            self.skipTest("mount -t tmpfs -o %s is not permitted here (%s); "
                          "this case is not covered" % (options, why))
        self.addCleanup(umount, target)
        return target

    # ------------------------------------------------------------ cases
    def test_missing_parents_are_made(self):
        # The platform does not promise the folder: mkdir -p, like public plugins.
        name = rel.branch_name("od-missing")
        outdir = os.path.join(self.tmp, "no", "such", "out")
        code, _, err = self.create("od-missing", outdir)
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(os.listdir(outdir)), OUTPUT_FILES)
        code, _, err = rel.run(["delete", "--sandbox", "od-missing"], self.emu.env())
        self.assertEqual(code, 0, err)
        self.assertEqual([b for b in self.rows(name) if b["deletedAt"] is None], [])

    def test_failed_second_write_keeps_the_first_set(self):
        """A second create into a folder that already holds a complete set
        fails while writing (a full disk after the pre-flight): every file
        still holds the first run's value, none is missing or mixed."""
        target = self.mount_tmpfs("size=64k")
        code, _, err = self.create("od-keep-a", target)
        self.assertEqual(code, 0, err)
        before = read_set(target)
        # Fill what is left but one page: the probe fits, eight new files do not.
        fill_disk(target, give_back=4096)
        code, _, err = self.create("od-keep-b", target)
        self.assertEqual(code, 9, err)
        after = read_set(target)
        self.assertEqual(after, before)
        self.assertEqual(sorted(os.listdir(target)), sorted(OUTPUT_FILES + ["filler"]))
        self.assertEqual([b for b in self.rows(rel.branch_name("od-keep-b")) if b["deletedAt"] is None],
                         [], "the second run's branch was left")
        rel.run(["delete", "--sandbox", "od-keep-a"], self.emu.env())

    def test_missing_folder_existing_parent_is_created(self):
        name = rel.branch_name("od-mkdir")
        outdir = os.path.join(self.tmp, "fresh")
        code, _, err = self.create("od-mkdir", outdir)
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(os.listdir(outdir)), OUTPUT_FILES)
        self.assertEqual(len([b for b in self.rows(name) if b["deletedAt"] is None]), 1)
        code, _, err = rel.run(["delete", "--sandbox", "od-mkdir"], self.emu.env())
        self.assertEqual(code, 0, err)

    def test_an_empty_folder_path_is_refused_before_any_request(self):
        # What a plugin template gives for an unset variable: it used to pass
        # the pre-flight (the working folder) and cost a branch. reset too:
        # it must not delete the sandbox's branch first.
        name = rel.branch_name("od-empty")
        code, out, err = self.create("od-empty", "")
        self.assertEqual(code, 2, err)
        self.assertIn("--output-dir", err)
        self.assert_no_branch_made(name, err)
        code, _, err = self.create("od-empty", os.path.join(self.tmp, "ok"))
        self.assertEqual(code, 0, err)
        [before] = [b for b in self.rows(name) if b["deletedAt"] is None]
        code, _, err = rel.run(["reset", "--sandbox", "od-empty", "--sslmode", "disable",
                                "--output-dir", ""], self.emu.env())
        self.assertEqual(code, 2, err)
        self.assertEqual([b["id"] for b in self.rows(name) if b["deletedAt"] is None],
                         [before["id"]])
        rel.run(["delete", "--sandbox", "od-empty"], self.emu.env())

    def test_under_a_regular_file(self):
        # Works as root: no permission bit is involved, the path cannot exist.
        plain = os.path.join(self.tmp, "plainfile")
        with open(plain, "w") as f:
            f.write("x")
        name = rel.branch_name("od-file")
        code, _, err = self.create("od-file", os.path.join(plain, "out"))
        self.assertEqual(code, 9, err)
        self.assertIn(plain + " is a file, not a folder", err)
        self.assert_no_branch_made(name, err)
        code, _, err = self.create("od-file", plain)  # the folder is a file
        self.assertEqual(code, 9, err)
        self.assertIn("not a folder", err)
        self.assert_no_branch_made(name, err)
        with open(plain) as f:
            self.assertEqual(f.read(), "x")

    def test_read_only_mount(self):
        target = self.mount_tmpfs("ro,size=64k")
        name = rel.branch_name("od-ro")
        code, _, err = self.create("od-ro", target)
        self.assertEqual(code, 9, err)
        self.assertIn("Read-only file system", err)
        self.assertEqual(os.listdir(target), [])
        self.assert_no_branch_made(name, err)
        # A missing folder inside a read-only parent cannot be made either.
        code, _, err = self.create("od-ro", os.path.join(target, "sub"))
        self.assertEqual(code, 9, err)
        self.assert_no_branch_made(name, err)

    def test_disk_already_full(self):
        target = self.mount_tmpfs("size=16k")
        fill_disk(target)
        name = rel.branch_name("od-full")
        code, _, err = self.create("od-full", target)
        self.assertEqual(code, 9, err)
        self.assertIn("No space left on device", err)
        self.assertEqual(os.listdir(target), ["filler"])
        self.assert_no_branch_made(name, err)

    def test_disk_fills_while_writing_outputs(self):
        """Room for the pre-flight probe (one page) but not for the eight
        files (a page each): the branch is made, the writes fail, no file is
        left, and the branch this run made is deleted."""
        target = self.mount_tmpfs("size=8k")
        name = rel.branch_name("od-fills")
        code, _, err = self.create("od-fills", target)
        self.assertEqual(code, 9, err)
        self.assertIn("No space left on device", err)
        self.assertIn("created by this run was deleted", err)
        self.assertEqual(os.listdir(target), [], "partial files left")
        rows = self.rows(name)
        self.assertEqual(len(rows), 1, rows)
        self.assertIsNotNone(rows[0]["deletedAt"], "orphan branch left: %r" % rows[0])
        self.assertEqual(len(rel.posts(self.emu, name)), 1)


if __name__ == "__main__":
    harness.main()
