"""POST, PUT, PATCH and DELETE on resources.

Each write goes decode -> shape check (400) -> defaults -> validation (422) -> store (404/409), the
order a real server uses, so clients see the same error for the same mistake. PATCH computes the new
object from the stored one and then takes the PUT path, so patches and updates share every check.
"""
from __future__ import annotations

from aiohttp import web

from . import errors, patch as patches, podsecurity, protobuf
from .defaults import apply_defaults
from .http import decode, json_response, parse_media_type, query_int, read_body, require_object, \
    success_status, without_type_meta
from .reads import get_object, select
from .resources import Resource
from .routing import Route
from .strategic import strategic_merge
from .util import clone
from .fieldrules import check_strict, check_update, unknown_fields
from .validation import check_shape, validate


def dry_run_requested(query) -> bool:
    values = query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def _check_type_meta(res: Resource, obj: dict) -> None:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version and api_version != res.api_version:
        raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                 f"API version ({res.api_version})")
    if kind and kind != res.kind:
        raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")


def _place(route: Route, obj: dict) -> None:
    """Puts the URL's namespace (and, for writes to a name, the name) into the object's metadata."""
    m = obj.setdefault("metadata", {})
    if route.resource.namespaced:
        if m.get("namespace") and m["namespace"] != route.namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                     "on the request")
        m["namespace"] = route.namespace
    else:
        m.pop("namespace", None)
    if route.name:
        if m.get("name") and m["name"] != route.name:
            raise errors.bad_request(f"the name of the object ({m['name']}) does not match the name on the URL "
                                     f"({route.name})")
        m["name"] = route.name


def prepare(ctx, route: Route, obj, creating: bool, old: dict | None = None, strict: bool = False) -> dict:
    """Shape check, defaults and validation of an object about to be stored."""
    res = route.resource
    check_shape(res, obj)
    _check_type_meta(res, obj)
    if strict:
        check_strict(res, obj)
    obj = clone(obj)
    _place(route, obj)
    obj["apiVersion"], obj["kind"] = res.api_version, res.kind
    if old is not None and res.plural == "services":
        _keep_cluster_ip(obj, old)
    if old is not None and res.plural == "pods" and not (obj.get("spec") or {}).get("nodeName"):
        # Pods stay bound to the node they were scheduled to, even if a PUT leaves nodeName out.
        node = (old.get("spec") or {}).get("nodeName")
        if node and isinstance(obj.get("spec"), dict):
            obj["spec"]["nodeName"] = node
    apply_defaults(res.plural, obj, ctx.store, creating)
    validate(res, obj)
    if old is not None:
        check_update(res, old, obj)
    return obj


def _strict(request: web.Request) -> bool:
    mode = request.query.get("fieldValidation", "")
    if mode not in ("", "Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation parameter "{mode}" is not supported: use one of '
                                 '"Strict", "Warn", "Ignore"')
    return mode == "Strict"


def field_warnings(request: web.Request, res: Resource, obj) -> list[str]:
    """Unknown fields are warnings (a Warning header) unless the client asked for Strict or Ignore."""
    if request.query.get("fieldValidation", "Warn") != "Warn" or not isinstance(obj, dict):
        return []
    return [f'unknown field "{f}"' for f in unknown_fields(res, obj)]


def _keep_cluster_ip(obj: dict, old: dict) -> None:
    spec, old_spec = obj.setdefault("spec", {}), old.get("spec") or {}
    for field in ("clusterIP", "clusterIPs"):
        if field in old_spec and spec.get(field) in (None, "", []):
            spec[field] = old_spec[field]
    if spec.get("clusterIP") != old_spec.get("clusterIP"):
        raise errors.Invalid("Service", obj["metadata"]["name"], [errors.cause(
            "FieldValueInvalid", "spec.clusterIPs[0]", f'Invalid value: "{spec.get("clusterIP")}": field is immutable')])


async def handle_create(ctx, request: web.Request, route: Route) -> web.Response:
    body, _ = await read_body(request)
    body = require_object(body)
    obj = prepare(ctx, route, body, creating=True, strict=_strict(request))
    if route.resource.plural == "pods":
        podsecurity.check(ctx.store, obj)
    created = ctx.store.create(route.resource.plural, obj, dry_run=dry_run_requested(request.query))
    return json_response(created, 201, warnings=field_warnings(request, route.resource, body))


async def handle_update(ctx, request: web.Request, route: Route) -> web.Response:
    body, _ = await read_body(request)
    body = require_object(body)
    res = route.resource
    old = get_object(ctx, route)
    if route.subresource == "status":
        check_shape(res, body)
        _check_type_meta(res, body)
        obj = clone(body)
        _place(route, obj)
        new = ctx.store.update(res.plural, obj, subresource="status", dry_run=dry_run_requested(request.query))
        return json_response(new)
    if route.subresource == "finalize":
        finalizers = (body.get("spec") or {}).get("finalizers") if isinstance(body.get("spec"), dict) else None
        obj = clone(old)
        obj.setdefault("spec", {})["finalizers"] = [f for f in finalizers or [] if isinstance(f, str)]
        return json_response(ctx.store.mutate("namespaces", None, route.name,
                                              lambda o: o.setdefault("spec", {}).update(obj["spec"])))
    obj = prepare(ctx, route, body, creating=False, old=old, strict=_strict(request))
    new = ctx.store.update(res.plural, obj, dry_run=dry_run_requested(request.query))
    return json_response(new, warnings=field_warnings(request, res, body))


