"""The object store: kubesim's etcd.

One global resourceVersion counter orders every change of every kind, as an etcd revision does, so a
watch can resume from any list's resourceVersion. A bounded history of events serves such resumes;
asking for something older than the history answers 410 Expired, which is what makes clients re-list.

The store also owns the parts of deletion that decide when an object really disappears:
deletionTimestamp, finalizers and the pod grace period handed to the node side (NodeHooks). The
controllers (garbage collector, namespace cascade, workloads, endpoints) only call the methods here.
All calls happen on the event loop thread; objects leave the store as deep copies.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import uuid
from collections import deque
from typing import Callable, NamedTuple

from . import errors
from .resources import BY_PLURAL, Resource
from .util import clone, now, random_suffix, rfc3339

log = logging.getLogger("kubesim.store")

# Fields a client may not change through a main-resource write.
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation", "resourceVersion")

PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


def node_object() -> dict:
    """The one node every pod is scheduled to (the node side's network namespace)."""
    stamp = rfc3339()
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "kubesim-node",
                         "labels": {"kubernetes.io/hostname": "kubesim-node", "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": ""}},
            "spec": {"podCIDR": "10.244.0.0/16", "podCIDRs": ["10.244.0.0/16"]},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status",
                                       "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
                       "addresses": [{"type": "InternalIP", "address": "10.244.0.1"},
                                     {"type": "Hostname", "address": "kubesim-node"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0-kubesim", "kubeProxyVersion": "v1.32.0-kubesim",
                                    "operatingSystem": "linux", "architecture": "amd64",
                                    "containerRuntimeVersion": "kubesim://1", "osImage": "kubesim",
                                    "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
                       "capacity": {"cpu": "2", "memory": "4Gi", "pods": "250"},
                       "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "250"}}}


class Event(NamedTuple):
    type: str          # "ADDED" | "MODIFIED" | "DELETED"
    resource: str      # plural, e.g. "pods"
    object: dict


class Store:
    # 5000 changes cover minutes of a busy test cluster; clients that fall further behind re-list (410),
    # and the bound keeps memory small (each entry holds the object before and after the change).
    def __init__(self, history_limit: int = 5000):
        self._data: dict[str, dict[tuple[str, str], dict]] = {p: {} for p in BY_PLURAL}
        self._rv = 0
        self._history: deque[tuple[Event, dict | None]] = deque()
        self._history_limit = history_limit
        self._compacted = 0            # the oldest resourceVersion a watch may still resume from
        self._subs: list[tuple[asyncio.Queue, bool]] = []
        self._by_uid: dict[str, tuple[str, str, str]] = {}
        self._dependents: dict[str, set[tuple[str, str, str]]] = {}
        self._terminated: set[str] = set()     # uids of pods whose processes the kubelet has ended
        self.hooks = None                       # NodeHooks; set by the API server at start
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                                       "spec": {"finalizers": ["kubernetes"]},
                                       "status": {"phase": "Active"}})
        self.create("nodes", node_object())

    # ----- reading -------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def compacted_rv(self) -> int:
        """The oldest resourceVersion a watch or a continue token may still start from."""
        return self._compacted

    def get(self, resource: str, namespace: str | None, name: str) -> dict | None:
        obj = self._data[resource].get((namespace or "", name))
        return clone(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None = None) -> list[dict]:
        items = self._data[resource]
        if namespace is None:
            return [clone(o) for o in items.values()]
        return [clone(o) for (ns, _), o in items.items() if ns == namespace]

    def peek(self, resource: str, namespace: str | None, name: str) -> dict | None:
        """The stored object itself, for read-only use inside the API package (no copy)."""
        return self._data[resource].get((namespace or "", name))

    def peek_all(self, resource: str, namespace: str | None = None):
        items = self._data[resource]
        if namespace is None:
            return list(items.values())
        return [o for (ns, _), o in items.items() if ns == namespace]

    def by_uid(self, uid: str) -> tuple[str, str, str] | None:
        return self._by_uid.get(uid)

    def dependents(self, owner_uid: str) -> list[tuple[str, str, str]]:
        return sorted(self._dependents.get(owner_uid, ()))

    # ----- change notification -------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self._subs.append((q, False))
        return q

    def subscribe_with_old(self) -> asyncio.Queue:
        """Like subscribe, but items are (Event, previous object or None): watches need the old
        state to tell when an object enters or leaves their selector."""
        q: asyncio.Queue = asyncio.Queue()
        self._subs.append((q, True))
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._subs = [(s, o) for s, o in self._subs if s is not q]

    def watch_from(self, rv: int) -> tuple[list[tuple[Event, dict | None]], asyncio.Queue]:
        """(Event, old) pairs after `rv` still in history, plus a queue for later ones, taken atomically."""
        if rv < self._compacted:
            raise errors.expired(rv, self._compacted)
        backlog = [h for h in self._history if int(h[0].object["metadata"]["resourceVersion"]) > rv]
        return backlog, self.subscribe_with_old()

    def compact(self) -> None:
        """Forget the whole history, as etcd compaction would (used by tests of 410 Expired)."""
        self._history.clear()
        self._compacted = self._rv

    def _emit(self, type_: str, resource: str, obj: dict, old: dict | None = None) -> None:
        # The history and the watches only read these copies; each plain subscriber gets its own.
        shared = Event(type_, resource, clone(obj))
        old_copy = clone(old) if old is not None else None
        self._history.append((shared, old_copy))
        if len(self._history) > self._history_limit:
            dropped = self._history.popleft()[0]
            self._compacted = int(dropped.object["metadata"]["resourceVersion"])
        for q, with_old in self._subs:
            if with_old:
                q.put_nowait((shared, old_copy))
            else:
                q.put_nowait(Event(type_, resource, clone(obj)))

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # ----- indexes --------------------------------------------------------------------------------
    def _index(self, resource: str, obj: dict, add: bool) -> None:
        m = obj["metadata"]
        key = (resource, m.get("namespace", ""), m["name"])
        if add:
            self._by_uid[m["uid"]] = key
        else:
            self._by_uid.pop(m["uid"], None)
        for ref in m.get("ownerReferences") or ():
            uid = ref.get("uid")
            if not isinstance(uid, str):
                continue
            deps = self._dependents.setdefault(uid, set())
            if add:
                deps.add(key)
            else:
                deps.discard(key)
                if not deps:
                    del self._dependents[uid]

    # ----- writing --------------------------------------------------------------------------------
    def _check_namespace(self, res: Resource, namespace: str, name: str) -> None:
        ns = self._data["namespaces"].get(("", namespace))
        if ns is None:
            raise errors.namespace_not_found(namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403, "Forbidden", f'{res.group_resource} "{name}" is forbidden: unable to create new '
                f"content in namespace {namespace} because it is being terminated",
                {"name": name, "group": res.group, "kind": res.plural})

    def create(self, resource: str, obj: dict, dry_run: bool = False) -> dict:
        """Store a new (validated, defaulted) object; fills the server-owned metadata."""
        res = BY_PLURAL[resource]
        obj = clone(obj)
        m = obj.setdefault("metadata", {})
        if not m.get("name") and m.get("generateName"):
            for _ in range(20):
                m["name"] = m["generateName"] + random_suffix()
                if (m.get("namespace", ""), m["name"]) not in self._data[resource]:
                    break
        if resource == "namespaces":
            m.setdefault("labels", {})["kubernetes.io/metadata.name"] = m["name"]
        namespace = m.get("namespace", "") if res.namespaced else ""
        if res.namespaced:
            self._check_namespace(res, namespace, m["name"])
        if (namespace, m["name"]) in self._data[resource]:
            raise errors.already_exists(res, m["name"])
        for key in _SERVER_META:
            m.pop(key, None)
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = rfc3339()
        if res.tracks_generation:
            m["generation"] = 1
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        if dry_run:
            m["resourceVersion"] = str(self._rv)
            return obj
        m["resourceVersion"] = self._next_rv()
        self._data[resource][(namespace, m["name"])] = obj
        self._index(resource, obj, True)
        self._emit("ADDED", resource, obj)
        return clone(obj)

    def update(self, resource: str, obj: dict, *, subresource: str | None = None,
               check_rv: bool = True, dry_run: bool = False) -> dict:
        """Replace an object (PUT semantics). `subresource="status"` changes only the status."""
        res = BY_PLURAL[resource]
        m = obj.get("metadata") or {}
        key = (m.get("namespace", "") if res.namespaced else "", m.get("name", ""))
        old = self._data[resource].get(key)
        if old is None:
            raise errors.not_found(res, key[1])
        om = old["metadata"]
        rv = m.get("resourceVersion")
        if check_rv and rv not in (None, "") and rv != om["resourceVersion"]:
            raise errors.conflict(res, key[1])
        if m.get("uid") not in (None, "", om["uid"]):
            raise errors.conflict(res, key[1])
        if subresource == "status":
            new = clone(old)
            if "status" in obj:
                new["status"] = clone(obj["status"])
        else:
            new = clone(obj)
            new["apiVersion"], new["kind"] = res.api_version, res.kind
            nm = new.setdefault("metadata", {})
            for field in _SERVER_META:
                if field in om:
                    nm[field] = om[field]
                else:
                    nm.pop(field, None)
            if "generateName" in om:
                nm["generateName"] = om["generateName"]
            if res.has_status:
                if "status" in old:
                    new["status"] = clone(old["status"])
                else:
                    new.pop("status", None)
            if res.tracks_generation and new.get("spec") != old.get("spec"):
                nm["generation"] = om.get("generation", 1) + 1
            if om.get("deletionTimestamp"):
                # Finalizers may only be removed once deletion has started.
                nm["finalizers"] = [f for f in nm.get("finalizers") or [] if f in (om.get("finalizers") or [])]
        return self._commit(resource, key, old, new, dry_run)

    def _commit(self, resource: str, key, old: dict, new: dict, dry_run: bool = False) -> dict:
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if not new["metadata"].get("finalizers"):
            new["metadata"].pop("finalizers", None)
        if new == old or dry_run:
            return clone(new)
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._index(resource, old, False)
        self._data[resource][key] = new
        self._index(resource, new, True)
        self._emit("MODIFIED", resource, new, old)
        self._maybe_remove(resource, key)
        return clone(new)

    def update_status(self, resource: str, namespace: str | None, name: str,
                      mutate: Callable[[dict], None]) -> dict | None:
        """The node side's way to write pod status (and labels/annotations)."""
        key = (namespace or "", name)
        old = self._data[resource].get(key)
        if old is None:
            return None
        work = clone(old)
        mutate(work)
        new = clone(old)
        if "status" in work:
            new["status"] = work["status"]
        for field in ("labels", "annotations"):
            if field in work.get("metadata", {}):
                new["metadata"][field] = work["metadata"][field]
        return self._commit(resource, key, old, new)

    def mutate(self, resource: str, namespace: str | None, name: str,
               change: Callable[[dict], None]) -> dict | None:
        """Controllers' read-modify-write of any part of an object (finalizers, ownerReferences, spec)."""
        key = (namespace or "", name)
        old = self._data[resource].get(key)
        if old is None:
            return None
        new = clone(old)
        change(new)
        return self._commit(resource, key, old, new)

    # ----- deletion -------------------------------------------------------------------------------
    def delete(self, resource: str, namespace: str | None, name: str, *, grace: int | None = None,
               propagation: str | None = None, preconditions: dict | None = None,
               dry_run: bool = False) -> tuple[dict, bool]:
        """Start deleting an object. Returns (last state, removed now?)."""
        res = BY_PLURAL[resource]
        key = (namespace or "" if res.namespaced else "", name)
        old = self._data[resource].get(key)
        if old is None:
            raise errors.not_found(res, name)
        om = old["metadata"]
        pre = preconditions or {}
        if pre.get("uid") not in (None, om["uid"]):
            raise errors.ApiError(409, "Conflict", f"Precondition failed: UID in precondition: {pre['uid']}, "
                                  f"UID in object meta: {om['uid']}", {"name": name, "kind": res.plural})
        if pre.get("resourceVersion") not in (None, om["resourceVersion"]):
            raise errors.ApiError(409, "Conflict", "Precondition failed: ResourceVersion in precondition: "
                                  f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                  f"{om['resourceVersion']}", {"name": name, "kind": res.plural})
        if dry_run:
            return clone(old), False
        new = clone(old)
        nm = new["metadata"]
        first = not om.get("deletionTimestamp")
        if first:
            fins = list(nm.get("finalizers") or [])
            if propagation == "Foreground" and "foregroundDeletion" not in fins:
                fins.append("foregroundDeletion")
            elif propagation == "Orphan" and "orphan" not in fins:
                fins.append("orphan")
            nm["finalizers"] = fins
        if resource == "namespaces":
            if name in PROTECTED_NAMESPACES:
                raise errors.ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may '
                                      "not be deleted", {"name": name, "kind": "namespaces"})
            if first:
                nm["deletionTimestamp"] = rfc3339()
                nm["deletionGracePeriodSeconds"] = 0
                new.setdefault("status", {})["phase"] = "Terminating"
            return self._commit(resource, key, old, new), False
        if resource == "pods":
            return self._delete_pod(key, old, new, grace, first)
        if first:
            nm["deletionTimestamp"] = rfc3339()
            nm["deletionGracePeriodSeconds"] = 0
        if nm.get("finalizers"):
            return self._commit(resource, key, old, new), False
        self._remove(resource, key)
        return clone(old), True

    def _delete_pod(self, key, old: dict, new: dict, grace: int | None, first: bool) -> tuple[dict, bool]:
        nm = new["metadata"]
        spec = old.get("spec") or {}
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        grace = max(0, int(grace))
        if not spec.get("nodeName") or (old.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            grace = 0
        uid = nm["uid"]
        if not first:
            # A second delete may only shorten the grace period; zero ends the wait at once.
            if grace != 0:
                return clone(old), False
        nm["deletionGracePeriodSeconds"] = grace
        nm["deletionTimestamp"] = rfc3339(now() + _dt.timedelta(seconds=grace))
        if grace == 0:
            self._terminated.add(uid)
        result = self._commit("pods", key, old, new)
        if first and self.hooks is not None and spec.get("nodeName"):
            try:
                self.hooks.pod_deletion_requested(clone(result), grace)
            except Exception:   # noqa: BLE001 - a node-side failure must not fail the DELETE request
                log.exception("pod_deletion_requested failed for %s/%s", key[0], key[1])
        removed = key not in self._data["pods"] or self._data["pods"][key]["metadata"]["uid"] != uid
        return result, removed

    def finish_pod_termination(self, namespace: str, name: str) -> None:
        """Called by the kubelet once a deleted pod's processes are gone."""
        key = (namespace, name)
        pod = self._data["pods"].get(key)
        if pod is None or not pod["metadata"].get("deletionTimestamp"):
            return
        self._terminated.add(pod["metadata"]["uid"])
        self._maybe_remove("pods", key)

    def _maybe_remove(self, resource: str, key) -> None:
        obj = self._data[resource].get(key)
        if obj is None:
            return
        m = obj["metadata"]
        if not m.get("deletionTimestamp") or m.get("finalizers"):
            return
        if resource == "pods" and m["uid"] not in self._terminated:
            return
        if resource == "namespaces" and (obj.get("spec") or {}).get("finalizers"):
            return
        self._remove(resource, key)

    def _remove(self, resource: str, key) -> None:
        obj = self._data[resource].pop(key)
        self._index(resource, obj, False)
        self._terminated.discard(obj["metadata"]["uid"])
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._emit("DELETED", resource, obj)
