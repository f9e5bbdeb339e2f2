"""xbranch diff end to end on real PostgreSQL: the emulator makes each branch
a real database (a template copy of its parent); migrations on the child add,
change and drop each kind of object, and every change shows in text,
Markdown and JSON. A fresh branch shows none (exit 0)."""

import json
import os
import tempfile
import urllib.parse

from e2e_common import CREATE_FLAGS, E2ECase, harness, main

EXIT_DIFFERS = 14

# The parent: one object of every kind to change and one to drop.
PARENT_SQL = r"""
CREATE EXTENSION citext VERSION '1.5';
CREATE EXTENSION hstore;
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text, age int, legacy text);
INSERT INTO users (name, age) VALUES ('ada', 36), ('grace', 45), ('linus', 21);
CREATE TABLE old_table (id int PRIMARY KEY, note text);
CREATE INDEX users_name_idx ON users (name);
CREATE INDEX users_age_idx ON users (age);
ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age >= 0);
ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE (name);
CREATE VIEW adults AS SELECT id, name FROM users WHERE age >= 18;
CREATE VIEW old_view AS SELECT id FROM users;
CREATE FUNCTION add_one(i integer) RETURNS integer LANGUAGE sql AS 'SELECT i + 1';
CREATE FUNCTION old_fn() RETURNS integer LANGUAGE sql AS 'SELECT 1';
"""

# On the child: add, change and drop each kind.
MIGRATION_SQL = r"""
CREATE EXTENSION pgcrypto;
DROP EXTENSION hstore;
ALTER EXTENSION citext UPDATE TO '1.6';
CREATE TABLE orders (id bigint PRIMARY KEY, user_id int REFERENCES users (id),
                     total numeric(10,2) NOT NULL DEFAULT 0);
DROP TABLE old_table;
CREATE TABLE "we|ird`tab" ("col|1" int);
ALTER TABLE users ADD COLUMN nickname citext;
ALTER TABLE users DROP COLUMN legacy;
ALTER TABLE users ALTER COLUMN email TYPE varchar(200);
ALTER TABLE users ALTER COLUMN age SET NOT NULL, ALTER COLUMN age SET DEFAULT 0;
CREATE INDEX users_nickname_idx ON users (nickname);
DROP INDEX users_age_idx;
DROP INDEX users_name_idx;
CREATE INDEX users_name_idx ON users (lower(name));
ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email LIKE '%@%');
ALTER TABLE users DROP CONSTRAINT users_name_key;
ALTER TABLE users DROP CONSTRAINT users_age_check,
                  ADD CONSTRAINT users_age_check CHECK (age >= 0 AND age < 200);
CREATE VIEW emails AS SELECT email FROM users;
DROP VIEW old_view;
CREATE OR REPLACE VIEW adults AS SELECT id, name FROM users WHERE age >= 21;
CREATE FUNCTION greet(n text) RETURNS text LANGUAGE sql AS $$SELECT 'hi ' || n$$;
DROP FUNCTION old_fn();
CREATE OR REPLACE FUNCTION add_one(i integer) RETURNS integer LANGUAGE sql AS 'SELECT i + 2';
"""

WEIRD = 'public."we|ird`tab"'

# (change, kind, name) of every change the migration makes.
EXPECTED = {
    ("changed", "extension", "citext"),
    ("dropped", "extension", "hstore"),
    ("added", "extension", "pgcrypto"),
    ("added", "table", "public.orders"),
    ("dropped", "table", "public.old_table"),
    ("added", "table", WEIRD),
    ("added", "column", "public.users.nickname"),
    ("dropped", "column", "public.users.legacy"),
    ("changed", "column", "public.users.email"),
    ("changed", "column", "public.users.age"),
    ("added", "index", "public.users_nickname_idx"),
    ("dropped", "index", "public.users_age_idx"),
    ("changed", "index", "public.users_name_idx"),
    ("added", "constraint", "public.users.users_email_check"),
    ("dropped", "constraint", "public.users.users_name_key"),
    ("changed", "constraint", "public.users.users_age_check"),
    ("added", "view", "public.emails"),
    ("dropped", "view", "public.old_view"),
    ("changed", "view", "public.adults"),
    ("added", "function", "public.greet(text)"),
    ("dropped", "function", "public.old_fn()"),
    ("changed", "function", "public.add_one(integer)"),
}

SIGN = {"added": "+", "dropped": "-", "changed": "~"}

_seed = None


def parent_seed():
    global _seed
    if _seed is None:
        fd, _seed = tempfile.mkstemp(prefix="xbranch-diff-seed-", suffix=".sql")
        with os.fdopen(fd, "w") as f:
            f.write(PARENT_SQL)
        harness.at_cleanup(lambda: os.path.exists(_seed) and os.unlink(_seed))
    return _seed


