"""Custom resources judged by their CRD's ``openAPIV3Schema``, in the order kube-apiserver does it.

1. Pruning: fields the schema does not declare are dropped (``x-kubernetes-preserve-unknown-fields`` keeps
   them). With ``fieldValidation=Strict`` they are refused instead: 400 BadRequest, ``strict decoding error:
   unknown field "spec.x"``. Otherwise (``Warn``, the server's default) each one is a ``Warning`` header.
2. Defaulting: ``default`` of a missing property is filled in; a ``null`` where the schema is not ``nullable``
   is dropped (or defaulted).
3. Validation: ``type`` (``x-kubernetes-int-or-string`` takes an integer or a string), ``enum``, ``required``,
   bounds (``minimum``/``maximum``, lengths, item and property counts), ``pattern``, and ``oneOf``/``anyOf``/
   ``allOf``/``not``. Errors are a 422 Invalid Status whose causes carry each field path, with
   kube-apiserver's message texts.

Not emulated: ``x-kubernetes-validations`` (CEL rules), ``format``, list-type uniqueness, ``metadata`` schemas.
"""

from __future__ import annotations

import copy
import json
import re

from .common import ApiError

ROOT_FIELDS = ("apiVersion", "kind", "metadata")
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))


def json_type(value):
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _shown(value):
    """A value as kube-apiserver prints it in ``Invalid value: ...`` (Go's quoting for strings)."""
    if isinstance(value, (dict, list)) or value is None:
        return json.dumps(json_type(value))
    return json.dumps(value)


def _child(path, key):
    return f"{path}.{key}" if path else key


def schema_of(crd, version):
    """The openAPIV3Schema a CRD declares for ``version`` (the top-level ``spec.validation`` otherwise), or None."""
    spec = crd.get("spec") or {}
    for entry in spec.get("versions") or []:
        if entry.get("name") == version:
            schema = ((entry.get("schema") or {}).get("openAPIV3Schema"))
            if schema is not None:
                return schema
    return ((spec.get("validation") or {}).get("openAPIV3Schema"))


# ---- 1. pruning ---------------------------------------------------------------------------------
def prune(value, schema, path="", unknown=None, root=True):
    """Drop undeclared fields from ``value`` in place; return the paths of those dropped."""
    unknown = [] if unknown is None else unknown
    if not isinstance(schema, dict) or schema.get("x-kubernetes-int-or-string"):
        return unknown
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        embedded = root or schema.get("x-kubernetes-embedded-resource") is True
        for key in list(value):
            if embedded and key in ROOT_FIELDS:
                continue
            if key in properties:
                prune(value[key], properties[key], _child(path, key), unknown, root=False)
            elif isinstance(additional, dict):
                prune(value[key], additional, _child(path, key), unknown, root=False)
            elif not preserve and additional is not True:
                unknown.append(_child(path, key))
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            prune(item, schema["items"], f"{path}[{index}]", unknown, root=False)
    return unknown


