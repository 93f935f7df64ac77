"""Strategic merge patch for the built-in kinds.

Lists that Kubernetes declares with a patch merge key are merged element by element (containers by
name, container ports by containerPort, Service ports by port, conditions by type, ...); `finalizers`
merge as a set of strings; every other list is replaced. The directives kubectl sends are honoured:
`$patch` (replace/delete/merge, on maps and list elements), `$retainKeys`, `$setElementOrder/<list>`
and `$deleteFromPrimitiveList/<list>`. The merge keys are chosen by field name, which is unambiguous
for the kinds kubesim serves (only `ports` needs a look at its elements).
"""
from __future__ import annotations

from . import errors
from .util import clone

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "imagePullSecrets": "name", "secrets": "name", "volumes": "name",
    "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "hostAliases": "ip", "podIPs": "ip", "conditions": "type",
    "topologySpreadConstraints": "topologyKey", "ownerReferences": "uid",
}
PRIMITIVE_SETS = {"finalizers"}

_DELETE = object()   # marks a map that asked to be deleted with `$patch: delete`


def _strip(value):
    """A patch value without directives, for places where it simply becomes the new content."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def _merge_key(field: str, items: list) -> str | None:
    if field == "ports":
        for item in items:
            if isinstance(item, dict) and "containerPort" in item:
                return "containerPort"
        for item in items:
            if isinstance(item, dict) and "port" in item:
                return "port"
        return None
    return MERGE_KEYS.get(field)


def strategic_merge(original, patch):
    if not isinstance(patch, dict):
        raise errors.bad_request("strategic merge patch must be a JSON object")
    result = _merge_map(original if isinstance(original, dict) else {}, patch)
    return {} if result is _DELETE else result


def _merge_map(original: dict, patch: dict):
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _strip(patch)
    if directive not in (None, "merge"):
        raise errors.bad_request(f"Unknown patch type: {directive}")
    result = clone(original)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(result.get(key) if isinstance(result.get(key), dict) else {}, value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/") and isinstance(value, list):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") and isinstance(value, list):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = _reorder(field, result[field], value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, original, patch: list) -> list:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return _strip([p for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")])
    if field in PRIMITIVE_SETS and isinstance(original, list):
        out = list(original)
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    key = _merge_key(field, patch + (original if isinstance(original, list) else []))
    if key is None or not isinstance(original, list):
        return _strip([p for p in patch if not (isinstance(p, dict) and p.get("$patch") == "delete")])
    out = clone(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise errors.bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        pos = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get(key) == item[key])]
            continue
        if pos is None:
            out.append(_strip(item))
        else:
            merged = _merge_map(out[pos], item)
            if merged is _DELETE:
                out.pop(pos)
            else:
                out[pos] = merged
    return out


def _reorder(field: str, items: list, order: list) -> list:
    key = _merge_key(field, items + order)
    if key is None:
        ident = lambda v: v  # noqa: E731 - primitive lists are ordered by value
    else:
        ident = lambda v: v.get(key) if isinstance(v, dict) else None  # noqa: E731
    wanted = [ident(o) for o in order]
    ranked = [i for w in wanted for i in items if ident(i) == w]
    rest = [i for i in items if ident(i) not in wanted]
    return ranked + rest
