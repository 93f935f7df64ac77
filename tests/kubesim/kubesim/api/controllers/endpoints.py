"""Endpoints and EndpointSlice controller.

For every Service with a selector it publishes the selected pods that have an IP: ready pods as
addresses, the others as notReadyAddresses (Endpoints) or with ready=false (EndpointSlices).
Terminating pods leave Endpoints at once and stay in slices with terminating=true, as upstream.
A named targetPort is resolved per pod against its container ports, so pods that resolve a name to
different numbers land in different subsets / slices. The node side's service proxy and DNS read these.
"""
from __future__ import annotations

from ..util import clone
from .base import Controller

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
MANAGER = "endpointslice-controller.k8s.io"


def _pod_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _readiness(svc: dict):
    """How the service judges pods: publishNotReadyAddresses counts every pod as ready."""
    if (svc.get("spec") or {}).get("publishNotReadyAddresses"):
        return lambda pod: True
    return _pod_ready


def _labels(svc: dict) -> dict:
    labels = dict(svc["metadata"].get("labels") or {})
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    return labels


def _resolve(port: dict, pod: dict) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for cp in c.get("ports") or []:
            if cp.get("name") == target and cp.get("protocol", "TCP") == port.get("protocol", "TCP"):
                return cp.get("containerPort")
    return None


def _target_ref(pod: dict) -> dict:
    m = pod["metadata"]
    return {"kind": "Pod", "name": m["name"], "namespace": m["namespace"], "uid": m["uid"]}


def _groups(svc: dict, pods: list[dict]) -> list[tuple[tuple, list[dict]]]:
    """Pods grouped by the port numbers their targetPorts resolve to, in a stable order."""
    groups: dict[tuple, list[dict]] = {}
    for pod in pods:
        ports = []
        for p in (svc.get("spec") or {}).get("ports") or []:
            number = _resolve(p, pod)
            if number is not None:
                ports.append((p.get("name", ""), number, p.get("protocol", "TCP")))
        groups.setdefault(tuple(ports), []).append(pod)
    return sorted(groups.items())


def _port_list(ports: tuple, slice_ports: bool = False) -> list[dict]:
    """Endpoints omit an empty port name; EndpointSlices always carry it (clients dereference it)."""
    out = []
    for name, number, proto in ports:
        entry = {"port": number, "protocol": proto}
        if name or slice_ports:
            entry["name"] = name
        out.append(entry)
    return out


class EndpointsController(Controller):
    name = "endpoint-controller"

    def initial_keys(self) -> list:
        return [(s["metadata"]["namespace"], s["metadata"]["name"]) for s in self.store.peek_all("services")]

    def keys_for(self, event) -> list:
        obj = event.object
        ns = obj["metadata"].get("namespace", "")
        if event.resource == "services":
            return [(ns, obj["metadata"]["name"])]
        if event.resource == "pods":
            return [(ns, s["metadata"]["name"]) for s in self.store.peek_all("services", ns)
                    if (s.get("spec") or {}).get("selector")]
        return []

    def reconcile(self, key) -> None:
        ns, name = key
        svc = self.store.peek("services", ns, name)
        slices = [s for s in self.store.peek_all("endpointslices", ns)
                  if (s["metadata"].get("labels") or {}).get(SERVICE_NAME) == name
                  and (s["metadata"].get("labels") or {}).get(MANAGED_BY) == MANAGER]
        if svc is None or not (svc.get("spec") or {}).get("selector"):
            if svc is None and self.store.peek("endpoints", ns, name) is not None:
                self.store.delete("endpoints", ns, name)
            for s in slices:
                self.store.delete("endpointslices", ns, s["metadata"]["name"])
            return
        selector = svc["spec"]["selector"]
        pods = [p for p in self.store.peek_all("pods", ns)
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                and (p.get("status") or {}).get("podIP")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        pods.sort(key=lambda p: p["metadata"]["name"])
        groups = _groups(svc, pods)
        self._endpoints(svc, groups)
        self._slices(svc, groups, slices)

    def _endpoints(self, svc: dict, groups) -> None:
        m = svc["metadata"]
        is_ready = _readiness(svc)
        subsets = []
        for ports, pods in groups:
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in live if is_ready(p)]
            not_ready = [p for p in live if not is_ready(p)]
            if not ready and not not_ready:
                continue
            subset: dict = {}
            if ready:
                subset["addresses"] = [self._address(p) for p in ready]
            if not_ready:
                subset["notReadyAddresses"] = [self._address(p) for p in not_ready]
            subset["ports"] = _port_list(ports)
            subsets.append(subset)
        current = self.store.peek("endpoints", m["namespace"], m["name"])
        labels = _labels(svc)
        if current is None:
            obj = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": m["name"], "namespace": m["namespace"], "labels": labels}}
            if subsets:
                obj["subsets"] = subsets
            self.store.create("endpoints", obj)
            return
        if current.get("subsets", []) == subsets and (current["metadata"].get("labels") or {}) == labels:
            return
        obj = clone(current)
        obj["metadata"]["labels"] = labels
        obj.pop("subsets", None)
        if subsets:
            obj["subsets"] = subsets
        self.store.update("endpoints", obj, check_rv=False)

    @staticmethod
    def _address(pod: dict) -> dict:
        return {"ip": pod["status"]["podIP"], "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                "targetRef": _target_ref(pod)}

    def _slices(self, svc: dict, groups, existing: list[dict]) -> None:
        m = svc["metadata"]
        labels = {**_labels(svc), SERVICE_NAME: m["name"], MANAGED_BY: MANAGER}
        is_ready = _readiness(svc)
        wanted = []
        for ports, pods in groups or [((), [])]:
            endpoints = []
            for p in pods:
                terminating = bool(p["metadata"].get("deletionTimestamp"))
                ready = is_ready(p)
                endpoints.append({"addresses": [p["status"]["podIP"]],
                                  "conditions": {"ready": ready and not terminating, "serving": ready,
                                                 "terminating": terminating},
                                  "targetRef": _target_ref(p),
                                  "nodeName": (p.get("spec") or {}).get("nodeName", "")})
            wanted.append((endpoints, _port_list(ports, slice_ports=True)))
        existing = sorted(existing, key=lambda s: s["metadata"]["name"])
        owner = {"apiVersion": "v1", "kind": "Service", "name": m["name"], "uid": m["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        for i, (endpoints, ports) in enumerate(wanted):
            if i < len(existing):
                current = existing[i]
                if current.get("endpoints") == endpoints and current.get("ports") == ports and \
                        current["metadata"].get("labels") == labels:
                    continue
                obj = clone(current)
                obj["metadata"]["labels"] = labels
                obj["endpoints"], obj["ports"] = endpoints, ports
                self.store.update("endpointslices", obj, check_rv=False)
            else:
                self.store.create("endpointslices", {
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"generateName": m["name"] + "-", "namespace": m["namespace"], "labels": labels,
                                 "ownerReferences": [owner]},
                    "addressType": "IPv4", "endpoints": endpoints, "ports": ports})
        for extra in existing[len(wanted):]:
            self.store.delete("endpointslices", m["namespace"], extra["metadata"]["name"])
