"""tests/tools/validate_render.py on the fixtures in tests/fixtures/render: good objects pass, and
each kind of mistake fails with the field's path. Custom resources are judged by Istio 1.31's own
CRDs, read from ../shared/istio-1.31 (or $MESH_ISTIO_RELEASE_DIR) at test time."""

from __future__ import annotations

import json
import shutil
import textwrap

import jsonschema
import kubernetes_validate.utils as kv
import pytest
import yaml

from tests.tools import validate_render
from tests.tools._common import REPO

FIXTURES = REPO / "tests" / "fixtures" / "render"
K8S = "v1.35.0"
RELEASE = validate_render.istio_release_dir()
SAMPLES = RELEASE / "samples" / "bookinfo"


def validate(directory, capsys, stream="out"):
    """Run the tool on directory; return its exit status and what it wrote to stream."""
    status = validate_render.main([str(directory), "--kubernetes-version", K8S])
    return status, getattr(capsys.readouterr(), stream)


def test_good_objects_pass_each_with_its_validator(capsys):
    status, out = validate(FIXTURES / "good", capsys)
    assert status == 0, out
    lines = out.splitlines()
    assert lines[:9] == [
        "authorizationpolicy.yml#0 AuthorizationPolicy bookinfo/productpage-viewer: OK (CRD authorizationpolicies.security.istio.io strict)",
        "deployment.yml#0 Deployment bookinfo/reviews-v2: OK (kubernetes 1.35.0 strict)",
        "destinationrule.yml#0 DestinationRule bookinfo/reviews: OK (CRD destinationrules.networking.istio.io strict)",
        "envoyfilter.yml#0 EnvoyFilter istio-system/ingress-response-header: OK (CRD envoyfilters.networking.istio.io strict)",
        "gateway.yml#0 Gateway bookinfo/bookinfo-gateway: OK (CRD gateways.networking.istio.io strict)",
        "namespace.yml#0 Namespace bookinfo: OK (kubernetes 1.35.0 strict)",
        "service.yml#0 Service bookinfo/reviews: OK (kubernetes 1.35.0 strict)",
        "telemetry.yml#0 Telemetry istio-system/mesh-default: OK (CRD telemetries.telemetry.istio.io strict)",
        "virtualservice.yml#0 VirtualService bookinfo/reviews: OK (CRD virtualservices.networking.istio.io strict)",
    ]
    assert lines[9].startswith("validate passed: 9 objects in ")


@pytest.mark.parametrize(("fixture", "error"), [
    ("deployment-misspelled-field.yml",
     "deployment-misspelled-field.yml#0 Deployment bookinfo/ratings-v1: ERROR "
     "spec.template.spec.containers[0].imagePullPolicyy: unknown field"),
    ("virtualservice-unknown-field.yml",
     "virtualservice-unknown-field.yml#0 VirtualService bookinfo/reviews: ERROR spec.http[0].rout: unknown field"),
    ("virtualservice-weight-type.yml",
     "virtualservice-weight-type.yml#0 VirtualService bookinfo/reviews: ERROR "
     "spec.http[0].route[0].weight: 'fifty' is not of type 'integer'"),
    ("unknown-kind.yml",
     "unknown-kind.yml#0 Widget sprocket: ERROR (object): unknown kind example.com/v1/Widget: no schema"),
    ("istio-wrong-api-version.yml",
     "istio-wrong-api-version.yml#0 EnvoyFilter istio-system/wrong-version: ERROR (object): "
     "unknown kind networking.istio.io/v1/EnvoyFilter: no schema"),
])
def test_each_mistake_fails_with_its_path(tmp_path, capsys, fixture, error):
    shutil.copy(FIXTURES / "bad" / fixture, tmp_path)
    status, out = validate(tmp_path, capsys)
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == error
    assert len(lines) == 2 and lines[1].startswith(f"validate FAILED (1 with errors): 1 objects in {tmp_path} (")


def test_neither_tool_alone_would_have_caught_the_istio_mistakes():
    """Why the strict CRD schema exists: kubernetes-validate has no schema for custom resources, and
    the CRD's schema as written allows unknown fields (the API server prunes them)."""
    unknown_field = yaml.safe_load((FIXTURES / "bad" / "virtualservice-unknown-field.yml").read_text())
    openapi = validate_render.crd_schemas(RELEASE)[("networking.istio.io/v1", "VirtualService")][1]
    jsonschema.Draft202012Validator(openapi).validate(unknown_field)
    with pytest.raises(kv.SchemaNotFoundError):
        kv.validate(unknown_field, "1.35.0", strict=True)


