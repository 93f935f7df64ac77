"""The kubesim node as one object: network, kubelet, service proxy, DNS, streaming.

Node implements the NodeHooks protocol of CONTRACT.md, which is all the API server knows
about the node side. Each part gets its own store subscription, so a slow consumer never
delays another.
"""

import logging

from aiohttp import web

from . import streaming
from .dnsserver import ClusterDNS
from .images import ImageMap
from .kubelet import Kubelet
from .netns import release_thread_in
from .network import ClusterNetwork
from .proxy import ServiceProxy

log = logging.getLogger("kubesim.node")


class Node:
    def __init__(self, store, cluster_id: str, images: ImageMap):
        self.store = store
        self.network = ClusterNetwork(cluster_id)
        self.kubelet = Kubelet(store, self.network, images)
        self.proxy = ServiceProxy(store, self.network.node_ns)
        self.dns = ClusterDNS(store, self.network.node_ns)

    async def start(self) -> None:
        await self.network.setup()
        await self.dns.start()
        await self.proxy.start()
        self.kubelet.start()

    async def stop(self) -> None:
        """Stops every pod and server and removes the cluster's namespaces."""
        for part in (self.kubelet, self.proxy, self.dns):
            try:
                await part.stop()
            except Exception:
                log.exception("stopping %s failed", type(part).__name__)
        release_thread_in(self.network.node_ns)
        await self.network.teardown()

    # ----- NodeHooks -----

    def pod_deletion_requested(self, pod: dict, grace_seconds: int) -> None:
        self.kubelet.pod_deletion_requested(pod, grace_seconds)

    async def portforward(self, request: web.Request, pod: dict) -> web.StreamResponse:
        return await streaming.portforward(self, request, pod)

    async def exec(self, request: web.Request, pod: dict) -> web.StreamResponse:
        return await streaming.exec_(self, request, pod)

    async def log(self, request: web.Request, pod: dict) -> web.StreamResponse:
        return await streaming.log(self, request, pod)
