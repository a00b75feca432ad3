"""Custom resources judged by their CRD's openAPIV3Schema, with Istio 1.31's real CRDs (crd-all.gen.yaml)."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from tests.harness import fake_istioctl_crds, fixtures
from tests.harness.client import HarnessError

VS = "/apis/networking.istio.io/v1/namespaces/{ns}/virtualservices"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """An emulator of this module's own, with Istio's real CRDs created in it."""
    directory = tmp_path_factory.mktemp("validation")
    started = fixtures.start(directory)
    try:
        for crd in fake_istioctl_crds.load():
            started.client.create(crd)
        yield started
    finally:
        fixtures.lifecycle.down(str(directory))


@pytest.fixture
def ns(cluster):
    name = f"val-{uuid.uuid4().hex[:6]}"
    cluster.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def _virtual_service(ns, route=None, **spec_extra):
    route = route if route is not None else [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
                                             {"destination": {"host": "reviews", "subset": "v2"}, "weight": 50}]
    spec = dict({"hosts": ["reviews"], "http": [{"route": route}]}, **spec_extra)
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "reviews", "namespace": ns},
            "spec": spec}


def _refused(client, obj, params=None, method="POST", path=None):
    with pytest.raises(HarnessError) as caught:
        client.request(method, path or client.path_for(obj, collection=True), obj, params=params)
    return caught.value


def test_a_string_weight_is_refused_with_the_field_path(cluster, ns):
    route = [{"destination": {"host": "reviews", "subset": "v1"}, "weight": "fifty"},
             {"destination": {"host": "reviews", "subset": "v2"}, "weight": 50}]
    error = _refused(cluster.client, _virtual_service(ns, route))
    field = "spec.http[0].route[0].weight"
    detail = f'Invalid value: "string": {field} in body must be of type integer: "string"'
    assert error.status == 422
    assert error.body["reason"] == "Invalid" and error.body["code"] == 422
    assert error.body["message"] == f'VirtualService.networking.istio.io "reviews" is invalid: {field}: {detail}'
    assert error.body["details"] == {"name": "reviews", "group": "networking.istio.io", "kind": "VirtualService",
                                     "causes": [{"field": field, "reason": "FieldValueInvalid", "message": detail}]}
    assert cluster.client.get(f"{VS.format(ns=ns)}/reviews") is None


def test_a_missing_required_field_is_refused(cluster, ns):
    error = _refused(cluster.client, _virtual_service(ns, [{"destination": {"subset": "v1"}}]))
    assert error.status == 422
    assert error.body["message"] == ('VirtualService.networking.istio.io "reviews" is invalid: '
                                     "spec.http[0].route[0].destination.host: Required value")
    assert error.body["details"]["causes"] == [{"field": "spec.http[0].route[0].destination.host", "reason": "FieldValueRequired",
                                                "message": "Required value"}]


def test_a_value_outside_the_enum_is_refused(cluster, ns):
    rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "reviews", "namespace": ns},
            "spec": {"host": "reviews", "trafficPolicy": {"loadBalancer": {"simple": "FASTEST"}}}}
    error = _refused(cluster.client, rule)
    assert error.status == 422
    assert error.body["details"]["causes"] == [{
        "field": "spec.trafficPolicy.loadBalancer.simple", "reason": "FieldValueNotSupported",
        "message": 'Unsupported value: "FASTEST": supported values: "UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", '
                   '"ROUND_ROBIN", "LEAST_REQUEST"'}]


def test_an_unknown_field_under_strict_validation_is_refused(cluster, ns):
    obj = _virtual_service(ns, retries_typo={"attempts": 3})
    error = _refused(cluster.client, obj, params={"fieldValidation": "Strict"})
    assert error.status == 400 and error.body["reason"] == "BadRequest"
    assert error.body["message"] == ('VirtualService in version "v1" cannot be handled as a VirtualService: '
                                     'strict decoding error: unknown field "spec.retries_typo"')
    assert cluster.client.get(f"{VS.format(ns=ns)}/reviews") is None


def test_the_same_object_without_strict_validation_is_stored_pruned_with_a_warning(cluster, ns):
    obj = _virtual_service(ns, retries_typo={"attempts": 3})
    obj["spec"]["http"][0]["route"][0]["colour"] = "blue"
    request = urllib.request.Request(cluster.server + VS.format(ns=ns), data=json.dumps(obj).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with cluster.client.urlopen(request, timeout=10) as answer:
        stored = json.loads(answer.read())
        warnings = answer.headers.get_all("Warning")
    assert warnings == ['299 - "unknown field \\"spec.http[0].route[0].colour\\""', '299 - "unknown field \\"spec.retries_typo\\""']
    expected = _virtual_service(ns)["spec"]
    assert stored["spec"] == expected
    assert cluster.client.get(f"{VS.format(ns=ns)}/reviews")["spec"] == expected


def test_updates_and_patches_are_validated_too(cluster, ns):
    client = cluster.client
    client.create(_virtual_service(ns))
    path = f"{VS.format(ns=ns)}/reviews"
    with pytest.raises(HarnessError) as caught:
        client.patch(path, {"spec": {"http": [{"route": [{"destination": {"host": "reviews"}, "weight": "fifty"}]}]}})
    assert caught.value.status == 422 and "spec.http[0].route[0].weight" in caught.value.body["message"]
    current = client.get(path)
    current["spec"]["hosts"] = "reviews"
    with pytest.raises(HarnessError) as caught:
        client.request("PUT", path, current)
    assert caught.value.body["details"]["causes"][0]["field"] == "spec.hosts"
    assert client.get(path)["spec"]["hosts"] == ["reviews"]


def test_preserve_unknown_fields_keeps_what_the_schema_does_not_describe(cluster, ns):
    plugin = {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin", "metadata": {"name": "auth", "namespace": ns},
              "spec": {"url": "oci://example/auth:1", "pluginConfig": {"anything": {"nested": [1, "two"]}}}}
    stored = cluster.client.create(plugin)
    assert stored["spec"]["pluginConfig"] == {"anything": {"nested": [1, "two"]}}


def test_kubectl_apply_validate_strict_refuses_an_unknown_field(cluster, ns, tmp_path):
    path = tmp_path / "vs.yaml"
    path.write_text(json.dumps(_virtual_service(ns, hostz=["typo"])))
    refused = cluster.kubectl("apply", "--validate=strict", "-f", str(path), check=False)
    assert refused.returncode == 1
    assert 'strict decoding error: unknown field "spec.hostz"' in refused.stderr
    allowed = cluster.kubectl("apply", "--validate=false", "-f", str(path))
    assert allowed.stdout.strip() == "virtualservice.networking.istio.io/reviews created"
    assert "hostz" not in cluster.client.get(f"{VS.format(ns=ns)}/reviews")["spec"]


def test_defaults_and_int_or_string_of_a_crd_schema(cluster, ns):
    group = f"{uuid.uuid4().hex[:6]}.example.com"
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "replicas": {"type": "integer", "default": 1},
        "port": {"x-kubernetes-int-or-string": True},
        "mode": {"type": "string", "default": "fast", "enum": ["fast", "safe"]}}}}}
    cluster.client.create({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                           "metadata": {"name": f"gadgets.{group}"},
                           "spec": {"group": group, "scope": "Namespaced",
                                    "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
                                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}]}})
    base = {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"namespace": ns}}
    named = cluster.client.create(dict(base, metadata={"name": "named", "namespace": ns}, spec={"port": "http"}))
    assert named["spec"] == {"port": "http", "replicas": 1, "mode": "fast"}
    numbered = cluster.client.create(dict(base, metadata={"name": "numbered", "namespace": ns}, spec={"port": 8080, "mode": None}))
    assert numbered["spec"] == {"port": 8080, "replicas": 1, "mode": "fast"}
    error = _refused(cluster.client, dict(base, metadata={"name": "bad", "namespace": ns}, spec={"port": True}))
    assert error.body["details"]["causes"] == [{"field": "spec.port", "reason": "FieldValueInvalid",
                                                "message": 'Invalid value: "boolean": spec.port in body must be of type '
                                                           'integer,string: "boolean"'}]