def write_virtual_service(directory, route, status=None):
    obj = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": "reviews", "namespace": "bookinfo"},
           "spec": {"hosts": ["reviews"], "http": [{"route": route}]}}
    if status is not None:
        obj["status"] = status
    (directory / "vs.yml").write_text(yaml.safe_dump(obj))


def test_a_weight_of_fifty_in_words_fails(tmp_path, capsys):
    write_virtual_service(tmp_path, [{"destination": {"host": "reviews", "subset": "v1"}, "weight": "fifty"},
                                     {"destination": {"host": "reviews", "subset": "v3"}, "weight": 50}])
    status, out = validate(tmp_path, capsys)
    assert status == 1
    assert out.splitlines()[0] == ("vs.yml#0 VirtualService bookinfo/reviews: ERROR "
                                   "spec.http[0].route[0].weight: 'fifty' is not of type 'integer'")


def test_a_missing_required_field_fails(tmp_path, capsys):
    # A route destination needs a host (required in the 1.31 CRD).
    write_virtual_service(tmp_path, [{"destination": {"subset": "v1"}}])
    status, out = validate(tmp_path, capsys)
    assert status == 1
    assert out.splitlines()[0] == ("vs.yml#0 VirtualService bookinfo/reviews: ERROR "
                                   "spec.http[0].route[0].destination: 'host' is a required property")


def test_an_unknown_field_fails_even_in_a_map_free_object(tmp_path, capsys):
    write_virtual_service(tmp_path, [{"destination": {"host": "reviews", "subnet": "v1"}}])
    status, out = validate(tmp_path, capsys)
    assert status == 1
    assert out.splitlines()[0] == ("vs.yml#0 VirtualService bookinfo/reviews: ERROR "
                                   "spec.http[0].route[0].destination.subnet: unknown field")


@pytest.mark.parametrize(("generation", "error"), [
    (3, None),
    ("3", None),
    ([3], "status.observedGeneration: [3] is not of type 'integer', 'string'"),
])
def test_int_or_string_takes_either_and_nothing_else(tmp_path, capsys, generation, error):
    # status is x-kubernetes-preserve-unknown-fields (extra keys stay open); observedGeneration is int-or-string.
    write_virtual_service(tmp_path, [{"destination": {"host": "reviews"}}],
                          status={"observedGeneration": generation, "anything": {"goes": True}})
    status, out = validate(tmp_path, capsys)
    first = out.splitlines()[0]
    if error is None:
        assert status == 0 and first.endswith(": OK (CRD virtualservices.networking.istio.io strict)"), out
    else:
        assert status == 1 and first == f"vs.yml#0 VirtualService bookinfo/reviews: ERROR {error}"


def test_a_field_istio_added_after_1_24_passes(tmp_path, capsys):
    # trafficPolicy.retryBudget is in the 1.31 CRD; the old 1.24 schemas refused it as unknown.
    (tmp_path / "dr.yml").write_text(textwrap.dedent("""\
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          host: reviews
          trafficPolicy:
            retryBudget: {percent: 20, minRetryConcurrency: 3}
        """))
    status, out = validate(tmp_path, capsys)
    assert status == 0, out
    assert out.splitlines()[0] == (
        "dr.yml#0 DestinationRule bookinfo/reviews: OK (CRD destinationrules.networking.istio.io strict)")


@pytest.mark.parametrize("sample_dir", ["networking", "gateway-api"])
def test_istio_own_bookinfo_samples_pass(tmp_path, capsys, sample_dir):
    samples = sorted((SAMPLES / sample_dir).glob("*.yaml"))
    assert len(samples) >= 6, f"no Bookinfo samples in {SAMPLES / sample_dir}"
    for sample in samples:
        shutil.copy(sample, tmp_path)
    status, out = validate(tmp_path, capsys)
    assert status == 0, out
    lines = out.splitlines()
    assert all(": OK (CRD " in line for line in lines[:-1]), out
    assert len(lines) - 1 >= len(samples)


