"""Wire-level checks of the node's protocol code without a cluster: the SPDY/3.1 session that
kubectl port-forward talks to, and the DNS message handling (malformed input never crashes)."""

import asyncio
import socket
import struct
import zlib

from kubesim.node.dnsserver import NXDOMAIN, ClusterDNS
from kubesim.node.spdy import (FLAG_FIN, PING, SYN_REPLY, SYN_STREAM, SpdySession, control_frame,
                               data_frame, decode_headers, encode_headers)
from kubesim.node.spdy_dict import DICTIONARY


class FakeClient:
    """The client half of a SPDY connection, as kubectl's spdystream would write it."""

    def __init__(self):
        self.deflate = zlib.compressobj(zdict=DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)

    def syn_stream(self, stream_id, headers, fin=False):
        block = self.deflate.compress(encode_headers(headers)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        payload = struct.pack("!IIBB", stream_id, 0, 0, 0) + block
        return control_frame(SYN_STREAM, FLAG_FIN if fin else 0, payload)

    def parse(self, raw: bytes):
        frames = []
        while raw:
            word, flags_len = struct.unpack("!II", raw[:8])
            length = flags_len & 0xFFFFFF
            payload, raw = raw[8:8 + length], raw[8 + length:]
            frames.append((word, flags_len >> 24, payload))
        return frames


def test_spdy_session_replies_echoes_and_carries_data():
    async def run():
        out = bytearray()
        streams = []

        async def send(b):
            out.extend(b)

        session = SpdySession(send, streams.append)
        client = FakeClient()
        wire = (client.syn_stream(1, {"streamtype": "error", "port": "80", "requestid": "0"})
                + data_frame(1, FLAG_FIN, b"")
                + client.syn_stream(3, {"streamtype": "data", "port": "80", "requestid": "0"})
                + data_frame(3, 0, b"hello")
                + control_frame(PING, 0, struct.pack("!I", 7)))
        # Feed it cut into awkward pieces, as WebSocket messages may cut it (even empty ones).
        for i in range(0, len(wire), 3):
            await session.feed(wire[i:i + 3])
            await session.feed(b"")
        assert [s.headers["streamtype"] for s in streams] == ["error", "data"]
        assert await streams[1].read() == b"hello"
        assert await streams[0].read() is None            # the client's FIN on the error stream
        await streams[1].write(b"world")
        await streams[1].close()
        frames = client.parse(bytes(out))
        replies = [f for f in frames if f[0] >> 16 == 0x8003 and f[0] & 0xFFFF == SYN_REPLY]
        assert [struct.unpack("!I", f[2][:4])[0] for f in replies] == [1, 3]
        for f in replies:
            assert decode_headers(client.inflate.decompress(f[2][4:])) == {}
        pings = [f for f in frames if f[0] >> 16 == 0x8003 and f[0] & 0xFFFF == PING]
        assert pings == [(0x80030000 | PING, 0, struct.pack("!I", 7))]
        data = [f for f in frames if not f[0] & 0x80000000]
        assert data == [(3, 0, b"world"), (3, FLAG_FIN, b"")]
    asyncio.run(run())


class NoStore:
    def get(self, *args):
        return None

    def list(self, *args):
        return []


def query(name: str, qtype: int = 1, qid: int = 0x1234) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def test_dns_nxdomain_and_garbage():
    dns = ClusterDNS(NoStore(), "unused")
    reply = dns.answer(query("nope.default.svc.cluster.local"))
    qid, flags, qd, an = struct.unpack("!HHHH", reply[:8])
    assert qid == 0x1234 and flags & 0xF == NXDOMAIN and an == 0 and flags & 0x8000
    for junk in (b"", b"\x00", b"\x12\x34" + b"\xff" * 30, query("a")[:-3], b"\x00" * 12):
        out = dns.answer(junk)
        assert out is None or out[:2] == junk[:2]


def test_dns_service_record():
    class Store(NoStore):
        def get(self, resource, namespace, name):
            if resource == "services" and (namespace, name) == ("prod", "api"):
                return {"spec": {"clusterIP": "10.96.3.4"}}
            return None

    dns = ClusterDNS(Store(), "unused")
    for name in ("api.prod.svc.cluster.local", "api.prod.svc", "api.prod"):
        reply = dns.answer(query(name))
        assert struct.unpack("!H", reply[6:8])[0] == 1
        assert reply[-4:] == socket.inet_aton("10.96.3.4")
    aaaa = dns.answer(query("api.prod.svc.cluster.local", qtype=28))
    assert struct.unpack("!HH", aaaa[2:4] + aaaa[6:8]) == (0x8500, 0)
