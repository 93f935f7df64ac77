"""Kubernetes `Status` errors.

Handlers raise `ApiError`; the server turns it into the Status JSON that kubectl parses into
"Error from server (Reason): message". Keeping the message formats in one place keeps them faithful.
"""
from __future__ import annotations

from .resources import Resource


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "code": self.code}
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(res: Resource | None, name: str | None) -> dict:
    d: dict = {}
    if name:
        d["name"] = name
    if res is not None:
        d["group"] = res.group
        d["kind"] = res.plural
    return d


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{res.group_resource} "{name}" not found', _details(res, name))


def namespace_not_found(name: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{name}" not found',
                    {"name": name, "kind": "namespaces"})


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{res.group_resource} "{name}" already exists',
                    _details(res, name))


def conflict(res: Resource, name: str) -> ApiError:
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {res.group_resource} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    _details(res, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def page_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed(verb: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested "
                    f"resource ({verb})", {})


def unsupported_media(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{', '.join(accepted)}", {})


def expired(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})", {})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized", {})


class Invalid(ApiError):
    """422 with per-field causes, built up by the validators."""

    def __init__(self, kind: str, name: str, causes: list[dict]):
        parts = [f"{c['field']}: {c['message']}" for c in causes]
        summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        super().__init__(422, "Invalid", f'{kind} "{name}" is invalid: {summary}',
                         {"name": name, "kind": kind, "causes": causes})


def cause(reason: str, field: str, message: str) -> dict:
    return {"reason": reason, "message": message, "field": field}
