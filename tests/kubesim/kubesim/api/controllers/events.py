"""Events, as the scheduler and the controllers record them, so `kubectl describe` and `kubectl events`
tell the story a real cluster tells (Scheduled, SuccessfulCreate, ScalingReplicaSet, ...).

Events are best effort: failing to record one (say, the namespace is being deleted) never fails the
action it describes.
"""
from __future__ import annotations

import secrets

from ..errors import ApiError
from ..util import rfc3339
from .base import Controller


def record(store, obj: dict, reason: str, message: str, component: str, type_: str = "Normal") -> None:
    m = obj["metadata"]
    namespace = m.get("namespace") or "default"
    stamp = rfc3339()
    event = {"apiVersion": "v1", "kind": "Event",
             "metadata": {"name": f"{m['name']}.{secrets.token_hex(8)}", "namespace": namespace},
             "involvedObject": {"kind": obj.get("kind", ""), "namespace": m.get("namespace", ""), "name": m["name"],
                                "uid": m.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
                                "resourceVersion": m.get("resourceVersion", "")},
             "reason": reason, "message": message, "source": {"component": component},
             "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": type_,
             "eventTime": None, "reportingComponent": component, "reportingInstance": ""}
    try:
        store.create("events", event)
    except ApiError:
        pass


class SchedulerEvents(Controller):
    """Pods are bound to the node when they are created; this records that as the scheduler would."""
    name = "scheduler-events"

    def keys_for(self, event) -> list:
        if event.resource == "pods" and event.type == "ADDED":
            m = event.object["metadata"]
            return [(m["namespace"], m["name"], m["uid"])]
        return []

    def reconcile(self, key) -> None:
        ns, name, uid = key
        pod = self.store.peek("pods", ns, name)
        if pod is None or pod["metadata"]["uid"] != uid:
            return
        node = (pod.get("spec") or {}).get("nodeName", "")
        record(self.store, pod, "Scheduled", f"Successfully assigned {ns}/{name} to {node}", "default-scheduler")