def apply_patch(media: str, current: dict, patch_body) -> dict:
    if media == patches.JSON_PATCH:
        result = patches.json_patch(current, patch_body)
    elif media == patches.MERGE_PATCH:
        result = patches.merge_patch(current, require_object(patch_body, "object for a merge patch"))
    else:
        result = strategic_merge(current, require_object(patch_body, "object for a strategic merge patch"))
    if not isinstance(result, dict):
        raise errors.bad_request("the patch did not produce an object")
    return result


async def handle_patch(ctx, request: web.Request, route: Route) -> web.Response:
    media = parse_media_type(request.headers.get("Content-Type"))
    if media not in patches.PATCH_TYPES:
        raise errors.unsupported_media(media, patches.PATCH_TYPES)
    raw = await request.read()
    body = decode(raw, media)
    res = route.resource
    dry_run = dry_run_requested(request.query)
    if media == patches.APPLY_YAML:
        return _server_side_apply(ctx, request, route, body, dry_run)
    current = get_object(ctx, route)
    patched = apply_patch(media, current, body)
    if route.subresource == "status":
        check_shape(res, patched)
        _place(route, patched)
        return json_response(ctx.store.update(res.plural, patched, subresource="status", dry_run=dry_run))
    patched_meta = patched.get("metadata") if isinstance(patched.get("metadata"), dict) else {}
    if patched_meta.get("name", route.name) != route.name:
        raise errors.bad_request(f"the name of the object ({patched_meta.get('name')}) does not match the name "
                                 f"on the URL ({route.name})")
    if _strict(request) and media != patches.JSON_PATCH and isinstance(body, dict):
        check_strict(res, body)
    obj = prepare(ctx, route, patched, creating=False, old=current)
    warnings = field_warnings(request, res, body) if media != patches.JSON_PATCH else []
    return json_response(ctx.store.update(res.plural, obj, dry_run=dry_run), warnings=warnings)


def _server_side_apply(ctx, request: web.Request, route: Route, body, dry_run: bool) -> web.Response:
    """Server-side apply: create, or merge after dropping what this manager no longer applies."""
    if not request.query.get("fieldManager"):
        raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager parameter")
    body = require_object(body, "object for server-side apply")
    res = route.resource
    if not body.get("apiVersion") or not body.get("kind"):
        raise errors.bad_request("invalid object type: apiVersion and kind must be set for server-side apply")
    check_shape(res, body)
    _check_type_meta(res, body)
    if _strict(request):
        check_strict(res, body)
    body = clone(body)
    body.get("metadata", {}).pop("managedFields", None)
    current = ctx.store.get(res.plural, route.namespace or None, route.name)
    manager = request.query["fieldManager"]
    if current is None:
        obj = prepare(ctx, route, body, creating=True)
        if res.plural == "pods":
            podsecurity.check(ctx.store, obj)
        created = ctx.store.create(res.plural, obj, dry_run=dry_run)
        if not dry_run:
            ctx.applied.remember(created, manager, body)
        return json_response(created, 201)
    merged = ctx.applied.merge(current, manager, body)
    obj = prepare(ctx, route, merged, creating=False, old=current)
    updated = ctx.store.update(res.plural, obj, dry_run=dry_run)
    if not dry_run:
        ctx.applied.remember(updated, manager, body)
    return json_response(updated)


async def _delete_options(request: web.Request) -> dict:
    options: dict = {}
    raw = await request.read()
    media = parse_media_type(request.headers.get("Content-Type")) or "application/json"
    if media == protobuf.MEDIA_TYPE and raw:
        options = protobuf.decode(raw)      # Go typed clients send DeleteOptions in protobuf
    elif raw.strip():
        options = require_object(decode(raw, media), "DeleteOptions object")
    query = request.query
    grace = query_int(query, "gracePeriodSeconds", None)
    if grace is None:
        grace = options.get("gracePeriodSeconds")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise errors.bad_request("gracePeriodSeconds must be an integer")
    propagation = query.get("propagationPolicy") or options.get("propagationPolicy")
    if options.get("orphanDependents") is True and not propagation:
        propagation = "Orphan"
    if propagation not in (None, "Background", "Foreground", "Orphan"):
        raise errors.bad_request(f'Unsupported value: "{propagation}": supported values: "Foreground", '
                                 '"Background", "Orphan"')
    pre = options.get("preconditions")
    if pre is not None and not isinstance(pre, dict):
        raise errors.bad_request("preconditions must be an object")
    return {"grace": grace, "propagation": propagation, "preconditions": pre}


async def handle_delete(ctx, request: web.Request, route: Route) -> web.Response:
    opts = await _delete_options(request)
    res = route.resource
    obj, removed = ctx.store.delete(res.plural, route.namespace or None, route.name,
                                    dry_run=dry_run_requested(request.query), **opts)
    if removed and not res.return_deleted_object:
        return json_response(success_status({"name": route.name, "group": res.group, "kind": res.plural,
                                             "uid": obj["metadata"]["uid"]}))
    return json_response(obj)


async def handle_delete_collection(ctx, request: web.Request, route: Route) -> web.Response:
    opts = await _delete_options(request)
    res = route.resource
    dry_run = dry_run_requested(request.query)
    deleted = []
    for obj in select(ctx, route, request.query):
        m = obj["metadata"]
        try:
            last, _ = ctx.store.delete(res.plural, m.get("namespace") or None, m["name"], dry_run=dry_run, **opts)
        except errors.ApiError as exc:
            if exc.code == 404:
                continue
            raise
        deleted.append(without_type_meta(last))
    return json_response({"kind": f"{res.kind}List", "apiVersion": res.api_version,
                          "metadata": {"resourceVersion": str(ctx.store.resource_version)}, "items": deleted})
