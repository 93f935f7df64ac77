"""Field rules beyond validation: strict decoding (unknown fields are a 400 with
`fieldValidation=Strict`, which kubectl sends by default) and fields a real server keeps immutable
on update (a pod's spec apart from images, a workload's selector), which are a 422.

Unknown fields are checked at the top level, in metadata and in the specs of Services and workloads;
deeper levels are accepted as they are, which errs on the side of accepting valid objects.
"""
from __future__ import annotations

from . import errors
from .errors import cause
from .resources import Resource

# ----- strict decoding: unknown fields ------------------------------------------------------------
_META_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
                "ownerReferences", "finalizers", "managedFields"}
_TOP_FIELDS = {
    "pods": {"spec", "status"}, "services": {"spec", "status"}, "namespaces": {"spec", "status"},
    "nodes": {"spec", "status"}, "deployments": {"spec", "status"}, "replicasets": {"spec", "status"},
    "configmaps": {"data", "binaryData", "immutable"},
    "secrets": {"data", "stringData", "type", "immutable"},
    "serviceaccounts": {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "endpoints": {"subsets"}, "endpointslices": {"addressType", "endpoints", "ports"},
    "roles": {"rules"}, "rolebindings": {"subjects", "roleRef"},
    "events": {"involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
               "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"},
    "selfsubjectaccessreviews": {"spec", "status"}, "selfsubjectrulesreviews": {"spec", "status"},
    "selfsubjectreviews": {"status"},
}
_SPEC_FIELDS = {
    "deployments": {"replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit",
                    "paused", "progressDeadlineSeconds"},
    "replicasets": {"replicas", "minReadySeconds", "selector", "template"},
    "services": {"ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity",
                 "loadBalancerIP", "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy",
                 "healthCheckNodePort", "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies",
                 "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy",
                 "trafficDistribution"},
}


def unknown_fields(res: Resource, obj: dict) -> list[str]:
    """Fields a strict decoder would not know, checked for the top level, metadata and some specs."""
    out = []
    allowed = _TOP_FIELDS.get(res.plural, set()) | {"apiVersion", "kind", "metadata"}
    # Keys starting with "$" are strategic-merge directives, not fields.
    out += [k for k in obj if k not in allowed and not k.startswith("$")]
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    out += [f"metadata.{k}" for k in meta if k not in _META_FIELDS and not k.startswith("$")]
    spec_fields = _SPEC_FIELDS.get(res.plural)
    if spec_fields and isinstance(obj.get("spec"), dict):
        out += [f"spec.{k}" for k in obj["spec"] if k not in spec_fields and not k.startswith("$")]
    return out


def check_strict(res: Resource, obj: dict) -> None:
    unknown = unknown_fields(res, obj)
    if unknown:
        detail = ", ".join(f'unknown field "{f}"' for f in unknown)
        raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                                 f"strict decoding error: {detail}")


# ----- immutable fields on update -----------------------------------------------------------------
_POD_MUTABLE = ("spec.containers[*].image", "spec.initContainers[*].image", "spec.activeDeadlineSeconds",
                "spec.tolerations", "spec.terminationGracePeriodSeconds")


def _pod_spec_without_mutable(spec: dict) -> dict:
    out = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations",
                                                      "terminationGracePeriodSeconds")}
    for field in ("containers", "initContainers"):
        if isinstance(out.get(field), list):
            out[field] = [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                          for c in out[field]]
    return out


def check_update(res: Resource, old: dict, new: dict) -> None:
    """422 for changes to fields a real server keeps immutable."""
    name = new.get("metadata", {}).get("name", "")
    if res.plural == "pods":
        if _pod_spec_without_mutable(old.get("spec") or {}) != _pod_spec_without_mutable(new.get("spec") or {}):
            raise errors.Invalid("Pod", name, [cause(
                "FieldValueForbidden", "spec", "Forbidden: pod updates may not change fields other than "
                + ",".join(f"`{f}`" for f in _POD_MUTABLE))])
    elif res.plural in ("deployments", "replicasets"):
        if (old.get("spec") or {}).get("selector") != (new.get("spec") or {}).get("selector"):
            raise errors.Invalid(res.kind, name, [cause(
                "FieldValueInvalid", "spec.selector",
                f"Invalid value: {(new.get('spec') or {}).get('selector')!r}: field is immutable")])
