"""The shared facts have one home, inventory/group_vars/all.yml; role defaults only mirror them.

A role default such as ``istio_version: "{{ mesh_istio_version | default('1.31.1') }}"`` follows the
shared fact and keeps a literal fallback for use outside this inventory (an installed collection).
When a version is bumped in group_vars and not in a fallback, the role would silently install another
version elsewhere: these tests catch that, and check that every default is documented, with the
same value, in the role's meta/argument_specs.yml.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GROUP_VARS = yaml.safe_load((REPO / "inventory" / "group_vars" / "all.yml").read_text())
ROLES = sorted(p.parent.parent for p in REPO.glob("roles/*/defaults/main.yml"))
VERSION_FACTS = ("mesh_istio_version", "mesh_minikube_version", "mesh_kubernetes_version",
                 "mesh_kubernetes_min_version", "mesh_kubernetes_max_version")
# `mesh_x | default(<literal>)` anywhere in a default, also nested: default(mesh_x | default(4)).
FALLBACK = re.compile(r"""\b(mesh_\w+)\s*\|\s*default\(\s*('[^']*'|"[^"]*"|[-\w.]+)\s*\)""")
TEMPLATE = re.compile(r"^\{\{.*\}\}$", re.S)


def role_defaults(role: Path) -> dict:
    return yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}


def fallbacks(value) -> list[tuple[str, object]]:
    """The (shared fact, literal fallback) pairs in one default value."""
    if not isinstance(value, str):
        return []
    return [(name, yaml.safe_load(literal)) for name, literal in FALLBACK.findall(value)]


def effective_default(value):
    """What a default evaluates to outside this inventory: the literal itself, or the innermost fallback."""
    pairs = fallbacks(value)
    if isinstance(value, str) and TEMPLATE.match(value.strip()) and pairs:
        return pairs[-1][1]
    return value


def test_group_vars_pin_every_version():
    for name in VERSION_FACTS:
        assert isinstance(GROUP_VARS.get(name), str) and GROUP_VARS[name], f"{name} missing from group_vars/all.yml"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", GROUP_VARS["mesh_kubernetes_version"])
    minor = tuple(int(x) for x in GROUP_VARS["mesh_kubernetes_version"][1:].split(".")[:2])
    low = tuple(int(x) for x in GROUP_VARS["mesh_kubernetes_min_version"].split("."))
    high = tuple(int(x) for x in GROUP_VARS["mesh_kubernetes_max_version"].split("."))
    assert low <= minor <= high, "the default Kubernetes version must lie inside Istio's supported range"


def test_every_version_is_mirrored_by_a_role():
    mirrored = {name for role in ROLES for value in role_defaults(role).values() for name, _default in fallbacks(value)}
    missing = [name for name in VERSION_FACTS if name not in mirrored]
    assert not missing, f"no role default follows {missing}; a role pins its own version instead of the shared one"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_fallbacks_agree_with_group_vars(role):
    wrong = []
    for variable, value in role_defaults(role).items():
        for name, literal in fallbacks(value):
            if name not in GROUP_VARS:
                wrong.append(f"{variable}: {name} is not a shared fact in group_vars/all.yml")
                continue
            shared = GROUP_VARS[name]
            # A shared fact that is itself a template has no literal to mirror.
            if isinstance(shared, str) and "{{" in shared:
                continue
            if literal != shared:
                wrong.append(f"{variable}: falls back to {literal!r} but group_vars has {name}={shared!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_document_every_default_with_its_value(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    documented = {}
    for entry in specs.values():
        documented.update(entry.get("options") or {})
    problems = []
    for variable, value in role_defaults(role).items():
        option = documented.get(variable)
        if option is None:
            problems.append(f"{variable} is not documented in meta/argument_specs.yml")
            continue
        for field in ("type", "description"):
            if field not in option:
                problems.append(f"{variable} has no {field}")
        expected = effective_default(value)
        if isinstance(expected, str) and "{{" in expected:
            continue
        if option.get("default") != expected:
            problems.append(f"{variable}: argument_specs default {option.get('default')!r}, defaults/main.yml {expected!r}")
    assert not problems, "\n".join(problems)


# An image reference in a role default: registry/path:tag, the tag a version (not latest, not a digest only).
IMAGE = re.compile(r"^(?P<repo>[a-z0-9.-]+(?::\d+)?/[a-z0-9._/-]+):(?P<tag>[\w][\w.-]*)$")


def pinned_images() -> dict[str, list[tuple[str, str]]]:
    """{image repository: [(role/variable, tag), ...]} over every role default that holds one image."""
    found: dict[str, list[tuple[str, str]]] = {}
    for role in ROLES:
        for variable, value in role_defaults(role).items():
            match = IMAGE.match(value) if isinstance(value, str) else None
            if match and variable.endswith("_image"):
                found.setdefault(match["repo"], []).append((f"{role.name}/{variable}", match["tag"]))
    return found


def test_every_image_default_is_pinned_and_one_image_has_one_tag():
    images = pinned_images()
    assert "docker.io/fortio/fortio" in images and "docker.elastic.co/kibana/kibana" in images, sorted(images)
    problems = [f"{where} pins {repo}:latest" for repo, pins in images.items() for where, tag in pins if tag == "latest"]
    problems += [f"{repo} has several tags: {pins}" for repo, pins in images.items() if len({tag for _w, tag in pins}) > 1]
    assert not problems, "\n".join(problems)


def test_kibana_runs_the_version_of_elasticsearch():
    # Kibana refuses an Elasticsearch of another version, so the two pins move together.
    images = pinned_images()
    (_es, es_tag), = images["docker.elastic.co/elasticsearch/elasticsearch"]
    (_kibana, kibana_tag), = images["docker.elastic.co/kibana/kibana"]
    assert es_tag == kibana_tag
