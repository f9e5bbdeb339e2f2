"""PostgreSQL mode: branches are real databases with their own roles."""

import os
import tempfile
import threading
import urllib.parse

from emu_common import EmulatorTestCase, harness

SEED = """
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO items (name) VALUES ('alpha'), ('beta');
CREATE SCHEMA app;
CREATE TABLE app.settings (k text PRIMARY KEY, v text);
INSERT INTO app.settings VALUES ('colour', 'blue');
CREATE VIEW item_names AS SELECT name FROM items;
CREATE TYPE mood AS ENUM ('ok', 'bad');
CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
"""


def superuser(emu, db="postgres"):
    return emu.cluster.conninfo(db)


def exists(emu, kind, name):
    table, col = {"db": ("pg_database", "datname"), "role": ("pg_roles", "rolname")}[kind]
    out = harness.psql(superuser(emu), "SELECT count(*) FROM %s WHERE %s = '%s'" % (table, col, name))
    return out.strip() == "1"


class PgTest(EmulatorTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fd, cls.seed_file = tempfile.mkstemp(suffix=".sql")
        with os.fdopen(fd, "w") as f:
            f.write(SEED)

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.seed_file)

    def setUp(self):
        self.emu = harness.Emulator(seed_sql=self.seed_file, hibernated_ms=50,
                                    transient_ms=50).start()
        self.root = self.emu.root_branch()

    def tearDown(self):
        self.emu.stop()

    def new_branch(self, name, parent=None):
        r = self.emu.create_branch(name, parent_id=parent)
        self.assertEqual(r.status, 201, r)
        bid = r.json()["id"]
        self.emu.wait_ready(bid)
        return bid

    def creds(self, bid):
        r = self.emu.api("GET", "/branches/%s/credentials?username=xata" % bid)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_root_database_exists_and_is_seeded(self):
        self.assertTrue(self.root["database"].startswith(self.emu.prefix + "main_"))
        out = harness.psql(superuser(self.emu, self.root["database"]),
                           "SELECT string_agg(name, ',' ORDER BY id) FROM items")
        self.assertEqual(out.strip(), "alpha,beta")
        c = self.creds(self.root["id"])
        self.assertEqual(harness.psql(c["connectionString"], "SELECT count(*) FROM items").strip(), "2")

    def test_child_sees_parent_data_and_writes_stay_in_child(self):
        bid = self.new_branch("sb-child")
        url = self.creds(bid)["connectionString"]
        self.assertEqual(harness.psql(url, "SELECT string_agg(name, ',' ORDER BY id) FROM items").strip(),
                         "alpha,beta")
        self.assertEqual(harness.psql(url, "SELECT v FROM app.settings").strip(), "blue")
        self.assertEqual(harness.psql(url, "SELECT answer()").strip(), "42")
        self.assertEqual(harness.psql(url, "SELECT count(*) FROM item_names").strip(), "2")
        # The branch role owns what it got, so it can write and change it.
        harness.psql(url, "INSERT INTO items (name) VALUES ('child-only'); "
                          "UPDATE app.settings SET v = 'red'; "
                          "ALTER TABLE items ADD COLUMN extra int; "
                          "CREATE TABLE child_table (x int); SELECT 'ok'::mood")
        self.assertEqual(harness.psql(url, "SELECT count(*) FROM items").strip(), "3")
        parent = superuser(self.emu, self.root["database"])
        self.assertEqual(harness.psql(parent, "SELECT count(*) FROM items").strip(), "2")
        self.assertEqual(harness.psql(parent, "SELECT v FROM app.settings").strip(), "blue")
        self.assertEqual(harness.psql(parent, "SELECT to_regclass('child_table') IS NULL").strip(), "t")
        owner = harness.psql(url, "SELECT tableowner FROM pg_tables WHERE tablename = 'items'").strip()
        self.assertEqual(owner, self.creds(bid)["username"])

    def test_grandchild_copies_child(self):
        child = self.new_branch("sb-c1")
        harness.psql(self.creds(child)["connectionString"], "INSERT INTO items (name) VALUES ('gamma')")
        grand = self.new_branch("sb-c2", parent=child)
        url = self.creds(grand)["connectionString"]
        self.assertEqual(harness.psql(url, "SELECT count(*) FROM items").strip(), "3")
        harness.psql(url, "DELETE FROM items")
        self.assertEqual(harness.psql(self.creds(child)["connectionString"],
                                      "SELECT count(*) FROM items").strip(), "3")

    def test_branch_role_cannot_reach_other_branches(self):
        a = self.new_branch("sb-a")
        b = self.new_branch("sb-b")
        ca, cb = self.creds(a), self.creds(b)
        other = "postgresql://%s:%s@%s:%d/%s" % (
            urllib.parse.quote(ca["username"], safe=""), urllib.parse.quote(ca["password"], safe=""),
            cb["hostname"], cb["port"], cb["dbname"])
        code, _, err = harness.psql(other, "SELECT 1", check=False)
        self.assertNotEqual(code, 0)
        self.assertIn("permission denied", err)

    def test_copy_while_parent_in_use(self):
        # A session held open on the parent must not make the copy fail.
        import subprocess
        holder = subprocess.Popen(["psql", "-X", "-q", "-d", superuser(self.emu, self.root["database"]),
                                   "-c", "SELECT pg_sleep(20)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import time
            time.sleep(0.5)
            bid = self.new_branch("sb-busy")
            self.assertEqual(harness.psql(self.creds(bid)["connectionString"],
                                          "SELECT count(*) FROM items").strip(), "2")
            # The parent accepts sessions again afterwards.
            self.assertEqual(harness.psql(superuser(self.emu, self.root["database"]),
                                          "SELECT datallowconn FROM pg_database "
                                          "WHERE datname = current_database()").strip(), "t")
        finally:
            holder.kill()
            holder.wait()

    def test_delete_drops_database_and_role(self):
        bid = self.new_branch("sb-gone")
        c = self.creds(bid)
        harness.psql(c["connectionString"], "SELECT 1")
        self.assertTrue(exists(self.emu, "db", c["dbname"]))
        self.assertTrue(exists(self.emu, "role", c["username"]))
        self.assertEqual(self.emu.api("DELETE", "/branches/" + bid).status, 204)
        self.assertFalse(exists(self.emu, "db", c["dbname"]))
        self.assertFalse(exists(self.emu, "role", c["username"]))
        entry = [b for b in self.emu.branches() if b["id"] == bid][0]
        self.assertEqual(entry["dbState"], "dropped")
        self.assertEqual(entry["database"], c["dbname"])

    def test_delete_while_creating(self):
        r = self.emu.create_branch("sb-quick")
        bid = r.json()["id"]
        db = [b for b in self.emu.branches() if b["id"] == bid][0]["database"]
        self.assertEqual(self.emu.api("DELETE", "/branches/" + bid).status, 204)
        harness.wait_until(lambda: [b for b in self.emu.branches() if b["id"] == bid][0]["dbState"] == "dropped",
                           30, "the database dropped")
        self.assertFalse(exists(self.emu, "db", db))

    def test_hosted_shape_special_password(self):
        self.emu.set_config(passwordStyle="special")
        bid = self.new_branch("sb-special")
        c = self.creds(bid)
        for ch in "@:/?#%&+ '\"":
            self.assertIn(ch, c["password"])
        self.assertEqual((c["hostname"], c["port"]), ("127.0.0.1", self.emu.cluster.port))
        self.assertNotIn("sslmode", c["connectionString"])
        self.assertEqual(harness.psql(c["connectionString"], "SELECT current_user").strip(), c["username"])
        # The plain fields work too (password through the environment).
        out = harness.psql("host=%s port=%d dbname=%s user=%s" % (c["hostname"], c["port"], c["dbname"],
                                                                 c["username"]),
                           "SELECT count(*) FROM items", env={"PGPASSWORD": c["password"]})
        self.assertEqual(out.strip(), "2")

    def test_core_shape_connection_string_from_describe(self):
        self.emu.set_config(credentialsShape="core", passwordStyle="special")
        bid = self.new_branch("sb-core")
        c = self.creds(bid)
        self.assertEqual(set(c), {"username", "password"})
        url = self.emu.api("GET", "/branches/" + bid).json()["connectionString"]
        self.assertIn("sslmode=disable", url)
        u = urllib.parse.urlsplit(url)
        self.assertEqual(urllib.parse.unquote(u.password), c["password"])
        self.assertEqual(harness.psql(url, "SELECT count(*) FROM items").strip(), "2")

    def test_concurrent_creates_and_deletes(self):
        results = {}

        def work(i):
            try:
                r = self.emu.create_branch("sb-par-%d" % i)
                results[i] = r.status
                if r.status == 201:
                    bid = r.json()["id"]
                    self.emu.wait_ready(bid, timeout=120)
                    c = self.creds(bid)
                    harness.psql(c["connectionString"], "INSERT INTO items (name) VALUES ('%d')" % i)
                    results[i] = int(harness.psql(c["connectionString"], "SELECT count(*) FROM items"))
                    results[i] = (results[i], self.emu.api("DELETE", "/branches/" + bid).status)
            except Exception as e:  # reported below
                results[i] = repr(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, {i: (3, 204) for i in range(20)})
        left = harness.psql(superuser(self.emu), "SELECT count(*) FROM pg_database WHERE datname LIKE '%s%%'"
                            % self.emu.prefix.replace("_", "\\_")).strip()
        self.assertEqual(left, "1")


class DropOnExitTest(EmulatorTestCase):
    def test_drop_on_exit_removes_everything(self):
        emu = harness.Emulator(hibernated_ms=0, transient_ms=0).start()
        try:
            bid = emu.create_branch("sb-x").json()["id"]
            emu.wait_ready(bid)
            names = [(b["database"], b["role"]) for b in emu.branches()]
        finally:
            self.assertEqual(emu.stop(), 0)
        for db, role in names:
            self.assertFalse(exists(emu, "db", db))
            self.assertFalse(exists(emu, "role", role))

    def test_without_drop_on_exit_databases_stay(self):
        emu = harness.Emulator(hibernated_ms=0, transient_ms=0, drop_on_exit=False).start()
        try:
            names = [(b["database"], b["role"]) for b in emu.branches()]
        finally:
            self.assertEqual(emu.stop(), 0)
        try:
            for db, role in names:
                self.assertTrue(exists(emu, "db", db))
                self.assertTrue(exists(emu, "role", role))
        finally:
            for db, role in names:
                harness.psql(superuser(emu), 'DROP DATABASE IF EXISTS "%s"' % db)
                harness.psql(superuser(emu), 'DROP ROLE IF EXISTS "%s"' % role)


if __name__ == "__main__":
    harness.main()
