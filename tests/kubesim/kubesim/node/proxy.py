"""The service proxy: a userspace kube-proxy in the node namespace.

Every ClusterIP:port of a (non-headless) Service that has a ready endpoint gets a listening
socket in the node namespace (the whole service range is local there, see network.py); without
one, nothing listens and a connection is refused, as kube-proxy rejects it. Each new connection is
sent to the next ready endpoint, round robin, read from the store's Endpoints at that moment:
changing a Service's selector, or a pod losing readiness, moves new connections at once while
established ones stay where they are. That is the switch Tether's exchange flips.
"""

import asyncio
import itertools
import logging
import socket

from .kubelet import event_parts
from .netns import connect_in_netns, keep_thread_in, socket_in_netns
from .pipe import splice

log = logging.getLogger("kubesim.proxy")


def endpoint_targets(endpoints: dict | None, port_name: str) -> list[tuple[str, int]]:
    """Ready (ip, port) pairs of an Endpoints object for the Service port called port_name."""
    targets = []
    for subset in (endpoints or {}).get("subsets") or []:
        ports = subset.get("ports") or []
        match = [p for p in ports if (p.get("name") or "") == (port_name or "")]
        if not match and len(ports) == 1:
            match = ports
        for p in match:
            if (p.get("protocol") or "TCP") != "TCP":
                continue
            for addr in subset.get("addresses") or []:
                targets.append((addr["ip"], int(p["port"])))
    return targets


class ServiceProxy:
    def __init__(self, store, node_ns: str):
        self.store = store
        self.node_ns = node_ns
        self.listeners: dict[tuple[str, int], tuple[asyncio.AbstractServer, tuple]] = {}
        self._rr: dict[tuple, itertools.count] = {}
        self._task: asyncio.Task | None = None
        self._queue = None

    async def start(self, queue: asyncio.Queue | None = None) -> None:
        keep_thread_in(self.node_ns)
        self._queue = queue or self.store.subscribe()
        await self.sync()
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            ev = await self._queue.get()
            _, resource, _ = event_parts(ev)
            if resource in ("services", "endpoints"):
                # Drain what is already queued so a burst of changes costs one sync.
                while not self._queue.empty():
                    self._queue.get_nowait()
                try:
                    await self.sync()
                except Exception:
                    log.exception("proxy sync failed")

    def _wanted(self) -> dict[tuple[str, int], tuple]:
        wanted = {}
        for svc in self.store.list("services"):
            spec = svc.get("spec") or {}
            cluster_ip = spec.get("clusterIP")
            if not cluster_ip or cluster_ip == "None":
                continue
            meta = svc["metadata"]
            for port in spec.get("ports") or []:
                if (port.get("protocol") or "TCP") != "TCP":
                    continue
                target = (meta.get("namespace"), meta["name"], port.get("name") or "")
                # No ready endpoint: no listener, so connections are refused, as with kube-proxy.
                if endpoint_targets(self.store.get("endpoints", target[0], target[1]), target[2]):
                    wanted[(cluster_ip, int(port["port"]))] = target
        return wanted

    async def sync(self) -> None:
        wanted = self._wanted()
        for key in list(self.listeners):
            server, target = self.listeners[key]
            if wanted.get(key) != target:
                server.close()
                del self.listeners[key]
        for key, target in wanted.items():
            if key in self.listeners:
                continue
            try:
                sock = socket_in_netns(self.node_ns)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(key)
                server = await asyncio.start_server(
                    lambda r, w, t=target: self._handle(r, w, t), sock=sock, limit=1 << 20)
            except OSError as exc:
                log.error("proxy: cannot listen on %s:%s: %s", key[0], key[1], exc)
                continue
            self.listeners[key] = (server, target)

    def pick(self, target: tuple) -> tuple[str, int] | None:
        namespace, name, port_name = target
        endpoints = self.store.get("endpoints", namespace, name)
        choices = endpoint_targets(endpoints, port_name)
        if not choices:
            return None
        counter = self._rr.setdefault(target, itertools.count())
        return choices[next(counter) % len(choices)]

    async def _handle(self, reader, writer, target) -> None:
        dest = self.pick(target)
        if dest is None:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await connect_in_netns(self.node_ns, dest[0], dest[1])
        except (OSError, asyncio.TimeoutError):
            writer.transport.abort()
            return
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await splice(reader, writer, up_reader, up_writer)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        for server, _ in self.listeners.values():
            server.close()
        self.listeners.clear()
        if self._queue is not None:
            self.store.unsubscribe(self._queue)
