"""Turns a request path and method into what it addresses and the RBAC verb it needs.

Resource paths look like /api/v1/namespaces/NS/pods/NAME/SUB or /apis/GROUP/VERSION/RESOURCE/NAME;
the legacy /api/v1/watch/... prefix turns a list into a watch. Anything else is a non-resource path
(discovery, OpenAPI, /version) or a 404.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import errors
from .rbac import Attributes
from .resources import Resource, lookup


@dataclass
class Route:
    resource: Resource | None = None
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    watch: bool = False
    path: str = ""           # for non-resource requests

    @property
    def is_resource(self) -> bool:
        return self.resource is not None


def parse(path: str, query) -> Route:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Route(path=path)
    if not rest:
        return Route(path=path)
    watch = False
    if rest[0] == "watch":
        watch, rest = True, rest[1:]
        if not rest:
            raise errors.page_not_found()
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and group == "" and lookup(group, version, "namespaces") and \
            lookup(group, version, rest[2]) is None:
        # /api/v1/namespaces/NAME/status: the namespace object itself.
        res = lookup(group, version, "namespaces")
        if len(rest) > 3 or res.subresource(rest[2]) is None:
            raise errors.page_not_found()
        return Route(res, "", rest[1], rest[2], watch)
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
        res = lookup(group, version, rest[0])
        if res is None or not res.namespaced:
            raise errors.page_not_found()
    else:
        res = lookup(group, version, rest[0])
        if res is None:
            raise errors.page_not_found()
    if len(rest) > 3:
        raise errors.page_not_found()
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and res.subresource(sub) is None:
        raise errors.page_not_found()
    if res.namespaced and name and not namespace:
        raise errors.page_not_found()
    if watch and sub:
        raise errors.page_not_found()
    if query.get("watch", "").lower() in ("true", "1"):
        watch = True
    return Route(res, namespace, name, sub, watch)


_CONNECT = ("exec", "portforward", "attach")


def verb_for(method: str, route: Route) -> str:
    if method in ("GET", "HEAD"):
        if route.subresource in _CONNECT:
            return "create"       # upgrading a GET to a stream needs create, as since Kubernetes 1.30
        if route.watch:
            return "watch"
        return "get" if route.name else "list"
    if method == "POST":
        if route.name and route.subresource not in _CONNECT + ("token",):
            raise errors.method_not_allowed("create")
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if route.name else "deletecollection"
    raise errors.method_not_allowed(method.lower())


def attributes(method: str, route: Route) -> Attributes:
    if not route.is_resource:
        return Attributes(verb="get" if method in ("GET", "HEAD") else method.lower(), path=route.path)
    res = route.resource
    return Attributes(verb=verb_for(method, route), group=res.group, resource=res.plural,
                      subresource=route.subresource, namespace=route.namespace, name=route.name)
