"""Builds a container's environment from the pod spec, as the kubelet does.

Supports literal values, valueFrom configMapKeyRef / secretKeyRef (read from the store at
container start; secrets are base64 in `data` or plain in `stringData`), fieldRef for the
common downward-API fields, envFrom, and $(VAR) references to earlier variables.
A missing non-optional reference is an error that keeps the container from starting
(CreateContainerConfigError), as on a real node.
"""

import base64
import re

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class EnvError(Exception):
    pass


def _config_value(store, kind: str, namespace: str, name: str, key: str, optional: bool):
    obj = store.get(kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind[:-1]} "{name}" not found')
    if kind == "secrets":
        data = obj.get("data") or {}
        if key in data:
            return base64.b64decode(data[key]).decode(errors="replace")
        string_data = obj.get("stringData") or {}
        if key in string_data:
            return string_data[key]
    else:
        data = obj.get("data") or {}
        if key in data:
            return data[key]
    if optional:
        return None
    raise EnvError(f"couldn't find key {key} in {kind[:-1]} {namespace}/{name}")


def _field_value(pod: dict, path: str, pod_ip: str) -> str:
    meta = pod.get("metadata", {})
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "status.podIP": pod_ip,
        "status.hostIP": pod_ip,
        "spec.nodeName": pod.get("spec", {}).get("nodeName", ""),
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", "default"),
    }
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    raise EnvError(f"unsupported fieldRef {path}")


def _expand(value: str, env: dict) -> str:
    # $(VAR) expands to an earlier variable; $$(VAR) escapes it, as in Kubernetes.
    def repl(m):
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$?\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", repl, value)


def container_env(store, pod: dict, container: dict, pod_ip: str) -> dict[str, str]:
    meta = pod.get("metadata", {})
    ns = meta.get("namespace", "default")
    env = {
        "PATH": BASE_PATH,
        "HOSTNAME": meta.get("name", ""),
        "HOME": "/root",
        "KUBESIM_POD_NAME": meta.get("name", ""),
        "KUBESIM_POD_NAMESPACE": ns,
        "KUBESIM_POD_IP": pod_ip,
    }
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        for kind, ref_key in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            ref = src.get(ref_key)
            if not ref:
                continue
            obj = store.get(kind, ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'{kind[:-1]} "{ref.get("name")}" not found')
            for k, v in (obj.get("data") or {}).items():
                env[prefix + k] = base64.b64decode(v).decode(errors="replace") if kind == "secrets" else v
    for item in container.get("env") or []:
        name = item.get("name")
        if not name:
            continue
        if "value" in item:
            env[name] = _expand(str(item["value"]), env)
            continue
        source = item.get("valueFrom") or {}
        value = None
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            value = _config_value(store, "configmaps", ns, ref.get("name", ""), ref.get("key", ""),
                                  bool(ref.get("optional")))
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = _config_value(store, "secrets", ns, ref.get("name", ""), ref.get("key", ""),
                                  bool(ref.get("optional")))
        elif "fieldRef" in source:
            value = _field_value(pod, source["fieldRef"].get("fieldPath", ""), pod_ip)
        elif not source:
            value = ""
        if value is not None:
            env[name] = value
    return env
