"""Defaulting, as the real API server's defaulters and admission do it on create and update.

Pods are scheduled at once (`spec.nodeName = kubesim-node`) and start `Pending`; Services get a
clusterIP from 10.96.0.0/16 and the port defaults the node side's service proxy relies on.
Defaulting runs after the type check in validation, so it may assume the shapes are right.
"""
from __future__ import annotations

import base64
import ipaddress
import random

from . import errors
from .errors import cause

NODE_NAME = "kubesim-node"
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
RESERVED_IPS = {"10.96.0.0", "10.96.0.1", "10.96.0.10", "10.96.255.255"}


def _container(c: dict) -> None:
    image = c.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    c.setdefault("imagePullPolicy", "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")


def pod_spec(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        _container(c)


def _pod(obj: dict, store, creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    if creating:
        spec.setdefault("nodeName", NODE_NAME)
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def allocate_cluster_ip(store) -> str:
    used = {(s.get("spec") or {}).get("clusterIP") for s in store.peek_all("services")}
    hosts = SERVICE_CIDR.num_addresses
    for _ in range(1000):
        ip = str(SERVICE_CIDR[random.randrange(2, hosts - 1)])
        if ip not in used and ip not in RESERVED_IPS:
            return ip
    raise errors.ApiError(500, "InternalError", "Internal error occurred: range is full")


def _service(obj: dict, store, creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for p in spec.get("ports") or []:
        p.setdefault("protocol", "TCP")
        p.setdefault("targetPort", p.get("port"))
    if creating and spec["type"] != "ExternalName":
        requested = spec.get("clusterIP")
        if requested in (None, ""):
            spec["clusterIP"] = allocate_cluster_ip(store)
        elif requested != "None":
            _check_requested_ip(obj, requested, store)
        spec["clusterIPs"] = [spec["clusterIP"]]
    obj.setdefault("status", {"loadBalancer": {}})


def _check_requested_ip(obj: dict, ip: str, store) -> None:
    name = obj["metadata"].get("name", "")
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise errors.Invalid("Service", name, [cause("FieldValueInvalid", "spec.clusterIPs[0]",
                             f'Invalid value: "{ip}": must be a valid IP address')]) from None
    if addr not in SERVICE_CIDR:
        raise errors.Invalid("Service", name, [cause(
            "FieldValueInvalid", "spec.clusterIPs[0]",
            f'Invalid value: "{ip}": failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid '
            f"range. The range of valid IPs is {SERVICE_CIDR}")])
    if any((s.get("spec") or {}).get("clusterIP") == ip for s in store.peek_all("services")):
        raise errors.Invalid("Service", name, [cause(
            "FieldValueInvalid", "spec.clusterIPs[0]",
            f'Invalid value: ["{ip}"]: failed to allocate IP {ip}: provided IP is already allocated')])


def _workload(obj: dict, store, creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    template = spec.setdefault("template", {})
    pod_spec(template.setdefault("spec", {}))
    if obj["kind"] == "Deployment":
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    if creating:
        obj["status"] = {}


def _namespace(obj: dict, store, creating: bool) -> None:
    if obj["metadata"].get("name"):
        # With generateName the store sets this label once it has picked the name.
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    if creating:
        obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
        obj["status"] = {"phase": "Active"}


def _secret(obj: dict, store, creating: bool) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(value.encode()).decode()


_DEFAULTERS = {"pods": _pod, "services": _service, "deployments": _workload, "replicasets": _workload,
               "namespaces": _namespace, "secrets": _secret}


def apply_defaults(resource: str, obj: dict, store, creating: bool) -> None:
    fn = _DEFAULTERS.get(resource)
    if fn is not None:
        fn(obj, store, creating)
