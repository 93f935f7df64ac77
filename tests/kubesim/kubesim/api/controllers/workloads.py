"""Deployment -> ReplicaSet -> Pod controllers.

A Deployment owns one ReplicaSet per pod template (named after a hash of the template, labelled with
pod-template-hash). Old ReplicaSets are scaled to zero once the new one has all its pods ready, so a
rollout replaces pods without a gap in service. The status fields are the ones `kubectl rollout
status` reads: observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas and the
Available / Progressing conditions.
"""
from __future__ import annotations

import hashlib
import json
from typing import NamedTuple

from ..defaults import apply_defaults
from ..util import clone, now, parse_time, rfc3339
from . import rollout
from .base import Controller
from .events import record

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _state(rs: dict) -> rollout.SetState:
    status = rs.get("status") or {}
    return rollout.SetState(rs["metadata"]["name"], (rs.get("spec") or {}).get("replicas", 0),
                            status.get("availableReplicas", 0), status.get("replicas", 0))


class _Nudge(NamedTuple):
    """A synthetic event that makes a controller look at an object again."""
    resource: str
    object: dict
    type: str = "SYNC"


def template_hash(template: dict) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def controller_of(obj: dict) -> dict | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owned_by(objs, owner: dict) -> list[dict]:
    uid = owner["metadata"]["uid"]
    return [o for o in objs if (controller_of(o) or {}).get("uid") == uid]


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def owner_ref(owner: dict) -> dict:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _condition(old_conditions: list, type_: str, status: str, reason: str, message: str) -> dict:
    previous = next((c for c in old_conditions if c.get("type") == type_), None)
    stamp = rfc3339()
    if previous and previous.get("status") == status and previous.get("reason") == reason:
        return previous
    transition = previous["lastTransitionTime"] if previous and previous.get("status") == status else stamp
    return {"type": type_, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": transition,
            "reason": reason, "message": message}


