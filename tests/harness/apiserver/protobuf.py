"""Read the protobuf request bodies kubectl's typed clients send (``kubectl create namespace|configmap|secret|
serviceaccount|deployment|job|service|role|rolebinding|clusterrole|clusterrolebinding``), so the emulator can answer
them as kube-apiserver does.

client-go falls back to JSON after a 415 only for CBOR; built-in kinds are always sent as protobuf, so a server
that refuses protobuf breaks these commands for good. The emulator answers in JSON (kubectl's Accept header lists
``application/json`` after protobuf), and decodes only what it needs to read: the envelope (``k8s\\x00`` and a
``runtime.Unknown``) and the messages below, described by their field numbers in Kubernetes' ``generated.proto``.
A field the tables do not describe is refused with 415 and a message naming it, rather than silently dropped.
"""

from __future__ import annotations

import base64
import datetime
import json

from .common import ApiError

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# A field: (json name, type, keep zero). Types: "string", "bytes", "int", "bool", "time", "intorstr", "skip",
# "[string]" (repeated), "map" (string -> string), "map:bytes", "map:Quantity", "Msg" or "[Msg]" (a message).
# "keep zero" marks Go pointer fields, whose zero value is meaningful (replicas: 0, automount...: false);
# other scalars are always encoded, and dropped here when zero as Go's omitempty drops them from JSON.
MESSAGES = {
    "ObjectMeta": {1: ("name", "string", False), 2: ("generateName", "string", False), 3: ("namespace", "string", False),
                   4: ("selfLink", "string", False), 5: ("uid", "string", False), 6: ("resourceVersion", "string", False),
                   7: ("generation", "int", False), 8: ("creationTimestamp", "time", False),
                   9: ("deletionTimestamp", "time", False), 10: ("deletionGracePeriodSeconds", "int", True),
                   11: ("labels", "map", False), 12: ("annotations", "map", False),
                   13: ("ownerReferences", "[OwnerReference]", False), 14: ("finalizers", "[string]", False)},
    "OwnerReference": {1: ("kind", "string", False), 3: ("name", "string", False), 4: ("uid", "string", False),
                       5: ("apiVersion", "string", False), 6: ("controller", "bool", True),
                       7: ("blockOwnerDeletion", "bool", True)},
    "ObjectReference": {1: ("kind", "string", False), 2: ("namespace", "string", False), 3: ("name", "string", False),
                        4: ("uid", "string", False), 5: ("apiVersion", "string", False),
                        6: ("resourceVersion", "string", False), 7: ("fieldPath", "string", False)},
    "LocalObjectReference": {1: ("name", "string", False)},
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False), 3: ("status", "skip", False)},
    "NamespaceSpec": {1: ("finalizers", "[string]", False)},
    "ConfigMap": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map", False), 3: ("binaryData", "map:bytes", False),
                  4: ("immutable", "bool", True)},
    "Secret": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map:bytes", False), 3: ("type", "string", False),
               4: ("stringData", "map", False), 5: ("immutable", "bool", True)},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", False), 2: ("secrets", "[ObjectReference]", False),
                       3: ("imagePullSecrets", "[LocalObjectReference]", False),
                       4: ("automountServiceAccountToken", "bool", True)},
    "Deployment": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "DeploymentSpec", False), 3: ("status", "skip", False)},
    "DeploymentSpec": {1: ("replicas", "int", True), 2: ("selector", "LabelSelector", False),
                       3: ("template", "PodTemplateSpec", False), 4: ("strategy", "DeploymentStrategy", False),
                       5: ("minReadySeconds", "int", False), 6: ("revisionHistoryLimit", "int", True),
                       7: ("paused", "bool", False), 9: ("progressDeadlineSeconds", "int", True)},
    "DeploymentStrategy": {1: ("type", "string", False), 2: ("rollingUpdate", "RollingUpdateDeployment", False)},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "intorstr", False), 2: ("maxSurge", "intorstr", False)},
    "LabelSelector": {1: ("matchLabels", "map", False), 2: ("matchExpressions", "[LabelSelectorRequirement]", False)},
    "LabelSelectorRequirement": {1: ("key", "string", False), 2: ("operator", "string", False), 3: ("values", "[string]", False)},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "PodSpec": {2: ("containers", "[Container]", False), 3: ("restartPolicy", "string", False),
                4: ("terminationGracePeriodSeconds", "int", True), 5: ("activeDeadlineSeconds", "int", True),
                6: ("dnsPolicy", "string", False), 7: ("nodeSelector", "map", False),
                8: ("serviceAccountName", "string", False), 9: ("serviceAccount", "string", False),
                10: ("nodeName", "string", False), 11: ("hostNetwork", "bool", False), 12: ("hostPID", "bool", False),
                13: ("hostIPC", "bool", False), 15: ("imagePullSecrets", "[LocalObjectReference]", False),
                16: ("hostname", "string", False), 17: ("subdomain", "string", False),
                19: ("schedulerName", "string", False), 20: ("initContainers", "[Container]", False),
                21: ("automountServiceAccountToken", "bool", True), 24: ("priorityClassName", "string", False)},
    "Container": {1: ("name", "string", False), 2: ("image", "string", False), 3: ("command", "[string]", False),
                  4: ("args", "[string]", False), 5: ("workingDir", "string", False), 6: ("ports", "[ContainerPort]", False),
                  7: ("env", "[EnvVar]", False), 8: ("resources", "ResourceRequirements", False),
                  13: ("terminationMessagePath", "string", False), 14: ("imagePullPolicy", "string", False),
                  16: ("stdin", "bool", False), 17: ("stdinOnce", "bool", False), 18: ("tty", "bool", False),
                  20: ("terminationMessagePolicy", "string", False), 24: ("restartPolicy", "string", True)},
    "ContainerPort": {1: ("name", "string", False), 2: ("hostPort", "int", False), 3: ("containerPort", "int", False),
                      4: ("protocol", "string", False), 5: ("hostIP", "string", False)},
    "EnvVar": {1: ("name", "string", False), 2: ("value", "string", False)},
    "ResourceRequirements": {1: ("limits", "map:Quantity", False), 2: ("requests", "map:Quantity", False)},
    "Job": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "JobSpec", False), 3: ("status", "skip", False)},
    "JobSpec": {1: ("parallelism", "int", True), 2: ("completions", "int", True), 3: ("activeDeadlineSeconds", "int", True),
                4: ("selector", "LabelSelector", False), 5: ("manualSelector", "bool", True), 6: ("template", "PodTemplateSpec", False),
                7: ("backoffLimit", "int", True), 8: ("ttlSecondsAfterFinished", "int", True), 9: ("completionMode", "string", True),
                10: ("suspend", "bool", True)},
    "Service": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ServiceSpec", False), 3: ("status", "skip", False)},
    "ServiceSpec": {1: ("ports", "[ServicePort]", False), 2: ("selector", "map", False), 3: ("clusterIP", "string", False),
                    4: ("type", "string", False), 5: ("externalIPs", "[string]", False), 7: ("sessionAffinity", "string", False),
                    8: ("loadBalancerIP", "string", False), 10: ("externalName", "string", False),
                    11: ("externalTrafficPolicy", "string", False), 12: ("healthCheckNodePort", "int", False),
                    13: ("publishNotReadyAddresses", "bool", False)},
    "ServicePort": {1: ("name", "string", False), 2: ("protocol", "string", False), 3: ("port", "int", False),
                    4: ("targetPort", "intorstr", False), 5: ("nodePort", "int", False), 6: ("appProtocol", "string", True)},
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "[PolicyRule]", False)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "[PolicyRule]", False)},
    "PolicyRule": {1: ("verbs", "[string]", False), 2: ("apiGroups", "[string]", False), 3: ("resources", "[string]", False),
                   4: ("resourceNames", "[string]", False), 5: ("nonResourceURLs", "[string]", False)},
    "RoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "[Subject]", False), 3: ("roleRef", "RoleRef", False)},
    "ClusterRoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "[Subject]", False), 3: ("roleRef", "RoleRef", False)},
    "Subject": {1: ("kind", "string", False), 2: ("apiGroup", "string", False), 3: ("name", "string", False), 4: ("namespace", "string", False)},
    "RoleRef": {1: ("apiGroup", "string", False), 2: ("kind", "string", False), 3: ("name", "string", False)},
}
RBAC = "rbac.authorization.k8s.io/v1"
TOP_LEVEL = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "Service"),
             ("apps/v1", "Deployment"), ("batch/v1", "Job"), (RBAC, "Role"), (RBAC, "ClusterRole"), (RBAC, "RoleBinding"),
             (RBAC, "ClusterRoleBinding")}


