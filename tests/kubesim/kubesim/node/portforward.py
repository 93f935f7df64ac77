"""pods/portforward: connections to 127.0.0.1:<port> inside the pod's network namespace.

Three wire protocols, chosen from the request:
- WebSocket `v4.channel.k8s.io` / `v4.base64.channel.k8s.io` with `?ports=` (Tether's client):
  port i uses channel 2i for data and 2i+1 for errors; the first server message on each of
  them is the port as 2 bytes little-endian.
- WebSocket `SPDY/3.1+portforward.k8s.io` (kubectl >= 1.31): a SPDY byte stream cut into
  WebSocket messages.
- `POST` with `Upgrade: SPDY/3.1` (older kubectl, and kubectl's fallback): raw SPDY.
In SPDY each forwarded connection is a pair of streams (error, data) sharing a requestid.
"""

import asyncio
import logging
import os

from aiohttp import WSMsgType, web

from .netns import connect_in_netns
from .spdy import SpdySession, Stream
from .spdyupgrade import serve_spdy_upgrade
from .streaming import bad_request
from .wschannel import ChannelSocket, is_websocket, offered_protocols

log = logging.getLogger("kubesim.portforward")

SPDY_WS = "SPDY/3.1+portforward.k8s.io"
CHANNEL_PROTOCOLS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io")
PF_VERSION = "portforward.k8s.io"


def error_text(pod: dict, rt, port: int, exc: Exception) -> str:
    meta = pod["metadata"]
    if isinstance(exc, OSError) and exc.errno:
        reason = os.strerror(exc.errno).lower()
    elif isinstance(exc, asyncio.TimeoutError):
        reason = "i/o timeout"
    else:
        reason = str(exc)
    return (f"error forwarding port {port} to pod {meta.get('namespace')}/{meta['name']}, "
            f"uid {meta.get('uid', '')}: failed to connect to localhost:{port} inside namespace "
            f'"{rt.netns}", IPv4: dial tcp4 127.0.0.1:{port}: connect: {reason}')


def copy_error_text(pod: dict, port: int, exc: Exception) -> str:
    """What the kubelet writes on the error stream when a forwarded connection fails midway."""
    meta = pod["metadata"]
    reason = os.strerror(exc.errno).lower() if isinstance(exc, OSError) and exc.errno else str(exc) or type(exc).__name__
    return (f"error forwarding port {port} to pod {meta.get('namespace')}/{meta['name']}, "
            f"uid {meta.get('uid', '')}: {reason}")


def _websocket_tunnel_enabled() -> bool:
    """KUBESIM_PORTFORWARD_TUNNEL=0 plays an API server before 1.31, which answers the SPDY-over-WebSocket
    subprotocol with a 400 (clients then fall back to SPDY upgrades or to v4 channels)."""
    return os.environ.get("KUBESIM_PORTFORWARD_TUNNEL", "1") != "0"


async def serve_portforward(request: web.Request, pod: dict, rt) -> web.StreamResponse:
    if is_websocket(request):
        offered = offered_protocols(request)
        if SPDY_WS in offered and _websocket_tunnel_enabled():
            return await _spdy_over_websocket(request, pod, rt)
        return await _channels(request, pod, rt)
    if request.headers.get("Upgrade", "").lower().startswith("spdy/3.1"):
        return await _spdy_upgrade(request, pod, rt)
    return bad_request("port-forward needs a WebSocket or SPDY/3.1 upgrade")


# ----- WebSocket v4 channels -----

def _parse_ports(request: web.Request) -> list[int]:
    ports = []
    for value in request.query.getall("ports", []):
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not 0 < int(part) < 65536:
                raise ValueError(f"invalid port {part!r}")
            ports.append(int(part))
    return ports