def test_the_release_comes_from_the_option_then_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(validate_render.RELEASE_ENV, str(tmp_path / "from-env"))
    assert validate_render.istio_release_dir() == tmp_path / "from-env"
    assert validate_render.istio_release_dir(tmp_path / "opt") == tmp_path / "opt"
    monkeypatch.delenv(validate_render.RELEASE_ENV)
    assert validate_render.istio_release_dir() == (REPO.parent / "shared" / "istio-1.31").resolve()
    status = validate_render.main([str(FIXTURES / "good"), "--kubernetes-version", K8S,
                                   "--istio-release", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 1
    assert f"{tmp_path / 'manifests/charts/base/files/crd-all.gen.yaml'} not found" in err
    assert "MESH_ISTIO_RELEASE_DIR at an unpacked release" in err


def test_a_release_without_the_gateway_api_crds_knows_no_gateway_api_kinds(tmp_path, capsys):
    crds = tmp_path / "manifests" / "charts" / "base" / "files"
    crds.mkdir(parents=True)
    shutil.copy(RELEASE / validate_render.ISTIO_CRDS, crds)
    shutil.copy(SAMPLES / "gateway-api" / "route-all-v1.yaml", tmp_path / "route.yaml")
    status = validate_render.main([str(tmp_path / "route.yaml").rsplit("/", 1)[0], "--kubernetes-version", K8S,
                                   "--istio-release", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 1
    assert "ERROR (object): unknown kind gateway.networking.k8s.io/v1/HTTPRoute: no schema" in out


def test_every_mistake_in_an_object_is_listed(tmp_path, capsys):
    (tmp_path / "many.yaml").write_text(textwrap.dedent("""\
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: reviews
          labelz: {}
        spec:
          host: reviews
          trafficPolicy:
            loadBalancer:
              simple: ROUND_ROBIN
              warmupDurationSecs: 10s
              bogus: 1
          subsets:
            - name: v1
              labels: {version: v1}
              extra: true
        """))
    status, out = validate(tmp_path, capsys)
    assert status == 1
    assert out.splitlines()[:3] == [
        "many.yaml#0 DestinationRule reviews: ERROR metadata.labelz: unknown field",
        "many.yaml#0 DestinationRule reviews: ERROR spec.subsets[0].extra: unknown field",
        "many.yaml#0 DestinationRule reviews: ERROR spec.trafficPolicy.loadBalancer.bogus: unknown field",
    ]


def test_a_union_reports_the_branch_the_author_meant(tmp_path, capsys):
    # EnvoyFilter match is one of listener / routeConfiguration / cluster matches.
    (tmp_path / "ef.yml").write_text(textwrap.dedent("""\
        apiVersion: networking.istio.io/v1alpha3
        kind: EnvoyFilter
        metadata: {name: ef, namespace: istio-system}
        spec:
          configPatches:
            - applyTo: HTTP_FILTER
              match:
                context: GATEWAY
                listener: {portNumbr: 8080}
        """))
    status, out = validate(tmp_path, capsys)
    assert status == 1
    assert out.splitlines()[0] == (
        "ef.yml#0 EnvoyFilter istio-system/ef: ERROR spec.configPatches[0].match.listener.portNumbr: unknown field")


def test_objects_need_a_name_kind_and_api_version(tmp_path, capsys):
    (tmp_path / "x.yml").write_text("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n---\nkind: ConfigMap\n---\n- a list\n")
    status, out = validate(tmp_path, capsys)
    assert status == 1
    assert out.splitlines()[:3] == [
        "x.yml#0 ConfigMap None: ERROR metadata.name: required: the API server rejects an object without a name",
        "x.yml#1 ConfigMap None: ERROR (object): not a Kubernetes object: needs string apiVersion and kind",
        "x.yml#2 ?: ERROR (object): not a Kubernetes object: needs string apiVersion and kind",
    ]


def test_a_v1_list_is_checked_item_by_item(tmp_path, capsys):
    (tmp_path / "list.yml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: List
        items:
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: ok}, data: {a: b}}
          - {apiVersion: example.com/v1, kind: Widget, metadata: {name: w}}
        """))
    status, out = validate(tmp_path, capsys)
    assert status == 1
    assert out.splitlines()[:2] == [
        "list.yml#0.items[0] ConfigMap ok: OK (kubernetes 1.35.0 strict)",
        "list.yml#0.items[1] Widget w: ERROR (object): unknown kind example.com/v1/Widget: no schema",
    ]


@pytest.mark.parametrize(("files", "message"), [
    ({}, "no .yml/.yaml files in"),
    ({"notes.txt": "apiVersion: v1\n"}, "no .yml/.yaml files in"),
])
def test_nothing_to_validate_is_an_error(tmp_path, capsys, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    status, err = validate(tmp_path, capsys, "err")
    assert status == 1
    assert message in err and "nothing validated is not a pass" in err


def test_a_missing_directory_is_an_error(tmp_path, capsys):
    status, err = validate(tmp_path / "absent", capsys, "err")
    assert status == 1
    assert f"{tmp_path / 'absent'} does not exist" in err


def test_an_empty_file_or_bad_yaml_is_an_error(tmp_path, capsys):
    for name in ("namespace.yml", "deployment.yml", "service.yml"):
        shutil.copy(FIXTURES / "good" / name, tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "empty.yaml").write_text("---\n")
    (tmp_path / "sub" / "broken.yml").write_text("a: [\n")
    status, out = validate(tmp_path, capsys)
    assert status == 1
    lines = out.splitlines()
    assert "sub/empty.yaml: ERROR no objects in file" in lines
    assert any(line.startswith("sub/broken.yml: ERROR invalid YAML: ") for line in lines)
    assert "validate FAILED (2 with errors): 3 objects" in lines[-1]


@pytest.mark.parametrize(("wanted", "chosen", "note"), [
    ("v1.35.0", "1.35.0", False),
    ("1.35.4", "1.35.0", False),
    ("v1.40.1", "1.37.0", True),
])
def test_schema_version_is_the_nearest_shipped_not_newer(capsys, wanted, chosen, note):
    assert "1.35.0" in kv.all_versions() and "1.37.0" == kv.latest_version()
    assert validate_render.schema_version(wanted) == chosen
    assert ("using the nearest older set, 1.37.0" in capsys.readouterr().out) is note


def test_a_version_older_than_every_schema_is_an_error():
    with pytest.raises(validate_render.ToolError, match="none for Kubernetes v1.9.0 or older"):
        validate_render.schema_version("v1.9.0")


def test_the_project_version_comes_from_group_vars(tmp_path):
    group_vars = tmp_path / "all.yml"
    group_vars.write_text('mesh_kubernetes_version: "v1.33.2"\n')
    assert validate_render.project_kubernetes_version(group_vars) == "v1.33.2"
    group_vars.write_text('mesh_kubernetes_version: "{{ other }}"\n')
    with pytest.raises(validate_render.ToolError, match="pass --kubernetes-version"):
        validate_render.project_kubernetes_version(group_vars)
    with pytest.raises(validate_render.ToolError, match="pass --kubernetes-version"):
        validate_render.project_kubernetes_version(tmp_path / "absent.yml")


def test_the_crd_schemas_cover_the_kinds_the_demo_uses():
    models = validate_render.crd_schemas(RELEASE)
    for key in [("networking.istio.io/v1", "VirtualService"), ("networking.istio.io/v1", "DestinationRule"),
                ("networking.istio.io/v1", "Gateway"), ("networking.istio.io/v1", "ServiceEntry"),
                ("networking.istio.io/v1alpha3", "EnvoyFilter"), ("security.istio.io/v1", "AuthorizationPolicy"),
                ("security.istio.io/v1", "PeerAuthentication"), ("telemetry.istio.io/v1", "Telemetry")]:
        assert key in models
    assert validate_render.crd_groups(RELEASE) == {
        "networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io",
        "gateway.networking.k8s.io", "gateway.networking.x-k8s.io"}


def test_render_fails_when_the_playbook_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(validate_render, "RENDER_PLAYBOOK", tmp_path / "playbooks" / "render.yml")
    monkeypatch.setattr(validate_render, "REPO", tmp_path)
    assert validate_render.main(["--render", "--kubernetes-version", K8S]) == 1
    assert "playbooks/render.yml does not exist, so there is nothing to validate" in capsys.readouterr().err


def test_render_runs_the_playbook_and_validates_what_it_wrote(tmp_path, monkeypatch, capsys):
    playbook = tmp_path / "playbooks" / "render.yml"
    playbook.parent.mkdir()
    manifest = (FIXTURES / "bad" / "virtualservice-unknown-field.yml").read_text()
    playbook.write_text(textwrap.dedent(f"""\
        - name: Render like the real playbook does, into render_dir
          hosts: localhost
          gather_facts: false
          tasks:
            - name: Write one file
              ansible.builtin.copy:
                dest: "{{{{ render_dir }}}}/traffic.yml"
                content: {json.dumps(manifest)}
                mode: "0644"
        """))
    monkeypatch.setattr(validate_render, "RENDER_PLAYBOOK", playbook)
    monkeypatch.setattr(validate_render, "RENDER_DIR", tmp_path / "out")
    assert validate_render.main(["--render", "--kubernetes-version", K8S]) == 1
    out = capsys.readouterr().out
    assert "traffic.yml#0 VirtualService bookinfo/reviews: ERROR spec.http[0].rout: unknown field" in out
    assert f"1 objects in {tmp_path / 'out'}" in out
