"""Pod spec defaults and checks that admission and the sidecar injector share."""

from __future__ import annotations

from ..common import invalid as _invalid


def default_container(container):
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition("@")[0]
    container.setdefault("imagePullPolicy", "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        default_container(container)


def validate_pod_spec(rtype, name, spec, field):
    containers = spec.get("containers")
    if not containers:
        raise _invalid(rtype, name, f"{field}.containers", "Required value", "FieldValueRequired")
    for n, container in enumerate(containers):
        for key in ("name", "image"):
            if not container.get(key):
                raise _invalid(rtype, name, f"{field}.containers[{n}].{key}", "Required value", "FieldValueRequired")
