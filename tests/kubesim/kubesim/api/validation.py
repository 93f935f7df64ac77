"""Validation of incoming objects.

Two stages, as on a real server: decoding, where a value of the wrong JSON type makes the body
undecodable (400 "cannot be handled as a Pod"), and validation proper, which collects field causes
into one 422 Invalid. The shape check also protects the rest of kubesim: controllers, tables and the
node side may assume the shapes checked here.
"""
from __future__ import annotations

import base64
import binascii
import re

from . import errors
from .errors import cause
from .resources import Resource

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")

_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                  "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                  "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_1123_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                   "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
                   "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_LABEL_1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                   "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
                   "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


# ----- stage 1: shapes ----------------------------------------------------------------------------
class _Shape:
    """Walks an object and raises 400 on the first value of the wrong JSON type."""

    def __init__(self, kind: str):
        self.kind = kind

    def fail(self, path: str, want: str, value) -> None:
        got = {dict: "object", list: "array", str: "string", bool: "bool"}.get(type(value), "number")
        if value is None:
            got = "null"
        raise errors.bad_request(f'{self.kind} in version "v1" cannot be handled as a {self.kind}: json: '
                                 f"cannot unmarshal {got} into Go struct field {path} of type {want}")

    def obj(self, value, path: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, "object", value)
        return value

    def lst(self, value, path: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, "array", value)
        return value

    def objs(self, value, path: str) -> list[dict]:
        items = self.lst(value, path)
        for i, item in enumerate(items):
            self.obj(item, f"{path}[{i}]")
        return items

    def string(self, value, path: str) -> None:
        if value is not None and not isinstance(value, str):
            self.fail(path, "string", value)

    def integer(self, value, path: str) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(path, "int32", value)

    def int_or_string(self, value, path: str) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, str))):
            self.fail(path, "intstr.IntOrString", value)

    def string_map(self, value, path: str) -> None:
        for k, v in self.obj(value, path).items():
            self.string(v, f"{path}.{k}")

    def strings(self, value, path: str) -> None:
        for i, v in enumerate(self.lst(value, path)):
            self.string(v, f"{path}[{i}]")


def _check_metadata(s: _Shape, m) -> None:
    m = s.obj(m, "metadata")
    for f in ("name", "generateName", "namespace", "resourceVersion", "uid"):
        s.string(m.get(f), f"metadata.{f}")
    s.string_map(m.get("labels"), "metadata.labels")
    s.string_map(m.get("annotations"), "metadata.annotations")
    s.strings(m.get("finalizers"), "metadata.finalizers")
    for i, ref in enumerate(s.objs(m.get("ownerReferences"), "metadata.ownerReferences")):
        for f in ("apiVersion", "kind", "name", "uid"):
            s.string(ref.get(f), f"metadata.ownerReferences[{i}].{f}")


def _check_ref(s: _Shape, ref, path: str) -> None:
    ref = s.obj(ref, path)
    s.string(ref.get("name"), f"{path}.name")
    s.string(ref.get("key"), f"{path}.key")
    if ref.get("optional") is not None and not isinstance(ref.get("optional"), bool):
        s.fail(f"{path}.optional", "bool", ref.get("optional"))


def _check_value_from(s: _Shape, value_from, path: str) -> None:
    value_from = s.obj(value_from, path)
    for ref in ("configMapKeyRef", "secretKeyRef"):
        _check_ref(s, value_from.get(ref), f"{path}.{ref}")
    for ref in ("fieldRef", "resourceFieldRef"):
        field_ref = s.obj(value_from.get(ref), f"{path}.{ref}")
        for key in ("fieldPath", "apiVersion", "resource", "containerName"):
            s.string(field_ref.get(key), f"{path}.{ref}.{key}")


