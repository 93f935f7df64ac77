"""Subresources that are not plain object writes: /scale, /status reads, the streaming ones handed to
the node side (log, exec, portforward) and SelfSubjectAccessReview.

/scale speaks autoscaling/v1 Scale, which `kubectl scale` reads and patches. Streaming requests are
checked here (pod exists; Running for exec and port-forward) so the node side receives only requests
it can serve.
"""
from __future__ import annotations

import datetime as _dt
import secrets

from aiohttp import web

from . import errors
from .http import decode, json_response, parse_media_type, read_body, require_object
from .rbac import Attributes
from .reads import get_object
from .routing import Route
from .selectors import selector_string
from .util import clone, now, rfc3339
from .writes import apply_patch, dry_run_requested
from . import patch as patches


def to_scale(obj: dict) -> dict:
    m = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    sel = spec.get("selector") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": m["name"], "namespace": m.get("namespace", ""), "uid": m["uid"],
                         "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
            "spec": {"replicas": spec.get("replicas", 1)},
            "status": {"replicas": status.get("replicas", 0),
                       "selector": selector_string(sel.get("matchLabels"), sel.get("matchExpressions"))}}


def _replicas_from(scale: dict) -> int:
    replicas = (scale.get("spec") or {}).get("replicas") if isinstance(scale.get("spec"), dict) else None
    if replicas is None:
        replicas = 0
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise errors.bad_request("Scale in version \"v1\" cannot be handled as a Scale: spec.replicas must be "
                                 "an integer")
    if replicas < 0:
        raise errors.Invalid("Scale", scale.get("metadata", {}).get("name", ""), [errors.cause(
            "FieldValueInvalid", "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")])
    return replicas


async def handle_scale(ctx, request: web.Request, route: Route) -> web.Response:
    obj = get_object(ctx, route)
    if request.method == "GET":
        return json_response(to_scale(obj))
    current = to_scale(obj)
    if request.method == "PUT":
        body, _ = await read_body(request)
        scale = require_object(body)
        rv = (scale.get("metadata") or {}).get("resourceVersion") if isinstance(scale.get("metadata"), dict) else None
        if rv and rv != obj["metadata"]["resourceVersion"]:
            raise errors.conflict(route.resource, route.name)
    else:
        media = parse_media_type(request.headers.get("Content-Type"))
        if media not in patches.PATCH_TYPES or media == patches.APPLY_YAML:
            raise errors.unsupported_media(media, patches.PATCH_TYPES[:3])
        scale = apply_patch(media, current, decode(await request.read(), media))
    replicas = _replicas_from(scale)
    dry_run = dry_run_requested(request.query)
    new = clone(obj)
    new["spec"]["replicas"] = replicas
    updated = ctx.store.update(route.resource.plural, new, dry_run=dry_run)
    return json_response(to_scale(updated))


async def handle_stream(ctx, request: web.Request, route: Route) -> web.StreamResponse:
    pod = get_object(ctx, route)
    if route.subresource in ("exec", "portforward"):
        phase = (pod.get("status") or {}).get("phase")
        if phase != "Running":
            raise errors.bad_request(f"pod {route.name} is not running (phase {phase}); cannot "
                                     f"{'exec into' if route.subresource == 'exec' else 'forward ports to'} it")
    if ctx.hooks is None:
        raise errors.ApiError(503, "ServiceUnavailable", "no node is attached to this cluster", {})
    handler = {"exec": ctx.hooks.exec, "portforward": ctx.hooks.portforward, "log": ctx.hooks.log}[route.subresource]
    return await handler(request, pod)


