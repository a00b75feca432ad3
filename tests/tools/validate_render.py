"""Validate every Kubernetes object that render.yml writes, rejecting unknown fields and unknown kinds.

Built-in kinds are checked with kubernetes-validate's strict schemas for the project's Kubernetes
version. Custom resources (Istio's groups, and the Gateway API's) are checked against the
`openAPIV3Schema` of their CRD in Istio 1.31's own text, read at run time from an Istio tree:
`--istio-release DIR` or $MESH_ISTIO_RELEASE_DIR (an unpacked release), else ../shared/istio-1.31
beside the checkout. The CRD schemas are made strict here, as `kubectl apply --validate=strict`
would judge: unknown fields are refused, not pruned. An object whose kind has no schema in either
fails, and so does a directory with nothing to validate.

  validate_render.py [DIR]    validate DIR/**/*.yml|yaml (default: rendered/)
  validate_render.py --render run playbooks/render.yml into .cache/test/rendered, then validate it
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import kubernetes_validate.utils as kv
import yaml
from packaging.version import Version

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.tools._common import REPO, Timer, ToolError, run, venv_bin

RELEASE_ENV = "MESH_ISTIO_RELEASE_DIR"
DEFAULT_RELEASE_DIR = REPO.parent / "shared" / "istio-1.31"
ISTIO_CRDS = Path("manifests/charts/base/files/crd-all.gen.yaml")
# Not part of a release: the Gateway API CRDs Istio's own tests use, present in the ../shared tree.
GATEWAY_API_CRDS = Path("tests/integration/pilot/testdata/gateway-api-crd.yaml")
OBJECT_META = "/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
GROUP_VARS = REPO / "inventory" / "group_vars" / "all.yml"
RENDER_PLAYBOOK = REPO / "playbooks" / "render.yml"
RENDER_DIR = REPO / ".cache" / "test" / "rendered"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(object)'}: {self.message}"


# -- Kubernetes version ---------------------------------------------------------------------------

def minor_of(version: str) -> tuple[int, int]:
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version.strip())
    if not match:
        raise ToolError(f"Kubernetes version {version!r} is not like v1.35.0; pass --kubernetes-version")
    return int(match[1]), int(match[2])


def project_kubernetes_version(group_vars: Path = GROUP_VARS) -> str:
    if not group_vars.is_file():
        raise ToolError(f"{group_vars} not found; pass --kubernetes-version")
    value = (yaml.safe_load(group_vars.read_text()) or {}).get("mesh_kubernetes_version")
    if not isinstance(value, str) or "{{" in value:
        raise ToolError(f"mesh_kubernetes_version in {group_vars} is {value!r}, not a plain version; "
                        f"pass --kubernetes-version")
    return value


def schema_version(wanted: str) -> str:
    """The newest kubernetes-validate schema set not newer than the wanted minor version."""
    wanted_minor = minor_of(wanted)
    shipped = sorted(kv.all_versions(), key=Version)
    usable = [v for v in shipped if minor_of(v) <= wanted_minor]
    if not usable:
        raise ToolError(f"kubernetes-validate {kv.__version__} ships schemas for {shipped[0]} to {shipped[-1]}, "
                        f"none for Kubernetes {wanted} or older; pick a supported version")
    chosen = usable[-1]
    if minor_of(chosen) != wanted_minor:
        print(f"note: kubernetes-validate {kv.__version__} has no schemas for Kubernetes {wanted}; "
              f"using the nearest older set, {chosen}")
    return chosen


# -- Schemas ----------------------------------------------------------------------------------------

def istio_release_dir(value: str | os.PathLike | None = None) -> Path:
    """Where Istio's text is: the argument, else $MESH_ISTIO_RELEASE_DIR, else ../shared/istio-1.31."""
    return Path(value or os.environ.get(RELEASE_ENV) or DEFAULT_RELEASE_DIR).expanduser().resolve()


def crd_files(release: Path) -> list[Path]:
    """The CRD files of a release: Istio's (required) and the Gateway API's (when the tree has them)."""
    istio = release / ISTIO_CRDS
    if not istio.is_file():
        raise ToolError(f"{istio} not found: the Istio CRDs come from an Istio 1.31 tree; point "
                        f"--istio-release or {RELEASE_ENV} at an unpacked release (default: ../shared/istio-1.31)")
    return [istio] + [path for path in [release / GATEWAY_API_CRDS] if path.is_file()]


