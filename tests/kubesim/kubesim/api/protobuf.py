"""Decoding of the few protobuf request bodies kubectl sends.

kubectl's typed clients (`auth can-i`, `create namespace`, `create configmap`, `create secret`) send
`application/vnd.kubernetes.protobuf`. kubesim answers in JSON, which clients accept, but it has to read
those bodies. The envelope is the 4-byte magic `k8s\\0` and a runtime.Unknown message whose `raw`
field holds the object; the field numbers below are those of the Kubernetes .proto files.
Anything else in protobuf gets a 415.
"""
from __future__ import annotations

import base64

from . import errors

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message; values are ints or raw bytes."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, value))
    return out


def _text(value) -> str:
    if not isinstance(value, bytes):
        raise ValueError("expected a string field")
    return value.decode("utf-8")


def _map(entries: list, binary: bool = False) -> dict:
    out = {}
    for entry in entries:
        kv = dict(fields(entry))
        key = _text(kv.get(1, b""))
        raw = kv.get(2, b"")
        out[key] = base64.b64encode(raw).decode() if binary else _text(raw)
    return out


def _grouped(data: bytes) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for number, value in fields(data):
        grouped.setdefault(number, []).append(value)
    return grouped


def _object_meta(data: bytes) -> dict:
    g = _grouped(data)
    meta = {}
    for number, name in ((1, "name"), (2, "generateName"), (3, "namespace")):
        if g.get(number) and g[number][-1]:
            meta[name] = _text(g[number][-1])
    if g.get(11):
        meta["labels"] = _map(g[11])
    if g.get(12):
        meta["annotations"] = _map(g[12])
    return meta


def _attributes(data: bytes, names: tuple[str, ...]) -> dict:
    g = _grouped(data)
    return {name: _text(g[i + 1][-1]) for i, name in enumerate(names) if g.get(i + 1)}


def _ssar(g: dict) -> dict:
    spec = _grouped(g[2][-1]) if g.get(2) else {}
    out: dict = {}
    if spec.get(1):
        out["resourceAttributes"] = _attributes(spec[1][-1], ("namespace", "verb", "group", "version", "resource",
                                                              "subresource", "name"))
    if spec.get(2):
        out["nonResourceAttributes"] = _attributes(spec[2][-1], ("path", "verb"))
    return {"spec": out}


def _namespace(g: dict) -> dict:
    out: dict = {}
    if g.get(2):
        spec = _grouped(g[2][-1])
        out["spec"] = {"finalizers": [_text(v) for v in spec.get(1, [])]}
    return out


def _configmap(g: dict) -> dict:
    out: dict = {}
    if g.get(2):
        out["data"] = _map(g[2])
    if g.get(3):
        out["binaryData"] = _map(g[3], binary=True)
    return out


def _secret(g: dict) -> dict:
    out: dict = {}
    if g.get(2):
        out["data"] = _map(g[2], binary=True)
    if g.get(3):
        out["type"] = _text(g[3][-1])
    if g.get(4):
        out["stringData"] = _map(g[4])
    return out


_KINDS = {"SelfSubjectAccessReview": _ssar, "Namespace": _namespace, "ConfigMap": _configmap, "Secret": _secret}


def decode(raw: bytes) -> dict:
    """Decodes an enveloped object of a supported kind into its JSON form (400/415 otherwise)."""
    if not raw.startswith(MAGIC):
        raise errors.bad_request("protobuf body without the k8s envelope")
    try:
        envelope = _grouped(raw[len(MAGIC):])
        type_meta = _grouped(envelope[1][-1]) if envelope.get(1) else {}
        api_version = _text(type_meta[1][-1]) if type_meta.get(1) else ""
        kind = _text(type_meta[2][-1]) if type_meta.get(2) else ""
        handler = _KINDS.get(kind)
        if handler is None:
            raise errors.unsupported_media(MEDIA_TYPE, ["application/json", "application/yaml"])
        body = _grouped(envelope[2][-1]) if envelope.get(2) else {}
        obj = {"apiVersion": api_version, "kind": kind}
        if body.get(1):
            obj["metadata"] = _object_meta(body[1][-1])
        obj.update(handler(body))
        return obj
    except (ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
