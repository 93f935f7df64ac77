"""Authorization: may this user do this?

Members of system:masters may do everything. Everybody authenticated may read discovery, OpenAPI and
/version and create SelfSubjectAccessReviews (as the real system:discovery / system:basic-user roles
allow). Everything else comes from the Roles and RoleBindings in the store: namespaced verbs,
resources (`pods`, `pods/portforward`, `*`), apiGroups and resourceNames. A RoleBinding may also
point at one of the well-known ClusterRoles `admin`, `edit` or `view`, evaluated inside its namespace.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import errors
from .auth import UserInfo

_READ = ["get", "list", "watch"]
_BUILTIN_CLUSTER_ROLES = {
    "cluster-admin": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    "admin": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    "edit": [{"apiGroups": ["", "apps", "discovery.k8s.io"], "resources": ["*"], "verbs": ["*"]}],
    "view": [{"apiGroups": ["", "apps", "discovery.k8s.io"],
              "resources": ["pods", "pods/log", "pods/status", "services", "endpoints", "endpointslices",
                            "deployments", "deployments/scale", "replicasets", "replicasets/scale",
                            "configmaps", "serviceaccounts", "events", "namespaces"],
              "verbs": _READ}],
}
_SELF_REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews")
_PUBLIC_PATHS = ("/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz")


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str = ""
    resource: str = ""          # plural; empty for a non-resource request
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""              # for non-resource requests

    @property
    def resource_path(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def _subject_matches(subject: dict, user: UserInfo, binding_ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.name == f"system:serviceaccount:{ns}:{name}"
    return False


def _rule_allows(rule: dict, a: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and a.verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and a.group not in groups:
        return False
    resources = rule.get("resources") or []
    wanted = a.resource_path
    if not ("*" in resources or wanted in resources or
            (a.subresource and f"*/{a.subresource}" in resources) or
            (a.subresource and f"{a.resource}/*" in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


class Authorizer:
    def __init__(self, store):
        self.store = store

    def allowed(self, user: UserInfo, a: Attributes) -> tuple[bool, str]:
        if user.is_admin:
            return True, "the user is a member of system:masters"
        if not a.resource:
            ok = a.verb in ("get", "head") and any(a.path == p or a.path.startswith(p + "/")
                                                   for p in _PUBLIC_PATHS)
            return ok, "discovery is open to authenticated users" if ok else ""
        if a.group in ("authorization.k8s.io", "authentication.k8s.io") and a.resource in _SELF_REVIEWS \
                and a.verb == "create":
            return True, "any authenticated user may review its own access"
        if not a.namespace:
            return False, ""
        for binding in self.store.peek_all("rolebindings", a.namespace):
            if not any(_subject_matches(s, user, a.namespace) for s in binding.get("subjects") or []):
                continue
            ref = binding.get("roleRef") or {}
            if ref.get("kind") == "Role":
                role = self.store.peek("roles", a.namespace, ref.get("name", ""))
                rules = (role or {}).get("rules") or []
            else:
                rules = _BUILTIN_CLUSTER_ROLES.get(ref.get("name", ""), [])
            if any(_rule_allows(r, a) for r in rules):
                name = binding["metadata"]["name"]
                return True, f'RBAC: allowed by RoleBinding "{name}/{a.namespace}" of {ref.get("kind")} ' \
                             f'"{ref.get("name")}" to User "{user.name}"'
        return False, ""

    def rules(self, user: UserInfo, namespace: str) -> tuple[list[dict], list[dict]]:
        """(resourceRules, nonResourceRules) that apply to the user in a namespace."""
        if user.is_admin:
            return ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    [{"verbs": ["*"], "nonResourceURLs": ["*"]}])
        rules = [{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": list(_SELF_REVIEWS[:2])},
                 {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": [_SELF_REVIEWS[2]]}]
        for binding in self.store.peek_all("rolebindings", namespace) if namespace else []:
            if not any(_subject_matches(s, user, namespace) for s in binding.get("subjects") or []):
                continue
            ref = binding.get("roleRef") or {}
            if ref.get("kind") == "Role":
                found = (self.store.peek("roles", namespace, ref.get("name", "")) or {}).get("rules") or []
            else:
                found = _BUILTIN_CLUSTER_ROLES.get(ref.get("name", ""), [])
            rules += [{k: list(v) for k, v in r.items() if k in ("verbs", "apiGroups", "resources", "resourceNames")}
                      for r in found]
        non_resource = [{"verbs": ["get"], "nonResourceURLs": [p for p in _PUBLIC_PATHS] +
                         [p + "/*" for p in _PUBLIC_PATHS]}]
        return rules, non_resource

    def check(self, user: UserInfo, a: Attributes) -> None:
        """Raises the real 403 Forbidden Status when not allowed."""
        ok, _ = self.allowed(user, a)
        if ok:
            return
        raise forbidden(user, a)


def forbidden(user: UserInfo, a: Attributes) -> errors.ApiError:
    if not a.resource:
        return errors.ApiError(403, "Forbidden", f'forbidden: User "{user.name}" cannot {a.verb} path "{a.path}"',
                               {})
    qualified = f"{a.resource}.{a.group}" if a.group else a.resource
    subject = f'{qualified} "{a.name}"' if a.name else qualified
    where = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    message = (f'{subject} is forbidden: User "{user.name}" cannot {a.verb} resource "{a.resource_path}" '
               f'in API group "{a.group}" {where}')
    details = {"group": a.group, "kind": a.resource}
    if a.name:
        details = {"name": a.name, **details}
    return errors.ApiError(403, "Forbidden", message, details)


def impersonate(authorizer: Authorizer, user: UserInfo, headers) -> UserInfo:
    """Honours Impersonate-User / Impersonate-Group (kubectl --as / --as-group) for callers allowed to
    impersonate (in kubesim: system:masters, since impersonation rights are cluster-scoped)."""
    target = headers.get("Impersonate-User")
    groups = headers.getall("Impersonate-Group", [])
    if not target:
        if groups:
            raise errors.bad_request("requested impersonation of groups without impersonating a user")
        return user
    for kind, name in [("users", target)] + [("groups", g) for g in groups]:
        a = Attributes(verb="impersonate", resource=kind, name=name)
        if not authorizer.allowed(user, a)[0]:
            raise forbidden(user, a)
    gs = tuple(groups) + (("system:authenticated",) if "system:authenticated" not in groups else ())
    return UserInfo(target, gs)
