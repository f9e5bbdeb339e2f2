"""End to end: `delete` (with or without --force, by name or by id) never
deletes a branch that is the parent of live branches: exit 5 naming a child,
no DELETE sent; once the child is gone the branch goes."""

import shutil

from e2e_common import E2ECase, main


class DeleteGuardTest(E2ECase):

    def setUp(self):
        super().setUp()
        self.addCleanup(lambda: (self.emu.stop(), shutil.rmtree(self.emu.tmp, ignore_errors=True)))

    def test_the_parent_of_a_live_branch_is_never_deleted(self):
        self.create("g-parent")
        [parent] = self.active("sb-g-parent-")
        self.emu.wait_ready(parent["id"])
        r = self.emu.create_branch("sb-g-child", parent_id=parent["id"])
        self.assertEqual(r.status, 201, r)
        child_id = r.json()["id"]

        for args in (["--sandbox", "g-parent"], ["--sandbox", "g-parent", "--force"],
                     ["--branch-id", parent["id"], "--force"], ["--branch", parent["name"]]):
            code, out, err = self.xb("delete", *args)
            self.assertEqual(code, 5, (args, out, err))
            self.assertIn("refusing to delete '%s': it is the parent of 1 live branch, e.g. "
                          "'sb-g-child' (id %s)" % (parent["name"], child_id), err)
            self.assertIn("delete its child branches first", err)
            self.assertEqual(out, "")
        self.assertEqual(self.api_calls("DELETE"), [])
        self.assertEqual(len(self.active("sb-g-")), 2)

        code, out, err = self.xb("delete", "--branch", "sb-g-child")
        self.assertEqual(code, 0, err)
        code, out, err = self.xb("delete", "--sandbox", "g-parent")
        self.assertEqual(code, 0, err)
        self.assertIn("Deleted branch " + parent["name"], out)
        self.assertEqual(self.active("sb-g-"), [])


if __name__ == "__main__":
    main()
