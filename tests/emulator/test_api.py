"""The emulator's branch API: each endpoint's status codes and shapes,
validation errors, conflicts, soft deletes, the admin branch table.
Memory mode (no PostgreSQL) unless a test says otherwise."""

import urllib.parse

from emu_common import EmulatorTestCase, harness


class ApiTest(EmulatorTestCase):
    def setUp(self):
        self.emu = harness.Emulator(pg=False, hibernated_ms=0, transient_ms=0).start()
        self.root = self.emu.root_branch()["id"]

    def tearDown(self):
        self.emu.stop()

    def test_project(self):
        r = self.emu.api("GET", "")
        self.assertEqual(r.status, 200)
        p = r.json()
        self.assert_fields(p, ["id", "name", "createdAt", "updatedAt", "configuration"], {})
        self.assertEqual(p["id"], harness.DEFAULT_PROJECT)
        self.assert_time(p["createdAt"])
        stz = p["configuration"]["scaleToZero"]
        for k in ("baseBranches", "childBranches"):
            self.assert_fields(stz[k], ["enabled", "inactivityPeriodMinutes"], {"enabled": bool})
        self.assert_error(self.emu.api("GET", "x"), 404)
        r = harness.http_request(self.emu.port, "GET",
                                 "/organizations/%s/projects/prj_other" % self.emu.org,
                                 headers={"Authorization": "Bearer " + self.emu.api_key})
        self.assert_error(r, 404, "project [prj_other] not found")

    def test_list_has_root_only_at_start(self):
        r = self.emu.api("GET", "/branches")
        self.assertEqual(r.status, 200)
        items = r.json()["branches"]
        self.assertEqual([b["name"] for b in items], ["main"])
        self.assert_list_item(items[0])
        self.assertIsNone(items[0]["parentID"])
        self.assertNotIn("status", items[0])

    def test_create_describe_patch_delete(self):
        r = self.emu.create_branch("sb-one", description="for tests")
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.headers["x-request-id"])
        b = r.json()
        self.assert_short(b)
        self.assertEqual(b["name"], "sb-one")
        self.assertEqual(b["parentID"], self.root)
        self.assertEqual(b["description"], "for tests")
        bid = b["id"]

        names = [x["name"] for x in self.emu.api("GET", "/branches").json()["branches"]]
        self.assertEqual(names, ["main", "sb-one"])

        d = self.emu.wait_ready(bid)
        self.assert_full(d)
        self.assertEqual(d["status"]["status"], "Cluster in healthy state")
        self.assertEqual(d["status"]["instanceReadyCount"], 1)

        r = self.emu.api("PATCH", "/branches/" + bid, {"name": "sb-renamed"})
        self.assertEqual(r.status, 200)
        self.assert_short(r.json())
        self.assertEqual(r.json()["name"], "sb-renamed")
        self.assertEqual(self.emu.api("GET", "/branches/" + bid).json()["name"], "sb-renamed")

        r = self.emu.api("DELETE", "/branches/" + bid)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        self.assertTrue(r.headers["x-request-id"])
        self.assert_error(self.emu.api("DELETE", "/branches/" + bid), 404,
                          "branch [%s] not found" % bid)
        self.assert_error(self.emu.api("GET", "/branches/" + bid), 404,
                          "branch [%s] not found" % bid)
        self.assert_error(self.emu.api("PATCH", "/branches/" + bid, {"name": "x"}), 404,
                          "branch [%s] not found" % bid)
        self.assert_error(self.emu.api("GET", "/branches/%s/credentials?username=xata" % bid),
                          404, "Branch [%s]: not found" % bid)
        names = [x["name"] for x in self.emu.api("GET", "/branches").json()["branches"]]
        self.assertEqual(names, ["main"])

        # The admin table keeps deleted branches.
        table = {x["id"]: x for x in self.emu.branches()}
        self.assertIn(bid, table)
        self.assertIsNotNone(table[bid]["deletedAt"])
        self.assert_time(table[bid]["deletedAt"])
        self.assertEqual(table[bid]["state"], "DELETED")
        self.assertIsNone(table[self.root]["deletedAt"])
        self.assertEqual(table[self.root]["state"], "STATUS_TYPE_HEALTHY")
        for f in ("id", "name", "parentID", "database", "role", "state", "createdAt",
                  "deletedAt"):
            self.assertIn(f, table[bid])

    def test_custom_mode_makes_a_branch_without_parent(self):
        r = self.emu.api("POST", "/branches", {"name": "fresh", "mode": "custom",
                                                "configuration": {"image": "postgres:15",
                                                                  "region": "us-east-1",
                                                                  "instanceType": "xata.micro",
                                                                  "replicas": 0}})
        self.assertEqual(r.status, 201, r)
        self.assertIsNone(r.json()["parentID"])
        self.assert_error(self.emu.api("POST", "/branches", {"name": "f2", "mode": "custom"}), 400)

    def test_name_reusable_after_delete(self):
        first = self.emu.create_branch("sb-again").json()["id"]
        self.assertEqual(self.emu.api("DELETE", "/branches/" + first).status, 204)
        r = self.emu.create_branch("sb-again")
        self.assertEqual(r.status, 201)
        self.assertNotEqual(r.json()["id"], first)

    def test_duplicate_name_409(self):
        self.assertEqual(self.emu.create_branch("sb-dup").status, 201)
        self.assert_error(self.emu.create_branch("sb-dup"), 409, "branch [sb-dup] already exists")
        other = self.emu.create_branch("sb-other").json()["id"]
        self.assert_error(self.emu.api("PATCH", "/branches/" + other, {"name": "sb-dup"}), 409,
                          "branch [sb-dup] already exists")

    def test_missing_parent_404(self):
        ghost = "a" * 26
        self.assert_error(self.emu.create_branch("sb-x", parent_id=ghost), 404,
                          "Branch [%s]: not found" % ghost)

    def test_unhealthy_parent_412(self):
        self.emu.next_behavior("never_ready")
        parent = self.emu.create_branch("sb-parent").json()["id"]
        body = self.assert_error(self.emu.create_branch("sb-child", parent_id=parent), 412)
        self.assertIn(parent, body["message"])
        self.emu.mark_ready(parent)
        self.assertEqual(self.emu.create_branch("sb-child", parent_id=parent).status, 201)

    def test_bad_requests_400(self):
        cases = [
            b"not json",
            b"[1,2]",
            {"mode": "inherit", "parentID": self.root},
            {"name": "", "mode": "inherit", "parentID": self.root},
            {"name": 5, "mode": "inherit", "parentID": self.root},
            {"name": "sb-a", "mode": "inherit"},
            {"name": "sb-a", "mode": "weird", "parentID": self.root},
            {"name": "sb-a", "parentID": self.root},
            {"name": "sb-a", "mode": "inherit", "parentID": self.root, "description": "x" * 51},
            {"name": "sb-a", "mode": "inherit", "parentID": self.root, "description": "-bad"},
            {"name": "sb-a", "mode": "inherit", "parentID": self.root, "description": "no_under"},
            {"name": "sb-a", "mode": "inherit", "parentID": self.root,
             "scaleToZero": {"enabled": "yes"}},
        ]
        for body in cases:
            with self.subTest(body=body):
                self.assert_error(self.emu.api("POST", "/branches", body), 400)
        # A good description of exactly 50 characters passes.
        r = self.emu.create_branch("sb-desc", description="A" + "b -" * 16 + "c")
        self.assertEqual(r.status, 201, r)
        self.assert_error(self.emu.api("PATCH", "/branches/" + self.root, b"{"), 400)
        self.assert_error(self.emu.api("PATCH", "/branches/" + self.root, {"hibernate": "no"}), 400)
        self.assert_error(self.emu.api("PATCH", "/branches/" + self.root, {"name": ""}), 400)

    def test_max_branches_400(self):
        self.emu.set_config(maxBranches=3)
        self.assertEqual(self.emu.create_branch("sb-1").status, 201)
        self.assertEqual(self.emu.create_branch("sb-2").status, 201)
        body = self.assert_error(self.emu.create_branch("sb-3"), 400)
        self.assertEqual(body["message"], "project [%s] has too many branches" % self.emu.project)
        # Deleted ones do not count.
        sb1 = [b for b in self.emu.branches() if b["name"] == "sb-1"][0]["id"]
        self.assertEqual(self.emu.api("DELETE", "/branches/" + sb1).status, 204)
        self.assertEqual(self.emu.create_branch("sb-3").status, 201)

    def test_credentials_hosted_shape(self):
        bid = self.emu.create_branch("sb-cred").json()["id"]
        r = self.emu.api("GET", "/branches/%s/credentials?username=xata" % bid)
        self.assertEqual(r.status, 200)
        c = r.json()
        self.assertEqual(set(c), {"username", "password", "hostname", "port", "dbname",
                                  "connectionString"})
        self.assertEqual(c["hostname"], "127.0.0.1")
        self.assertEqual(c["port"], 1)  # memory mode: nothing listens there
        u = urllib.parse.urlsplit(c["connectionString"])
        self.assertEqual(u.scheme, "postgresql")
        self.assertEqual(urllib.parse.unquote(u.username), c["username"])
        self.assertEqual(urllib.parse.unquote(u.password), c["password"])
        self.assertEqual(u.path, "/" + c["dbname"])
        self.assertEqual(u.query, "")
        # The describe answer's connection string is the deprecated one.
        d = self.emu.api("GET", "/branches/" + bid).json()
        self.assertIn("-deprecated.", d["connectionString"])
        # Create answers carry a null connection string in this shape.
        self.assertIsNone(self.emu.create_branch("sb-cred2").json()["connectionString"])

    def test_credentials_core_shape(self):
        self.emu.set_config(credentialsShape="core")
        bid = self.emu.create_branch("sb-core").json()["id"]
        c = self.emu.api("GET", "/branches/%s/credentials?username=xata" % bid).json()
        self.assertEqual(set(c), {"username", "password"})
        d = self.emu.api("GET", "/branches/" + bid).json()
        u = urllib.parse.urlsplit(d["connectionString"])
        self.assertEqual(urllib.parse.unquote(u.username), c["username"])
        self.assertEqual(urllib.parse.unquote(u.password), c["password"])
        self.assertEqual((u.hostname, u.port), ("127.0.0.1", 1))
        self.assertEqual(urllib.parse.parse_qs(u.query), {"sslmode": ["disable"]})

    def test_credentials_username_parameter(self):
        bid = self.emu.create_branch("sb-user").json()["id"]
        self.assert_error(self.emu.api("GET", "/branches/%s/credentials" % bid), 400)
        self.assert_error(self.emu.api("GET", "/branches/%s/credentials?username=bob" % bid), 404)

    def test_unknown_routes_and_methods(self):
        self.assert_error(self.emu.api("PUT", "/branches"), 405)
        self.assert_error(self.emu.api("POST", "/branches/" + self.root), 405)
        self.assert_error(self.emu.api("GET", "/branches/%s/nothing" % self.root), 404)
        r = harness.http_request(self.emu.port, "GET", "/nowhere",
                                 headers={"Authorization": "Bearer " + self.emu.api_key})
        self.assert_error(r, 404)

    def test_binary_body_and_path_do_not_break_the_log(self):
        self.assert_error(self.emu.api("POST", "/branches", b"\xff\xfe\x00junk"), 400)
        r = harness.http_request(self.emu.port, "GET", "/%FF%FE?x=%FF",
                                 headers={"Authorization": "Bearer " + self.emu.api_key})
        self.assertEqual(r.status, 404)
        log = self.emu.requests()
        self.assertEqual(len(log), 2)
        self.assertEqual(log[0]["status"], 400)
        self.assertEqual(self.emu.api("GET", "/branches").status, 200)

    def test_keep_alive_serves_several_requests(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.emu.port, timeout=10)
        try:
            for _ in range(3):
                conn.request("GET", self.emu.project_path + "/branches",
                             headers={"Authorization": "Bearer " + self.emu.api_key})
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
                self.assertEqual(r.getheader("Connection"), "keep-alive")
        finally:
            conn.close()

    def test_chunked_request_body(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.emu.port, timeout=10)
        try:
            body = ('{"name":"sb-chunked","mode":"inherit","parentID":"%s"}' % self.root).encode()
            conn.request("POST", self.emu.project_path + "/branches", body=iter([body[:10], body[10:]]),
                         headers={"Authorization": "Bearer " + self.emu.api_key,
                                  "Content-Type": "application/json"},
                         encode_chunked=True)
            r = conn.getresponse()
            self.assertEqual(r.status, 201, r.read())
        finally:
            conn.close()


if __name__ == "__main__":
    harness.main()