class ReplicaSetController(Controller):
    name = "replicaset-controller"

    def initial_keys(self) -> list:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.peek_all("replicasets")]

    def keys_for(self, event) -> list:
        obj = event.object
        if event.resource == "replicasets":
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        if event.resource == "pods":
            ref = controller_of(obj)
            if ref and ref.get("kind") == "ReplicaSet":
                return [(obj["metadata"]["namespace"], ref.get("name"))]
        return []

    def reconcile(self, key) -> None:
        ns, name = key
        rs = self.store.peek("replicasets", ns, name)
        if rs is None:
            return
        pods = owned_by(self.store.peek_all("pods", ns), rs)
        active = [p for p in pods if not p["metadata"].get("deletionTimestamp")
                  and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        want = (rs.get("spec") or {}).get("replicas", 1)
        if not rs["metadata"].get("deletionTimestamp"):
            if len(active) < want:
                for _ in range(want - len(active)):
                    created = self._create_pod(rs)
                    active.append(created)
                    record(self.store, rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                           "replicaset-controller")
            elif len(active) > want:
                # Remove the least useful pods first: not ready before ready, then the newest first.
                newest_first = sorted(active, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
                victims = sorted(newest_first, key=is_ready)[:len(active) - want]
                for pod in victims:
                    self.store.delete("pods", ns, pod["metadata"]["name"])
                    active.remove(pod)
                    record(self.store, rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                           "replicaset-controller")
        self._status(rs, active)

    def _create_pod(self, rs: dict) -> dict:
        template = clone((rs.get("spec") or {}).get("template") or {})
        meta = template.get("metadata") or {}
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"generateName": rs["metadata"]["name"] + "-", "namespace": rs["metadata"]["namespace"],
                            "labels": meta.get("labels") or {}, "ownerReferences": [owner_ref(rs)]},
               "spec": template.get("spec") or {}}
        if meta.get("annotations"):
            pod["metadata"]["annotations"] = meta["annotations"]
        apply_defaults("pods", pod, self.store, creating=True)
        return self.store.create("pods", pod)

    def _status(self, rs: dict, active: list[dict]) -> None:
        labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        ready = sum(1 for p in active if is_ready(p))
        status = {"replicas": len(active),
                  "fullyLabeledReplicas": sum(1 for p in active if all(
                      (p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        if status != {k: (rs.get("status") or {}).get(k) for k in status}:
            self.store.update_status("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"],
                                     lambda o: o.__setitem__("status", {**(o.get("status") or {}), **status}))


class DeploymentController(Controller):
    name = "deployment-controller"

    def __init__(self, store):
        super().__init__(store)
        self._deadlines: set[tuple] = set()    # progress deadlines already scheduled for a re-check

    def initial_keys(self) -> list:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.peek_all("deployments")]

    def keys_for(self, event) -> list:
        obj = event.object
        if event.resource == "deployments":
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        if event.resource == "replicasets":
            ref = controller_of(obj)
            if ref and ref.get("kind") == "Deployment":
                return [(obj["metadata"]["namespace"], ref.get("name"))]
        return []

    def reconcile(self, key) -> None:
        ns, name = key
        d = self.store.peek("deployments", ns, name)
        if d is None:
            return
        spec = d.get("spec") or {}
        want = spec.get("replicas", 1)
        template = clone(spec.get("template") or {})
        h = template_hash(template)
        sets = owned_by(self.store.peek_all("replicasets", ns), d)
        new_name = f"{name}-{h}"
        new = next((rs for rs in sets if rs["metadata"]["name"] == new_name), None)
        old = [rs for rs in sets if rs is not new]
        if not d["metadata"].get("deletionTimestamp"):
            if new is None and spec.get("paused"):
                # A paused deployment keeps its current pods; the new template waits for resume.
                new = max(old, key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")),
                          default=None)
                old = [rs for rs in old if rs is not new]
            old.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0))
            if new is None:
                new_replicas, _ = rollout.plan(spec, rollout.SetState(new_name, 0, 0), [_state(rs) for rs in old])
                new = self._create_rs(d, new_name, h, template, old, new_replicas)
                if new_replicas:
                    self._scaled(d, new, 0, new_replicas)
            if spec.get("paused"):
                targets = {}
                new_replicas = want if not any((rs.get("spec") or {}).get("replicas") for rs in old) \
                    else (new.get("spec") or {}).get("replicas", 0)
            else:
                new_replicas, targets = rollout.plan(spec, _state(new), [_state(rs) for rs in old])
            new = self._scale(d, new, new_replicas)
            for rs in old:
                if rs["metadata"]["name"] in targets:
                    self._scale(d, rs, targets[rs["metadata"]["name"]])
        self._status(d, new, [rs for rs in owned_by(self.store.peek_all("replicasets", ns), d)])

    def _progressing(self, d: dict, conds: list, rs_name: str, complete: bool, progressed: bool) -> dict:
        """The Progressing condition, including the progress deadline `kubectl rollout status` fails on."""
        if complete:
            return _condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                              f'ReplicaSet "{rs_name}" has successfully progressed.')
        previous = next((c for c in conds if c.get("type") == "Progressing"), None)
        if previous and previous.get("reason") == "ProgressDeadlineExceeded" and not progressed:
            return previous
        if progressed or not previous or previous.get("reason") != "ReplicaSetUpdated":
            stamp = rfc3339()
            transition = previous["lastTransitionTime"] if previous and previous.get("status") == "True" else stamp
            current = {"type": "Progressing", "status": "True", "lastUpdateTime": stamp,
                       "lastTransitionTime": transition, "reason": "ReplicaSetUpdated",
                       "message": f'ReplicaSet "{rs_name}" is progressing.'}
        else:
            current = previous
        deadline = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
        started = parse_time(current.get("lastUpdateTime", ""))
        if started is not None and isinstance(deadline, int):
            left = (started - now()).total_seconds() + deadline
            if left <= 0:
                return {"type": "Progressing", "status": "False", "lastUpdateTime": rfc3339(),
                        "lastTransitionTime": rfc3339(), "reason": "ProgressDeadlineExceeded",
                        "message": f'ReplicaSet "{rs_name}" has timed out progressing.'}
            key = (d["metadata"]["namespace"], d["metadata"]["name"], current.get("lastUpdateTime"))
            if key not in self._deadlines:
                self._deadlines.add(key)
                self.requeue_after(left + 1.0, _Nudge("deployments", d))
        return current

    def _scale(self, d: dict, rs: dict, replicas: int) -> dict:
        before = (rs.get("spec") or {}).get("replicas", 0)
        if before == replicas:
            return rs
        scaled = self.store.mutate("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"],
                                   lambda o: o["spec"].__setitem__("replicas", replicas))
        self._scaled(d, scaled, before, replicas)
        return scaled or rs

    def _scaled(self, d: dict, rs: dict | None, before: int, after: int) -> None:
        if rs is None:
            return
        direction = "up" if after > before else "down"
        record(self.store, d, "ScalingReplicaSet",
               f"Scaled {direction} replica set {rs['metadata']['name']} from {before} to {after}",
               "deployment-controller")

    def _create_rs(self, d: dict, name: str, h: str, template: dict, old: list[dict], replicas: int) -> dict:
        spec = d.get("spec") or {}
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = clone(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        revision = 1 + max([int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0) for rs in old]
                           or [0])
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": name, "namespace": d["metadata"]["namespace"],
                           "labels": dict(template["metadata"]["labels"]),
                           "annotations": {REVISION: str(revision),
                                           "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                                           "deployment.kubernetes.io/max-replicas": str(spec.get("replicas", 1))},
                           "ownerReferences": [owner_ref(d)]},
              "spec": {"replicas": replicas, "selector": selector, "template": template,
                       "minReadySeconds": spec.get("minReadySeconds", 0)}}
        apply_defaults("replicasets", rs, self.store, creating=True)
        created = self.store.create("replicasets", rs)
        self.store.mutate("deployments", d["metadata"]["namespace"], d["metadata"]["name"],
                          lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(REVISION, str(revision)))
        return created

    def _status(self, d: dict, new: dict | None, sets: list[dict]) -> None:
        want = (d.get("spec") or {}).get("replicas", 1)
        total = sum((rs.get("status") or {}).get("replicas", 0) for rs in sets)
        ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in sets)
        available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in sets)
        updated = ((new or {}).get("status") or {}).get("replicas", 0)
        old_status = d.get("status") or {}
        conds = old_status.get("conditions") or []
        new_name = (new or {}).get("metadata", {}).get("name", "")
        complete = updated >= want and total <= updated and available >= updated
        progressing = self._progressing(d, conds, new_name, complete,
                                        (updated, available) != (old_status.get("updatedReplicas"),
                                                                 old_status.get("availableReplicas")))
        enough = available >= want - rollout.surge_and_unavailable(d.get("spec") or {})[1]
        conditions = [
            _condition(conds, "Available", "True" if enough else "False",
                       "MinimumReplicasAvailable" if enough else "MinimumReplicasUnavailable",
                       "Deployment has minimum availability." if enough
                       else "Deployment does not have minimum availability."),
            progressing,
        ]
        status = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": total,
                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available,
                  "conditions": conditions}
        if want - available > 0:
            status["unavailableReplicas"] = want - available
        if status != old_status:
            self.store.update_status("deployments", d["metadata"]["namespace"], d["metadata"]["name"],
                                     lambda o: o.__setitem__("status", status))