async def handle_access_review(ctx, request: web.Request, user) -> web.Response:
    """SelfSubjectAccessReview: the caller asks whether it may do something; the answer is the truth."""
    body, _ = await read_body(request)
    review = require_object(body)
    spec = review.get("spec")
    if not isinstance(spec, dict):
        raise errors.Invalid("SelfSubjectAccessReview", "", [errors.cause(
            "FieldValueRequired", "spec", "Required value: exactly one of nonResourceAttributes or "
            "resourceAttributes must be specified")])
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (ra is None) == (nra is None) or not isinstance(ra or nra, dict):
        raise errors.Invalid("SelfSubjectAccessReview", "", [errors.cause(
            "FieldValueRequired", "spec.resourceAttributes", "Required value: exactly one of "
            "nonResourceAttributes or resourceAttributes must be specified")])
    attrs = ra or nra
    for key, value in attrs.items():
        if not isinstance(value, str):
            raise errors.bad_request(f"SelfSubjectAccessReview in version \"v1\" cannot be handled: {key} must "
                                     "be a string")
    if ra is not None:
        a = Attributes(verb=ra.get("verb", ""), group=ra.get("group", ""), resource=ra.get("resource", ""),
                       subresource=ra.get("subresource", ""), namespace=ra.get("namespace", ""),
                       name=ra.get("name", ""))
        if not a.resource:
            a = Attributes(verb=a.verb, path="")
    else:
        a = Attributes(verb=nra.get("verb", ""), path=nra.get("path", ""))
    allowed, reason = ctx.authorizer.allowed(user, a)
    status = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    out = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
           "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
    return json_response(out, 201)


async def handle_rules_review(ctx, request: web.Request, user) -> web.Response:
    """SelfSubjectRulesReview: what `kubectl auth can-i --list` shows."""
    body, _ = await read_body(request)
    review = require_object(body)
    spec = review.get("spec") if isinstance(review.get("spec"), dict) else {}
    namespace = spec.get("namespace", "")
    if not isinstance(namespace, str):
        raise errors.bad_request("spec.namespace must be a string")
    resource_rules, non_resource_rules = ctx.authorizer.rules(user, namespace)
    return json_response({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                          "metadata": {"creationTimestamp": None}, "spec": {"namespace": namespace} if namespace else {},
                          "status": {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                                     "incomplete": False}}, 201)


async def handle_token_request(ctx, request: web.Request, route: Route) -> web.Response:
    """TokenRequest (`kubectl create token SA`): a bearer token for the ServiceAccount's identity,
    valid until it expires or the ServiceAccount (with that uid) is deleted."""
    sa = get_object(ctx, route)
    body, _ = await read_body(request)
    review = require_object(body)
    spec = review.get("spec") if isinstance(review.get("spec"), dict) else {}
    seconds = spec.get("expirationSeconds", 3600)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 600:
        raise errors.Invalid("TokenRequest", route.name, [errors.cause(
            "FieldValueInvalid", "spec.expirationSeconds",
            f"Invalid value: {seconds!r}: may not specify a duration less than 10 minutes")])
    ns, name, uid = route.namespace, route.name, sa["metadata"]["uid"]
    expires = now() + _dt.timedelta(seconds=seconds)
    token = "kubesim-sa." + secrets.token_urlsafe(32)

    def still_valid() -> bool:
        current = ctx.store.peek("serviceaccounts", ns, name)
        return current is not None and current["metadata"]["uid"] == uid and now() < expires

    ctx.authenticator.add_token(token, f"system:serviceaccount:{ns}:{name}",
                                ["system:serviceaccounts", f"system:serviceaccounts:{ns}"], still_valid)
    audiences = spec.get("audiences") if isinstance(spec.get("audiences"), list) else []
    return json_response({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                          "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
                          "spec": {"audiences": audiences or ["https://kubernetes.default.svc.cluster.local"],
                                   "expirationSeconds": seconds, "boundObjectRef": None},
                          "status": {"token": token, "expirationTimestamp": rfc3339(expires)}}, 201)


async def handle_self_review(ctx, request: web.Request, user) -> web.Response:
    """SelfSubjectReview (`kubectl auth whoami`): who the server thinks the caller is."""
    body, _ = await read_body(request)
    require_object(body)
    return json_response({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                          "metadata": {"creationTimestamp": None},
                          "status": {"userInfo": {"username": user.name, "groups": list(user.groups)}}}, 201)