class DiffTest(E2ECase):
    def setUp(self):
        self.emulator_options = {"seed_sql": parent_seed()}
        super().setUp()

    def diff(self, sandbox, *extra, expect=None):
        code, out, err = self.xb("diff", "--sandbox", sandbox, "--sslmode", "disable", *extra)
        if expect is not None:
            self.assertEqual(code, expect, "diff %s: stdout=%r stderr=%r" % (extra, out, err))
        return code, out, err

    def branch_url(self, sandbox):
        code, out, err = self.xb("url", "--sandbox", sandbox, "--sslmode", "disable")
        self.assertEqual(code, 0, err)
        return out.strip()

    def migrate(self, sandbox, sql):
        """Runs sql on the branch's database as the superuser (it drops and
        updates extensions the branch's role does not own)."""
        database = urllib.parse.urlparse(self.branch_url(sandbox)).path.lstrip("/")
        harness.psql(self.superuser(database), sql)

    def test_a_fresh_branch_shows_no_difference(self):
        self.create("df-clean")
        code, out, err = self.diff("df-clean", expect=0)
        self.assertIn("against its parent main: no schema changes", out)
        code, out, err = self.diff("df-clean", "--format", "json", expect=0)
        doc = json.loads(out)
        self.assertTrue(doc["identical"])
        self.assertEqual(doc["changes"], [])
        self.assertEqual(doc["parent"]["name"], "main")
        code, out, err = self.diff("df-clean", "--format", "markdown", expect=0)
        self.assertTrue(out.startswith("<!-- xbranch-schema-diff -->\n"), out)
        self.assertIn("No schema changes.", out)

    def test_every_kind_of_change_shows_in_every_format(self):
        self.create("df-mig")
        self.migrate("df-mig", MIGRATION_SQL)

        code, out, err = self.diff("df-mig", "--format", "json", expect=EXIT_DIFFERS)
        doc = json.loads(out)
        self.assertFalse(doc["identical"])
        got = {(c["change"], c["kind"], c["name"]) for c in doc["changes"]}
        self.assertEqual(got, EXPECTED)
        self.assertEqual(doc["summary"], {"added": 8, "changed": 7, "dropped": 7})
        by_name = {c["name"]: c for c in doc["changes"]}
        email = {a["attribute"]: (a["before"], a["after"]) for a in
                 by_name["public.users.email"]["changes"]}
        self.assertEqual(email, {"type": ("text", "character varying(200)")})
        age = {a["attribute"]: (a["before"], a["after"]) for a in
               by_name["public.users.age"]["changes"]}
        self.assertEqual(age, {"nullable": ("yes", "no"), "default": ("", "0")})
        citext = by_name["citext"]["changes"]
        self.assertEqual(citext, [{"attribute": "version", "before": "1.5", "after": "1.6"}])
        self.assertEqual(by_name["public.users.nickname"]["attributes"]["type"], "public.citext")
        orders = by_name["public.orders"]["details"]
        self.assertIn("total numeric(10,2) not null default 0", orders)
        self.assertIn("constraint orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES "
                      "public.users(id)", orders)
        add_one = {a["attribute"]: a for a in by_name["public.add_one(integer)"]["changes"]}
        self.assertIn("i + 2", add_one["definition"]["after"])
        # Parts of a table added or dropped whole are not changes of their own.
        self.assertNotIn("public.orders.total", by_name)
        self.assertNotIn("public.old_table.note", by_name)

        code, text, err = self.diff("df-mig", expect=EXIT_DIFFERS)
        for change, kind, name in EXPECTED:
            self.assertIn("\n%s %s %s" % (SIGN[change], kind, name), text)
        self.assertIn("    type: text -> character varying(200)\n", text)
        self.assertIn("    version: 1.5 -> 1.6\n", text)
        self.assertIn("      -  WHERE users.age >= 18;\n      +  WHERE users.age >= 21;\n", text)

        code, md, err = self.diff("df-mig", "--format", "markdown", expect=EXIT_DIFFERS)
        self.assertTrue(md.startswith("<!-- xbranch-schema-diff -->\n"), md)
        for change, kind, name in EXPECTED:
            if name == WEIRD:
                continue
            self.assertIn("| %s | %s | `%s` |" % (change, kind, name), md)
        # The | is escaped and the backtick fenced by a longer run.
        self.assertIn("| added | table | ``public.\"we\\|ird`tab\"`` |", md)
        self.assertIn("| `\"col\\|1\" integer` |", md)
        self.assertIn("type: `text` → `character varying(200)`", md)
        self.assertIn("```diff\n", md)
        self.assertIn("\n-AS $function$SELECT i + 1$function$\n+AS $function$SELECT i + 2$function$\n", md)

    def test_no_password_in_any_output(self):
        self.create("df-secret")
        self.migrate("df-secret", "CREATE TABLE t (x int)")
        password = urllib.parse.unquote(urllib.parse.urlparse(self.branch_url("df-secret")).password)
        self.assertTrue(password)
        for fmt in ("text", "markdown", "json"):
            code, out, err = self.diff("df-secret", "--format", fmt, "-vv", expect=EXIT_DIFFERS)
            self.assertNotIn(password, out + err)
            self.assertNotIn(urllib.parse.quote(password, safe=""), out + err)

    def test_help_documents_the_exit_code(self):
        code, out, err = self.xb("diff", "--help")
        self.assertEqual(code, 0)
        self.assertIn("14 when they differ", out)
        self.assertRegex(out, r"\n  14 +diff: the schemas differ")

    def test_a_root_branch_has_no_parent_to_compare(self):
        code, out, err = self.xb("diff", "--branch", "main", "--sslmode", "disable")
        self.assertEqual(code, 4, err)
        self.assertIn("has no parent to compare it with", err)
        self.assertEqual(out, "")

    def test_a_database_the_branches_lack_is_not_connectable(self):
        self.create("df-nodb")
        code, out, err = self.diff("df-nodb", "--database", "nope")
        self.assertEqual(code, 11, err)
        self.assertIn("no login to parent main (database 'nope')", err)
        self.assertEqual(out, "")

    def test_a_missing_branch_is_not_found(self):
        code, out, err = self.diff("df-nothing")
        self.assertEqual(code, 4, err)


if __name__ == "__main__":
    main()
