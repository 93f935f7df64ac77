"""The four PATCH flavours kubectl uses: JSON merge (RFC 7386), JSON patch (RFC 6902), strategic merge
(with the merge keys of the built-in kinds), and server-side apply (treated as create-or-merge).

Failures raise ApiError with the codes a real server uses: 400 for an undecodable patch, 422 for a
JSON patch that cannot be applied.
"""
from __future__ import annotations

from . import errors
from .util import clone

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY_YAML = "application/apply-patch+yaml"
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC, APPLY_YAML]


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ----- JSON patch -------------------------------------------------------------------------------------
def _unprocessable(message: str) -> errors.ApiError:
    return errors.ApiError(422, "", message)


def _pointer(path) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise _unprocessable(f"invalid JSON pointer {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, tokens: list[str], op: str):
    cur = doc
    for tok in tokens[:-1]:
        if isinstance(cur, dict) and tok in cur:
            cur = cur[tok]
        elif isinstance(cur, list) and tok.isdigit() and int(tok) < len(cur):
            cur = cur[int(tok)]
        else:
            raise _unprocessable(f"doc is missing path: \"/{'/'.join(tokens)}\": missing value")
    return cur


def _index(container: list, tok: str, allow_end: bool, path: str) -> int:
    if allow_end and tok == "-":
        return len(container)
    if not tok.isdigit():
        raise _unprocessable(f"unable to access invalid index: {tok}")
    idx = int(tok)
    if idx > len(container) or (idx == len(container) and not allow_end):
        raise _unprocessable(f"unable to access invalid index: {idx}")
    return idx


def _get(doc, tokens: list[str], path: str):
    cur = doc
    for tok in tokens:
        if isinstance(cur, dict) and tok in cur:
            cur = cur[tok]
        elif isinstance(cur, list) and tok.isdigit() and int(tok) < len(cur):
            cur = cur[int(tok)]
        else:
            raise _unprocessable(f"doc is missing path: \"{path}\": missing value")
    return cur


def _add(doc, tokens, value, path):
    if not tokens:
        return clone(value)
    parent = _parent(doc, tokens, "add")
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = clone(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, True, path), clone(value))
    else:
        raise _unprocessable(f"doc is missing path: \"{path}\": missing value")
    return doc


def _remove(doc, tokens, path):
    if not tokens:
        raise _unprocessable("cannot remove the whole document")
    parent = _parent(doc, tokens, "remove")
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, False, path))
    raise _unprocessable(f"Unable to remove nonexistent key: {last}: missing value")


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = clone(doc)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise errors.bad_request("invalid JSON patch operation")
        kind, path = op["op"], op.get("path")
        tokens = _pointer(path)
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _unprocessable(f"missing value for {kind} operation")
        if kind == "add":
            doc = _add(doc, tokens, op["value"], path)
        elif kind == "remove":
            _remove(doc, tokens, path)
        elif kind == "replace":
            _get(doc, tokens, path)
            if tokens:
                _remove(doc, tokens, path)
            doc = _add(doc, tokens, op["value"], path)
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from"))
            value = clone(_get(doc, src, op.get("from")))
            if kind == "move":
                _remove(doc, src, op.get("from"))
            doc = _add(doc, tokens, value, path)
        elif kind == "test":
            if _get(doc, tokens, path) != op["value"]:
                raise _unprocessable(f"testing value {path} failed: test failed")
        else:
            raise errors.bad_request(f"Unexpected kind: {kind}")
    return doc
