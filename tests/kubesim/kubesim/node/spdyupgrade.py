"""A SPDY/3.1 session on a raw HTTP connection upgraded with `Upgrade: SPDY/3.1`.

kubectl's fallback (and older clients) POST to exec/portforward with `Connection: Upgrade`,
`Upgrade: SPDY/3.1` and `X-Stream-Protocol-Version` listing what they speak. The server answers
101 with the version it picked and from then on the socket carries SPDY frames. aiohttp has no
API for a non-WebSocket upgrade, so after the 101 this module takes the connection's bytes the
way aiohttp's own WebSocket support does: it installs itself as the protocol's payload parser.
"""

import asyncio
import logging

from aiohttp import web

from .spdy import SpdySession
from .streaming import bad_request

log = logging.getLogger("kubesim.spdy")


class _RawFeeder:
    """Stands in for aiohttp's payload parser after the upgrade and queues the raw bytes."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()

    def feed_data(self, data: bytes):
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self):
        self.queue.put_nowait(None)


def pick_version(request: web.Request, supported: list[str]) -> str | None:
    """The first version the client offers that we support (the client lists its preference)."""
    offered = [v.strip() for value in request.headers.getall("X-Stream-Protocol-Version", [])
               for v in value.split(",") if v.strip()]
    for version in offered:
        if version in supported:
            return version
    return None


async def serve_spdy_upgrade(request: web.Request, supported: list[str], on_stream,
                             on_session=None) -> web.StreamResponse:
    """Upgrades the connection and runs a SpdySession on it until either side ends it.

    on_stream(stream) is called for each client stream; on_session(session, version), if given,
    is awaited as a task alongside and may close the session when its work is done.
    """
    version = pick_version(request, supported)
    if version is None:
        resp = bad_request(f"unable to upgrade: unable to negotiate protocol: client supports "
                           f"{request.headers.get('X-Stream-Protocol-Version', '')}, server supports {supported}")
        resp.set_status(403)
        resp.headers["X-Accepted-Stream-Protocol-Versions"] = ", ".join(supported)
        return resp
    resp = web.StreamResponse(status=101, headers={
        "Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": version})
    resp.content_length = 0
    resp.force_close()
    await resp.prepare(request)
    transport = request.transport
    protocol = request.protocol
    feeder = _RawFeeder()
    protocol.set_parser(feeder)

    async def send(frame: bytes) -> None:
        if transport is None or transport.is_closing():
            raise ConnectionError("connection closed")
        transport.write(frame)
        drain = getattr(protocol, "_drain_helper", None)
        if drain is not None and transport.get_write_buffer_size() > 1 << 20:
            await drain()

    session = SpdySession(send, on_stream)
    worker = asyncio.ensure_future(on_session(session, version)) if on_session else None
    closed = asyncio.ensure_future(session.closed.wait())
    try:
        while True:
            get = asyncio.ensure_future(feeder.queue.get())
            done, _ = await asyncio.wait([get, closed], return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                break
            data = get.result()
            if data is None:
                break
            await session.feed(data)
    except Exception:
        log.exception("spdy upgrade session failed")
    finally:
        closed.cancel()
        session.close()
        if worker is not None:
            worker.cancel()
        if transport is not None:
            transport.close()
    return resp
