"""A small SPDY/3.1 server session: enough for `kubectl port-forward`.

Written from the SPDY/3 draft and the behaviour described in k8s-api-notes.md §8.2:
the client opens streams (SYN_STREAM with compressed headers), the server answers every one
with SYN_REPLY, echoes PINGs, carries bytes in DATA frames and ends a direction with FIN.
SETTINGS and WINDOW_UPDATE are read and ignored (the Go client does no flow control).

The session is transport-agnostic: feed() takes bytes as they arrive (from a raw upgraded
socket or from WebSocket messages, which may cut frames anywhere) and a `send` coroutine
writes bytes out. One zlib context per direction lives as long as the connection.
"""

import asyncio
import logging
import struct
import zlib

from .spdy_dict import DICTIONARY

log = logging.getLogger("kubesim.spdy")

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_DATA = 1024 * 1024
RST_CANCEL = 5


class SpdyError(Exception):
    pass


def encode_headers(headers: dict[str, str]) -> bytes:
    out = struct.pack("!I", len(headers))
    for name, value in headers.items():
        n, v = name.lower().encode(), value.encode()
        out += struct.pack("!I", len(n)) + n + struct.pack("!I", len(v)) + v
    return out


def decode_headers(block: bytes) -> dict[str, str]:
    if len(block) < 4:
        raise SpdyError("short header block")
    (count,), pos, headers = struct.unpack("!I", block[:4]), 4, {}
    for _ in range(count):
        (nlen,) = struct.unpack("!I", block[pos:pos + 4])
        name = block[pos + 4:pos + 4 + nlen].decode()
        pos += 4 + nlen
        (vlen,) = struct.unpack("!I", block[pos:pos + 4])
        value = block[pos + 4:pos + 4 + vlen].decode()
        pos += 4 + vlen
        headers[name] = value
    return headers


def control_frame(ftype: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, flags: int, data: bytes) -> bytes:
    return struct.pack("!II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


class Stream:
    """One client-initiated stream. Incoming DATA goes to `incoming` (None marks FIN)."""

    def __init__(self, session: "SpdySession", stream_id: int, headers: dict[str, str]):
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.remote_closed = False
        self.local_closed = False
        self.reset = False

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.reset:
            return
        for i in range(0, len(data), MAX_DATA):
            await self.session.send(data_frame(self.id, 0, data[i:i + MAX_DATA]))

    async def close(self) -> None:
        """Sends FIN: this side will write no more."""
        if self.local_closed or self.reset:
            return
        self.local_closed = True
        await self.session.send(data_frame(self.id, FLAG_FIN, b""))

    async def read(self) -> bytes | None:
        """Next chunk from the client; None when the client sent FIN or reset the stream."""
        return await self.incoming.get()


class SpdySession:
    def __init__(self, send, on_stream):
        self._send = send                 # async callable(bytes)
        self._on_stream = on_stream       # callable(Stream), called after SYN_REPLY is queued
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)
        self._lock = asyncio.Lock()
        self.streams: dict[int, Stream] = {}
        self.closed = asyncio.Event()

    async def send(self, frame: bytes) -> None:
        if self.closed.is_set():
            return
        async with self._lock:
            try:
                await self._send(frame)
            except (ConnectionError, RuntimeError, OSError):
                self.close()

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            for s in self.streams.values():
                s.incoming.put_nowait(None)

    async def feed(self, data: bytes) -> None:
        """Parses every complete frame in the bytes received so far."""
        self._buf += data
        while len(self._buf) >= 8:
            word, flags_len = struct.unpack("!II", self._buf[:8])
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                return
            flags = flags_len >> 24
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            if word & 0x80000000:
                await self._control((word & 0xFFFF), flags, payload)
            else:
                self._data(word & 0x7FFFFFFF, flags, payload)

    def _headers(self, block: bytes) -> dict[str, str]:
        return decode_headers(self._inflate.decompress(block))

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = encode_headers(headers)
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    async def _control(self, ftype: int, flags: int, payload: bytes) -> None:
        if ftype == SYN_STREAM:
            stream_id = struct.unpack("!I", payload[:4])[0] & 0x7FFFFFFF
            headers = self._headers(payload[10:])
            stream = Stream(self, stream_id, headers)
            self.streams[stream_id] = stream
            # Every SYN_STREAM gets a SYN_REPLY, or the client's CreateStream times out.
            # The reply is built under the send lock so header blocks leave in deflate order.
            async with self._lock:
                block = self._header_block({})
                try:
                    await self._send(control_frame(SYN_REPLY, 0, struct.pack("!I", stream_id) + block))
                except (ConnectionError, RuntimeError, OSError):
                    self.close()
                    return
            if flags & FLAG_FIN:
                stream.remote_closed = True
                stream.incoming.put_nowait(None)
            self._on_stream(stream)
        elif ftype == PING:
            await self.send(control_frame(PING, 0, payload[:4]))
        elif ftype == RST_STREAM:
            stream_id = struct.unpack("!I", payload[:4])[0] & 0x7FFFFFFF
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.reset = True
                stream.incoming.put_nowait(None)
        elif ftype == GOAWAY:
            self.close()
        elif ftype == HEADERS:
            # Decompress to keep the shared zlib context in step, then ignore.
            self._headers(payload[4:])
        # SETTINGS, WINDOW_UPDATE and unknown types are ignored.

    def _data(self, stream_id: int, flags: int, payload: bytes) -> None:
        stream = self.streams.get(stream_id)
        if stream is None or stream.remote_closed:
            return
        if payload:
            stream.incoming.put_nowait(payload)
        if flags & FLAG_FIN:
            stream.remote_closed = True
            stream.incoming.put_nowait(None)
