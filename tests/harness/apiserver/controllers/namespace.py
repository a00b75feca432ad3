"""The namespace controller: the ``kube-root-ca.crt`` ConfigMap of every namespace."""

from __future__ import annotations

from ..common import cluster_ca_pem


ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
                       "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.")


def reconcile_namespace(api, namespace, name):
    """The ServiceAccount controller's ``default`` ServiceAccount and the root CA publisher's ``kube-root-ca.crt``."""
    del namespace
    namespace_obj = api.find("", "namespaces", "", name)
    if namespace_obj is None or namespace_obj["metadata"].get("deletionTimestamp"):
        return
    if api.find("", "serviceaccounts", name, "default") is None:
        api.internal_create("", "serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}})
    if api.find("", "configmaps", name, ROOT_CA_CONFIGMAP) is None:
        api.internal_create("", "configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": name, "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
            "data": {"ca.crt": cluster_ca_pem()}})
