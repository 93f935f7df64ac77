"""HTTP plumbing shared by the handlers: JSON responses, Status errors, body decoding, query parsing.

Every body the server reads goes through `decode_body`, so malformed JSON or YAML, a wrong content
type or a non-object body becomes a clean 400/415 Status rather than an exception further in.
"""
from __future__ import annotations

import json

import yaml
from aiohttp import web
from multidict import CIMultiDict

from . import errors, protobuf
from .util import clone

JSON_CT = "application/json"


def json_response(body, status: int = 200, headers: dict | None = None,
                  content_type: str = JSON_CT, warnings: list[str] = ()) -> web.Response:
    hdrs = CIMultiDict(headers or {})
    hdrs["Content-Type"] = content_type
    for text in warnings:
        # kubectl prints each as "Warning: <text>" on stderr.
        hdrs.add("Warning", '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status, headers=hdrs)


def status_response(err: errors.ApiError) -> web.Response:
    return json_response(err.status(), err.code, err.headers)


def success_status(details: dict | None = None) -> dict:
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        out["details"] = details
    return out


def _reject_constant(name: str):
    raise ValueError(f"invalid number {name}")


def _json_safe(value):
    """YAML can yield dates, bytes, sets, non-string keys: make it plain JSON or refuse it."""
    try:
        text = json.dumps(value, default=str, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise errors.bad_request(f"unable to convert YAML to JSON: {exc}") from None
    return json.loads(text)


def parse_media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def decode(raw: bytes, media_type: str, allow_yaml: bool = True):
    """Decodes a JSON (or, where allowed, YAML) body. Raises 400 on anything malformed."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request("the request body is not valid UTF-8") from None
    if not text.strip():
        raise errors.bad_request("the request body is empty")
    try:
        if media_type in ("application/yaml", "application/x-yaml", "text/yaml") or (
                allow_yaml and media_type == "application/apply-patch+yaml"):
            return _json_safe(yaml.safe_load(text))
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {first}") from None


async def read_body(request: web.Request, accepted: tuple[str, ...] = (JSON_CT, "application/yaml")):
    media = parse_media_type(request.headers.get("Content-Type"))
    if media == "":
        media = JSON_CT
    if media == protobuf.MEDIA_TYPE:
        # kubectl's typed clients send protobuf for a few kinds; those are decoded, others get 415.
        return protobuf.decode(await request.read()), media
    if media not in accepted:
        raise errors.unsupported_media(media, list(accepted))
    raw = await request.read()
    return decode(raw, media), media


def require_object(value, what: str = "object") -> dict:
    if not isinstance(value, dict):
        raise errors.bad_request(f"the request body must be a JSON {what}")
    return value


def query_int(query, name: str, default: int | None = None, minimum: int = 0) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {raw!r}") from None
    if value < minimum:
        raise errors.bad_request(f"invalid value for {name}: {raw!r}")
    return value


def query_bool(query, name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def without_type_meta(obj: dict) -> dict:
    out = clone(obj)
    out.pop("kind", None)
    out.pop("apiVersion", None)
    return out
