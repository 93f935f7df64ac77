"""The kubesim kubelet: turns pods in the store into running processes and back.

It follows the store's event stream. A new pod gets a PodRuntime (namespace, processes,
status). A graceful delete arrives through NodeHooks.pod_deletion_requested: the kubelet
stops the pod's processes and then tells the store the pod is gone. A pod that vanishes from
the store without that (forced removal) is torn down at once.
"""

import asyncio
import logging

from .events import EventRecorder
from .pod import PodRuntime

log = logging.getLogger("kubesim.kubelet")


def event_parts(ev):
    """Store events are Event(type, resource, object); accept attributes or a plain tuple."""
    if hasattr(ev, "type"):
        return ev.type, ev.resource, ev.object
    return ev[0], ev[1], ev[2]


class Kubelet:
    def __init__(self, store, network, images):
        self.store = store
        self.network = network
        self.images = images
        self.events = EventRecorder(store)
        self.pods: dict[str, PodRuntime] = {}      # by uid
        self._queue = None
        self._task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()

    def start(self, queue: asyncio.Queue | None = None) -> None:
        self._queue = queue or self.store.subscribe()
        for pod in self.store.list("pods"):
            self._ensure(pod)
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            ev = await self._queue.get()
            try:
                etype, resource, obj = event_parts(ev)
                if resource == "pods":
                    self._on_pod(etype, obj)
            except Exception:
                log.exception("kubelet: event handling failed")

    def _on_pod(self, etype: str, pod: dict) -> None:
        uid = pod.get("metadata", {}).get("uid", "")
        if etype == "DELETED":
            rt = self.pods.pop(uid, None)
            if rt is not None:
                self._spawn(rt.terminate(0))
            return
        self._ensure(pod)

    def _ensure(self, pod: dict) -> None:
        meta = pod.get("metadata", {})
        uid = meta.get("uid", "")
        if uid in self.pods:
            self.pods[uid].pod = pod
            return
        if meta.get("deletionTimestamp"):
            return
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        rt = PodRuntime(self, pod)
        self.pods[uid] = rt
        self._spawn(rt.run())

    def _spawn(self, coro) -> None:
        t = asyncio.create_task(coro)
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    # ----- NodeHooks -----

    def pod_deletion_requested(self, pod: dict, grace_seconds: int) -> None:
        meta = pod.get("metadata", {})
        rt = self.pods.get(meta.get("uid", ""))
        self._spawn(self._delete(rt, meta.get("namespace", "default"), meta.get("name", ""),
                                 grace_seconds))

    async def _delete(self, rt: PodRuntime | None, namespace: str, name: str, grace: int) -> None:
        if rt is not None:
            await rt.terminate(float(grace))
            self.pods.pop(rt.uid, None)
            self.events.forget(rt.uid)
        try:
            self.store.finish_pod_termination(namespace, name)
        except Exception:
            log.exception("finish_pod_termination %s/%s failed", namespace, name)

    def runtime_for(self, pod: dict) -> PodRuntime | None:
        meta = pod.get("metadata", {})
        rt = self.pods.get(meta.get("uid", ""))
        if rt is None:
            for candidate in self.pods.values():
                if candidate.namespace == meta.get("namespace") and candidate.name == meta.get("name"):
                    return candidate
        return rt

    async def stop(self) -> None:
        """Kills every pod at once (cluster shutdown); the store is not told."""
        if self._task:
            self._task.cancel()
        runtimes = list(self.pods.values())
        self.pods.clear()
        await asyncio.gather(*(rt.terminate(0) for rt in runtimes), return_exceptions=True)
        for t in list(self._background):
            t.cancel()
        if self._queue is not None:
            try:
                self.store.unsubscribe(self._queue)
            except Exception:
                pass