# ---- 2. defaulting ------------------------------------------------------------------------------
def apply_defaults(value, schema):
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if not isinstance(sub, dict):
                continue
            if key in value and value[key] is None and not sub.get("nullable"):
                del value[key]
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key, additional if isinstance(additional, dict) else None)
            if sub is not None:
                apply_defaults(item, sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


# ---- 3. validation ------------------------------------------------------------------------------
def _error(path, reason, detail):
    return {"field": path, "reason": reason, "message": detail}


def _type_ok(value, wanted):
    if wanted == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()
    if wanted == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return json_type(value) == wanted


def validate(value, schema, path=""):
    """The list of errors (dicts with field, reason, message) of ``value`` against ``schema``."""
    errors = []
    if not isinstance(schema, dict):
        return errors
    if value is None and schema.get("nullable"):
        return errors
    shown_path = path or "<root>"
    wanted = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or _type_ok(value, "integer")):
            kind = json_type(value)
            errors.append(_error(path, "FieldValueInvalid", f'Invalid value: "{kind}": {shown_path} in body must be of type '
                                 f'integer,string: "{kind}"'))
            return errors
    elif wanted and not _type_ok(value, wanted):
        kind = json_type(value)
        errors.append(_error(path, "FieldValueInvalid", f'Invalid value: "{kind}": {shown_path} in body must be of type {wanted}: "{kind}"'))
        return errors
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(json.dumps(v) for v in schema["enum"])
        errors.append(_error(path, "FieldValueNotSupported", f"Unsupported value: {_shown(value)}: supported values: {supported}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and (value < schema["minimum"] or schema.get("exclusiveMinimum") and value == schema["minimum"]):
            word = "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
            errors.append(_error(path, "FieldValueInvalid", f"Invalid value: {_shown(value)}: {shown_path} in body should be {word} {schema['minimum']}"))
        if "maximum" in schema and (value > schema["maximum"] or schema.get("exclusiveMaximum") and value == schema["maximum"]):
            word = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
            errors.append(_error(path, "FieldValueInvalid", f"Invalid value: {_shown(value)}: {shown_path} in body should be {word} {schema['maximum']}"))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(_error(path, "FieldValueTooLong", f"Too long: may not be more than {schema['maxLength']} bytes"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(_error(path, "FieldValueInvalid", f"Invalid value: {_shown(value)}: {shown_path} in body should be at least "
                                 f"{schema['minLength']} chars long"))
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(_error(path, "FieldValueInvalid", f"Invalid value: {_shown(value)}: {shown_path} in body should match '{schema['pattern']}'"))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(_error(path, "FieldValueTooMany", f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(_error(path, "FieldValueInvalid", f"Invalid value: {len(value)}: {shown_path} in body should have at least "
                                 f"{schema['minItems']} items"))
        if isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                errors += validate(item, schema["items"], f"{path}[{index}]")
    if isinstance(value, dict):
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            errors.append(_error(path, "FieldValueTooMany", f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"))
        for key in schema.get("required") or []:
            if key not in value:
                errors.append(_error(_child(path, key), "FieldValueRequired", "Required value"))
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if not path and key in ROOT_FIELDS:
                continue
            sub = properties.get(key, additional if isinstance(additional, dict) else None)
            if sub is not None:
                errors += validate(item, sub, _child(path, key))
    errors += _composition(value, schema, path, shown_path)
    return errors


def _composition(value, schema, path, shown_path):
    errors = []
    kind = json_type(value)
    for sub in schema.get("allOf") or []:
        errors += validate(value, sub, path)
    if schema.get("anyOf") and not any(not validate(value, sub, path) for sub in schema["anyOf"]):
        errors.append(_error(path, "FieldValueInvalid", f'Invalid value: "{kind}": {shown_path} in body must validate at least one schema (anyOf)'))
    if schema.get("oneOf") and sum(1 for sub in schema["oneOf"] if not validate(value, sub, path)) != 1:
        errors.append(_error(path, "FieldValueInvalid", f'Invalid value: "{kind}": {shown_path} in body must validate one and only one schema (oneOf)'))
    if isinstance(schema.get("not"), dict) and not validate(value, schema["not"], path):
        errors.append(_error(path, "FieldValueInvalid", f'Invalid value: "{kind}": {shown_path} in body must not validate the schema (not)'))
    return errors


# ---- the whole step, as the API pipeline calls it --------------------------------------------------
def admit_custom_resource(rtype, crd, obj, field_validation=None):
    """Prune, default and validate ``obj`` (in place) against its CRD; return the warnings for the response.

    Raises :class:`ApiError`: 400 for unknown fields under ``fieldValidation=Strict``, 422 Invalid otherwise."""
    schema = schema_of(crd, rtype.version)
    if schema is None:
        return []
    mode = (field_validation or "Warn").strip()
    if mode not in ("Ignore", "Warn", "Strict"):
        raise ApiError(400, "BadRequest", f'fieldValidation must be one of "Ignore", "Warn" or "Strict", not "{mode}"')
    unknown = prune(obj, schema)
    if unknown and mode == "Strict":
        fields = ", ".join(f'unknown field "{path}"' for path in unknown)
        raise ApiError(400, "BadRequest", f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                       f"strict decoding error: {fields}")
    apply_defaults(obj, schema)
    errors = validate(obj, schema)
    if errors:
        name = (obj.get("metadata") or {}).get("name", "")
        texts = [f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors]
        summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        raise ApiError(422, "Invalid", f'{rtype.kind}.{rtype.group} "{name}" is invalid: {summary}',
                       {"name": name, "group": rtype.group, "kind": rtype.kind, "causes": errors})
    return [f'unknown field "{path}"' for path in unknown] if mode == "Warn" else []
