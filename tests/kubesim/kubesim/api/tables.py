"""meta.k8s.io/v1 Table rendering, so `kubectl get` prints the columns it prints against a real cluster.

kubectl prints the cells verbatim, so the server formats them (Age included). The columns follow the
upstream printers for each kind; `priority: 1` columns show only with `-o wide`.
"""
from __future__ import annotations

from .util import age, human_duration, now, parse_time


def _col(name: str, type_: str = "string", priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": type_, "format": fmt, "description": "", "priority": priority}


def _pod_status(pod: dict) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("initContainerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    return reason


def _pod_row(pod: dict) -> list:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    return [pod["metadata"]["name"], f"{ready}/{total}", _pod_status(pod), restarts, age(pod),
            status.get("podIP") or "<none>", (pod.get("spec") or {}).get("nodeName") or "<none>", "<none>",
            f"0/{len(gates)}" if gates else "<none>"]


def _ports(spec: dict) -> str:
    out = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort"):
            text = f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        out.append(text)
    return ",".join(out) or "<none>"


def _selector_text(sel) -> str:
    if not sel:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))


def _service_row(svc: dict) -> list:
    spec = svc.get("spec") or {}
    external = ",".join(spec.get("externalIPs") or []) or (
        spec.get("externalName") if spec.get("type") == "ExternalName" else "<none>")
    return [svc["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
            external or "<none>", _ports(spec), age(svc), _selector_text(spec.get("selector"))]


def _containers(spec: dict) -> tuple[str, str]:
    cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _match_labels(spec: dict) -> str:
    sel = spec.get("selector") or {}
    return _selector_text(sel.get("matchLabels")) if isinstance(sel, dict) else "<none>"


def _deployment_row(d: dict) -> list:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(spec)
    return [d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), age(d), names, images, _match_labels(spec)]


def _replicaset_row(rs: dict) -> list:
    spec, st = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(spec)
    return [rs["metadata"]["name"], spec.get("replicas", 1), st.get("replicas", 0), st.get("readyReplicas", 0),
            age(rs), names, images, _match_labels(spec)]


def _endpoints_row(ep: dict) -> list:
    addrs = []
    for subset in ep.get("subsets") or []:
        for a in subset.get("addresses") or []:
            for p in subset.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else str(a.get("ip")))
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [ep["metadata"]["name"], text or "<none>", age(ep)]


def _slice_row(s: dict) -> list:
    ports = ",".join(str(p.get("port")) for p in s.get("ports") or []) or "<unset>"
    ips = [a for e in s.get("endpoints") or [] for a in e.get("addresses") or []]
    text = ",".join(ips[:3]) + (f" + {len(ips) - 3} more..." if len(ips) > 3 else "")
    return [s["metadata"]["name"], s.get("addressType", ""), ports, text or "<unset>", age(s)]


def _event_row(e: dict) -> list:
    last = parse_time(e.get("lastTimestamp") or e.get("eventTime") or "") or parse_time(
        e["metadata"].get("creationTimestamp", ""))
    seen = human_duration((now() - last).total_seconds()) if last else "<unknown>"
    obj = e.get("involvedObject") or {}
    return [seen, e.get("type", ""), e.get("reason", ""), f"{str(obj.get('kind', '')).lower()}/{obj.get('name', '')}",
            e.get("message", "")]


def _node_row(n: dict) -> list:
    st = n.get("status") or {}
    ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
    status = "Ready" if ready.get("status") == "True" else "NotReady"
    if (n.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (n["metadata"].get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/")) or ["<none>"]
    addresses = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    info = st.get("nodeInfo") or {}
    return [n["metadata"]["name"], status, ",".join(roles), age(n), info.get("kubeletVersion", ""),
            addresses.get("InternalIP", "<none>"), addresses.get("ExternalIP", "<none>"), info.get("osImage", ""),
            info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _rolebinding_row(o: dict) -> list:
    ref = o.get("roleRef") or {}
    subjects = o.get("subjects") or []

    def names(kind: str) -> str:
        if kind == "ServiceAccount":
            return ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == kind)
        return ", ".join(s.get("name", "") for s in subjects if s.get("kind") == kind)

    return [o["metadata"]["name"], f"{ref.get('kind')}/{ref.get('name')}", age(o), names("User"), names("Group"),
            names("ServiceAccount")]


_NAME = _col("Name", fmt="name")
_AGE = _col("Age")
TABLES = {
    "nodes": ([_NAME, _col("Status"), _col("Roles"), _AGE, _col("Version"), _col("Internal-IP", priority=1),
               _col("External-IP", priority=1), _col("OS-Image", priority=1), _col("Kernel-Version", priority=1),
               _col("Container-Runtime", priority=1)], _node_row),
    "pods": ([_NAME, _col("Ready"), _col("Status"), _col("Restarts", "integer"), _AGE, _col("IP", priority=1),
              _col("Node", priority=1), _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)],
             _pod_row),
    "services": ([_NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), _AGE,
                  _col("Selector", priority=1)], _service_row),
    "deployments": ([_NAME, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), _AGE,
                     _col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)],
                    _deployment_row),
    "replicasets": ([_NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), _AGE,
                     _col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)],
                    _replicaset_row),
    "namespaces": ([_NAME, _col("Status"), _AGE],
                   lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""), age(o)]),
    "configmaps": ([_NAME, _col("Data", "integer"), _AGE],
                   lambda o: [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                              age(o)]),
    "secrets": ([_NAME, _col("Type"), _col("Data", "integer"), _AGE],
                lambda o: [o["metadata"]["name"], o.get("type", ""), len(o.get("data") or {}), age(o)]),
    "serviceaccounts": ([_NAME, _col("Secrets", "integer"), _AGE],
                        lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), age(o)]),
    "endpoints": ([_NAME, _col("Endpoints"), _AGE], _endpoints_row),
    "endpointslices": ([_NAME, _col("AddressType"), _col("Ports"), _col("Endpoints"), _AGE], _slice_row),
    "roles": ([_NAME, _col("Created At", "date")],
              lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")]),
    "rolebindings": ([_NAME, _col("Role"), _AGE, _col("Users", priority=1), _col("Groups", priority=1),
                      _col("ServiceAccounts", priority=1)], _rolebinding_row),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")], _event_row),
}
_DEFAULT = ([_NAME, _AGE], lambda o: [o["metadata"]["name"], age(o)])


def _row(resource: str, obj: dict, include_object: bool) -> dict:
    columns, render = TABLES.get(resource, _DEFAULT)
    try:
        cells = render(obj)
    except (AttributeError, TypeError, ValueError, KeyError):
        # A stored object of an unexpected shape still gets a row rather than a failed request.
        cells = [obj.get("metadata", {}).get("name", "")] + ["<unknown>"] * (len(columns) - 1)
    row = {"cells": cells[:len(columns)]}
    if include_object:
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj.get("metadata", {})}
    return row


def table(resource: str, objects: list[dict], resource_version: str, with_columns: bool = True,
          include_object: bool = True, continue_token: str | None = None) -> dict:
    columns, _ = TABLES.get(resource, _DEFAULT)
    meta = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    out = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
           "rows": [_row(resource, o, include_object) for o in objects]}
    out["columnDefinitions"] = columns if with_columns else []
    return out


def wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def include_object_policy(query) -> bool:
    return query.get("includeObject", "Metadata") != "None"
