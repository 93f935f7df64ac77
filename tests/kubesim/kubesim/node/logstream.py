"""pods/log: a container's output as text/plain, with follow, tailLines, sinceSeconds,
timestamps, limitBytes and previous, as `kubectl logs` uses them."""

import time

from aiohttp import web

from .streaming import Refused, bad_request, waiting_reason


def _int(request, key):
    value = request.query.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise Refused(bad_request(f"invalid value for {key}: {value!r}"))


def _bool(request, key) -> bool:
    return request.query.get(key, "false").lower() in ("true", "1")


async def serve_log(request: web.Request, pod: dict, container) -> web.StreamResponse:
    name = pod["metadata"]["name"]
    try:
        tail = _int(request, "tailLines")
        since = _int(request, "sinceSeconds")
        limit = _int(request, "limitBytes")
    except Refused as exc:
        return exc.response
    follow = _bool(request, "follow")
    timestamps = _bool(request, "timestamps")
    if _bool(request, "previous"):
        buf = container.previous
        if buf is None:
            return bad_request(f'previous terminated container "{container.name}" in pod "{name}" not found')
        follow = False
    else:
        if not container.ever_started:
            return bad_request(f'container "{container.name}" in pod "{name}" is waiting to start: '
                               f"{waiting_reason(container)}")
        buf = container.log
    start = buf.select(tail, time.time() - since if since is not None else None)
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    if not follow:
        chunks = []
        async for ts, line in buf.follow(start, False):
            chunks.append((ts.encode() + b" " if timestamps else b"") + line)
        body = b"".join(chunks)
        if limit is not None:
            body = body[:limit]
        return web.Response(body=body, content_type="text/plain")
    await resp.prepare(request)
    sent = 0
    try:
        async for ts, line in buf.follow(start, True):
            data = (ts.encode() + b" " if timestamps else b"") + line
            if limit is not None:
                data = data[: max(limit - sent, 0)]
            await resp.write(data)
            sent += len(data)
            if limit is not None and sent >= limit:
                break
    except (ConnectionError, RuntimeError):
        return resp
    await resp.write_eof()
    return resp
