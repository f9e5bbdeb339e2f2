#!/usr/bin/python3
"""plugin_workflow: the Signadot plugin's steps, run the way the operator
runs them, against xata-emulator on the shared PostgreSQL cluster.

Starts an emulator (tests/e2e/harness.py) whose root branch holds a seeded
`users` table, then runs tests/plugin/run_workflow.py on plugin/xata-branch.yaml
and plugin/sandbox.yaml: create, retried create, the fork's DATABASE_URL
(select 1, a write, the seeded rows), delete, delete again, delete with an
empty branch id, and create + delete-by-derived-name. Afterwards the
emulator's branch table must show exactly the two branches the run made
(one per create round, same derived name), both deleted, nothing else.

  python3 -m pytest test_workflow.py     steps on the host ($XBRANCH_BIN)
  test_workflow.py                      the same as a script
  test_workflow.py --image TAG [--engine buildah|docker]
                                        steps inside the built image

Env: XBRANCH_PG_DIR (the cluster; without it the harness starts a
private one), XATA_EMULATOR_BIN, XBRANCH_BIN (host
mode), XBRANCH_SOURCE_DIR. Exit 77 (skipped) when a piece is missing.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("XBRANCH_SOURCE_DIR") or HERE.parents[1])
SKIP = 77

SEED_SQL = """
create table users (id int primary key, email text not null unique);
insert into users values (1, 'ada@example.com'), (2, 'grace@example.com'), (3, 'edsger@example.com');
"""


def skip(why: str) -> None:
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


def branches(url: str) -> list[dict]:
    with urllib.request.urlopen(url.rstrip("/") + "/_emulator/branches", timeout=10) as r:
        return json.load(r)["branches"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image")
    ap.add_argument("--engine", default="buildah", choices=["buildah", "docker"])
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="a param of the sandbox's resource (run_workflow.py --param)")
    ap.add_argument("--secret-layout", choices=["project", "tutorial"], default="project",
                    help="credentials as the Secret `xata` (project) or the Signadot "
                         "tutorial's `xata-credentials` (envFrom)")
    ap.add_argument("--fork-expect", nargs=2, action="append", default=[], metavar=("SQL", "EXPECTED"))
    ap.add_argument("--require-output", action="append", default=[], metavar="NAME",
                    help="fail unless the create step wrote this output")
    args = ap.parse_args()

    if not os.environ.get("XATA_EMULATOR_BIN"):
        skip("XATA_EMULATOR_BIN not set (emulator not built)")
    if not args.image and not os.environ.get("XBRANCH_BIN"):
        skip("XBRANCH_BIN not set")
    sys.path.insert(0, str(SRC / "tests" / "e2e"))
    try:
        import harness
    except ImportError as e:
        skip(f"tests/e2e/harness.py not importable: {e}")
    try:
        return run(args, harness)
    except unittest.SkipTest as e:  # the harness's way to say "no PostgreSQL"
        skip(str(e))


def run(args: argparse.Namespace, harness) -> int:
    with tempfile.TemporaryDirectory(prefix="plugin-wf-") as tmp:
        seed = Path(tmp, "seed.sql")
        seed.write_text(SEED_SQL)
        with start_emulator(harness, seed) as emu:
            before = {b["id"] for b in branches(emu["url"])}
            cmd = [sys.executable, str(HERE / "run_workflow.py"),
                   "--set", f"image={args.image or 'local/xbranch:dev'}", "--set", "namespace=signadot",
                   "--sandbox-set", "cluster=local",
                   *secret_args(args.secret_layout, emu),
                   # Lines a user would add to podTemplateOverlay for this
                   # API and this PostgreSQL (no TLS locally).
                   "--overlay-env", f"XATA_API_BASE_URL={emu['url']}",
                   "--overlay-env", "XBRANCH_SSLMODE=disable",
                   "--emulator-url", emu["url"],
                   "--fork-expect", "select count(*) from users", "3"]
            for p in args.param:
                cmd += ["--param", p]
            for sql, expected in args.fork_expect:
                cmd += ["--fork-expect", sql, expected]
            if args.image:
                cmd += ["--image", args.image, "--engine", args.engine]
            if args.keep:
                cmd.append("--keep")
            print("+ " + " ".join(cmd), flush=True)
            rc = subprocess.run(cmd).returncode

            made = [b for b in branches(emu["url"]) if b["id"] not in before]
            print("emulator branches made by the run:", flush=True)
            for b in made:
                print(f"  {b['name']} {b['id']} parent={b.get('parentID')} deletedAt={b.get('deletedAt')}", flush=True)
            problems = []
            if rc != 0:
                problems.append(f"run_workflow.py exited {rc}")
            if len(made) != 2:
                problems.append(f"expected 2 branches (one per create round), found {len(made)}")
            if len({b["name"] for b in made}) > 1:
                problems.append("the two create rounds used different branch names")
            alive = [b for b in made if b.get("deletedAt") is None]
            if alive:
                problems.append(f"orphan branches left: {[b['name'] for b in alive]}")
            others = [b for b in branches(emu["url"]) if b["id"] in before and b.get("deletedAt") is not None]
            if others:
                problems.append(f"branches that existed before were deleted: {[b['name'] for b in others]}")
            for p in problems:
                print(f"FAIL: {p}", flush=True)
            print("plugin_workflow: " + ("OK" if not problems else "FAILED"), flush=True)
            return 1 if problems else 0


def secret_args(layout: str, emu: dict) -> list[str]:
    """The fake Kubernetes Secrets for one credentials layout."""
    if layout == "tutorial":
        # The Signadot Xata tutorial's Secret, read through envFrom.
        return ["--secret", f"xata-credentials:XATA_API_KEY={emu['api_key']}",
                "--secret", f"xata-credentials:XATA_ORG_ID={emu['org']}",
                "--secret", f"xata-credentials:XATA_PROJECT_ID={emu['project']}"]
    return ["--secret", f"xata:api-key={emu['api_key']}",
            "--secret", f"xata:organization-id={emu['org']}",
            "--secret", f"xata:project-id={emu['project']}"]


def test_plugin_workflow_on_host():
    """The pytest entry (ctest plugin_workflow): the steps on the host."""
    sys.path.insert(0, str(SRC / "tests" / "e2e"))
    import harness

    harness.require_emulator()  # unittest.SkipTest: pytest reports a skip
    harness.require_xbranch()
    args = argparse.Namespace(image=None, engine="buildah", keep=False, param=[],
                              secret_layout="project", fork_expect=[], require_output=[])
    assert run(args, harness) == 0


class start_emulator:
    """harness.Emulator with the seed, as a dict of what the runner needs."""

    def __init__(self, harness, seed: Path):
        self.emu = harness.Emulator(seed_sql=str(seed), name="plugin_workflow")

    def __enter__(self) -> dict:
        e = self.emu.start()
        return {"url": e.base_url, "api_key": e.api_key, "org": e.org, "project": e.project}

    def __exit__(self, *exc):
        self.emu.stop()
        return False


if __name__ == "__main__":
    sys.exit(main())
