"""Load: N concurrent `xbranch create` (one sandbox each) against a rate-limited,
fault-injecting emulator backed by real PostgreSQL, then N concurrent deletes.

Every process must succeed, the branch table must hold exactly the N expected
names, every connection string must connect, and the total number of API
calls must stay within a bound (no retry storm). The measured figures are
printed and written to $XBRANCH_TRAFFIC_DIR/../load-figures.json.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402
from rel import harness  # noqa: E402

N = 50
RATE_LIMIT = 100
FAULT_RATE = 0.05
SEED = 20240607
HIBERNATED_MS = 100
TRANSIENT_MS = 200


def classify(req):
    """list / post / describe / credentials / wake / delete / other"""
    m, p = req["method"], req["path"]
    if p.endswith("/branches"):
        return {"GET": "list", "POST": "post"}.get(m, "other")
    if p.endswith("/credentials"):
        return "credentials"
    if re.search(r"/branches/[^/]+$", p):
        return {"GET": "describe", "PATCH": "wake", "DELETE": "delete"}.get(m, "other")
    return "other"


class LoadTest(unittest.TestCase):
    def test_concurrent_create_then_delete(self):
        rel.require_binaries()
        tmp = tempfile.mkdtemp(prefix="xbranch-load-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sandboxes = ["load-%02d" % i for i in range(N)]
        expected = {s: rel.branch_name(s) for s in sandboxes}
        self.assertEqual(len(set(expected.values())), N)

        with harness.Emulator(pg=True, hibernated_ms=HIBERNATED_MS, transient_ms=TRANSIENT_MS,
                              rate_limit=RATE_LIMIT, fault_rate=FAULT_RATE, seed=SEED,
                              max_branches=N + 10, quiet=True) as emu:
            env = emu.env()
            # ---------------------------------------------------------- creates
            t0 = time.monotonic()
            procs = {}
            for s in sandboxes:
                out = open(os.path.join(tmp, s + ".out"), "w")
                err = open(os.path.join(tmp, s + ".err"), "w")
                p = rel.start_xbranch(["create", "--sandbox", s, "--sslmode", "disable",
                                       "--output", "json", "--show-secrets", "--timeout", "120s"],
                                      env, stdout=out, stderr=err)
                procs[s] = (p, out, err)
            codes, took = {}, {}
            while len(codes) < N:
                for s, (p, out, err) in procs.items():
                    if s not in codes and p.poll() is not None:
                        codes[s] = p.returncode
                        took[s] = time.monotonic() - t0
                        out.close()
                        err.close()
                if time.monotonic() - t0 > 180:
                    for p, _, _ in procs.values():
                        p.kill()
                    self.fail("creates still running after 180 s")
                time.sleep(0.02)
            create_wall = time.monotonic() - t0

            def text(s, ext):
                with open(os.path.join(tmp, s + ext)) as f:
                    return f.read()

            failed = {s: (c, text(s, ".err")[-600:]) for s, c in codes.items() if c != 0}
            self.assertEqual(failed, {}, "creates that did not exit 0")

            results = {s: json.loads(text(s, ".out")) for s in sandboxes}
            client_counts = {}
            for s in sandboxes:
                r = results[s]
                self.assertEqual(r["branch"]["name"], expected[s])
                self.assertFalse(r["branch"]["adopted"], "%s: a fresh sandbox reported adopted" % s)
                m = re.search(r"ready after (\d+) API requests", text(s, ".err"))
                self.assertIsNotNone(m, text(s, ".err"))
                client_counts[s] = int(m.group(1))

            active = rel.active(emu)
            self.assertEqual(sorted(b["name"] for b in active), sorted(expected.values()))
            self.assertEqual(len(active), N)
            by_name = {b["name"]: b for b in active}
            ids = {b["name"]: b["id"] for b in active}
            for s in sandboxes:
                self.assertEqual(results[s]["branch"]["id"], by_name[expected[s]]["id"])
                self.assertEqual(by_name[expected[s]]["dbState"], "ready")

            # connection strings connect, as the branch's own role, to its
            # database (every 5th: psql costs ~0.3 s a call on a busy 2-core box)
            t1 = time.monotonic()
            for s in sandboxes[::5]:
                url = results[s]["connection"]["connectionString"]
                got = harness.psql(url, "select current_user || ' ' || current_database()").strip()
                b = by_name[expected[s]]
                self.assertEqual(got, "%s %s" % (b["role"], b["database"]), s)
            connect_wall = time.monotonic() - t1
            create_log = emu.requests()

            # ---------------------------------------------------------- deletes
            t2 = time.monotonic()
            dprocs = {s: rel.start_xbranch(["delete", "--sandbox", s], env) for s in sandboxes}
            dres = {s: p.communicate(timeout=180) for s, p in dprocs.items()}
            delete_wall = time.monotonic() - t2
            dfailed = {s: (p.returncode, dres[s][1][-600:]) for s, p in dprocs.items()
                       if p.returncode != 0}
            self.assertEqual(dfailed, {}, "deletes that did not exit 0")
            self.assertEqual(rel.active(emu), [])
            for b in emu.branches():
                if b["parentID"] is not None:
                    self.assertEqual(b["dbState"], "dropped", b["name"])
            log = emu.requests()

        # -------------------------------------------------------------- figures
        kinds = {}
        for r in log:
            k = classify(r)
            kinds[k] = kinds.get(k, 0) + 1
        create_kinds = {}
        for r in create_log:
            k = classify(r)
            create_kinds[k] = create_kinds.get(k, 0) + 1
        minimum = N * (4 + 2)  # create: list+POST+describe+credentials; delete: list+DELETE
        polls = create_kinds.get("describe", 0)
        non_poll = len(log) - polls
        minimum_non_poll = minimum - N
        figures = {
            "n": N, "rateLimitPerSecond": RATE_LIMIT, "faultRate": FAULT_RATE, "seed": SEED,
            "hibernatedMs": HIBERNATED_MS, "transientMs": TRANSIENT_MS,
            "createWallSeconds": round(create_wall, 2),
            "connectAllSeconds": round(connect_wall, 2),
            "deleteWallSeconds": round(delete_wall, 2),
            "totalRequests": len(log), "minimumRequests": minimum,
            "ratioToMinimum": round(len(log) / minimum, 2),
            "requestsExcludingReadinessPolls": non_poll,
            "minimumExcludingReadinessPolls": minimum_non_poll,
            "readinessPolls": polls,
            "byKind": kinds,
            "status429": sum(1 for r in log if r["status"] == 429),
            "injectedFaults": sum(1 for r in log if r["fault"] and r["fault"] != "rate_limit"),
            "maxRequestsOneCreate": max(client_counts.values()),
            "minRequestsOneCreate": min(client_counts.values()),
            "clientCountedCreateRequests": sum(client_counts.values()),
            "maxRequestsOneSandbox": max_per_sandbox(log, ids),
            "droppedConnectionsDuringCreates": sum(1 for r in create_log if r["status"] == 0),
            "slowestCreateSeconds": round(max(took.values()), 2),
            "fastestCreateSeconds": round(min(took.values()), 2),
        }
        hits = sum(1 for r in create_log if r["fault"])
        figures["pollBudget"] = sum(schedule_polls(t) for t in took.values()) + hits
        print("\nload figures: " + json.dumps(figures, indent=1))
        traffic = os.environ.get("XBRANCH_TRAFFIC_DIR")
        if traffic:
            path = os.path.join(os.path.dirname(os.path.abspath(traffic)), "load-figures.json")
            with open(path, "w") as f:
                json.dump(figures, f, indent=1)
            print("written to " + path)

        # The server saw what the clients sent, plus libcurl's own silent
        # re-sends of a request whose reused connection died unanswered (one
        # at most per dropped connection).
        self.assertGreaterEqual(len(create_log), figures["clientCountedCreateRequests"])
        self.assertLessEqual(len(create_log) - figures["clientCountedCreateRequests"],
                             figures["droppedConnectionsDuringCreates"], figures)
        # No retry storm: everything but readiness polls within 3x the minimum;
        # readiness polls within what the poll schedule allows for each
        # process's wait, plus one retry per fault or 429 it met.
        self.assertLessEqual(non_poll, 3 * minimum_non_poll, figures)
        self.assertLessEqual(polls, figures["pollBudget"], figures)
        self.assertLess(create_wall, 150, figures)


def schedule_polls(seconds):
    """Most readiness polls xbranch's schedule makes in a wait of `seconds`
    (include/xbranch/lifecycle.hpp PollSchedule, src/poll_schedule.cpp: at
    0, 0.1, 0.2, 0.3, 0.6, 1.0, 1.5 s, then each wait twice the one before
    from 0.6 s, at most 5 s), ignoring request time."""
    t, n, k = 0.0, 0, 1
    while t <= seconds:
        n += 1
        if t < 1.5 - 1e-9:
            t += 0.1 * (1 if k <= 3 else k - 1)
            k += 1
        else:
            t += min(max(t - 1.5 + 0.6, 0.1), 5.0)
    return n


def max_per_sandbox(log, ids):
    """Most API calls attributable to one sandbox: its POSTs (by name in the
    body) and every call on its branch id. List calls name no branch and are
    left out."""
    id_to_name = {v: k for k, v in ids.items()}
    counts = {n: 0 for n in ids}
    for r in log:
        if classify(r) == "post":
            body = r.get("requestBody") or ""
            for n in ids:
                if ('"%s"' % n) in body:
                    counts[n] += 1
        m = re.search(r"/branches/([^/]+)", r["path"])
        if m and m.group(1) in id_to_name:
            counts[id_to_name[m.group(1)]] += 1
    return max(counts.values())


if __name__ == "__main__":
    harness.main()