async def _channels(request, pod, rt) -> web.StreamResponse:
    try:
        ports = _parse_ports(request)
    except ValueError as exc:
        return bad_request(str(exc))
    if not ports:
        return bad_request('query parameter "ports" is required')
    offered = offered_protocols(request)
    if offered and not any(p in CHANNEL_PROTOCOLS for p in offered):
        return bad_request(f"none of the offered subprotocols {offered} is supported")
    ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS, heartbeat=None, max_msg_size=0)
    await ws.prepare(request)
    chan = ChannelSocket(ws)
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps = []
    for i, port in enumerate(ports):
        prefix = port.to_bytes(2, "little")
        await chan.send(2 * i, prefix)
        await chan.send(2 * i + 1, prefix)
    for i, port in enumerate(ports):
        try:
            reader, writer = await connect_in_netns(rt.netns, "127.0.0.1", port)
        except (OSError, asyncio.TimeoutError) as exc:
            await chan.send(2 * i + 1, error_text(pod, rt, port, exc).encode())
            continue
        writers[i] = writer
        pumps.append(asyncio.create_task(_pod_to_channel(reader, chan, 2 * i)))

    async def from_client():
        async for channel, data in chan.messages():
            w = writers.get(channel // 2)
            if w is not None and channel % 2 == 0 and data:
                try:
                    w.write(data)
                    await w.drain()
                except (ConnectionError, OSError):
                    # The pod closed that connection; its pump reports the end.
                    writers.pop(channel // 2, None)

    client = asyncio.create_task(from_client())
    if pumps:
        done, _ = await asyncio.wait([client, *pumps], return_when=asyncio.FIRST_COMPLETED)
        if client not in done:
            # The pod side ended: let the other ports finish, then close the socket.
            await asyncio.wait([client, asyncio.gather(*pumps)], return_when=asyncio.FIRST_COMPLETED)
    for w in writers.values():
        w.close()
    for t in pumps:
        t.cancel()
    client.cancel()
    await ws.close()
    return ws


async def _pod_to_channel(reader, chan: ChannelSocket, channel: int) -> None:
    try:
        while True:
            data = await reader.read(1024 * 1024)
            if not data:
                return
            await chan.send(channel, data)
    except (ConnectionError, RuntimeError):
        return


# ----- SPDY -----

class _Forwarder:
    """Pairs the error and data streams of each requestid and forwards the connection."""

    def __init__(self, pod, rt):
        self.pod = pod
        self.rt = rt
        self.pending: dict[str, dict[str, Stream]] = {}
        self.tasks: set[asyncio.Task] = set()
        self.closed = False

    def on_stream(self, stream: Stream) -> None:
        kind = stream.headers.get("streamtype", "")
        rid = stream.headers.get("requestid", str(stream.id))
        pair = self.pending.setdefault(rid, {})
        pair[kind] = stream
        if "data" in pair and "error" in pair:
            del self.pending[rid]
            t = asyncio.create_task(self._forward(pair["data"], pair["error"]))
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)

    async def _forward(self, data: Stream, err: Stream) -> None:
        try:
            port = int(data.headers.get("port", ""))
        except ValueError:
            await err.write(f"invalid port {data.headers.get('port')!r}".encode())
            await err.close()
            await data.close()
            return
        try:
            reader, writer = await connect_in_netns(self.rt.netns, "127.0.0.1", port)
        except (OSError, asyncio.TimeoutError) as exc:
            await err.write(error_text(self.pod, self.rt, port, exc).encode())
            await err.close()
            await data.close()
            return

        async def upstream():
            try:
                while True:
                    chunk = await data.read()
                    if chunk is None:
                        break
                    writer.write(chunk)
                    await writer.drain()
            except (ConnectionError, OSError):
                return  # the pod dropped the connection; downstream reports it
            if data.reset or self.closed:
                # The client gave up on this connection (RST_STREAM) or the whole session:
                # drop the pod side too, or it would idle there until the pod closes it.
                writer.transport.abort()
            elif writer.can_write_eof():
                writer.write_eof()

        async def downstream():
            while True:
                chunk = await reader.read(1024 * 1024)
                if not chunk:
                    break
                await data.write(chunk)
            await data.close()

        up = asyncio.create_task(upstream())
        try:
            await downstream()
            await asyncio.wait([up], timeout=5)
        except (ConnectionError, OSError) as exc:
            # The pod reset the connection: say so on the error stream and end the data stream too,
            # as the kubelet does, so the client is not left waiting on a stream nobody will finish.
            await err.write(copy_error_text(self.pod, port, exc).encode())
        finally:
            up.cancel()
            writer.close()
            await err.close()
            await data.close()

    def cancel(self) -> None:
        self.closed = True
        for t in list(self.tasks):
            t.cancel()


async def _spdy_over_websocket(request, pod, rt) -> web.StreamResponse:
    ws = web.WebSocketResponse(protocols=(SPDY_WS,), heartbeat=None, max_msg_size=0)
    await ws.prepare(request)
    fwd = _Forwarder(pod, rt)
    session = SpdySession(ws.send_bytes, fwd.on_stream)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    await session.feed(msg.data)
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
    except Exception:
        log.exception("spdy over websocket failed")
    finally:
        session.close()
        fwd.cancel()
        await ws.close()
    return ws


async def _spdy_upgrade(request, pod, rt) -> web.StreamResponse:
    fwd = _Forwarder(pod, rt)
    try:
        return await serve_spdy_upgrade(request, [PF_VERSION], fwd.on_stream)
    finally:
        fwd.cancel()