def _check_probe(s: _Shape, probe, path: str) -> None:
    probe = s.obj(probe, path)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        s.integer(probe.get(key), f"{path}.{key}")
    for handler in ("tcpSocket", "httpGet", "grpc"):
        h = s.obj(probe.get(handler), f"{path}.{handler}")
        s.int_or_string(h.get("port"), f"{path}.{handler}.port")
        s.string(h.get("host"), f"{path}.{handler}.host")
        s.string(h.get("path"), f"{path}.{handler}.path")
        s.string(h.get("scheme"), f"{path}.{handler}.scheme")
        for k, header in enumerate(s.objs(h.get("httpHeaders"), f"{path}.{handler}.httpHeaders")):
            s.string(header.get("name"), f"{path}.{handler}.httpHeaders[{k}].name")
            s.string(header.get("value"), f"{path}.{handler}.httpHeaders[{k}].value")
    s.strings(s.obj(probe.get("exec"), f"{path}.exec").get("command"), f"{path}.exec.command")


def _check_pod_spec(s: _Shape, spec, path: str) -> None:
    spec = s.obj(spec, path)
    for field in ("containers", "initContainers"):
        for i, c in enumerate(s.objs(spec.get(field), f"{path}.{field}")):
            p = f"{path}.{field}[{i}]"
            s.string(c.get("name"), f"{p}.name")
            s.string(c.get("image"), f"{p}.image")
            s.strings(c.get("command"), f"{p}.command")
            s.strings(c.get("args"), f"{p}.args")
            for j, port in enumerate(s.objs(c.get("ports"), f"{p}.ports")):
                s.integer(port.get("containerPort"), f"{p}.ports[{j}].containerPort")
                s.string(port.get("name"), f"{p}.ports[{j}].name")
                s.string(port.get("protocol"), f"{p}.ports[{j}].protocol")
            s.string(c.get("workingDir"), f"{p}.workingDir")
            for j, env in enumerate(s.objs(c.get("env"), f"{p}.env")):
                s.string(env.get("name"), f"{p}.env[{j}].name")
                s.string(env.get("value"), f"{p}.env[{j}].value")
                _check_value_from(s, env.get("valueFrom"), f"{p}.env[{j}].valueFrom")
            for j, src in enumerate(s.objs(c.get("envFrom"), f"{p}.envFrom")):
                s.string(src.get("prefix"), f"{p}.envFrom[{j}].prefix")
                for ref in ("configMapRef", "secretRef"):
                    _check_ref(s, src.get(ref), f"{p}.envFrom[{j}].{ref}")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                _check_probe(s, c.get(probe), f"{p}.{probe}")
    s.string(spec.get("nodeName"), f"{path}.nodeName")
    s.string(spec.get("restartPolicy"), f"{path}.restartPolicy")
    s.integer(spec.get("terminationGracePeriodSeconds"), f"{path}.terminationGracePeriodSeconds")
    s.objs(spec.get("volumes"), f"{path}.volumes")


def _check_template(s: _Shape, spec: dict) -> None:
    s.integer(spec.get("replicas"), "spec.replicas")
    sel = s.obj(spec.get("selector"), "spec.selector")
    s.string_map(sel.get("matchLabels"), "spec.selector.matchLabels")
    for i, e in enumerate(s.objs(sel.get("matchExpressions"), "spec.selector.matchExpressions")):
        s.string(e.get("key"), f"spec.selector.matchExpressions[{i}].key")
        s.string(e.get("operator"), f"spec.selector.matchExpressions[{i}].operator")
        s.strings(e.get("values"), f"spec.selector.matchExpressions[{i}].values")
    t = s.obj(spec.get("template"), "spec.template")
    tm = s.obj(t.get("metadata"), "spec.template.metadata")
    s.string_map(tm.get("labels"), "spec.template.metadata.labels")
    s.string_map(tm.get("annotations"), "spec.template.metadata.annotations")
    _check_pod_spec(s, t.get("spec"), "spec.template.spec")


