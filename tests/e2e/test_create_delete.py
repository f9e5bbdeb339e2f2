"""End to end: xbranch create / delete / status / url / list against the
emulator with real PostgreSQL branches."""

import json
import os
import re
import shlex
import urllib.parse

from e2e_common import E2ECase, FAST, harness, main, OUTPUT_FILES

MASK = "********"


class CreateDeleteTest(E2ECase):
    # The stepped progression: create waits through HIBERNATED and TRANSIENT.
    emulator_options = FAST

    def test_create_writes_outputs_branch_is_a_copy_and_delete_removes_it(self):
        out_dir = os.path.join(self.tmp, "outputs")
        code, out, err = self.create("feat-one", "--output-dir", out_dir)
        self.assertIn("sb-feat-one-", out)
        v = self.assert_output_dir(out_dir)
        self.assertTrue(v["branch-name"].startswith("sb-feat-one-"), v["branch-name"])
        self.assertRegex(v["branch-id"], r"^[a-v][0-9a-v]{25}$")
        [b] = self.active("sb-feat-one-")
        self.assertEqual(b["id"], v["branch-id"])
        self.assertEqual(b["name"], v["branch-name"])
        self.assertEqual(b["parentID"], self.root["id"])
        self.assertEqual(b["state"], "STATUS_TYPE_HEALTHY")
        # It polled the branch until HEALTHY: more than one look at it.
        looks = [r for r in self.emu.requests()
                 if r["method"] == "GET" and r["path"].endswith("/branches/" + b["id"])]
        self.assertGreaterEqual(len(looks), 2, looks)
        self.assertEqual((v["host"], v["port"]), (self.emu.cluster.host, str(self.emu.cluster.port)))
        self.assertEqual(v["database"], b["database"])
        self.assertEqual(v["username"], b["role"])
        url = v["connection-string"]
        parsed = urllib.parse.urlsplit(url)
        self.assertEqual(urllib.parse.unquote(parsed.password), v["password"])
        self.assertEqual(urllib.parse.unquote(parsed.username), v["username"])
        self.assertIn("sslmode=disable", url)
        # The password is not printed.
        self.assertNotIn(v["password"], out + err)

        # The copy holds the parent's rows; the branch's writes stay there.
        self.assertEqual(harness.psql(url, "SELECT string_agg(name, ',' ORDER BY id) FROM users").strip(),
                         "ada,grace,linus")
        self.assertEqual(harness.psql(url, "SELECT current_user").strip(), v["username"])
        harness.psql(url, "INSERT INTO users (name) VALUES ('only-in-branch')")
        self.assertEqual(harness.psql(url, "SELECT count(*) FROM users").strip(), "4")
        self.assertEqual(harness.psql(self.superuser(self.root["database"]),
                                      "SELECT count(*) FROM users WHERE name = 'only-in-branch'").strip(), "0")
        self.assertTrue(self.db_exists(b["database"]))
        self.assertTrue(self.role_exists(b["role"]))

        code, out, err = self.xb("delete", "--sandbox", "feat-one")
        self.assertEqual(code, 0, err)
        self.assertIn("Deleted branch " + v["branch-name"], out)
        self.assertFalse(self.db_exists(b["database"]), "branch database still exists")
        self.assertFalse(self.role_exists(b["role"]), "branch role still exists")
        [gone] = self.all_named("sb-feat-one-")
        self.assertIsNotNone(gone["deletedAt"])
        self.assertEqual(gone["state"], "DELETED")
        self.assertEqual(gone["dbState"], "dropped")
        # The parent is untouched.
        self.assertTrue(self.db_exists(self.root["database"]))

        code, out, err = self.xb("delete", "--sandbox", "feat-one")
        self.assertEqual(code, 0, err)
        self.assertRegex(out + err, r"(?i)already")
        self.assertEqual(len(self.api_calls("DELETE")), 1, "a second DELETE was sent")

    def test_create_twice_adopts_the_same_branch(self):
        out_dir = os.path.join(self.tmp, "o")
        self.create("twice", "--output-dir", out_dir)
        first = self.assert_output_dir(out_dir)
        posts_before = len(self.api_calls("POST", r"/branches$"))
        self.assertEqual(posts_before, 1)
        code, out, err = self.create("twice", "--output-dir", out_dir, "--output", "json")
        second = self.assert_output_dir(out_dir)
        self.assertEqual(first, second)
        doc = json.loads(out)
        self.assertEqual(doc["branch"]["id"], first["branch-id"])
        self.assertTrue(doc["branch"]["adopted"])
        self.assertIn("adopting it", err)       # not "creating branch"
        self.assertNotIn("creating branch", err)
        self.assertEqual(len(self.active("sb-twice-")), 1)
        self.assertEqual(len(self.all_named("sb-twice-")), 1)
        later_posts = self.api_calls("POST", r"/branches$")[posts_before:]
        self.assertTrue(all(p["status"] == 409 for p in later_posts), later_posts)

    def test_distinct_sandboxes_get_distinct_branches(self):
        _, a, _ = self.create("alpha", "--output", "json")
        _, b, _ = self.create("beta", "--output", "json")
        _, c, _ = self.create("alpha", "--sandbox-id", "sbx-123", "--output", "json")
        ids = {json.loads(x)["branch"]["id"] for x in (a, b, c)}
        names = {json.loads(x)["branch"]["name"] for x in (a, b, c)}
        self.assertEqual(len(ids), 3)
        self.assertEqual(len(names), 3)
        self.assertEqual(len(self.active("sb-alpha-")), 2)
        self.assertEqual(len(self.active("sb-beta-")), 1)
        # The sandbox id is part of the identity: delete with it removes that one only.
        code, _, err = self.xb("delete", "--sandbox", "alpha", "--sandbox-id", "sbx-123")
        self.assertEqual(code, 0, err)
        [left] = self.active("sb-alpha-")
        self.assertEqual(left["id"], json.loads(a)["branch"]["id"])

    def test_parent_by_name_and_by_id_and_missing_parent(self):
        r = self.emu.create_branch("staging")
        self.assertEqual(r.status, 201, r)
        staging = r.json()["id"]
        self.emu.wait_ready(staging)
        _, js, _ = self.create("kid-by-name", "--parent", "staging", "--output", "json")
        self.assertEqual(json.loads(js)["branch"]["parentID"], staging)
        _, js, _ = self.create("kid-by-id", "--parent", staging, "--output", "json")
        self.assertEqual(json.loads(js)["branch"]["parentID"], staging)
        _, js, _ = self.create("kid-by-env", "--output", "json", env={"XATA_BRANCH_NAME": "staging"})
        self.assertEqual(json.loads(js)["branch"]["parentID"], staging)
        for name in ("sb-kid-by-name-", "sb-kid-by-id-", "sb-kid-by-env-"):
            [b] = self.active(name)
            self.assertEqual(b["parentID"], staging)
        posts = len(self.api_calls("POST"))
        code, out, err = self.create("orphan", "--parent", "no-such-branch", expect=4)
        self.assertIn("no-such-branch", err)
        code, out, err = self.create("orphan2", "--parent", "a" * 26, expect=4)
        self.assertEqual(self.active("sb-orphan"), [])
        self.assertTrue(all(p["status"] == 404 for p in self.api_calls("POST")[posts:]))

    def test_delete_refuses_the_parent_and_foreign_names(self):
        code, out, err = self.xb("delete", "--branch", "main")
        self.assertEqual(code, 5, (out, err))
        code, out, err = self.xb("delete", "--branch-id", self.root["id"])
        self.assertEqual(code, 5, (out, err))
        r = self.emu.create_branch("hand-made")
        self.assertEqual(r.status, 201, r)
        code, out, err = self.xb("delete", "--branch", "hand-made")
        self.assertEqual(code, 2, (out, err))
        self.assertIn("--force", err)
        self.assertEqual(len(self.active("hand-made")), 1)
        self.assertEqual(self.api_calls("DELETE"), [])
        code, out, err = self.xb("delete", "--branch", "hand-made", "--force")
        self.assertEqual(code, 0, (out, err))
        self.assertEqual(self.active("hand-made"), [])
        self.assertIsNone(self.emu.root_branch()["deletedAt"])


if __name__ == "__main__":
    main()
