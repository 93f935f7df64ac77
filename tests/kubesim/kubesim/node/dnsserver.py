"""Cluster DNS at 10.96.0.10:53 (UDP and TCP) in the node namespace.

Answers A records from the store: Services (`svc`, `svc.ns`, `svc.ns.svc`,
`svc.ns.svc.cluster.local`; a headless Service answers its ready pod IPs) and pods
(`a-b-c-d.ns.pod.cluster.local`). Everything else is NXDOMAIN; there is no upstream, so a
pod can resolve cluster names and nothing else. Another record type for a known name gets an
empty NOERROR answer, which is what resolvers expect when they also ask for AAAA.
"""

import asyncio
import logging
import socket
import struct

from .netns import socket_in_netns
from .network import DNS_IP

log = logging.getLogger("kubesim.dns")

TYPE_A = 1
CLASS_IN = 1
TTL = 5
NOERROR, FORMERR, NXDOMAIN, NOTIMP = 0, 1, 3, 4
DOMAIN = "cluster.local"


def parse_query(msg: bytes) -> tuple[int, int, str, int, int, int]:
    """Returns (id, flags, qname, qtype, qclass, end of question); raises ValueError if malformed."""
    if len(msg) < 12:
        raise ValueError("short header")
    qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if qdcount != 1:
        raise ValueError("one question expected")
    pos, labels = 12, []
    while True:
        if pos >= len(msg):
            raise ValueError("truncated name")
        n = msg[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compressed question name")
        labels.append(msg[pos:pos + n].decode("ascii", "replace"))
        pos += n
    if pos + 4 > len(msg):
        raise ValueError("truncated question")
    qtype, qclass = struct.unpack("!HH", msg[pos:pos + 4])
    return qid, flags, ".".join(labels), qtype, qclass, pos + 4


class ClusterDNS:
    def __init__(self, store, node_ns: str):
        self.store = store
        self.node_ns = node_ns
        self._udp = None
        self._tcp = None

    # ----- lookups -----

    def _service_ips(self, name: str, namespace: str) -> list[str] | None:
        svc = self.store.get("services", namespace, name)
        if svc is None:
            return None
        cluster_ip = (svc.get("spec") or {}).get("clusterIP")
        if cluster_ip and cluster_ip != "None":
            return [cluster_ip]
        ep = self.store.get("endpoints", namespace, name) or {}
        ips = []
        for subset in ep.get("subsets") or []:
            for addr in subset.get("addresses") or []:
                if addr["ip"] not in ips:
                    ips.append(addr["ip"])
        return ips

    def _pod_ips(self, dashed: str, namespace: str) -> list[str] | None:
        want = dashed.replace("-", ".")
        for pod in self.store.list("pods", namespace):
            if (pod.get("status") or {}).get("podIP") == want:
                return [want]
        return None

    def lookup(self, qname: str) -> list[str] | None:
        """IPs for a name, [] for a known name without addresses, None for NXDOMAIN."""
        name = qname.lower().rstrip(".")
        if name.endswith("." + DOMAIN):
            parts = name[: -len(DOMAIN) - 1].split(".")
            if len(parts) == 3 and parts[2] == "svc":
                return self._service_ips(parts[0], parts[1])
            if len(parts) == 3 and parts[2] == "pod":
                return self._pod_ips(parts[0], parts[1])
            return None
        parts = name.split(".")
        if len(parts) == 3 and parts[2] == "svc":
            return self._service_ips(parts[0], parts[1])
        if len(parts) == 2:
            return self._service_ips(parts[0], parts[1])
        if len(parts) == 1 and parts[0]:
            return self._service_ips(parts[0], "default")
        return None

    def answer(self, msg: bytes) -> bytes | None:
        try:
            qid, flags, qname, qtype, qclass, end = parse_query(msg)
        except ValueError:
            if len(msg) >= 2:
                return struct.pack("!HHHHHH", struct.unpack("!H", msg[:2])[0], 0x8000 | FORMERR, 0, 0, 0, 0)
            return None
        question = msg[12:end]
        rd = flags & 0x0100
        opcode = (flags >> 11) & 0xF
        if opcode != 0:
            return struct.pack("!HHHHHH", qid, 0x8000 | rd | NOTIMP, 1, 0, 0, 0) + question
        ips = self.lookup(qname)
        rcode = NXDOMAIN if ips is None else NOERROR
        answers = b""
        count = 0
        if ips and qtype == TYPE_A and qclass == CLASS_IN:
            for ip in ips:
                answers += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + socket.inet_aton(ip)
                count += 1
        # QR | AA | RD as asked; no recursion available.
        out_flags = 0x8000 | 0x0400 | rd | rcode
        return struct.pack("!HHHHHH", qid, out_flags, 1, count, 0, 0) + question + answers

    # ----- servers -----

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        usock = socket_in_netns(self.node_ns, type_=socket.SOCK_DGRAM)
        usock.bind((DNS_IP, 53))
        dns = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                try:
                    reply = dns.answer(data)
                except Exception:
                    log.exception("dns: answer failed")
                    return
                if reply:
                    self.transport.sendto(reply, addr)

        self._udp, _ = await loop.create_datagram_endpoint(Udp, sock=usock)
        tsock = socket_in_netns(self.node_ns)
        tsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tsock.bind((DNS_IP, 53))
        self._tcp = await asyncio.start_server(self._tcp_client, sock=tsock)

    async def _tcp_client(self, reader, writer) -> None:
        try:
            while True:
                head = await reader.readexactly(2)
                msg = await reader.readexactly(struct.unpack("!H", head)[0])
                reply = self.answer(msg)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._udp:
            self._udp.close()
        if self._tcp:
            self._tcp.close()
