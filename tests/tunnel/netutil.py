"""Local servers and clients for the tunnel tests: an echo server, a sink that reads only when told, a
SOCKS5 client, a DNS query builder and a fake DNS server. All on 127.0.0.1."""
import asyncio
import hashlib
import os
import socket
import struct


class EchoServer:
    """Echoes every byte, then half-closes after the client's EOF (so half-close is exercised)."""

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=4096)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.write_eof()
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


class Sink:
    """Accepts and reads nothing until `release` is set, then reads to EOF and records a digest."""

    def __init__(self):
        self.release = asyncio.Event()
        self.digests = []

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader, writer):
        await self.release.wait()
        h = hashlib.sha256()
        while data := await reader.read(65536):
            h.update(data)
        self.digests.append(h.hexdigest())
        writer.close()


async def roundtrip(port, payload, host="127.0.0.1", connect=None):
    """Sends `payload`, half-closes, reads to EOF; returns the bytes read. `connect` may replace the dial."""
    reader, writer = await (connect() if connect else asyncio.open_connection(host, port))
    try:
        async def send():
            view = memoryview(payload)
            for i in range(0, len(view), 65536):
                writer.write(view[i:i + 65536])
                await writer.drain()
            writer.write_eof()

        async def receive():
            chunks = []
            while data := await reader.read(262144):
                chunks.append(data)
            return b"".join(chunks)

        _, got = await asyncio.gather(send(), receive())
        return got
    finally:
        writer.close()


def sha(data):
    return hashlib.sha256(data).hexdigest()


async def socks5_connect(proxy_port, host, port):
    """socks5h: the proxy resolves `host`. Returns (reader, writer) or raises ConnectionError(reply code)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(b"\x05\x01\x00")
    await writer.drain()
    if await reader.readexactly(2) != b"\x05\x00":
        raise ConnectionError("socks: no acceptable method")
    name = host.encode()
    writer.write(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
    await writer.drain()
    reply = await reader.readexactly(10)
    if reply[1] != 0:
        writer.close()
        raise ConnectionError(f"socks reply {reply[1]}")
    return reader, writer


def dns_query(name, qid=0x1234, qtype=1):
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return header + question + struct.pack(">HH", qtype, 1)


class FakeDns(asyncio.DatagramProtocol):
    """Answers every A query with 10.1.2.3, standing in for the pod's cluster DNS."""

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        qid, _, qd, _, _, _ = struct.unpack(">HHHHHH", data[:12])
        question = data[12:]
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + bytes([10, 1, 2, 3])
        self.transport.sendto(struct.pack(">HHHHHH", qid, 0x8180, qd, 1, 0, 0) + question + answer, addr)


async def fake_dns():
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(FakeDns, local_addr=("127.0.0.1", 0))
    return transport, transport.get_extra_info("sockname")[1]


def random_payload(size):
    return os.urandom(size)