class Unsupported(ValueError):
    """The body is protobuf the tables cannot read."""


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise Unsupported("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _fields(data):
    """Yield (field number, wire type, value) of one message: ints for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise Unsupported("truncated length-delimited field")
            value, pos = data[pos:pos + size], pos + size
        else:
            raise Unsupported(f"wire type {wire} (field {number}) is not used by Kubernetes messages")
        yield number, wire, value


def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _map_entry(data):
    key, value = "", b""
    for number, _wire, raw in _fields(data):
        if number == 1:
            key = raw.decode()
        elif number == 2:
            value = raw
    return key, value


def _scalar(kind, wire, raw, where):
    if kind in ("string", "bytes", "time", "intorstr") and wire != 2 or kind in ("int", "bool") and wire != 0:
        raise Unsupported(f"{where}: unexpected wire type {wire}")
    if kind == "string":
        return raw.decode()
    if kind == "bytes":
        return base64.b64encode(raw).decode()
    if kind == "int":
        return _signed(raw)
    if kind == "bool":
        return bool(raw)
    if kind == "time":
        seconds = dict((n, v) for n, _w, v in _fields(raw)).get(1, 0)
        if not seconds:
            return None
        return datetime.datetime.fromtimestamp(_signed(seconds), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "intorstr":
        parts = {n: v for n, _w, v in _fields(raw)}
        return parts.get(3, b"").decode() if parts.get(1) == 1 else _signed(parts.get(2, 0))
    raise AssertionError(kind)


def decode_message(name, data, where=""):
    """The JSON form of one message ``name`` from its protobuf bytes."""
    table = MESSAGES[name]
    out = {}
    for number, wire, raw in _fields(data):
        if number not in table:
            raise Unsupported(f"field {number} of {name} (at {where or name}) is not known to the harness")
        key, kind, keep = table[number]
        path = f"{where}.{key}" if where else key
        if kind == "skip":
            continue
        if kind.startswith("map"):
            entry_key, value = _map_entry(raw)
            if kind == "map":
                value = value.decode()
            elif kind == "map:bytes":
                value = base64.b64encode(value).decode()
            else:  # a Quantity message: its field 1 is the string form
                value = {n: v for n, _w, v in _fields(value)}.get(1, b"").decode()
            out.setdefault(key, {})[entry_key] = value
        elif kind.startswith("["):
            inner = kind[1:-1]
            item = _scalar(inner, wire, raw, path) if inner == "string" else decode_message(inner, raw, path)
            out.setdefault(key, []).append(item)
        elif kind in MESSAGES:
            if wire != 2:
                raise Unsupported(f"{path}: unexpected wire type {wire}")
            out[key] = decode_message(kind, raw, path)
        else:
            value = _scalar(kind, wire, raw, path)
            if value is None or (not keep and value in ("", 0, False)):
                out.pop(key, None)
                continue
            out[key] = value
    return out


def to_json(body):
    """The JSON bytes of a protobuf request body, or :class:`ApiError` 415 naming what cannot be read."""
    try:
        if not body.startswith(MAGIC):
            raise Unsupported("the body does not start with the Kubernetes protobuf magic number")
        envelope = {n: v for n, _w, v in _fields(body[len(MAGIC):])}
        type_meta = {n: v.decode() for n, _w, v in _fields(envelope.get(1, b""))}
        api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
        if envelope.get(3) or envelope.get(4):
            raise Unsupported("an encoded or nested content type in the protobuf envelope")
        if (api_version, kind) not in TOP_LEVEL:
            raise Unsupported(f"{api_version} {kind} in protobuf is not readable by the harness")
        obj = decode_message(kind, envelope.get(2, b""))
    except (Unsupported, UnicodeDecodeError) as exc:
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types "
                       f"include: application/json, application/yaml, {MEDIA_TYPE} (harness: {exc}; send it as JSON, "
                       "for instance with kubectl apply -f)") from exc
    return json.dumps(dict({"apiVersion": api_version, "kind": kind}, **obj)).encode()
