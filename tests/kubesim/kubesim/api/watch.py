"""WATCH: a chunked stream of newline-delimited JSON events.

A watch from resourceVersion N replays every change after N that is still in the store's history and
then follows live changes; an N older than the history gets 410 Expired, which makes clients re-list.
Without a resourceVersion (or with "0") the current objects come first as synthetic ADDED events.
Selectors follow the watch cache rules: an object that stops matching is sent as DELETED, one that
starts matching as ADDED. Bookmarks are sent when asked for, and the stream ends after timeoutSeconds.
"""
from __future__ import annotations

import asyncio
import json
import random

from aiohttp import web

from . import errors, tables
from .http import JSON_CT, query_bool, query_int
from .reads import object_filter
from .routing import Route

DEFAULT_TIMEOUT = 1800


class _Writer:
    """Frames events as NDJSON, or as one-row Tables when the client asked for Table output."""

    def __init__(self, response: web.StreamResponse, resource: str, as_table: bool):
        self.response = response
        self.resource = resource
        self.as_table = as_table
        self.columns_sent = False

    async def send(self, type_: str, obj: dict) -> None:
        if self.as_table and type_ in ("ADDED", "MODIFIED", "DELETED"):
            obj = tables.table(self.resource, [obj], obj["metadata"]["resourceVersion"],
                               with_columns=not self.columns_sent)
            self.columns_sent = True
        line = json.dumps({"type": type_, "object": obj}, separators=(",", ":")) + "\n"
        await self.response.write(line.encode())


def _in_scope(route: Route, obj: dict) -> bool:
    if route.namespace and obj["metadata"].get("namespace", "") != route.namespace:
        return False
    return not route.name or obj["metadata"]["name"] == route.name


async def handle_watch(ctx, request: web.Request, route: Route) -> web.StreamResponse:
    query = request.query
    res = route.resource
    keep_filter = object_filter(res, query)

    def keep(obj: dict | None) -> bool:
        return obj is not None and _in_scope(route, obj) and keep_filter(obj)

    rv_param = query.get("resourceVersion", "")
    if rv_param and not rv_param.isdigit():
        raise errors.bad_request(f"invalid resource version: {rv_param!r}")
    timeout = query_int(query, "timeoutSeconds", None)
    if timeout is None:
        timeout = int(DEFAULT_TIMEOUT * (1 + random.random()))
    bookmarks = query_bool(query, "allowWatchBookmarks")
    initial = query_bool(query, "sendInitialEvents")
    store = ctx.store

    # Everything up to subscribing happens without awaiting, so no change can slip in between.
    if rv_param in ("", "0") or initial:
        start = [("ADDED", o) for o in store.list(res.plural, route.namespace or None) if keep(o)]
        start.sort(key=lambda e: int(e[1]["metadata"]["resourceVersion"]))
        backlog, queue = [], store.subscribe_with_old()
    else:
        start = []
        backlog, queue = store.watch_from(int(rv_param))
    # A resourceVersion from the future (a client that saw a newer server) starts there, not before.
    floor = int(rv_param) if rv_param and not initial else 0

    response = web.StreamResponse(status=200, headers={"Content-Type": JSON_CT, "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    writer = _Writer(response, res.plural, tables.wants_table(request.headers.get("Accept", "")))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    async def deliver(event, old) -> None:
        obj = event.object
        if event.resource != res.plural or int(obj["metadata"]["resourceVersion"]) <= floor:
            return
        now_in, was_in = keep(obj), keep(old)
        if event.type == "ADDED":
            kind = "ADDED" if now_in else None
        elif event.type == "DELETED":
            kind = "DELETED" if now_in else None
        elif now_in:
            kind = "MODIFIED" if was_in else "ADDED"
        else:
            kind = "DELETED" if was_in else None
        if kind:
            await writer.send(kind, obj)

    def bookmark(end_of_initial: bool = False) -> dict:
        meta = {"resourceVersion": str(store.resource_version)}
        if end_of_initial:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}

    try:
        await response.prepare(request)
        for type_, obj in start:
            await writer.send(type_, obj)
        if initial and bookmarks:
            await writer.send("BOOKMARK", bookmark(True))
        for event, old in backlog:
            await deliver(event, old)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            wait = min(remaining, ctx.bookmark_interval) if bookmarks else remaining
            try:
                event, old = await asyncio.wait_for(queue.get(), wait)
            except asyncio.TimeoutError:
                if bookmarks and loop.time() < deadline:
                    await writer.send("BOOKMARK", bookmark())
                continue
            await deliver(event, old)
        await response.write_eof()
    except ConnectionResetError:
        # The client went away; nothing more to send.
        pass
    finally:
        store.unsubscribe(queue)
    return response
