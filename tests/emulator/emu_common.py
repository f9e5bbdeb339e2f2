"""Helpers for the emulator's own tests: the harness, and shape checks
written from the API description (required fields and their types)."""

import datetime
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

import harness  # noqa: E402,F401  (re-exported)

BRANCH_ID = re.compile(r"^[a-v][0-9a-v]{25}$")
STATUS_TYPES = {"STATUS_TYPE_UNSPECIFIED", "STATUS_TYPE_HEALTHY", "STATUS_TYPE_TRANSIENT",
                "STATUS_TYPE_FAULT", "STATUS_TYPE_HIBERNATED"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class EmulatorTestCase(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        harness.require_emulator()

    def assert_time(self, value):
        self.assertIsInstance(value, str)
        self.assertRegex(value, RFC3339)
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))

    def assert_fields(self, obj, required, types):
        self.assertIsInstance(obj, dict)
        for f in required:
            self.assertIn(f, obj, "missing required field %s in %r" % (f, obj))
        for f, t in types.items():
            if f in obj:
                self.assertIsInstance(obj[f], t, "field %s of %r" % (f, obj))

    def assert_short(self, b):
        self.assert_fields(b, ["id", "name", "createdAt", "updatedAt", "region", "publicAccess"],
                           {"id": str, "name": str, "region": str, "publicAccess": bool,
                            "parentID": (str, type(None)), "connectionString": (str, type(None)),
                            "description": str})
        self.assertRegex(b["id"], BRANCH_ID)
        self.assert_time(b["createdAt"])
        self.assert_time(b["updatedAt"])

    def assert_list_item(self, b):
        self.assert_fields(b, ["id", "name", "createdAt", "updatedAt", "region", "publicAccess",
                               "backupsEnabled"],
                           {"id": str, "name": str, "region": str, "publicAccess": bool,
                            "backupsEnabled": bool, "parentID": (str, type(None))})
        self.assertRegex(b["id"], BRANCH_ID)
        self.assert_time(b["createdAt"])

    def assert_full(self, b):
        self.assert_fields(b, ["id", "name", "createdAt", "updatedAt", "region", "status",
                               "connectionString", "configuration", "publicAccess",
                               "backupsEnabled", "scaleToZero"],
                           {"id": str, "name": str, "region": str, "status": dict,
                            "connectionString": (str, type(None)), "configuration": dict,
                            "publicAccess": bool, "backupsEnabled": bool, "scaleToZero": dict,
                            "parentID": (str, type(None))})
        self.assertRegex(b["id"], BRANCH_ID)
        self.assert_time(b["createdAt"])
        self.assert_time(b["updatedAt"])
        self.assert_fields(b["configuration"], ["image", "region", "instanceType", "replicas"],
                           {"image": str, "region": str, "instanceType": str, "replicas": int})
        self.assert_fields(b["scaleToZero"], ["enabled", "inactivityPeriodMinutes"],
                           {"enabled": bool, "inactivityPeriodMinutes": int})
        s = b["status"]
        self.assert_fields(s, ["status", "statusType", "instanceCount", "instanceReadyCount",
                               "instances"],
                           {"status": str, "statusType": str, "instanceCount": int,
                            "instanceReadyCount": int, "instances": list})
        self.assertIn(s["statusType"], STATUS_TYPES)
        self.assertLessEqual(s["instanceReadyCount"], s["instanceCount"])
        self.assertEqual(len(s["instances"]), s["instanceCount"])
        for i in s["instances"]:
            self.assert_fields(i, ["id", "status", "primary", "targetPrimary"],
                               {"id": str, "status": str, "primary": bool, "targetPrimary": bool})

    def assert_error(self, r, status, message=None):
        """An error answer: the status, a JSON body {id, message}, the same
        id in X-Request-Id."""
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)
        body = r.json()
        self.assertIsInstance(body.get("message"), str)
        self.assertTrue(body.get("id"))
        self.assertEqual(body["id"], r.headers.get("x-request-id"))
        if message is not None:
            self.assertEqual(body["message"], message)
        return body
