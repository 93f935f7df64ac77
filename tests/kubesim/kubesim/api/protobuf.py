"""Decoding of the few protobuf request bodies kubectl sends.

kubectl's typed clients (`auth can-i`, `create namespace|configmap|secret|deployment|service|role|
rolebinding`) send `application/vnd.kubernetes.protobuf`. kubesim answers in JSON, which clients accept, but it has to read
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


def _grouped(data: bytes) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for number, value in fields(data):
        grouped.setdefault(number, []).append(value)
    return grouped


# Schemas: field number -> (JSON name, type). Types: "str" and "int" are omitted when empty/zero (proto3
# scalars), "int*" is a pointer field kept even when zero, "bool", "strs" a repeated string, "map" a
# map<string,string>, "bytesmap" a map<string,bytes> (base64 in JSON), "intstr" an IntOrString,
# a dict a nested message, and a one-element list a repeated nested message.
META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 11: ("labels", "map"),
        12: ("annotations", "map"), 14: ("finalizers", "strs")}
SELECTOR = {1: ("matchLabels", "map"),
            2: ("matchExpressions", [{1: ("key", "str"), 2: ("operator", "str"), 3: ("values", "strs")}])}
CONTAINER = {1: ("name", "str"), 2: ("image", "str"), 3: ("command", "strs"), 4: ("args", "strs"),
             5: ("workingDir", "str"),
             6: ("ports", [{1: ("name", "str"), 2: ("hostPort", "int"), 3: ("containerPort", "int"),
                            4: ("protocol", "str")}]),
             7: ("env", [{1: ("name", "str"), 2: ("value", "str")}]), 14: ("imagePullPolicy", "str")}
POD_SPEC = {2: ("containers", [CONTAINER]), 3: ("restartPolicy", "str"),
            4: ("terminationGracePeriodSeconds", "int*"), 8: ("serviceAccountName", "str"),
            10: ("nodeName", "str"), 20: ("initContainers", [CONTAINER])}
TEMPLATE = {1: ("metadata", META), 2: ("spec", POD_SPEC)}
SCHEMAS = {
    "Namespace": {1: ("metadata", META), 2: ("spec", {1: ("finalizers", "strs")})},
    "ConfigMap": {1: ("metadata", META), 2: ("data", "map"), 3: ("binaryData", "bytesmap")},
    "Secret": {1: ("metadata", META), 2: ("data", "bytesmap"), 3: ("type", "str"), 4: ("stringData", "map")},
    "Pod": {1: ("metadata", META), 2: ("spec", POD_SPEC)},
    "Deployment": {1: ("metadata", META),
                   2: ("spec", {1: ("replicas", "int*"), 2: ("selector", SELECTOR), 3: ("template", TEMPLATE),
                                5: ("minReadySeconds", "int")})},
    "Service": {1: ("metadata", META),
                2: ("spec", {1: ("ports", [{1: ("name", "str"), 2: ("protocol", "str"), 3: ("port", "int"),
                                            4: ("targetPort", "intstr"), 5: ("nodePort", "int")}]),
                             2: ("selector", "map"), 3: ("clusterIP", "str"), 4: ("type", "str"),
                             7: ("sessionAffinity", "str"), 10: ("externalName", "str")})},
    "Role": {1: ("metadata", META),
             2: ("rules", [{1: ("verbs", "strs"), 2: ("apiGroups", "strs"), 3: ("resources", "strs"),
                            4: ("resourceNames", "strs")}])},
    "RoleBinding": {1: ("metadata", META),
                    2: ("subjects", [{1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"),
                                      4: ("namespace", "str")}]),
                    3: ("roleRef", {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")})},
    "SelfSubjectAccessReview": {
        1: ("metadata", META),
        2: ("spec", {1: ("resourceAttributes", {1: ("namespace", "str"), 2: ("verb", "str"), 3: ("group", "str"),
                                                4: ("version", "str"), 5: ("resource", "str"),
                                                6: ("subresource", "str"), 7: ("name", "str")}),
                     2: ("nonResourceAttributes", {1: ("path", "str"), 2: ("verb", "str")})})},
    "SelfSubjectRulesReview": {1: ("metadata", META), 2: ("spec", {1: ("namespace", "str")})},
    "SelfSubjectReview": {1: ("metadata", META)},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int*"),
                      2: ("preconditions", {1: ("uid", "str"), 2: ("resourceVersion", "str")}),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "str"), 5: ("dryRun", "strs")},
    "TokenRequest": {1: ("metadata", META), 2: ("spec", {1: ("audiences", "strs"), 4: ("expirationSeconds", "int*")})},
}


def _map(entries: list, binary: bool = False) -> dict:
    out = {}
    for entry in entries:
        kv = _grouped(entry)
        key = _text(kv.get(1, [b""])[-1])
        raw = kv.get(2, [b""])[-1]
        out[key] = base64.b64encode(raw).decode() if binary else _text(raw)
    return out


def _message(data: bytes, schema: dict) -> dict:
    out: dict = {}
    for number, values in _grouped(data).items():
        if number not in schema:
            continue
        name, kind = schema[number]
        last = values[-1]
        if kind == "str":
            if _text(last):
                out[name] = _text(last)
        elif kind in ("int", "int*"):
            if not isinstance(last, int):
                raise ValueError(f"{name} is not a varint")
            value = last - (1 << 64) if last >= 1 << 63 else last
            if value or kind == "int*":
                out[name] = value
        elif kind == "bool":
            if last:
                out[name] = True
        elif kind == "strs":
            out[name] = [_text(v) for v in values]
        elif kind in ("map", "bytesmap"):
            out[name] = _map(values, binary=kind == "bytesmap")
        elif kind == "intstr":
            g = _grouped(last)
            if g.get(1, [0])[-1] == 1:
                out[name] = _text(g.get(3, [b""])[-1])
            else:
                out[name] = g.get(2, [0])[-1]
        elif isinstance(kind, list):
            out[name] = [_message(v, kind[0]) for v in values]
        else:
            out[name] = _message(last, kind)
    return out


def decode(raw: bytes) -> dict:
    """Decodes an enveloped object of a supported kind into its JSON form (400/415 otherwise)."""
    if not raw.startswith(MAGIC):
        raise errors.bad_request("protobuf body without the k8s envelope")
    try:
        envelope = _grouped(raw[len(MAGIC):])
        type_meta = _grouped(envelope[1][-1]) if envelope.get(1) else {}
        api_version = _text(type_meta[1][-1]) if type_meta.get(1) else ""
        kind = _text(type_meta[2][-1]) if type_meta.get(2) else ""
        schema = SCHEMAS.get(kind)
        if schema is None:
            raise errors.unsupported_media(MEDIA_TYPE, ["application/json", "application/yaml"])
        obj = {"apiVersion": api_version, "kind": kind}
        obj.update(_message(envelope[2][-1] if envelope.get(2) else b"", schema))
        return obj
    except (ValueError, KeyError, IndexError, UnicodeDecodeError, TypeError) as exc:
        raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
