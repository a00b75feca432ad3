"""What the scenario roles' tests share: running a role's entry point, and comparing objects by meaning."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from tests.tools.validate_render import check_object, istio_release_dir, project_kubernetes_version, schema_version

REPO = Path(__file__).resolve().parents[3]

# Labels and the namespace are the role's additions, not part of what a sample routes.
ADDED_LABELS = {"app.kubernetes.io/managed-by", "istiolab.mesh/scenario"}
# Istio serves networking.istio.io v1alpha3, v1beta1 and v1 from one schema: the version does not change the meaning.
SAME_SCHEMA_GROUPS = ("networking.istio.io",)

PLAY = """\
- name: Run one entry point of a role.
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Include the entry point.
      ansible.builtin.include_role:
        name: istiolab.mesh.{role}
        tasks_from: {entry}
"""


def run_role(tmp: Path, role: str, entry: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    """``ansible-playbook`` of one entry point of ``role``, with ``render_dir`` under ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    playbook = tmp / f"{role}-{entry}.yml"
    playbook.write_text(PLAY.format(role=role, entry=entry))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"))
    argv = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(playbook),
            "-e", json.dumps({"render_dir": str(tmp / "rendered"), **(extra or {})})]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def strict_schema_problems(rendered: dict[str, Path]) -> list[str]:
    """Every problem the project's strict validation finds in the rendered directories' objects."""
    version = schema_version(project_kubernetes_version())
    release = istio_release_dir()
    problems = []
    for directory in rendered.values():
        for path in sorted(directory.iterdir()):
            for obj in load(path):
                _judge, found = check_object(obj, version, release)
                problems.extend(f"{directory.name}/{path.name} {obj['kind']} {obj['metadata']['name']}: {p}" for p in found)
    return problems


def assert_refused(case: str, result: subprocess.CompletedProcess, render_dir: Path, expected: list[str]) -> None:
    """A bad input failed, its message holds every ``expected`` fragment, and nothing was written."""
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, f"{case} was accepted:\n{result.stdout[-2000:]}"
    for fragment in expected:
        assert fragment in output, f"{case}: {fragment!r} not in the failure:\n{output[-2000:]}"
    assert not render_dir.exists() or not any(render_dir.iterdir()), f"{case}: wrote {list(render_dir.iterdir())}"


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def normalise(obj: object) -> object:
    """The meaning of an object: deprecated spellings mapped to current ones, the role's additions dropped."""
    if isinstance(obj, list):
        return [normalise(item) for item in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        if key == "percent":  # HTTPFaultInjection's deprecated int percent == percentage.value
            out["percentage"] = {"value": float(value)}
        elif key == "mirrorPercent":
            out["mirrorPercentage"] = {"value": float(value)}
        else:
            out[key] = normalise(value)
    return out


def meaning(obj: dict) -> dict:
    obj = normalise(obj)
    group, _sep, _version = obj["apiVersion"].rpartition("/")
    if group in SAME_SCHEMA_GROUPS:
        obj["apiVersion"] = group + "/*"
    meta = dict(obj.get("metadata") or {})
    meta.pop("namespace", None)
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in ADDED_LABELS}
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    obj["metadata"] = meta
    return obj


def differences(ours: object, upstream: object, path: str = "") -> list[str]:
    """Every field where the two differ, as 'path: ours X, upstream Y'; list order is significant."""
    if isinstance(ours, dict) and isinstance(upstream, dict):
        found = []
        for key in sorted(set(ours) | set(upstream)):
            where = f"{path}.{key}" if path else key
            if key not in upstream:
                found.append(f"{where}: only ours has it ({ours[key]!r})")
            elif key not in ours:
                found.append(f"{where}: only upstream has it ({upstream[key]!r})")
            else:
                found.extend(differences(ours[key], upstream[key], where))
        return found
    if isinstance(ours, list) and isinstance(upstream, list):
        if len(ours) != len(upstream):
            return [f"{path}: {len(ours)} items, upstream {len(upstream)}"]
        return [d for i, (a, b) in enumerate(zip(ours, upstream)) for d in differences(a, b, f"{path}[{i}]")]
    # YAML reads 100 and 100.0 as int and float; Istio reads both as the same number.
    if ours != upstream or isinstance(ours, str) != isinstance(upstream, str):
        return [f"{path}: ours {ours!r}, upstream {upstream!r}"]
    return []


def by_identity(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}
