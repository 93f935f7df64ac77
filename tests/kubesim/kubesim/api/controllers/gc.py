"""Garbage collector (ownerReferences) and the namespace lifecycle controller.

Background deletion: once every owner of an object is gone, the object is deleted. Foreground: the
owner carries the `foregroundDeletion` finalizer until all its dependents are gone; dependents are
deleted in foreground too, so a Deployment waits for its ReplicaSets, which wait for their pods.
Orphan: the owner's `orphan` finalizer is removed after its dependents lose their reference to it.

A deleted namespace turns Terminating, everything in it is deleted, and when nothing is left its
`kubernetes` finalizer is dropped and it disappears. New namespaces get their `default` ServiceAccount.
"""
from __future__ import annotations

from ..resources import RESOURCES
from .base import Controller


class GarbageCollector(Controller):
    name = "garbage-collector"

    def keys_for(self, event) -> list:
        m = event.object["metadata"]
        keys = []
        if event.type == "DELETED":
            keys.append(("dependents-of", m["uid"]))
            for ref in m.get("ownerReferences") or []:
                keys.append(("owner", ref.get("uid")))
        else:
            if m.get("deletionTimestamp"):
                keys.append(("deleting", m["uid"]))
            if event.type == "ADDED" and m.get("ownerReferences"):
                keys.append(("orphan-check", m["uid"]))
        return keys

    def reconcile(self, key) -> None:
        kind, uid = key
        if kind == "dependents-of":
            for dep in self.store.dependents(uid):
                self._collect_dependent(dep)
        elif kind == "orphan-check":
            where = self.store.by_uid(uid)
            if where:
                self._collect_dependent(where)
        elif kind in ("owner", "deleting"):
            where = self.store.by_uid(uid)
            if where:
                self._process_owner(where)

    def _collect_dependent(self, where) -> None:
        resource, ns, name = where
        obj = self.store.peek(resource, ns, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        refs = obj["metadata"].get("ownerReferences") or []
        alive = [r for r in refs if self.store.by_uid(r.get("uid", "")) is not None]
        if not alive:
            self.store.delete(resource, ns or None, name, propagation="Background")
        elif len(alive) < len(refs):
            keep = {r.get("uid") for r in alive}
            self.store.mutate(resource, ns or None, name, lambda o: o["metadata"].__setitem__(
                "ownerReferences", [r for r in o["metadata"]["ownerReferences"] if r.get("uid") in keep]))

    def _process_owner(self, where) -> None:
        resource, ns, name = where
        owner = self.store.peek(resource, ns, name)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        uid = owner["metadata"]["uid"]
        finalizers = owner["metadata"].get("finalizers") or []
        if "orphan" in finalizers:
            for dep_resource, dep_ns, dep_name in self.store.dependents(uid):
                self.store.mutate(dep_resource, dep_ns or None, dep_name, lambda o: o["metadata"].__setitem__(
                    "ownerReferences", [r for r in o["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]))
            self._drop_finalizer(resource, ns, name, "orphan")
        elif "foregroundDeletion" in finalizers:
            deps = self.store.dependents(uid)
            for dep_resource, dep_ns, dep_name in deps:
                dep = self.store.peek(dep_resource, dep_ns, dep_name)
                if dep is not None and not dep["metadata"].get("deletionTimestamp"):
                    self.store.delete(dep_resource, dep_ns or None, dep_name, propagation="Foreground")
            if not self.store.dependents(uid):
                self._drop_finalizer(resource, ns, name, "foregroundDeletion")

    def _drop_finalizer(self, resource: str, ns: str, name: str, finalizer: str) -> None:
        self.store.mutate(resource, ns or None, name, lambda o: o["metadata"].__setitem__(
            "finalizers", [f for f in o["metadata"].get("finalizers") or [] if f != finalizer]))


class NamespaceController(Controller):
    name = "namespace-controller"

    def initial_keys(self) -> list:
        return [n["metadata"]["name"] for n in self.store.peek_all("namespaces")]

    def keys_for(self, event) -> list:
        m = event.object["metadata"]
        if event.resource == "namespaces":
            return [m["name"]] if event.type != "DELETED" else []
        ns = m.get("namespace")
        if ns and event.type == "DELETED":
            owner = self.store.peek("namespaces", None, ns)
            if owner is not None and owner["metadata"].get("deletionTimestamp"):
                return [ns]
        return []

    def reconcile(self, name) -> None:
        ns = self.store.peek("namespaces", None, name)
        if ns is None:
            return
        if not ns["metadata"].get("deletionTimestamp"):
            if self.store.peek("serviceaccounts", name, "default") is None:
                self.store.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                      "metadata": {"name": "default", "namespace": name}})
            return
        remaining = 0
        for res in RESOURCES:
            if not res.namespaced:
                continue
            for obj in self.store.peek_all(res.plural, name):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self.store.delete(res.plural, name, obj["metadata"]["name"], propagation="Background")
        if remaining == 0 and (ns.get("spec") or {}).get("finalizers"):
            self.store.mutate("namespaces", None, name, lambda o: o["spec"].__setitem__("finalizers", []))
