"""Copies bytes both ways between two asyncio streams, honouring half-close and resets.

Used by the service proxy (client <-> endpoint). Each direction ends on EOF with a
write_eof on the other side, so request/response protocols that half-close keep working.
A reset on one side resets the other, as kube-proxy's NAT passes an RST through: a client
whose endpoint resets the connection sees the reset instead of waiting forever.
"""

import asyncio
import socket
import struct

BUF = 256 * 1024


async def _one_way(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(BUF)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Closes with RST (linger 0), not FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def splice(r1, w1, r2, w2) -> None:
    """Runs both directions until both are finished, then closes both writers."""
    try:
        await asyncio.gather(_one_way(r1, w2), _one_way(r2, w1))
    finally:
        for w in (w1, w2):
            try:
                w.close()
            except Exception:
                pass