def check_shape(res: Resource, obj) -> None:
    s = _Shape(res.kind)
    if not isinstance(obj, dict):
        s.fail(res.kind, "object", obj)
    s.string(obj.get("apiVersion"), "apiVersion")
    s.string(obj.get("kind"), "kind")
    _check_metadata(s, obj.get("metadata"))
    if res.plural in ("namespaces", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"):
        s.obj(obj.get("spec"), "spec")
        return
    if res.plural in ("configmaps", "secrets"):
        s.string_map(obj.get("data"), "data")
        s.string_map(obj.get("stringData"), "stringData")
        s.string(obj.get("type"), "type")
        if res.plural == "configmaps":
            s.string_map(obj.get("binaryData"), "binaryData")
        return
    if res.plural in ("roles",):
        for i, r in enumerate(s.objs(obj.get("rules"), "rules")):
            for f in ("apiGroups", "resources", "verbs", "resourceNames"):
                s.strings(r.get(f), f"rules[{i}].{f}")
        return
    if res.plural == "rolebindings":
        ref = s.obj(obj.get("roleRef"), "roleRef")
        for f in ("apiGroup", "kind", "name"):
            s.string(ref.get(f), f"roleRef.{f}")
        for i, sub in enumerate(s.objs(obj.get("subjects"), "subjects")):
            for f in ("kind", "name", "namespace", "apiGroup"):
                s.string(sub.get(f), f"subjects[{i}].{f}")
        return
    if res.plural in ("endpoints", "endpointslices", "serviceaccounts", "events"):
        s.objs(obj.get("subsets"), "subsets")
        s.objs(obj.get("endpoints"), "endpoints")
        s.objs(obj.get("ports"), "ports")
        return
    spec = s.obj(obj.get("spec"), "spec")
    s.obj(obj.get("status"), "status")
    if res.plural == "pods":
        _check_pod_spec(s, spec, "spec")
    elif res.plural == "services":
        s.string(spec.get("type"), "spec.type")
        s.string(spec.get("clusterIP"), "spec.clusterIP")
        s.string_map(spec.get("selector"), "spec.selector")
        for i, p in enumerate(s.objs(spec.get("ports"), "spec.ports")):
            s.integer(p.get("port"), f"spec.ports[{i}].port")
            s.int_or_string(p.get("targetPort"), f"spec.ports[{i}].targetPort")
            s.string(p.get("name"), f"spec.ports[{i}].name")
            s.string(p.get("protocol"), f"spec.ports[{i}].protocol")
    elif res.plural in ("deployments", "replicasets"):
        _check_template(s, spec)


# ----- stage 2: values ----------------------------------------------------------------------------
def _name_causes(res: Resource, m: dict) -> list[dict]:
    name = m.get("name") or ""
    if not name:
        if m.get("generateName"):
            return []
        return [cause("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")]
    if res.plural == "services":
        pattern, msg, limit = _LABEL_1035, _LABEL_1035_MSG, 63
    elif res.plural == "namespaces":
        pattern, msg, limit = _LABEL_1123, _LABEL_1123_MSG, 63
    else:
        pattern, msg, limit = _SUBDOMAIN, _SUBDOMAIN_MSG, 253
    if not pattern.fullmatch(name):
        return [cause("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {msg}')]
    if len(name) > limit:
        return [cause("FieldValueInvalid", "metadata.name",
                      f'Invalid value: "{name}": must be no more than {limit} characters')]
    return []


def _label_causes(labels: dict, path: str) -> list[dict]:
    out = []
    for key, value in labels.items():
        prefix, _, short = key.rpartition("/")
        if not short or len(short) > 63 or not _QUALIFIED.fullmatch(short) or (
                prefix and not _SUBDOMAIN.fullmatch(prefix)) or (not prefix and "/" in key):
            out.append(cause("FieldValueInvalid", path, f'Invalid value: "{key}": name part must consist of '
                             "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                             "alphanumeric character"))
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            out.append(cause("FieldValueInvalid", f"{path}", f'Invalid value: "{value}": a valid label must '
                             "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                             "must start and end with an alphanumeric character"))
    return out


def _pod_spec_causes(spec: dict, path: str) -> list[dict]:
    out = []
    containers = spec.get("containers") or []
    if not containers:
        out.append(cause("FieldValueRequired", f"{path}.containers", "Required value"))
    seen: set[str] = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            p = f"{path}.{field}[{i}]"
            name = c.get("name") or ""
            if not name:
                out.append(cause("FieldValueRequired", f"{p}.name", "Required value"))
            elif not _LABEL_1123.fullmatch(name):
                out.append(cause("FieldValueInvalid", f"{p}.name", f'Invalid value: "{name}": {_LABEL_1123_MSG}'))
            elif name in seen:
                out.append(cause("FieldValueDuplicate", f"{p}.name", f'Duplicate value: "{name}"'))
            seen.add(name)
            if not c.get("image"):
                out.append(cause("FieldValueRequired", f"{p}.image", "Required value"))
            for j, port in enumerate(c.get("ports") or []):
                cp = port.get("containerPort")
                if cp is None:
                    out.append(cause("FieldValueRequired", f"{p}.ports[{j}].containerPort", "Required value"))
                elif not 1 <= cp <= 65535:
                    out.append(cause("FieldValueInvalid", f"{p}.ports[{j}].containerPort",
                                     f"Invalid value: {cp}: must be between 1 and 65535, inclusive"))
            for j, env in enumerate(c.get("env") or []):
                if not env.get("name"):
                    out.append(cause("FieldValueRequired", f"{p}.env[{j}].name", "Required value"))
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                out += _probe_causes(c.get(kind), f"{p}.{kind}")
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in ("Always", "OnFailure", "Never"):
        out.append(cause("FieldValueNotSupported", f"{path}.restartPolicy", f'Unsupported value: "{policy}": '
                         'supported values: "Always", "OnFailure", "Never"'))
    return out


def _probe_causes(probe, path: str) -> list[dict]:
    if not probe:
        return []
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(h) is not None]
    if len(handlers) != 1:
        return [cause("FieldValueRequired" if not handlers else "FieldValueForbidden", path,
                      "Required value: must specify a handler type" if not handlers
                      else "Forbidden: may not specify more than 1 handler type")]
    port = (probe.get(handlers[0]) or {}).get("port")
    if handlers[0] in ("httpGet", "tcpSocket", "grpc") and port is None:
        return [cause("FieldValueRequired", f"{path}.{handlers[0]}.port", "Required value")]
    if isinstance(port, int) and not 1 <= port <= 65535:
        return [cause("FieldValueInvalid", f"{path}.{handlers[0]}.port",
                      f"Invalid value: {port}: must be between 1 and 65535, inclusive")]
    return []


def _service_causes(spec: dict) -> list[dict]:
    out = []
    stype = spec.get("type", "ClusterIP")
    if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        out.append(cause("FieldValueNotSupported", "spec.type", f'Unsupported value: "{stype}": supported '
                         'values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'))
    ports = spec.get("ports") or []
    if not ports and spec.get("clusterIP") != "None" and stype != "ExternalName":
        out.append(cause("FieldValueRequired", "spec.ports", "Required value"))
    names: set[str] = set()
    for i, p in enumerate(ports):
        port = p.get("port")
        if port is None:
            out.append(cause("FieldValueRequired", f"spec.ports[{i}].port", "Required value"))
        elif not 1 <= port <= 65535:
            out.append(cause("FieldValueInvalid", f"spec.ports[{i}].port",
                             f"Invalid value: {port}: must be between 1 and 65535, inclusive"))
        if len(ports) > 1 and not p.get("name"):
            out.append(cause("FieldValueRequired", f"spec.ports[{i}].name", "Required value"))
        if p.get("name") and p.get("name") in names:
            out.append(cause("FieldValueDuplicate", f"spec.ports[{i}].name", f'Duplicate value: "{p["name"]}"'))
        names.add(p.get("name"))
        proto = p.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            out.append(cause("FieldValueNotSupported", f"spec.ports[{i}].protocol",
                             f'Unsupported value: "{proto}": supported values: "SCTP", "TCP", "UDP"'))
        tp = p.get("targetPort")
        if isinstance(tp, int) and not 0 <= tp <= 65535:
            out.append(cause("FieldValueInvalid", f"spec.ports[{i}].targetPort",
                             f"Invalid value: {tp}: must be between 1 and 65535, inclusive"))
    return out


def _workload_causes(spec: dict) -> list[dict]:
    from .selectors import label_selector_matches
    out = []
    sel = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        out.append(cause("FieldValueRequired", "spec.selector", "Required value"))
    else:
        try:
            matches = label_selector_matches(sel, labels)
        except errors.ApiError:
            matches = False
        if not matches:
            out.append(cause("FieldValueInvalid", "spec.template.metadata.labels",
                             f"Invalid value: {labels!r}: `selector` does not match template `labels`"))
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        out.append(cause("FieldValueInvalid", "spec.replicas",
                         f"Invalid value: {replicas}: must be greater than or equal to 0"))
    out += _pod_spec_causes((spec.get("template") or {}).get("spec") or {}, "spec.template.spec")
    return out


def _data_causes(obj: dict, secret: bool) -> list[dict]:
    out = []
    for key, value in (obj.get("data") or {}).items():
        if not _CONFIG_KEY.fullmatch(key):
            out.append(cause("FieldValueInvalid", "data", f'Invalid value: "{key}": a valid config key must '
                             "consist of alphanumeric characters, '-', '_' or '.'"))
        if secret:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                out.append(cause("FieldValueInvalid", f"data[{key}]", "Invalid value: illegal base64 data"))
    return out


def _rbac_causes(res: Resource, obj: dict) -> list[dict]:
    out = []
    if res.plural == "roles":
        for i, rule in enumerate(obj.get("rules") or []):
            if not rule.get("verbs"):
                out.append(cause("FieldValueRequired", f"rules[{i}].verbs", "Required value: verbs must contain "
                                 "at least one value"))
    else:
        ref = obj.get("roleRef") or {}
        if ref.get("kind") not in ("Role", "ClusterRole"):
            out.append(cause("FieldValueNotSupported", "roleRef.kind",
                             f'Unsupported value: "{ref.get("kind", "")}": supported values: "Role", "ClusterRole"'))
        if not ref.get("name"):
            out.append(cause("FieldValueRequired", "roleRef.name", "Required value"))
        for i, sub in enumerate(obj.get("subjects") or []):
            if sub.get("kind") not in ("User", "Group", "ServiceAccount"):
                out.append(cause("FieldValueNotSupported", f"subjects[{i}].kind", "Unsupported value: "
                                 f'"{sub.get("kind", "")}": supported values: "Group", "ServiceAccount", "User"'))
            if not sub.get("name"):
                out.append(cause("FieldValueRequired", f"subjects[{i}].name", "Required value"))
    return out


def validate(res: Resource, obj: dict) -> None:
    """Raises a 422 Invalid listing every problem found."""
    m = obj.get("metadata") or {}
    causes = _name_causes(res, m)
    causes += _label_causes(m.get("labels") or {}, "metadata.labels")
    spec = obj.get("spec") or {}
    if res.plural == "pods":
        causes += _pod_spec_causes(spec, "spec")
    elif res.plural == "services":
        causes += _service_causes(spec)
    elif res.plural in ("deployments", "replicasets"):
        causes += _workload_causes(spec)
    elif res.plural in ("configmaps", "secrets"):
        causes += _data_causes(obj, res.plural == "secrets")
    elif res.plural in ("roles", "rolebindings"):
        causes += _rbac_causes(res, obj)
    if causes:
        raise errors.Invalid(res.kind, m.get("name") or m.get("generateName") or "", causes)

