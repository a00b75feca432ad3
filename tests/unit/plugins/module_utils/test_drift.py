"""The drift check of the provisioning roles: the record of an apply, and what counts as drift against it."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.filter.drift_record import FilterModule, drift_record
from ansible_collections.istiolab.mesh.plugins.module_utils import _drift

WANTED = [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "details", "namespace": "bookinfo"}, "spec": {"ports": [{"port": 9080}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "details-v1", "namespace": "bookinfo"}, "spec": {"replicas": 1}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bookinfo"}},
]


def served(obj, uid, resource_version, generation=None):
    """The object as the API server returns it."""
    meta = dict(obj["metadata"], uid=uid, resourceVersion=str(resource_version))
    if generation is not None:
        meta["generation"] = generation
    return dict(obj, metadata=meta)


SERVED = [served(WANTED[0], "u-svc", 10), served(WANTED[1], "u-dep", 11, generation=1), served(WANTED[2], "u-ns", 3)]
# What kubernetes.core.k8s registers: one definition gives the object, a list gives result.results.
REGISTERED = [
    {"changed": True, "result": {"results": [{"changed": True, "result": SERVED[0]}, {"changed": True, "result": SERVED[1]}]}},
    {"changed": False, "result": SERVED[2]},
    {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"},
]


def listed(objects):
    """What the lookup's lists return: every kind of WANTED listed (empty when none is left), with ``objects``."""
    found = {_drift.identity(obj)[:3]: [] for obj in WANTED}
    for obj in objects:
        api_version, kind, namespace, _name = _drift.identity(obj)
        found.setdefault((api_version, kind, namespace), []).append(obj)
    return found


def record(objects_digest=None):
    return {"data": drift_record(REGISTERED, objects_digest or _drift.digest(WANTED))}


def test_the_filter_is_registered_and_records_every_applied_object():
    assert FilterModule().filters() == {"drift_record": drift_record}
    data = record()["data"]
    assert data["digest"] == _drift.digest(WANTED) and data["format"] == _drift.RECORD_VERSION
    entries = json.loads(data["objects"])
    assert {(e["kind"], e["name"], e["uid"], e["version"]) for e in entries} == {
        ("Service", "details", "u-svc", "resourceVersion:10"),
        ("Deployment", "details-v1", "u-dep", "generation:1"),
        ("Namespace", "bookinfo", "u-ns", "resourceVersion:3"),
    }
    with pytest.raises(AnsibleFilterError):
        drift_record(REGISTERED, "")


def test_the_digest_ignores_key_order_but_not_content():
    reordered = [dict(reversed(list(obj.items()))) for obj in WANTED]
    assert _drift.digest(reordered) == _drift.digest(WANTED)
    other = json.loads(json.dumps(WANTED))
    other[1]["spec"]["replicas"] = 2
    assert _drift.digest(other) != _drift.digest(WANTED)


def test_in_sync_when_every_recorded_object_is_there_unchanged():
    assert _drift.compare(record(), _drift.digest(WANTED), listed(SERVED)) == []
    # A controller's status update moves a Deployment's resourceVersion, not its generation: still in sync.
    rolled = served(WANTED[1], "u-dep", 99, generation=1)
    assert _drift.compare(record(), _drift.digest(WANTED), listed([SERVED[0], rolled, SERVED[2]])) == []


def test_no_record_or_other_inputs_is_drift():
    assert _drift.compare(None, _drift.digest(WANTED), {}) == ["nothing recorded from an earlier apply"]
    assert _drift.compare({"data": {"digest": "x"}}, "x", {}) == ["nothing recorded from an earlier apply"]
    assert _drift.compare(record("old"), _drift.digest(WANTED), listed(SERVED)) == ["the objects to apply differ from the ones recorded"]


def test_a_deleted_recreated_or_edited_object_is_drift():
    digest = _drift.digest(WANTED)
    assert _drift.compare(record(), digest, listed([SERVED[0], SERVED[2]])) == ["Deployment bookinfo/details-v1 is missing"]
    recreated = served(WANTED[0], "u-new", 10)
    assert _drift.compare(record(), digest, listed([recreated, SERVED[1], SERVED[2]])) == ["Service bookinfo/details was recreated"]
    edited = served(WANTED[0], "u-svc", 12)
    assert _drift.compare(record(), digest, listed([edited, SERVED[1], SERVED[2]])) == [
        "Service bookinfo/details was changed (resourceVersion:12, recorded resourceVersion:10)"]
    scaled = served(WANTED[1], "u-dep", 13, generation=2)
    assert "Deployment bookinfo/details-v1 was changed" in _drift.compare(record(), digest, listed([SERVED[0], scaled, SERVED[2]]))[0]


def test_a_kind_that_cannot_be_listed_is_drift():
    found = listed(SERVED)
    found[("apps/v1", "Deployment", "bookinfo")] = None
    assert _drift.compare(record(), _drift.digest(WANTED), found) == ["Deployment in bookinfo could not be listed"]


def test_one_list_per_kind_and_namespace():
    entries = _drift.recorded_objects(record())
    assert _drift.kinds_to_list(entries) == [("apps/v1", "Deployment", "bookinfo"), ("v1", "Namespace", ""), ("v1", "Service", "bookinfo")]
