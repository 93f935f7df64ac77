"""GET and LIST (with selectors, limit/continue and Table output).

Lists report the global resourceVersion at the moment they were taken, which is what a following watch
resumes from. Items are sorted by namespace and name, which also makes `continue` tokens simple: a
token records the last key returned.
"""
from __future__ import annotations

import base64
import json

from aiohttp import web

from . import errors, tables
from .http import json_response, query_int
from .resources import Resource
from .routing import Route
from .selectors import parse_field_selector, parse_label_selector


def object_filter(res: Resource, query):
    """Predicate for the request's labelSelector and fieldSelector (400 on a bad selector)."""
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(res.plural, query.get("fieldSelector"))
    return lambda obj: labels(obj["metadata"].get("labels") or {}) and fields(obj)


def get_object(ctx, route: Route) -> dict:
    obj = ctx.store.get(route.resource.plural, route.namespace or None, route.name)
    if obj is None:
        raise errors.not_found(route.resource, route.name)
    return obj


def handle_get(ctx, request: web.Request, route: Route) -> web.Response:
    obj = get_object(ctx, route)
    if tables.wants_table(request.headers.get("Accept", "")):
        return json_response(tables.table(route.resource.plural, [obj], obj["metadata"]["resourceVersion"],
                                          include_object=tables.include_object_policy(request.query)))
    return json_response(obj)


def _encode_continue(rv: int, last_key: tuple[str, str]) -> str:
    raw = json.dumps({"rv": rv, "ns": last_key[0], "name": last_key[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["ns"]), str(data["name"]))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion") from None


def select(ctx, route: Route, query) -> list[dict]:
    """The matching stored objects themselves (not copies): callers serialize them before awaiting."""
    keep = object_filter(route.resource, query)
    objs = ctx.store.peek_all(route.resource.plural, route.namespace or None)
    objs = [o for o in objs if keep(o)]
    objs.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    return objs


def handle_list(ctx, request: web.Request, route: Route) -> web.Response:
    query = request.query
    res = route.resource
    rv_param = query.get("resourceVersion", "")
    if rv_param and not rv_param.isdigit():
        raise errors.bad_request(f"invalid resource version: {rv_param!r}")
    objs = select(ctx, route, query)
    rv = ctx.store.resource_version
    limit = query_int(query, "limit", 0)
    token = query.get("continue", "")
    if token:
        start_rv, last_key = _decode_continue(token)
        if start_rv < ctx.store.compacted_rv:
            raise errors.expired(start_rv, ctx.store.compacted_rv)
        objs = [o for o in objs if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > last_key]
    next_token, remaining = None, 0
    if limit and len(objs) > limit:
        remaining = len(objs) - limit
        objs = objs[:limit]
        last = objs[-1]["metadata"]
        next_token = _encode_continue(rv, (last.get("namespace", ""), last["name"]))
    if tables.wants_table(request.headers.get("Accept", "")):
        return json_response(tables.table(res.plural, objs, str(rv), continue_token=next_token,
                                          include_object=tables.include_object_policy(query)))
    meta = {"resourceVersion": str(rv)}
    if next_token:
        meta["continue"] = next_token
        meta["remainingItemCount"] = remaining
    return json_response({"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta,
                          "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in objs]})
