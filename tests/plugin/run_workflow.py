#!/usr/bin/python3
"""Run a Signadot resource plugin's workflow locally, the way the operator does.

Reads a ResourcePlugin file (plugin/xata-branch.yaml) and a sandbox that uses
it (plugin/sandbox.yaml), validates both, then plays the sandbox's life:

  1. validate   strict keys, names, value sources, step links, scripts,
                overlay, description size, sandbox params and outputKeys
  2. create     every create step, in link order, each in a clean place
  3. retry      the create steps once more: same outputs expected (the
                operator may retry; create must be get-or-create)
  4. fork       resolve the fork's env (valueFrom.resource outputKey) and
                connect to each postgres URL: select 1, a write, a read
  5. delete     the delete steps with their valueFromStep inputs
  6. again      the delete steps a second time (branch already gone)
  7. empty      the delete steps with empty step inputs
  8. recompute  create once more, then delete with empty inputs: the name
                xbranch derives from the sandbox must find the branch

How a step runs (host mode, the default):
  * a fresh temp dir per step, used as HOME and cwd; a step cannot see
    another step's dir;
  * env = PATH (a dir holding an `xbranch` link to $XBRANCH_BIN, then the
    system dirs), HOME, the overlay's env for container `main` (secretKeyRef
    resolved from --secret / --secret-file fakes, plus --overlay-env extras,
    which stand for lines a user adds to podTemplateOverlay), the declared
    inputs (env named by `as.env`, else the input name upper-cased with - as
    _; `as.path` files), and SIGNADOT_SANDBOX_NAME, SIGNADOT_SANDBOX_ID,
    SIGNADOT_SANDBOX_ROUTING_KEY, SIGNADOT_RESOURCE_NAME;
  * absolute paths the step declares (valueFromPath, as.path) cannot be
    created on the host, so their top-level directories (e.g. /outputs) are
    mapped into the step's dir and the script text is rewritten to match;
    the log says so for each step;
  * the script is written to a file and executed through its shebang;
    outputs are read from their (mapped) valueFromPath.

Image mode (--image TAG): each step runs in a new container of the built
image (buildah run --isolation chroot, or docker run --network host). No
rewriting: the step's dirs are bind-mounted at their real paths (/outputs)
and the script at /signadot-step/script. The way the script is handed over
rotates between the forms the operator might use:
  args     entrypoint kept, script path as its argument
  replace  the script path replaces the entrypoint
  text     entrypoint kept, the script's text as the single argument

Exit status: 0 only when every check held; 1 when a check failed; 2 when
the plugin or sandbox is invalid or the command line is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# ---------------------------------------------------------------- validation

# Keys the operator accepts at each level of a plugin (spec is decoded
# strictly: anything else is rejected at apply).
ALLOWED_KEYS = {
    "plugin": {"name", "spec"},
    "spec": {"description", "runner", "create", "delete"},
    "runner": {"image", "namespace", "podTemplateOverlay"},
    "step": {"name", "inputs", "outputs", "script"},
    "input": {"name", "valueFromSandbox", "valueFromStep", "as"},
    "valueFromStep": {"name", "output"},
    "as": {"env", "path"},
    "output": {"name", "valueFromPath"},
}
NAME_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")
NAME_MAX = 30
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DESCRIPTION_MAX_BYTES = 255
RESERVED_NAMES = {
    "signadot-execunit-io",
    "signadot-execunit-input-manager",
    "signadot-execunit-output-manager",
}
OPERATOR_ENV = (
    "SIGNADOT_SANDBOX_NAME",
    "SIGNADOT_SANDBOX_ID",
    "SIGNADOT_SANDBOX_ROUTING_KEY",
    "SIGNADOT_RESOURCE_NAME",
)
SECRET_OUTPUT_RE = re.compile(r"connection|password|secret|token", re.I)
VAR_RE = re.compile(r"@\{\s*([^}]*?)\s*\}")


class InvalidPlugin(Exception):
    """The plugin or sandbox breaks a rule; .problems lists every one."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def expand_vars(node: Any, values: dict[str, str], base_dir: Path, problems: list[str], where: str = "") -> Any:
    """Expand @{var} and @{embed: FILE} in every string value, like
    `signadot ... apply --set`. Embedded text is not expanded again."""
    if isinstance(node, dict):
        return {k: expand_vars(v, values, base_dir, problems, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [expand_vars(v, values, base_dir, problems, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def repl(m: re.Match) -> str:
        expr = m.group(1)
        if expr.startswith("embed:"):
            rel = expr[len("embed:"):].strip()
            try:
                return (base_dir / rel).read_text()
            except OSError as e:
                problems.append(f"{where}: cannot embed {rel}: {e.strerror}")
                return m.group(0)
        if expr in values:
            return values[expr]
        problems.append(f"{where}: variable @{{{expr}}} has no value (pass --set {expr}=...)")
        return m.group(0)

    return VAR_RE.sub(repl, node)


def _check_keys(obj: Any, kind: str, where: str, problems: list[str]) -> bool:
    if not isinstance(obj, dict):
        problems.append(f"{where}: must be a mapping")
        return False
    for k in obj:
        if k not in ALLOWED_KEYS[kind]:
            problems.append(f"{where}: unknown key {k!r} (allowed: {', '.join(sorted(ALLOWED_KEYS[kind]))})")
    return True


def _check_name(name: Any, where: str, problems: list[str]) -> None:
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: name missing")
        return
    if len(name) > NAME_MAX:
        problems.append(f"{where}: name {name!r} is {len(name)} characters (max {NAME_MAX})")
    if not NAME_RE.match(name):
        problems.append(f"{where}: name {name!r} does not match {NAME_RE.pattern}")
    if name in RESERVED_NAMES:
        problems.append(f"{where}: name {name!r} is reserved by the operator")


def default_env_name(input_name: str) -> str:
    return input_name.upper().replace("-", "_")


def input_env_name(inp: dict) -> str | None:
    """The env var an input arrives in (None when only `as.path` is given)."""
    as_ = inp.get("as")
    if isinstance(as_, dict):
        if "env" in as_:
            return as_["env"]
        if "path" in as_:
            return None
    return default_env_name(inp["name"])


def _check_overlay(text: Any, problems: list[str]) -> None:
    where = "spec.runner.podTemplateOverlay"
    if not isinstance(text, str):
        problems.append(f"{where}: must be a string holding a pod template (YAML), not a {type(text).__name__}")
        return
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        problems.append(f"{where}: not valid YAML: {e}")
        return
    if not isinstance(doc, dict):
        problems.append(f"{where}: must be a pod template mapping")
        return
    pod = doc.get("spec")
    if not isinstance(pod, dict):
        problems.append(f"{where}: has no spec mapping")
        return
    rp = pod.get("restartPolicy")
    if rp is not None and rp != "Never":
        problems.append(f"{where}: restartPolicy may only be Never (got {rp!r})")
    for key in ("containers", "initContainers", "volumes"):
        items = pod.get(key) or []
        if not isinstance(items, list):
            problems.append(f"{where}: spec.{key} must be a list")
            continue
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if name in RESERVED_NAMES:
                problems.append(f"{where}: spec.{key} uses the reserved name {name!r}")
    containers = pod.get("containers") or []
    names = [c.get("name") for c in containers if isinstance(c, dict)]
    if "main" not in names:
        problems.append(f"{where}: no container named 'main' (the step container is called main)")
    for n in names:
        if n != "main" and n not in RESERVED_NAMES:
            problems.append(f"{where}: container {n!r} is not the step container 'main'")


def validate_plugin(doc: Any) -> list[str]:
    """Every rule the plugin breaks, as readable lines; [] when valid."""
    problems: list[str] = []
    if not _check_keys(doc, "plugin", "plugin", problems):
        return problems
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        problems.append("name: missing")
    else:
        bare, _, ver = name.partition("@")
        _check_name(bare, "name", problems)
        if "@" in name and not SEMVER_RE.match(ver):
            problems.append(f"name: version {ver!r} is not semver")
    spec = doc.get("spec")
    if not _check_keys(spec, "spec", "spec", problems):
        return problems
    desc = spec.get("description")
    if desc is not None:
        if not isinstance(desc, str):
            problems.append("spec.description: must be a string")
        elif len(desc.encode()) > DESCRIPTION_MAX_BYTES:
            problems.append(f"spec.description: {len(desc.encode())} bytes (max {DESCRIPTION_MAX_BYTES})")
    runner = spec.get("runner")
    if runner is None:
        problems.append("spec.runner: missing")
    elif _check_keys(runner, "runner", "spec.runner", problems):
        if not isinstance(runner.get("image"), str) or not runner.get("image"):
            problems.append("spec.runner.image: missing")
        if "namespace" in runner and not isinstance(runner["namespace"], str):
            problems.append("spec.runner.namespace: must be a string")
        if "podTemplateOverlay" in runner:
            _check_overlay(runner["podTemplateOverlay"], problems)

    steps: dict[str, tuple[str, dict]] = {}  # name -> (phase, step)
    phases = {}
    for phase in ("create", "delete"):
        lst = spec.get(phase)
        if lst is None:
            lst = []
        if not isinstance(lst, list):
            problems.append(f"spec.{phase}: must be a list of steps")
            lst = []
        phases[phase] = lst
    if not phases["create"]:
        problems.append("spec.create: at least one step is needed")

    for phase, lst in phases.items():
        for i, step in enumerate(lst):
            where = f"spec.{phase}[{i}]"
            if not _check_keys(step, "step", where, problems):
                continue
            sname = step.get("name")
            _check_name(sname, where, problems)
            if isinstance(sname, str):
                where = f"spec.{phase}[{i}] ({sname})"
                if sname in steps:
                    problems.append(f"{where}: step name {sname!r} is used twice (names are unique across create and delete)")
                else:
                    steps[sname] = (phase, step)
            script = step.get("script")
            if not isinstance(script, str) or not script.strip():
                problems.append(f"{where}: script missing")
            elif not script.startswith("#!"):
                problems.append(f"{where}: script must start with a shebang line (#!...)")
            for j, out in enumerate(step.get("outputs") or []):
                ow = f"{where}.outputs[{j}]"
                if not _check_keys(out, "output", ow, problems):
                    continue
                _check_name(out.get("name"), ow, problems)
                vp = out.get("valueFromPath")
                if not isinstance(vp, str) or not vp:
                    problems.append(f"{ow}: valueFromPath missing")
                elif not vp.startswith("/"):
                    problems.append(f"{ow}: valueFromPath must be absolute")
            onames = [o.get("name") for o in step.get("outputs") or [] if isinstance(o, dict)]
            for n in {n for n in onames if onames.count(n) > 1}:
                problems.append(f"{where}: output {n!r} declared twice")

    # Inputs last: valueFromStep needs every step's outputs.
    for phase, lst in phases.items():
        for i, step in enumerate(lst):
            if not isinstance(step, dict):
                continue
            where = f"spec.{phase}[{i}] ({step.get('name')})"
            inputs = step.get("inputs") or []
            if not isinstance(inputs, list):
                problems.append(f"{where}.inputs: must be a list")
                continue
            env_seen: dict[str, str] = {}
            in_names: list[str] = []
            for j, inp in enumerate(inputs):
                iw = f"{where}.inputs[{j}]"
                if not _check_keys(inp, "input", iw, problems):
                    continue
                _check_name(inp.get("name"), iw, problems)
                in_names.append(inp.get("name"))
                has_sb = "valueFromSandbox" in inp
                has_st = "valueFromStep" in inp
                if has_sb == has_st:
                    problems.append(f"{iw}: needs exactly one of valueFromSandbox and valueFromStep")
                if has_sb and inp["valueFromSandbox"] is not True:
                    problems.append(f"{iw}: valueFromSandbox must be true")
                if has_st:
                    ref = inp["valueFromStep"]
                    if _check_keys(ref, "valueFromStep", f"{iw}.valueFromStep", problems):
                        rname, rout = ref.get("name"), ref.get("output")
                        if rname not in steps:
                            problems.append(f"{iw}: valueFromStep names unknown step {rname!r}")
                        elif rname == step.get("name"):
                            problems.append(f"{iw}: a step cannot take its own output")
                        else:
                            rphase, rstep = steps[rname]
                            if phase == "create" and rphase == "delete":
                                problems.append(f"{iw}: a create step cannot depend on delete step {rname!r}")
                            outs = [o.get("name") for o in rstep.get("outputs") or [] if isinstance(o, dict)]
                            if rout not in outs:
                                problems.append(f"{iw}: step {rname!r} has no output {rout!r}")
                if "as" in inp:
                    as_ = inp["as"]
                    if _check_keys(as_, "as", f"{iw}.as", problems):
                        if not as_:
                            problems.append(f"{iw}.as: give env, path or both")
                        if "env" in as_ and (not isinstance(as_["env"], str) or not ENV_NAME_RE.match(as_["env"])):
                            problems.append(f"{iw}.as.env: {as_['env']!r} is not an environment variable name")
                        if "path" in as_ and (not isinstance(as_["path"], str) or not as_["path"].startswith("/")):
                            problems.append(f"{iw}.as.path: must be an absolute path")
                if isinstance(inp.get("name"), str):
                    env = input_env_name(inp)
                    if isinstance(env, str):
                        if env in env_seen:
                            problems.append(f"{iw}: env {env} is also set by input {env_seen[env]!r}")
                        env_seen[env] = inp["name"]
                        if env in OPERATOR_ENV:
                            problems.append(f"{iw}: env {env} is set by the operator")
            for n in {n for n in in_names if n is not None and in_names.count(n) > 1}:
                problems.append(f"{where}: input {n!r} declared twice")

    if not problems:
        try:
            step_order(doc)
        except InvalidPlugin as e:
            problems.extend(e.problems)
    return problems


def step_order(doc: dict) -> tuple[list[dict], list[dict]]:
    """Create and delete steps in an order that honours their links (stable)."""
    result = []
    done: set[str] = set()
    for phase in ("create", "delete"):
        pending = list(doc["spec"].get(phase) or [])
        ordered = []
        while pending:
            ready = [s for s in pending
                     if all(i["valueFromStep"]["name"] in done
                            for i in s.get("inputs") or [] if "valueFromStep" in i)]
            if not ready:
                raise InvalidPlugin([f"spec.{phase}: steps {[s['name'] for s in pending]} depend on each other in a cycle"])
            s = ready[0]
            ordered.append(s)
            done.add(s["name"])
            pending.remove(s)
        result.append(ordered)
    return result[0], result[1]


def validate_sandbox(sandbox: Any, plugin: dict) -> list[str]:
    """Problems in how the sandbox uses the plugin; [] when fine."""
    problems: list[str] = []
    if not isinstance(sandbox, dict) or not isinstance(sandbox.get("spec"), dict):
        return ["sandbox: needs name and spec"]
    if not isinstance(sandbox.get("name"), str) or not sandbox["name"]:
        problems.append("sandbox: name missing")
    spec = sandbox["spec"]
    mine = [r for r in spec.get("resources") or [] if isinstance(r, dict) and r.get("plugin") == plugin["name"]]
    if not mine:
        problems.append(f"sandbox: no resource uses plugin {plugin['name']}")
    steps_all = (plugin["spec"].get("create") or []) + (plugin["spec"].get("delete") or [])
    wanted = {i["name"] for s in steps_all for i in s.get("inputs") or [] if "valueFromSandbox" in i}
    for r in mine:
        params = r.get("params") or {}
        for w in sorted(wanted):
            if w not in params:
                problems.append(f"sandbox resource {r.get('name')!r}: params has no {w!r} (an input valueFromSandbox)")
    create_outputs = {f"{s['name']}.{o['name']}" for s in plugin["spec"].get("create") or [] for o in s.get("outputs") or []}
    names = {r.get("name") for r in mine}
    for fork in spec.get("forks") or []:
        for env in (fork.get("customizations") or {}).get("env") or []:
            res = (env.get("valueFrom") or {}).get("resource")
            if res is None:
                continue
            if res.get("name") not in names:
                problems.append(f"fork env {env.get('name')}: resource {res.get('name')!r} is not a resource of this plugin")
            if res.get("outputKey") not in create_outputs:
                problems.append(f"fork env {env.get('name')}: outputKey {res.get('outputKey')!r} is not a create-step output "
                                f"({', '.join(sorted(create_outputs))})")
    return problems


def load_plugin(path: Path, values: dict[str, str]) -> dict:
    doc = yaml.safe_load(path.read_text())
    problems: list[str] = []
    doc = expand_vars(doc, values, path.parent, problems)
    problems += validate_plugin(doc)
    if problems:
        raise InvalidPlugin(problems)
    return doc


def load_sandbox(path: Path, values: dict[str, str], plugin: dict) -> dict:
    doc = yaml.safe_load(path.read_text())
    problems: list[str] = []
    doc = expand_vars(doc, values, path.parent, problems)
    problems += validate_sandbox(doc, plugin)
    if problems:
        raise InvalidPlugin(problems)
    return doc


# ---------------------------------------------------------------- running

def mask(text: str) -> str:
    """Hide passwords in URLs (and nothing else) for the log."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1********@", text)


@dataclass
class StepResult:
    name: str
    rc: int
    outputs: dict[str, str]
    stdout: str
    stderr: str
    seconds: float
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.missing


class Runner:
    """Runs steps on the host or in the image; keeps the log."""

    def __init__(self, args: argparse.Namespace, plugin: dict, sandbox: dict):
        self.args = args
        self.plugin = plugin
        self.sandbox = sandbox
        self.workroot = Path(tempfile.mkdtemp(prefix="xbranch-plugin-"))
        os.chmod(self.workroot, 0o755)
        self.seq = 0
        self.form_i = 0
        self.checks: list[tuple[str, bool, str]] = []
        resource = next(r for r in sandbox["spec"]["resources"] if r.get("plugin") == plugin["name"])
        self.resource = resource
        sid = args.sandbox_id or "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(14))
        self.signadot_env = {
            "SIGNADOT_SANDBOX_NAME": args.sandbox_name or sandbox["name"],
            "SIGNADOT_SANDBOX_ID": sid,
            "SIGNADOT_SANDBOX_ROUTING_KEY": sid,
            "SIGNADOT_RESOURCE_NAME": resource["name"],
        }
        self.secret_env: set[str] = set()  # env names whose values are not logged
        self.overlay_env = self._resolve_overlay_env()
        if not args.image:
            xb = args.xbranch_bin or os.environ.get("XBRANCH_BIN")
            if not xb or not os.access(xb, os.X_OK):
                raise SystemExit("run_workflow: host mode needs the xbranch binary (--xbranch-bin or XBRANCH_BIN)")
            self.bindir = self.workroot / "bin"
            self.bindir.mkdir()
            os.symlink(os.path.abspath(xb), self.bindir / "xbranch")

    # -- logging
    def log(self, msg: str = "") -> None:
        print(msg, flush=True)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, ok, detail))
        self.log(f"  [{'PASS' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}")
        return ok

    # -- environment
    def _secret_value(self, name: str, key: str) -> str | None:
        return self.args.secrets.get(name, {}).get(key)

    def _resolve_overlay_env(self) -> dict[str, str]:
        text = self.plugin["spec"]["runner"].get("podTemplateOverlay")
        env: dict[str, str] = {}
        if text:
            pod = yaml.safe_load(text)["spec"]
            main = next(c for c in pod.get("containers") or [] if c.get("name") == "main")
            for ef in main.get("envFrom") or []:
                ref = ef.get("secretRef") or {}
                data = self.args.secrets.get(ref.get("name"))
                if data is None and not ref.get("optional"):
                    raise SystemExit(f"run_workflow: envFrom secret {ref.get('name')!r} not given (--secret)")
                for k, v in (data or {}).items():
                    env[ef.get("prefix", "") + k] = v
                    self.secret_env.add(ef.get("prefix", "") + k)
            for e in main.get("env") or []:
                if "value" in e:
                    env[e["name"]] = str(e["value"])
                    continue
                vf = e.get("valueFrom") or {}
                ref = vf.get("secretKeyRef")
                if ref is None:
                    raise SystemExit(f"run_workflow: env {e['name']}: only value and secretKeyRef are supported here")
                v = self._secret_value(ref["name"], ref["key"])
                self.secret_env.add(e["name"])
                if v is None:
                    if ref.get("optional"):
                        continue
                    raise SystemExit(f"run_workflow: env {e['name']} needs secret {ref['name']}/{ref['key']} "
                                     f"(pass --secret {ref['name']}:{ref['key']}=VALUE)")
                env[e["name"]] = v
        for kv in self.args.overlay_env:
            k, _, v = kv.partition("=")
            env[k] = v
        return env

    # -- one step
    def run_step(self, step: dict, label: str, inputs: dict[str, str]) -> StepResult:
        self.seq += 1
        sdir = self.workroot / f"{self.seq:02d}-{step['name']}"
        home = sdir / "home"
        root = sdir / "root"  # where the step's absolute paths live
        for d in (sdir, home, root):
            d.mkdir(mode=0o755)
        script = step["script"]

        declared = [o["valueFromPath"] for o in step.get("outputs") or []]
        in_paths = {i["name"]: i["as"]["path"] for i in step.get("inputs") or [] if "path" in (i.get("as") or {})}
        tops = sorted({"/" + p.strip("/").split("/")[0] for p in declared + list(in_paths.values()) if p.strip("/")})
        for t in tops:
            d = root / t.lstrip("/")
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o777)  # the image's user is uid 10001
        for iname, p in in_paths.items():
            f = root / p.lstrip("/")
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(inputs.get(iname, ""))

        env: dict[str, str] = {}
        env.update(self.overlay_env)
        for inp in step.get("inputs") or []:
            en = input_env_name(inp)
            if en:
                env[en] = inputs.get(inp["name"], "")
        env.update(self.signadot_env)

        shown = {k: ("********" if k in self.secret_env else mask(v)) for k, v in env.items()}
        self.log(f"--- step {self.seq}: {label}: {step['name']}")
        self.log(f"    inputs: {json.dumps({k: mask(v) for k, v in inputs.items()})}")
        self.log(f"    env: {' '.join(f'{k}={v}' for k, v in sorted(shown.items()))}")

        t0 = time.monotonic()
        if self.args.image:
            rc, out, err = self._run_in_image(sdir, root, tops, script, env)
        else:
            for t in tops:
                mapped = str(root / t.lstrip("/"))
                script = re.sub(r"(?<![\w.-])" + re.escape(t) + r"(?![\w.-])", mapped, script)
                self.log(f"    host mode: {t} is {mapped} (rewritten in the script text)")
            spath = sdir / "script"
            spath.write_text(script)
            os.chmod(spath, 0o700)
            env["PATH"] = f"{self.bindir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            env["HOME"] = str(home)
            try:
                p = subprocess.run([str(spath)], cwd=home, env=env, capture_output=True, text=True,
                                   timeout=self.args.step_timeout)
                rc, out, err = p.returncode, p.stdout, p.stderr
            except subprocess.TimeoutExpired as e:
                rc, out, err = 124, str(e.stdout or ""), str(e.stderr or "") + "\n(step timed out)"
        secs = time.monotonic() - t0

        outputs, missing = {}, []
        for o in step.get("outputs") or []:
            f = root / o["valueFromPath"].lstrip("/")
            if f.is_file():
                outputs[o["name"]] = f.read_text()
            elif rc == 0 and o["name"] in self.args.allow_missing_output:
                self.log(f"    note: output {o['name']} not written (allowed by --allow-missing-output)")
            elif rc == 0:
                missing.append(o["name"])
        for stream, text in (("stdout", out), ("stderr", err)):
            for line in text.rstrip("\n").splitlines():
                self.log(f"    {stream}| {mask(line)}")
        self.log(f"    exit {rc} in {secs:.1f}s; outputs: {json.dumps({k: mask(v) for k, v in outputs.items()})}"
                 + (f"; MISSING outputs: {missing}" if missing else ""))
        if not self.args.keep:
            shutil.rmtree(sdir, ignore_errors=True)
        return StepResult(step["name"], rc, outputs, out, err, secs, missing)

    def _next_form(self) -> str:
        forms = self.args.forms
        f = forms[self.form_i % len(forms)]
        self.form_i += 1
        return f

    def _run_in_image(self, sdir: Path, root: Path, tops: list[str], script: str, env: dict[str, str]):
        form = self._next_form()
        stepfiles = sdir / "step"
        stepfiles.mkdir(mode=0o755)
        (stepfiles / "script").write_text(script)
        os.chmod(stepfiles / "script", 0o755)
        mounts = [(str(stepfiles), "/signadot-step", "ro")] + [(str(root / t.lstrip("/")), t, "rw") for t in tops]
        entry = "/usr/local/bin/xbranch-entrypoint"
        if form == "args":
            argv_entry, argv = entry, ["/signadot-step/script"]
        elif form == "replace":
            argv_entry, argv = "/signadot-step/script", []
        elif form == "text":
            argv_entry, argv = entry, [script]
        else:
            raise SystemExit(f"run_workflow: unknown entrypoint form {form}")
        self.log(f"    image mode ({self.args.engine}): form {form!r}: "
                 + ("entrypoint + script path" if form == "args" else
                    "script replaces the entrypoint" if form == "replace" else "entrypoint + script text")
                 + f"; mounts: {', '.join(f'{c}' for _, c, _ in mounts)}")
        envargs = []
        for k, v in env.items():
            envargs += ["--env" if self.args.engine == "buildah" else "-e", f"{k}={v}"]
        if self.args.engine == "docker":
            cmd = ["docker", "run", "--rm", "--network", "host", "--entrypoint", argv_entry]
            for h, c, mode in mounts:
                cmd += ["-v", f"{h}:{c}:{mode}"]
            cmd += envargs + [self.args.image] + argv
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.args.step_timeout)
            return p.returncode, p.stdout, p.stderr
        # docker/buildah-retry: buildah, tried again on its self re-exec race.
        retry = Path(__file__).resolve().parents[2] / "docker" / "buildah-retry"
        bh = [str(retry), "--storage-driver", self.args.storage_driver]
        c = subprocess.run(bh + ["from", "--pull=never", "--quiet", self.args.image],
                           capture_output=True, text=True, check=True).stdout.strip()
        try:
            cmd = bh + ["run", "--isolation", "chroot"]
            for h, cpath, mode in mounts:
                cmd += ["-v", f"{h}:{cpath}:{mode}"]
            cmd += envargs + [c, "--", argv_entry] + argv
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.args.step_timeout)
                return p.returncode, p.stdout, p.stderr
            except subprocess.TimeoutExpired as e:
                return 124, str(e.stdout or ""), str(e.stderr or "") + "\n(step timed out)"
        finally:
            subprocess.run(bh + ["rm", c], capture_output=True)

    # -- phases
    def run_phase(self, steps: list[dict], label: str, known: dict[str, dict[str, str]],
                  empty_step_inputs: bool = False) -> dict[str, StepResult]:
        results = {}
        params = {**(self.resource.get("params") or {}), **self.args.param}
        for s in steps:
            inputs = {}
            for i in s.get("inputs") or []:
                if "valueFromSandbox" in i:
                    inputs[i["name"]] = str(params.get(i["name"], ""))
                else:
                    ref = i["valueFromStep"]
                    inputs[i["name"]] = "" if empty_step_inputs else known.get(ref["name"], {}).get(ref["output"], "")
            r = self.run_step(s, label, inputs)
            results[s["name"]] = r
            known[s["name"]] = r.outputs
            if not r.ok:
                break
        return results

    def emulator_branches(self) -> list[dict] | None:
        if not self.args.emulator_url:
            return None
        with urllib.request.urlopen(self.args.emulator_url.rstrip("/") + "/_emulator/branches", timeout=10) as r:
            return json.load(r)["branches"]

    def active_children(self) -> list[dict] | None:
        b = self.emulator_branches()
        if b is None:
            return None
        return [x for x in b if x.get("deletedAt") is None and x.get("parentID")]

    def psql(self, url: str, sql: str) -> tuple[int, str]:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10"}
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                           env=env, capture_output=True, text=True, timeout=60)
        return p.returncode, (p.stdout + p.stderr).strip()


def run(args: argparse.Namespace) -> int:
    log = lambda m="": print(m, flush=True)  # noqa: E731
    log("=== 1. validate")
    try:
        plugin = load_plugin(Path(args.plugin), args.set)
        sandbox = load_sandbox(Path(args.sandbox), args.sandbox_set, plugin)
    except InvalidPlugin as e:
        for p in e.problems:
            log(f"  INVALID: {p}")
        return 2
    create_steps, delete_steps = step_order(plugin)
    log(f"  plugin {plugin['name']}: create {[s['name'] for s in create_steps]}, "
        f"delete {[s['name'] for s in delete_steps]}; image {plugin['spec']['runner']['image']}, "
        f"namespace {plugin['spec']['runner'].get('namespace')}")
    log(f"  sandbox {sandbox['name']}: OK")

    r = Runner(args, plugin, sandbox)
    log(f"  mode: {'image ' + args.image + ' via ' + args.engine if args.image else 'host'}; "
        f"sandbox env: {json.dumps(r.signadot_env)}; work dir {r.workroot}")
    r.check("plugin and sandbox valid", True)
    known: dict[str, dict[str, str]] = {}
    try:
        log("=== 2. create")
        res = r.run_phase(create_steps, "create", known)
        created = all(x.ok for x in res.values()) and len(res) == len(create_steps)
        r.check("create steps succeeded with every declared output", created)
        if not created:
            log("=== cleanup after a failed create: delete steps with empty inputs")
            r.run_phase(delete_steps, "cleanup", {}, empty_step_inputs=True)
            return finish(r)
        first = {k: dict(v) for k, v in known.items()}
        kids = r.active_children()
        if kids is not None:
            names = [k["name"] for k in kids]
            want = [v.get("branch-name") for v in first.values() if "branch-name" in v]
            r.check("emulator: exactly one active branch, the one reported", len(kids) == 1 and names == want[:1],
                    f"active {names}")

        log("=== 3. create again (a retried step must find the same branch)")
        again: dict[str, dict[str, str]] = {}
        res2 = r.run_phase(create_steps, "create-retry", again)
        r.check("retried create succeeded", all(x.ok for x in res2.values()))
        def public(o: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
            return {s: {k: v for k, v in d.items() if not SECRET_OUTPUT_RE.search(k)} for s, d in o.items()}
        same = public(again) == public(first)
        r.check("retried create gave the same branch (non-secret outputs equal)", same,
                "" if same else f"{json.dumps(public(first))} vs {json.dumps(public(again))}")
        if again != first and same:
            log("  note: secret outputs (connection string) changed on retry: credentials rotated")
        kids = r.active_children()
        if kids is not None:
            r.check("emulator: still exactly one active branch", len(kids) == 1, f"{[k['name'] for k in kids]}")

        log("=== 4. fork env")
        for fork in sandbox["spec"].get("forks") or []:
            fo = fork.get("forkOf", {})
            for env in (fork.get("customizations") or {}).get("env") or []:
                res_ = (env.get("valueFrom") or {}).get("resource")
                if not res_:
                    continue
                sname, oname = res_["outputKey"].split(".", 1)
                val = first.get(sname, {}).get(oname)
                r.check(f"fork {fo.get('name')}: {env['name']} from {res_['outputKey']}", bool(val), mask(val or "(empty)"))
                if val and re.match(r"postgres(ql)?://", val):
                    rc, out = r.psql(val, "select 1")
                    r.check(f"{env['name']}: select 1", rc == 0 and out == "1", out)
                    rc, out = r.psql(val, "create table xbranch_plugin_probe (id int primary key, note text);"
                                          "insert into xbranch_plugin_probe values (1, 'from the fork');"
                                          "select note from xbranch_plugin_probe where id = 1;"
                                          "drop table xbranch_plugin_probe;")
                    r.check(f"{env['name']}: write, read back and drop a table", rc == 0 and "from the fork" in out, out)
                    for sql, expected in args.fork_expect:
                        rc, out = r.psql(val, sql)
                        r.check(f"{env['name']}: {sql} = {expected}", rc == 0 and out == expected, out)

        log("=== 5. delete")
        res = r.run_phase(delete_steps, "delete", known)
        r.check("delete steps succeeded", all(x.ok for x in res.values()) and len(res) == len(delete_steps))
        kids = r.active_children()
        if kids is not None:
            r.check("emulator: no active branch left", kids == [], f"{[k['name'] for k in kids]}")

        log("=== 6. delete again (the branch is already gone)")
        res = r.run_phase(delete_steps, "delete-again", known)
        r.check("second delete succeeded", all(x.ok for x in res.values()) and len(res) == len(delete_steps))

        log("=== 7. delete with empty step inputs")
        res = r.run_phase(delete_steps, "delete-empty", known, empty_step_inputs=True)
        r.check("delete with empty inputs succeeded", all(x.ok for x in res.values()) and len(res) == len(delete_steps))

        if not args.no_recompute:
            log("=== 8. create, then delete with empty inputs (xbranch derives the name)")
            known2: dict[str, dict[str, str]] = {}
            res = r.run_phase(create_steps, "create-2", known2)
            ok = all(x.ok for x in res.values()) and len(res) == len(create_steps)
            r.check("create succeeded again after the delete", ok)
            res = r.run_phase(delete_steps, "delete-empty-2", known2, empty_step_inputs=True)
            r.check("delete with empty inputs removed it", all(x.ok for x in res.values()) and len(res) == len(delete_steps))
            kids = r.active_children()
            if kids is not None:
                r.check("emulator: no active branch left", kids == [], f"{[k['name'] for k in kids]}")
    finally:
        if not args.keep:
            shutil.rmtree(r.workroot, ignore_errors=True)
        else:
            log(f"(kept {r.workroot})")
    return finish(r)


def finish(r: Runner) -> int:
    failed = [c for c in r.checks if not c[1]]
    print(f"=== result: {len(r.checks) - len(failed)}/{len(r.checks)} checks passed"
          + ("" if not failed else "; FAILED: " + "; ".join(c[0] for c in failed)), flush=True)
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    src = Path(os.environ.get("XBRANCH_SOURCE_DIR") or Path(__file__).resolve().parents[2])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--plugin", default=str(src / "plugin/xata-branch.yaml"))
    ap.add_argument("--sandbox", default=str(src / "plugin/sandbox.yaml"))
    ap.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                    help="plugin template variable, as `signadot resourceplugin apply --set`")
    ap.add_argument("--sandbox-set", action="append", default=[], metavar="VAR=VALUE",
                    help="sandbox template variable")
    ap.add_argument("--sandbox-name", help="override the sandbox's name (SIGNADOT_SANDBOX_NAME)")
    ap.add_argument("--sandbox-id", help="SIGNADOT_SANDBOX_ID (default: random, 14 chars)")
    ap.add_argument("--secret", action="append", default=[], metavar="NAME:KEY=VALUE",
                    help="a key of a fake Kubernetes Secret for secretKeyRef")
    ap.add_argument("--secret-file", help='JSON {"secret-name": {"key": "value"}}')
    ap.add_argument("--overlay-env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra env for container main, as if added to podTemplateOverlay")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="set a param of the sandbox's resource (overrides sandbox.yaml)")
    ap.add_argument("--allow-missing-output", action="append", default=[], metavar="NAME",
                    help="a declared output the steps may leave unwritten")
    ap.add_argument("--xbranch-bin", help="host mode: the xbranch binary (default $XBRANCH_BIN)")
    ap.add_argument("--image", help="run each step in this image instead of on the host")
    ap.add_argument("--engine", choices=["buildah", "docker"], default="buildah")
    ap.add_argument("--storage-driver", default="vfs", help="buildah storage driver")
    ap.add_argument("--forms", default="args,replace,text",
                    help="image mode: entrypoint forms to rotate through (args, replace, text)")
    ap.add_argument("--emulator-url", help="xata-emulator base URL: also check its branch table")
    ap.add_argument("--fork-expect", nargs=2, action="append", default=[], metavar=("SQL", "EXPECTED"),
                    help="a query run with the fork's postgres URL and its expected output")
    ap.add_argument("--no-recompute", action="store_true", help="skip phase 8")
    ap.add_argument("--step-timeout", type=float, default=900)
    ap.add_argument("--keep", action="store_true", help="keep the step dirs")
    a = ap.parse_args(argv)

    def kv(items: list[str], what: str) -> dict[str, str]:
        out = {}
        for it in items:
            k, sep, v = it.partition("=")
            if not sep:
                ap.error(f"{what} wants VAR=VALUE, got {it!r}")
            out[k] = v
        return out

    a.set = kv(a.set, "--set")
    a.sandbox_set = kv(a.sandbox_set, "--sandbox-set")
    a.param = kv(a.param, "--param")
    sec: dict[str, dict[str, str]] = {}
    if a.secret_file:
        sec = json.loads(Path(a.secret_file).read_text())
    for it in a.secret:
        nk, sep, v = it.partition("=")
        name, sep2, key = nk.partition(":")
        if not sep or not sep2:
            ap.error(f"--secret wants NAME:KEY=VALUE, got {it!r}")
        sec.setdefault(name, {})[key] = v
    a.secrets = sec
    a.forms = [f for f in a.forms.split(",") if f]
    return a


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
