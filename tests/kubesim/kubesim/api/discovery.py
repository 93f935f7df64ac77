"""Discovery documents: /version, /api, /apis (aggregated v2 and legacy), /api/v1, /apis/<g>/<v>.

kubectl picks the discovery format from the response Content-Type, so the aggregated form is served
only to clients that ask for it in Accept. `/version` says minor "32", which makes the installed
kubectl dispatcher run kubectl 1.32.
"""
from __future__ import annotations

from .resources import GROUP_VERSIONS, Resource, in_group_version

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kubesim", "gitCommit": "kubesim",
           "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
           "compiler": "gc", "platform": "linux/amd64"}


def wants_aggregated(accept: str) -> bool:
    return "as=APIGroupDiscoveryList" in accept and "g=apidiscovery.k8s.io" in accept


def _aggregated_resource(r: Resource) -> dict:
    out = {"resource": r.plural, "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
           "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular,
           "verbs": list(r.verbs)}
    if r.short_names:
        out["shortNames"] = list(r.short_names)
    if r.categories:
        out["categories"] = list(r.categories)
    subs = []
    for s in r.subresources:
        subs.append({"subresource": s.name,
                     "responseKind": {"group": s.group if s.group is not None else r.group,
                                      "version": s.version or r.version, "kind": s.kind},
                     "verbs": list(s.verbs)})
    if subs:
        out["subresources"] = subs
    return out


def aggregated(core: bool) -> dict:
    items = []
    for group, version in GROUP_VERSIONS:
        if (group == "") != core:
            continue
        items.append({"metadata": {"name": group, "creationTimestamp": None},
                      "versions": [{"version": version, "freshness": "Current",
                                    "resources": [_aggregated_resource(r) for r in in_group_version(group, version)]}]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}


def legacy_api(server_address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(group: str, version: str) -> dict:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def legacy_apis() -> dict:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, v) for g, v in GROUP_VERSIONS if g]}


def legacy_group(group: str) -> dict | None:
    for g, v in GROUP_VERSIONS:
        if g == group and g:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(g, v)}
    return None


def resource_list(group: str, version: str) -> dict | None:
    resources = in_group_version(group, version)
    if not resources:
        return None
    out = []
    for r in resources:
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for s in r.subresources:
            sub = {"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced,
                   "kind": s.kind, "verbs": list(s.verbs)}
            if s.group is not None:
                sub["group"], sub["version"] = s.group, s.version
            out.append(sub)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


# ----- OpenAPI v3 ---------------------------------------------------------------------------------------
def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_root() -> dict:
    return {"paths": {_gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash=KUBESIM1"}
                      for g, v in GROUP_VERSIONS}}


def openapi_group_version(path: str) -> dict | None:
    """A per-group-version document with one `patch` operation per kind.

    That operation carries the kind's GVK and the `fieldValidation` parameter, which is what tells
    kubectl to let the server validate (it then skips its own schema check).
    """
    for g, v in GROUP_VERSIONS:
        if _gv_path(g, v) == path:
            break
    else:
        return None
    paths = {}
    for r in in_group_version(g, v):
        base = f"/{path}/namespaces/{{namespace}}/{r.plural}/{{name}}" if r.namespaced \
            else f"/{path}/{r.plural}/{{name}}"
        op = {"x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
              "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                             {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}],
              "requestBody": {"content": {"application/merge-patch+json": {"schema": {}},
                                          "application/json-patch+json": {"schema": {}},
                                          "application/apply-patch+yaml": {"schema": {}}}},
              "responses": {}}
        paths[base] = {"patch": op}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "components": {"schemas": {}}, "paths": paths}
