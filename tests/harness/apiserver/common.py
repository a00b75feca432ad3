"""Helpers shared by the API pipeline and the controllers: time, names, errors in Kubernetes' Status format."""

from __future__ import annotations

import datetime
import random

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(length=5):
    return "".join(random.choice(NAME_ALPHABET) for _position in range(length))


class ApiError(Exception):
    """An error the API answers with a ``Status`` body."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def not_found(rtype, name):
    return ApiError(404, "NotFound", f'{rtype.group_resource} "{name}" not found',
                    {"name": name, "group": rtype.group, "kind": rtype.plural})


def invalid(rtype, name, field, detail, reason="FieldValueInvalid"):
    kind = f"{rtype.kind}.{rtype.group}" if rtype.group else rtype.kind
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {field}: {detail}',
                    {"name": name, "group": rtype.group, "kind": rtype.kind,
                     "causes": [{"reason": reason, "message": detail, "field": field}]})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def controller_of(obj):
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None
