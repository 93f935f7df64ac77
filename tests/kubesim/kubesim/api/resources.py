"""The catalogue of resource types kubesim serves.

Every other API module (routing, discovery, OpenAPI, RBAC, tables, watch) looks resources up here, so
adding a kind is one entry. Resources are named by their plural, which the contract makes unique
across groups.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None     # only when the subresource answers in another group (Scale)
    version: str | None = None


@dataclass(frozen=True)
class Resource:
    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    subresources: tuple[Subresource, ...] = ()
    has_status: bool = False        # status is written only through /status
    tracks_generation: bool = False  # metadata.generation is bumped on spec changes
    return_deleted_object: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """The name used in error messages: `pods`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, ("get", "patch", "update"))


def _scale() -> Subresource:
    return Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling", "v1")


RESOURCES: list[Resource] = [
    Resource("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
             subresources=(_status("Namespace"), Subresource("finalize", "Namespace", ("update",))),
             has_status=True),
    Resource("nodes", "node", "Node", "", "v1", False, ("no",),
             subresources=(_status("Node"),), has_status=True),
    Resource("pods", "pod", "Pod", "", "v1", True, ("po",), ("all",),
             subresources=(_status("Pod"),
                           Subresource("log", "Pod", ("get",)),
                           Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
                           Subresource("exec", "PodExecOptions", ("create", "get"))),
             has_status=True, return_deleted_object=True),
    Resource("services", "service", "Service", "", "v1", True, ("svc",), ("all",),
             subresources=(_status("Service"),), has_status=True, return_deleted_object=True),
    Resource("endpoints", "endpoints", "Endpoints", "", "v1", True, ("ep",)),
    Resource("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
    Resource("secrets", "secret", "Secret", "", "v1", True),
    Resource("serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", True, ("sa",),
             subresources=(Subresource("token", "TokenRequest", ("create",), "authentication.k8s.io", "v1"),),
             return_deleted_object=True),
    Resource("events", "event", "Event", "", "v1", True, ("ev",)),
    Resource("deployments", "deployment", "Deployment", "apps", "v1", True, ("deploy",), ("all",),
             subresources=(_status("Deployment"), _scale()), has_status=True, tracks_generation=True),
    Resource("replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, ("rs",), ("all",),
             subresources=(_status("ReplicaSet"), _scale()), has_status=True, tracks_generation=True),
    Resource("endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io", "v1", True),
    Resource("roles", "role", "Role", "rbac.authorization.k8s.io", "v1", True),
    Resource("rolebindings", "rolebinding", "RoleBinding", "rbac.authorization.k8s.io", "v1", True),
    Resource("selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview",
             "authorization.k8s.io", "v1", False, verbs=("create",)),
    Resource("selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview",
             "authentication.k8s.io", "v1", False, verbs=("create",)),
    Resource("selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview",
             "authorization.k8s.io", "v1", False, verbs=("create",)),
]

BY_PLURAL: dict[str, Resource] = {r.plural: r for r in RESOURCES}

# Group versions in the order discovery lists them (the core group is served under /api).
GROUP_VERSIONS: list[tuple[str, str]] = []
for _r in RESOURCES:
    if (_r.group, _r.version) not in GROUP_VERSIONS:
        GROUP_VERSIONS.append((_r.group, _r.version))


def lookup(group: str, version: str, plural: str) -> Resource | None:
    res = BY_PLURAL.get(plural)
    if res is None or res.group != group or res.version != version:
        return None
    return res


def in_group_version(group: str, version: str) -> list[Resource]:
    return [r for r in RESOURCES if r.group == group and r.version == version]
