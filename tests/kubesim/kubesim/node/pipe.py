"""Copies bytes both ways between two asyncio streams, honouring half-close.

Used by the service proxy (client <-> endpoint). Each direction ends on EOF with a
write_eof on the other side, so request/response protocols that half-close keep working.
"""

import asyncio

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
        pass


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
