"""Events the kubelet (and, for Scheduled, the scheduler) would record for a pod.

`kubectl describe pod` and `kubectl get events` show them; tools (and Tether) read them to
explain why a pod is not running, e.g. an image that cannot be pulled. A repeat of the same
reason and message for the same pod bumps `count` and `lastTimestamp` instead of adding a new
Event, as the real event recorder does.
"""

import logging
import secrets

from .container import rfc3339

log = logging.getLogger("kubesim.events")


class EventRecorder:
    def __init__(self, store):
        self.store = store
        self._seen: dict[tuple, str] = {}

    def record(self, pod: dict, reason: str, message: str, warning: bool = False,
               container: str | None = None, component: str = "kubelet") -> None:
        meta = pod.get("metadata", {})
        ns, name, uid = meta.get("namespace", "default"), meta.get("name", ""), meta.get("uid", "")
        key = (uid, reason, message)
        now = rfc3339()
        try:
            existing = self._seen.get(key)
            if existing and self.store.get("events", ns, existing) is not None:
                def bump(ev):
                    ev["count"] = int(ev.get("count") or 1) + 1
                    ev["lastTimestamp"] = now
                self.store.mutate("events", ns, existing, bump)
                return
            involved = {"kind": "Pod", "namespace": ns, "name": name, "uid": uid, "apiVersion": "v1",
                        "resourceVersion": meta.get("resourceVersion", "")}
            if container:
                involved["fieldPath"] = f"spec.containers{{{container}}}"
            event_name = f"{name}.{secrets.token_hex(8)}"
            self.store.create("events", {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": event_name, "namespace": ns},
                "involvedObject": involved,
                "reason": reason, "message": message,
                "source": {"component": component, "host": "kubesim-node"},
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "type": "Warning" if warning else "Normal",
                "reportingComponent": component, "reportingInstance": "kubesim-node",
            })
            self._seen[key] = event_name
        except Exception as exc:   # an event is never worth failing a pod for (e.g. namespace terminating)
            log.debug("event %s for %s/%s not recorded: %s", reason, ns, name, exc)

    def forget(self, uid: str) -> None:
        for key in [k for k in self._seen if k[0] == uid]:
            del self._seen[key]
