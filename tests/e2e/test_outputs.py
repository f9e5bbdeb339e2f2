"""End to end: what xbranch hands over (text/json/env output, secrets masked,
`url`, `status`, `list`, both credential shapes, special passwords, endpoints)."""

import json
import os
import re
import shlex
import subprocess
import urllib.parse

from e2e_common import CREATE_FLAGS, E2ECase, harness, main, OUTPUT_FILES

MASK = "********"


def parse_env(text):
    """`export NAME='value'` lines -> {NAME: value}; every line must be exported."""
    out = {}
    for line in text.strip().splitlines():
        assert line.startswith("export "), line
        k, v = line[len("export "):].split("=", 1)
        out[k] = shlex.split(v)[0]
    return out


class OutputsTest(E2ECase):

    def test_env_output_reaches_child_processes_through_eval(self):
        """The README's `eval "$(xbranch create ... --output env --show-secrets)"`:
        the values must be in the environment of a process the shell starts."""
        script = ('eval "$("$XB" create --sandbox evalenv --sslmode disable --timeout 30s '
                  '--output env --show-secrets)" && '
                  'env | grep -E "^(PGHOST|PGPORT|PGUSER|PGPASSWORD|PGDATABASE|DATABASE_URL|'
                  'XBRANCH_BRANCH_ID)=" | sort')
        env = dict(self.emu.env(), XB=harness.xbranch_bin(), PATH=os.environ.get("PATH", "/usr/bin:/bin"))
        r = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        child = dict(line.split("=", 1) for line in r.stdout.splitlines())
        self.assertEqual(sorted(child), ["DATABASE_URL", "PGDATABASE", "PGHOST", "PGPASSWORD",
                                         "PGPORT", "PGUSER", "XBRANCH_BRANCH_ID"], r.stdout)
        self.assertNotEqual(child["PGPASSWORD"], MASK)
        # The child got working credentials: psql started by the same shell connects.
        self.assertEqual(harness.psql(child["DATABASE_URL"], "SELECT count(*) FROM users").strip(), "3")

    def test_stdout_write_failure_is_exit_9(self):
        """/dev/full as stdout (a full disk) and a closed pipe: not a silent exit 0."""
        self.create("stdoutfail")  # exists, so each run below adopts it
        with open("/dev/full", "w") as full:
            r = subprocess.run([harness.xbranch_bin(), "create", "--sandbox", "stdoutfail"] + CREATE_FLAGS,
                               env=self.emu.env(), stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=120)
        self.assertEqual(r.returncode, 9, r.stderr)
        self.assertIn("standard output", r.stderr)
        for args in (["url", "--sandbox", "stdoutfail"], ["status", "--sandbox", "stdoutfail"]):
            with open("/dev/full", "w") as full:
                r = subprocess.run([harness.xbranch_bin()] + args, env=self.emu.env(), stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=60)
            self.assertEqual(r.returncode, 9, (args, r.stderr))
        # A pipe whose reader is gone.
        rfd, wfd = os.pipe()
        os.close(rfd)
        try:
            r = subprocess.run([harness.xbranch_bin(), "status", "--sandbox", "stdoutfail"],
                               env=self.emu.env(), stdout=wfd, stderr=subprocess.PIPE, text=True,
                               timeout=60)
        finally:
            os.close(wfd)
        self.assertEqual(r.returncode, 9, r.stderr)
        self.assertIn("standard output", r.stderr)

    def test_output_formats_mask_secrets_and_url_prints_the_real_one(self):
        _, text_out, _ = self.create("fmt")
        self.assertIn(MASK, text_out)
        code, url, err = self.xb("url", "--sandbox", "fmt", "--sslmode", "disable")
        self.assertEqual(code, 0, err)
        url = url.strip()
        password = urllib.parse.unquote(urllib.parse.urlsplit(url).password)
        self.assertTrue(password and password != MASK)
        self.assertEqual(harness.psql(url, "SELECT count(*) FROM users").strip(), "3")
        self.assertNotIn(password, text_out)

        _, js, _ = self.create("fmt", "--output", "json")
        doc = json.loads(js)
        self.assertEqual(doc["connection"]["password"], MASK)
        self.assertIn(":" + MASK + "@", doc["connection"]["connectionString"])
        self.assertNotIn(password, js)
        self.assertEqual(doc["connection"]["sslmode"], "disable")
        self.assertEqual(doc["connection"]["port"], self.emu.cluster.port)

        _, js, _ = self.create("fmt", "--output", "json", "--show-secrets")
        doc = json.loads(js)
        self.assertEqual(doc["connection"]["password"], password)
        self.assertEqual(doc["connection"]["connectionString"], url)

        _, envout, _ = self.create("fmt", "--output", "env")
        self.assertNotIn(password, envout)
        env = parse_env(envout)
        self.assertEqual(env["PGPASSWORD"], MASK)

        _, envout, _ = self.create("fmt", "--output", "env", "--show-secrets")
        env = parse_env(envout)
        self.assertEqual(env["PGPASSWORD"], password)
        self.assertEqual(env["DATABASE_URL"], url)
        self.assertEqual(harness.psql("host=%s port=%s dbname=%s user=%s" % (
            env["PGHOST"], env["PGPORT"], env["PGDATABASE"], env["PGUSER"]), "SELECT 1",
            env={"PGPASSWORD": env["PGPASSWORD"]}).strip(), "1")

        _, t2, _ = self.create("fmt", "--show-secrets")
        self.assertIn(password if "@" not in password else urllib.parse.quote(password, safe=""), t2)
        self.assertEqual(len(self.all_named("sb-fmt-")), 1)

    def test_status_and_list_show_the_branch(self):
        _, js, _ = self.create("stat", "--output", "json")
        doc = json.loads(js)
        bid, name = doc["branch"]["id"], doc["branch"]["name"]
        code, out, err = self.xb("status", "--sandbox", "stat")
        self.assertEqual(code, 0, err)
        self.assertIn(name, out)
        self.assertIn(bid, out)
        self.assertIn("HEALTHY", out)
        code, out, err = self.xb("status", "--sandbox", "stat", "--output", "json")
        self.assertEqual(code, 0, err)
        st = json.loads(out)
        self.assertEqual((st["id"], st["name"], st["status"], st["parentID"]),
                         (bid, name, "HEALTHY", self.root["id"]))
        code, out, err = self.xb("status", "--branch-id", bid, "--output", "json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["name"], name)

        code, out, err = self.xb("list")
        self.assertEqual(code, 0, err)
        self.assertIn(name, out)
        self.assertIn(bid, out)
        self.assertNotIn(" main ", out)  # only branches with the prefix
        code, out, err = self.xb("list", "--output", "json")
        self.assertEqual(code, 0, err)
        listed = json.loads(out)["branches"]
        self.assertEqual([(b["id"], b["name"], b["status"]) for b in listed], [(bid, name, "HEALTHY")])
        code, out, err = self.xb("list", "--all", "--output", "json")
        self.assertEqual(code, 0, err)
        self.assertEqual({b["name"] for b in json.loads(out)["branches"]}, {"main", name})

        # status of a missing branch: not found.
        self.assertEqual(self.xb("delete", "--sandbox", "stat")[0], 0)
        code, out, err = self.xb("status", "--sandbox", "stat")
        self.assertEqual(code, 4, (out, err))

    def check_shape(self, shape, style):
        self.emu.set_config(credentialsShape=shape, passwordStyle=style)
        sandbox = "shape-%s-%s" % (shape, style)
        out_dir = os.path.join(self.tmp, sandbox)
        self.create(sandbox, "--output-dir", out_dir)
        v = self.assert_output_dir(out_dir)
        if style == "special":
            self.assertTrue(re.search(r"[@:/?#%&+ '\"]", v["password"]), v["password"])
        # The connection string from the file, the one from `url`, and the
        # keyword form with the raw password all connect.
        self.assertEqual(harness.psql(v["connection-string"], "SELECT count(*) FROM users").strip(), "3")
        code, url, err = self.xb("url", "--sandbox", sandbox, "--sslmode", "disable")
        self.assertEqual(code, 0, err)
        self.assertEqual(url.strip(), v["connection-string"])
        self.assertEqual(harness.psql("host=%s port=%s dbname=%s user=%s" % (
            v["host"], v["port"], v["database"], v["username"]), "SELECT current_user",
            env={"PGPASSWORD": v["password"]}).strip(), v["username"])
        self.assertEqual(self.xb("delete", "--sandbox", sandbox)[0], 0)

    def test_credentials_shapes_and_special_passwords_connect(self):
        for shape in ("core", "hosted"):
            for style in ("plain", "special"):
                with self.subTest(shape=shape, style=style):
                    self.check_shape(shape, style)
        self.assertEqual(self.active("sb-shape-"), [])

    def test_pooler_endpoint_changes_the_first_label(self):
        # A host name (not the IP) so the first DNS label is visible; no connection
        # made (the name does not resolve, so the connection check is off).
        self.emu.stop()
        opts = dict(self.emu.options)
        opts.pop("drop_on_exit", None)
        import e2e_common
        self.emu = harness.Emulator(pg_public_host="db.emulator.test", seed_sql=e2e_common.seed_file(),
                                    **e2e_common.FAST).start()
        self.addCleanup(self.emu.stop)
        _, js, _ = self.create("pool", "--output", "json", "--endpoint", "pooler",
                               "--no-connect-check")
        conn = json.loads(js)["connection"]
        self.assertEqual(conn["host"], "db-pooler.emulator.test")
        self.assertIn("@db-pooler.emulator.test:", conn["connectionString"])
        _, js, _ = self.create("pool", "--output", "json", "--no-connect-check")
        self.assertEqual(json.loads(js)["connection"]["host"], "db.emulator.test")
        code, url, err = self.xb("url", "--sandbox", "pool", "--endpoint", "ro")
        self.assertEqual(code, 0, err)
        self.assertIn("@db-ro.emulator.test:", url)


if __name__ == "__main__":
    main()
