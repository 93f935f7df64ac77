"""Local servers and clients for the tunnel tests: an echo server, a sink that reads only when told, a
SOCKS5 client, a DNS query builder and a fake DNS server. All on 127.0.0.1."""
import asyncio
import errno
import hashlib
import os
import struct

# How many port numbers a server that needs one port for both UDP and TCP tries before it gives up.
BIND_ATTEMPTS = 20


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


async def socks5_connect(proxy_port, host, port, credentials=None):
    """socks5h: the proxy resolves `host`; `credentials` (user, password) are sent by RFC 1929. Returns
    (reader, writer) or raises ConnectionError(reply code)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(b"\x05\x01\x02" if credentials else b"\x05\x01\x00")
    await writer.drain()
    if await reader.readexactly(2) != (b"\x05\x02" if credentials else b"\x05\x00"):
        raise ConnectionError("socks: no acceptable method")
    if credentials:
        user, password = (part.encode() for part in credentials)
        writer.write(bytes([1, len(user)]) + user + bytes([len(password)]) + password)
        if await reader.readexactly(2) != b"\x01\x00":
            raise ConnectionError("socks: credentials refused")
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


class BigDns:
    """A nameserver whose answer (60 A records) does not fit the 512-byte UDP limit: over UDP it answers
    with the TC bit and no records, over TCP with everything, as real servers do."""
    RECORDS = 60

    def __init__(self):
        self.tcp_queries = 0
        self.udp = self.tcp = None

    def answer(self, data, truncated):
        qid, _, qd, _, _, _ = struct.unpack(">HHHHHH", data[:12])
        question = data[12:]
        if truncated:
            return struct.pack(">HHHHHH", qid, 0x8380, qd, 0, 0, 0) + question
        records = b"".join(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + bytes([10, 9, i // 256, i % 256])
                           for i in range(self.RECORDS))
        return struct.pack(">HHHHHH", qid, 0x8180, qd, self.RECORDS, 0, 0) + question + records

    async def start(self):
        loop = asyncio.get_running_loop()
        big = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                self.transport.sendto(big.answer(data, truncated=True), addr)

        async def on_tcp(reader, writer):
            length = struct.unpack(">H", await reader.readexactly(2))[0]
            query = await reader.readexactly(length)
            self.tcp_queries += 1
            reply = self.answer(query, truncated=False)
            writer.write(struct.pack(">H", len(reply)) + reply)
            await writer.drain()
            writer.close()

        # A nameserver answers UDP and TCP on one port. The kernel picks a free TCP port, and that number can
        # be taken for UDP by another test running in parallel, so a pair that cannot be had is given back
        # and another one tried.
        for _ in range(BIND_ATTEMPTS):
            self.tcp = await asyncio.start_server(on_tcp, "127.0.0.1", 0)
            self.port = self.tcp.sockets[0].getsockname()[1]
            try:
                self.udp, _ = await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", self.port))
                return self
            except BaseException as error:
                self.tcp.close()
                if not (isinstance(error, OSError) and error.errno == errno.EADDRINUSE):
                    raise
        raise RuntimeError(f"BigDns: no port free for both UDP and TCP after {BIND_ATTEMPTS} attempts")

    def close(self):
        if self.udp:
            self.udp.close()
        if self.tcp:
            self.tcp.close()


def random_payload(size):
    return os.urandom(size)
