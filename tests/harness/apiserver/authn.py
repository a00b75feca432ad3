"""Who sends a request, and what the anonymous user may see, as kube-apiserver decides it on minikube.

kube-apiserver asks every TLS client for a certificate but does not require one. A certificate the CA signed
authenticates its subject (user = CN, groups = O); minikube's is ``minikube-user`` in ``system:masters``, which
may do anything. A bearer token the server does not know is refused with 401 Unauthorized. A request with neither
is ``system:anonymous`` (minikube keeps ``--anonymous-auth``), which RBAC lets read only the public health and
version paths (the ``system:public-info-viewer`` role): anything else is 403 Forbidden, with the message
kube-apiserver writes. RBAC is otherwise not enforced: every authenticated user may do everything.
"""

from __future__ import annotations

ANONYMOUS = "system:anonymous"
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def user_of(peer_cert):
    """The user a verified peer certificate (``SSLSocket.getpeercert()``) names, or None without one."""
    if not peer_cert:
        return None
    subject = dict(item for rdn in peer_cert.get("subject", ()) for item in rdn)
    return subject.get("commonName")


def unauthorized():
    return 401, status(401, "Unauthorized", "Unauthorized")


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def anonymous_allowed(path):
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS)


def forbidden(method, path, params):
    """kube-apiserver's 403 for the anonymous user: by resource for API paths, by path for the others."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        verb = _VERBS.get(method, method.lower())
        message = f'forbidden: User "{ANONYMOUS}" cannot {verb} path "{path}"'
        return 403, status(403, "Forbidden", message)
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    resource, name, subresource = (rest + [None, None])[:3]
    verb = _VERBS.get(method, method.lower())
    if name is None:
        verb = {"get": "watch" if params.get("watch") in ("true", "1") else "list", "delete": "deletecollection"}.get(verb, verb)
    full = f"{resource}/{subresource}" if subresource else resource
    qualified = f"{resource}.{group}" if group else resource
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    reason = f'User "{ANONYMOUS}" cannot {verb} resource "{full}" in API group "{group}" {scope}'
    details = {"group": group, "kind": resource}
    if name:
        details["name"] = name
    return 403, status(403, "Forbidden", f'{qualified} "{name}" is forbidden: {reason}' if name else f"{qualified} is forbidden: {reason}", details)
