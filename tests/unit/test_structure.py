"""What is shared between roles goes through a validated, public entry point.

A role's ``__<role>_`` variables are its own: another role that sets them (``set_fact``, ``vars:``, ``register:``,
``loop_var``) couples itself to that role's insides, and the argument spec cannot check them. And an
``include_role``/``import_role`` with ``tasks_from`` validates its inputs only when ``tasks_from`` names an entry point
of the role's ``meta/argument_specs.yml`` (without ``.yml``: with the suffix Ansible skips the validation).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INCLUDE_ROLE = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}
SET_FACT = {"set_fact", "ansible.builtin.set_fact"}
NESTED = ("block", "rescue", "always")


class _Loader(yaml.SafeLoader):
    """Reads task files with Ansible's tags (!unsafe, !vault) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def load(path: Path):
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def tasks_of(data):
    """Every task in a task file or a play list, blocks and the plays' sections included."""
    for item in data or []:
        if not isinstance(item, dict):
            continue
        yield item
        for key in NESTED + ("tasks", "pre_tasks", "post_tasks", "handlers"):
            if isinstance(item.get(key), list):
                yield from tasks_of(item[key])


def written_names(task: dict) -> list[str]:
    """The variables a task sets: its vars, its set_fact keys, what it registers, its loop variable."""
    names = list((task.get("vars") or {}).keys()) if isinstance(task.get("vars"), dict) else []
    for key in SET_FACT & task.keys():
        if isinstance(task[key], dict):
            names += [k for k in task[key] if k not in ("cacheable",)]
    if isinstance(task.get("register"), str):
        names.append(task["register"])
    loop_var = (task.get("loop_control") or {}).get("loop_var") if isinstance(task.get("loop_control"), dict) else None
    if isinstance(loop_var, str):
        names.append(loop_var)
    return [n for n in names if isinstance(n, str) and "{{" not in n]


def roles(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "roles").iterdir() if (p / "tasks").is_dir())


def role_task_files(root: Path = REPO):
    for role in roles(root):
        for path in sorted((root / "roles" / role / "tasks").rglob("*.y*ml")):
            yield role, path


def foreign_writes(root: Path = REPO) -> list[str]:
    private = re.compile(r"^__(%s)_" % "|".join(map(re.escape, sorted(roles(root), key=len, reverse=True))))
    found = []
    for role, path in role_task_files(root):
        for task in tasks_of(load(path)):
            for name in written_names(task):
                match = private.match(name)
                if match and match.group(1) != role:
                    found.append(f"{path.relative_to(root)}: task {task.get('name', '(unnamed)')!r} sets {name}, "
                                 f"a private variable of the {match.group(1)} role")
    return found


def entry_points(role: str) -> set[str]:
    spec = REPO / "roles" / role / "meta" / "argument_specs.yml"
    return set(((load(spec) or {}).get("argument_specs") or {}).keys()) if spec.is_file() else set()


def role_includes():
    """(file, role, tasks_from) of every include_role/import_role with tasks_from, in the roles and the playbooks."""
    files = [path for _role, path in role_task_files()] + sorted((REPO / "playbooks").glob("*.yml"))
    for path in files:
        for task in tasks_of(load(path)):
            for key in INCLUDE_ROLE & task.keys():
                args = task[key] or {}
                if isinstance(args, dict) and "tasks_from" in args:
                    yield path, str(args.get("name", "")).rsplit(".", 1)[-1], str(args["tasks_from"])


def test_no_role_writes_another_roles_private_variables():
    found = foreign_writes()
    assert not found, "a role sets another role's __ variables; pass a documented option of its entry point instead:\n" \
        + "\n".join(found)


def test_the_scan_sees_a_foreign_write(tmp_path):
    """The grep itself: a file of one role that sets another's private variable, each way a task can, is reported."""
    tasks = tmp_path / "roles" / "policy" / "tasks"
    tasks.mkdir(parents=True)
    (tmp_path / "roles" / "routing" / "tasks").mkdir(parents=True)
    (tasks / "main.yml").write_text(
        "- name: One\n  ansible.builtin.set_fact:\n    __routing_x: 1\n    __policy_y: 2\n"
        "- name: Two\n  block:\n    - name: Three\n      ansible.builtin.include_role: {name: istiolab.mesh.routing}\n"
        "      vars: {__routing_scenario: a}\n      register: __routing_z\n")
    assert [line.rsplit(" sets ", 1)[1].split(",")[0] for line in foreign_writes(tmp_path)] == \
        ["__routing_x", "__routing_scenario", "__routing_z"]


@pytest.mark.parametrize("path, role, tasks_from", list(role_includes()),
                         ids=lambda v: str(v.relative_to(REPO)) if isinstance(v, Path) else str(v))
def test_tasks_from_names_a_validated_entry_point(path, role, tasks_from):
    assert not tasks_from.endswith((".yml", ".yaml")), \
        f"{path.relative_to(REPO)}: tasks_from: {tasks_from} skips the argument spec; write it without the suffix"
    # A templated role name (playbooks/render.yml loops over roles): every role with that task file may be the one.
    candidates = [role] if "{{" not in role else [r for r in roles(REPO) if (REPO / "roles" / r / "tasks" / f"{tasks_from}.yml").is_file()]
    assert candidates, f"{path.relative_to(REPO)}: no role has tasks/{tasks_from}.yml"
    for name in candidates:
        assert tasks_from in entry_points(name), \
            f"{path.relative_to(REPO)}: tasks_from: {tasks_from} is not an entry point of roles/{name}/meta/argument_specs.yml"