def strict_schema(schema: object) -> object:
    """A JSON-schema copy of a CRD's OpenAPI v3 schema that judges as kube-apiserver with strict field validation.

    Every object schema without `x-kubernetes-preserve-unknown-fields` and without an
    `additionalProperties` of its own (a map) allows no other fields, since the API server would
    prune them (and refuse them under --validate=strict). `x-kubernetes-int-or-string` allows an
    integer or a string, and `nullable` allows null. CEL rules (`x-kubernetes-validations`) are
    not evaluated.
    """
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: strict_schema(value) if key not in ("enum", "default", "example") else value
              for key, value in schema.items()}
    if strict.pop("x-kubernetes-int-or-string", False):
        # Structural schemas may spell it out as anyOf [{type: integer}, {type: string}]; one type list says it
        # with one error message instead of a guess between two branches.
        if all(branch.keys() == {"type"} for branch in strict.get("anyOf", [])):
            strict.pop("anyOf", None)
        strict["type"] = ["integer", "string"]
    if strict.get("type") == "object" and "additionalProperties" not in strict \
            and not strict.get("x-kubernetes-preserve-unknown-fields"):
        strict["additionalProperties"] = False
    if strict.pop("nullable", False) and "type" in strict:
        strict["type"] = [*([strict["type"]] if isinstance(strict["type"], str) else strict["type"]), "null"]
        if "enum" in strict:
            strict["enum"] = [*strict["enum"], None]
    return strict


