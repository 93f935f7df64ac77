"""The cluster network: a node namespace with a bridge, and one namespace per pod.

Everything is named by the cluster id (`ks-<id>-node`, `ks-<id>-p<n>`), so two clusters on one
machine never collide and `down` can find every leftover of a crashed run by its prefix.
Interface names live inside the node and pod namespaces, so they need no cluster id.

Service ClusterIPs are not put on a dummy interface (this kernel has no dummy driver):
the node namespace gets one `local 10.96.0.0/16 dev lo` route instead, which makes every
address of the range local there, so the proxy and DNS can bind any ClusterIP directly.

The host namespace is the developer's laptop. It has no link to the node namespace at all,
and blackhole routes for the pod and service ranges make sure nothing for them ever leaves
through a real interface.
"""

import asyncio
import ipaddress
import os
import shutil
import signal

from .netns import ip, ip_batch, list_netns, netns_pids
from .security import remove_staged

POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
GATEWAY = "10.244.0.1"
# A fixed address for br0: without one a Linux bridge takes the lowest MAC of its ports, so a new pod
# whose veth sorts lower changes the gateway's MAC under every running pod, and their cached neighbour
# entry drops traffic to the gateway (DNS, Services) until it expires, tens of seconds later.
BRIDGE_MAC = "02:00:0a:f4:00:01"
DNS_IP = "10.96.0.10"
BLACKHOLES = (POD_CIDR, SERVICE_CIDR)


def node_netns(cluster_id: str) -> str:
    return f"ks-{cluster_id}-node"


def cluster_prefix(cluster_id: str) -> str:
    return f"ks-{cluster_id}-"


class ClusterNetwork:
    """Creates and removes the node namespace, its bridge, and pod namespaces."""

    def __init__(self, cluster_id: str):
        self.cluster_id = cluster_id
        self.node_ns = node_netns(cluster_id)
        self._next_index = 1
        self._used_ips: set[str] = set()
        self._pool = ipaddress.ip_network(POD_CIDR).hosts()

    async def setup(self) -> None:
        ensure_blackholes()
        ip("netns", "add", self.node_ns)
        await ip_batch([
            "link set lo up",
            f"link add br0 address {BRIDGE_MAC} type bridge",
            f"addr add {GATEWAY}/16 dev br0",
            "link set br0 up",
            f"route add local {SERVICE_CIDR} dev lo",
        ], netns=self.node_ns)

    def _allocate_ip(self) -> str:
        for addr in self._pool:
            s = str(addr)
            if s != GATEWAY and s not in self._used_ips:
                self._used_ips.add(s)
                return s
        # The generator is exhausted: start over and reuse released addresses.
        self._pool = ipaddress.ip_network(POD_CIDR).hosts()
        for addr in self._pool:
            s = str(addr)
            if s != GATEWAY and s not in self._used_ips:
                self._used_ips.add(s)
                return s
        raise RuntimeError("pod CIDR exhausted")

    async def add_pod(self, namespace: str, hostname: str) -> tuple[str, str]:
        """Creates a pod namespace wired to the bridge; returns (netns name, pod IP)."""
        idx = self._next_index
        self._next_index += 1
        podns = f"{cluster_prefix(self.cluster_id)}p{idx}"
        pod_ip = self._allocate_ip()
        write_pod_etc(podns, namespace, hostname, pod_ip)
        ip("netns", "add", podns)
        try:
            await ip_batch([
                f"link add vp{idx} type veth peer name eth0 netns {podns}",
                f"link set vp{idx} master br0",
                f"link set vp{idx} up",
            ], netns=self.node_ns)
            await ip_batch([
                "link set lo up",
                f"addr add {pod_ip}/16 dev eth0",
                "link set eth0 up",
                f"route add default via {GATEWAY}",
            ], netns=podns)
        except Exception:
            await self.remove_pod(podns, pod_ip)
            raise
        return podns, pod_ip

    async def remove_pod(self, podns: str, pod_ip: str | None) -> None:
        await asyncio.to_thread(remove_netns, podns)
        if pod_ip:
            self._used_ips.discard(pod_ip)

    async def teardown(self) -> None:
        await asyncio.to_thread(cleanup_cluster, self.cluster_id)


def write_pod_etc(podns: str, namespace: str, hostname: str, pod_ip: str) -> None:
    """Writes the files `ip netns exec` bind-mounts over /etc for the pod's processes."""
    d = f"/etc/netns/{podns}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/resolv.conf", "w") as f:
        f.write(f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
                f"nameserver {DNS_IP}\noptions ndots:5\n")
    with open(f"{d}/hosts", "w") as f:
        f.write(f"127.0.0.1\tlocalhost\n::1\tlocalhost\n{pod_ip}\t{hostname}\n")


def remove_netns(name: str) -> None:
    """Kills whatever still runs in netns `name`, then deletes it and its /etc/netns files."""
    for pid in netns_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    ip("netns", "del", name, check=False)
    shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)


def cleanup_cluster(cluster_id: str) -> None:
    """Removes every namespace (and /etc/netns dir) of the cluster, pods first, node last."""
    prefix = cluster_prefix(cluster_id)
    names = [n.split()[0] for n in list_netns() if n.startswith(prefix)]
    node = node_netns(cluster_id)
    for name in sorted(names, key=lambda n: n == node):
        remove_netns(name)
    if os.path.isdir("/etc/netns"):
        for name in os.listdir("/etc/netns"):
            if name.startswith(prefix):
                shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)
    remove_staged(cluster_id)
    if not other_clusters_running(cluster_id):
        remove_blackholes()


def other_clusters_running(cluster_id: str) -> bool:
    own = node_netns(cluster_id)
    return any(n.startswith("ks-") and n.endswith("-node") and n != own for n in list_netns())


def ensure_blackholes() -> None:
    for cidr in BLACKHOLES:
        if "blackhole" not in ip("route", "show", "exact", cidr, check=False).stdout:
            ip("route", "add", "blackhole", cidr, check=False)


def remove_blackholes() -> None:
    for cidr in BLACKHOLES:
        if "blackhole" in ip("route", "show", "exact", cidr, check=False).stdout:
            ip("route", "del", "blackhole", cidr, check=False)