@functools.cache
def crd_schemas(release: Path) -> dict[tuple[str, str], tuple[str, dict]]:
    """(apiVersion, kind) -> (CRD name, openAPIV3Schema) for every served version of every CRD in the release."""
    schemas = {}
    for path in crd_files(release):
        for doc in yaml.safe_load_all(path.read_text()):
            if not (isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"):
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    schemas[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = (
                        doc["metadata"]["name"], version["schema"]["openAPIV3Schema"])
    return schemas


def crd_groups(release: Path) -> set[str]:
    return {api_version.split("/")[0] for api_version, _kind in crd_schemas(release)}


@functools.cache
def crd_validator(release: Path, k8s_version: str, api_version: str,
                  kind: str) -> tuple[str, jsonschema.Draft202012Validator] | None:
    """The CRD's name and a strict validator for its schema, or None if no CRD serves this apiVersion and kind."""
    found = crd_schemas(release).get((api_version, kind))
    if found is None:
        return None
    name, openapi = found
    schema = strict_schema(openapi)
    # The API server judges apiVersion, kind and metadata itself, whatever the CRD's schema says of them.
    schema["properties"] = dict(schema.get("properties", {}), apiVersion={"const": api_version},
                                kind={"const": kind}, metadata={"$ref": OBJECT_META})
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind"})
    # Under kubernetes-validate's base URI, so that OBJECT_META resolves as in its own schemas.
    schema["$id"] = f"https://kubernetes.io/api/{name}/{api_version.split('/')[1]}"
    return name, jsonschema.Draft202012Validator(schema, registry=kubernetes_registry(k8s_version))


@functools.cache
def kubernetes_registry(version: str):
    from referencing import Registry, Resource

    definitions = kv.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def kubernetes_validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """The strict schema kubernetes-validate would use for this kind, or None if it has none."""
    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    # kubernetes-validate's file naming: apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1 -> rbac-v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    from referencing import Resource

    registry = Resource.from_contents(schema) @ kubernetes_registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


# -- Validation -------------------------------------------------------------------------------------

def field_path(parts: list[object]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def leaf_errors(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors under an anyOf/oneOf that say what is wrong, not just that no branch matched.

    Optional fields are `anyOf: [<schema>, {type: null}]`, so without this an unknown field deep in
    a spec is reported as "not valid under any of the given schemas" at the top of the spec. Of
    several non-null branches the one closest to matching (fewest errors, then deepest) is taken to
    be the one the author meant.
    """
    if not error.context:
        return [error]
    branches: dict[object, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        if sub.validator == "type" and sub.validator_value == "null":
            continue
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    if not branches:
        return [error]
    candidates = [[leaf for sub in subs for leaf in leaf_errors(sub)] for subs in branches.values()]
    return min(candidates, key=lambda leaves: (len(leaves), -max(len(leaf.absolute_path) for leaf in leaves)))


def describe(error: jsonschema.ValidationError) -> list[Problem]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        patterns = error.schema.get("patternProperties", {})
        unknown = sorted(k for k in error.instance
                         if k not in known and not any(re.search(p, k) for p in patterns))
        return [Problem(field_path(path + [k]), "unknown field") for k in unknown]
    return [Problem(field_path(path), error.message)]


def check_object(obj: object, k8s_version: str, release: Path) -> tuple[str, list[Problem]]:
    """Return which schema judged the object and the problems it found."""
    if not isinstance(obj, dict) or not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        return "none", [Problem("", "not a Kubernetes object: needs string apiVersion and kind")]
    api_version, kind = obj["apiVersion"], obj["kind"]
    if api_version.split("/")[0] in crd_groups(release):
        found = crd_validator(release, k8s_version, api_version, kind)
        validator, judge = (found[1], f"CRD {found[0]} strict") if found else (None, "none")
    else:
        validator, judge = kubernetes_validator(k8s_version, api_version, kind), f"kubernetes {k8s_version} strict"
    if validator is None:
        return "none", [Problem("", f"unknown kind {api_version}/{kind}: no schema")]
    problems = [p for error in validator.iter_errors(obj) for leaf in leaf_errors(error) for p in describe(leaf)]
    # Neither schema requires a name, but the API server rejects an object without one.
    meta = obj.get("metadata")
    if not (isinstance(meta, dict) and (meta.get("name") or meta.get("generateName"))):
        problems.append(Problem("metadata.name", "required: the API server rejects an object without a name"))
    return judge, sorted(set(problems), key=lambda p: (p.path, p.message))


def documents(path: Path) -> Iterator[tuple[str, object]]:
    """(label, object) per document; a v1 List stands for its items, each checked on its own."""
    for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
        if doc is None:
            continue
        if isinstance(doc, dict) and doc.get("apiVersion") == "v1" and doc.get("kind") == "List":
            for item_index, item in enumerate(doc.get("items") or []):
                yield f"#{index}.items[{item_index}]", item
        else:
            yield f"#{index}", doc


def object_name(obj: object) -> str:
    if not isinstance(obj, dict):
        return "?"
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
    return f"{obj.get('kind')} {name}"


def validate_dir(directory: Path, k8s_version: str, release: Path) -> tuple[int, int]:
    """Print one line per object (and per problem); return (objects, objects with problems)."""
    if not directory.is_dir():
        raise ToolError(f"{directory} does not exist; run `make render` (or use --render) first")
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    if not files:
        raise ToolError(f"no .yml/.yaml files in {directory}: nothing validated is not a pass")
    objects = failed = 0
    for path in files:
        rel = path.relative_to(directory)
        try:
            docs = list(documents(path))
        except yaml.YAMLError as exc:
            print(f"{rel}: ERROR invalid YAML: {exc}")
            failed += 1
            continue
        if not docs:
            print(f"{rel}: ERROR no objects in file")
            failed += 1
            continue
        for label, obj in docs:
            objects += 1
            judge, problems = check_object(obj, k8s_version, release)
            where = f"{rel}{label} {object_name(obj)}"
            if problems:
                failed += 1
                for problem in problems:
                    print(f"{where}: ERROR {problem}")
            else:
                print(f"{where}: OK ({judge})")
    return objects, failed


def render(directory: Path, extra: list[str]) -> None:
    if not RENDER_PLAYBOOK.is_file():
        raise ToolError(f"{RENDER_PLAYBOOK.relative_to(REPO)} does not exist, so there is nothing to validate; "
                        f"it comes with the roles (issue 4)")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    result = run([venv_bin("ansible-playbook"), RENDER_PLAYBOOK, "-e", f"render_dir={directory}", *extra],
                 cwd=REPO, env=env)
    if result.returncode != 0:
        raise ToolError(f"ansible-playbook {RENDER_PLAYBOOK.name} failed (exit {result.returncode}); see its output above")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("directory", nargs="?", type=Path, help="rendered manifests (default: rendered/)")
    parser.add_argument("--render", action="store_true", help="run playbooks/render.yml first and validate its output")
    parser.add_argument("--kubernetes-version", help="default: mesh_kubernetes_version from inventory/group_vars/all.yml")
    parser.add_argument("--istio-release", type=Path,
                        help=f"an Istio 1.31 tree (unpacked release) to read CRDs from (default: ${RELEASE_ENV}, "
                             f"else ../shared/istio-1.31)")
    parser.add_argument("--playbook-arg", action="append", default=[], help="extra ansible-playbook argument (with --render)")
    args = parser.parse_args(argv)
    if args.render and args.directory:
        parser.error("--render writes its own directory; give no DIR with it")
    timer = Timer()
    try:
        version = schema_version(args.kubernetes_version or project_kubernetes_version())
        release = istio_release_dir(args.istio_release)
        crd_files(release)
        directory = args.directory or REPO / "rendered"
        if args.render:
            directory = RENDER_DIR
            with timer.step("render"):
                render(directory, args.playbook_arg)
        with timer.step("validate"):
            objects, failed = validate_dir(directory, version, release)
    except ToolError as exc:
        print(f"validate: ERROR {exc}", file=sys.stderr)
        return 1
    verdict = "passed" if not failed else f"FAILED ({failed} with errors)"
    print(f"validate {verdict}: {objects} objects in {directory} ({timer.summary()})")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
