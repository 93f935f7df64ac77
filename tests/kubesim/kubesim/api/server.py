"""The HTTPS API server: TLS, authentication, authorization, dispatch; and the files a cluster hands to
its users (kubeconfig, CA, credentials).

It binds 127.0.0.1 on a free port with a fresh CA, offers only HTTP/1.1 (streaming upgrades need it),
authenticates every request, authorizes it with RBAC, and dispatches to the handler modules. Any
unexpected exception becomes a 500 Status instead of a dropped connection.
"""
from __future__ import annotations

import logging
import secrets
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from . import discovery, errors, reads, subresources, watch, writes
from .apply import AppliedConfigs
from .auth import ADMIN_GROUP, Authenticator
from .certs import CertificateAuthority
from .controllers import start_controllers
from .http import json_response, status_response
from .rbac import Authorizer, impersonate
from .routing import Route, attributes, parse, verb_for
from .store import Store

log = logging.getLogger("kubesim.api")
access_log = logging.getLogger("kubesim.api.access")    # one DEBUG line per request

ADMIN_USER = "kubesim-admin"
RESTRICTED_USER = "kubesim-restricted"
BASIC_USER = "kubesim-basic"


@dataclass
class ApiContext:
    store: Store
    hooks: object
    authenticator: Authenticator
    authorizer: Authorizer
    server_address: str = ""
    bookmark_interval: float = 30.0
    applied: AppliedConfigs = field(default_factory=AppliedConfigs)


@dataclass
class ApiServer:
    port: int
    kubeconfig: Path
    state_dir: Path
    ca: CertificateAuthority
    context: ApiContext
    _runner: web.AppRunner
    _tasks: list

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except BaseException:   # noqa: BLE001 - cancelled controllers end with CancelledError
                pass
        await self._runner.cleanup()


async def _non_resource(ctx: ApiContext, request: web.Request, route: Route) -> web.StreamResponse:
    path = route.path.rstrip("/") or "/"
    accept = request.headers.get("Accept", "")
    if request.method not in ("GET", "HEAD"):
        raise errors.method_not_allowed(request.method.lower())
    if path == "/version":
        return json_response(discovery.VERSION)
    if path in ("/healthz", "/livez", "/readyz"):
        return web.Response(text="ok")
    if path in ("/api", "/apis"):
        if discovery.wants_aggregated(accept):
            return json_response(discovery.aggregated(path == "/api"),
                                 content_type=discovery.AGGREGATED_CT)
        if path == "/api":
            return json_response(discovery.legacy_api(ctx.server_address))
        return json_response(discovery.legacy_apis())
    parts = [p for p in path.split("/") if p]
    if not parts:
        return json_response({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3",
                                        "/readyz", "/version"]})
    if parts[0] == "api" and len(parts) == 2:
        doc = discovery.resource_list("", parts[1])
    elif parts[0] == "apis" and len(parts) == 2:
        doc = discovery.legacy_group(parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        doc = discovery.resource_list(parts[1], parts[2])
    elif parts[0] == "openapi" and parts[1:] == ["v3"]:
        doc = discovery.openapi_root()
    elif parts[0] == "openapi" and len(parts) > 2 and parts[1] == "v3":
        doc = discovery.openapi_group_version("/".join(parts[2:]))
    else:
        doc = None
    if doc is None:
        raise errors.page_not_found()
    return json_response(doc)


async def _resource(ctx: ApiContext, request: web.Request, route: Route, user) -> web.StreamResponse:
    method = request.method
    sub = route.subresource
    if not sub and verb_for(method, route) not in route.resource.verbs:
        raise errors.method_not_allowed(verb_for(method, route))
    if route.resource.plural == "selfsubjectaccessreviews":
        if method != "POST" or route.name:
            raise errors.method_not_allowed(method.lower())
        return await subresources.handle_access_review(ctx, request, user)
    if route.resource.plural == "selfsubjectreviews":
        if method != "POST" or route.name:
            raise errors.method_not_allowed(method.lower())
        return await subresources.handle_self_review(ctx, request, user)
    if route.resource.plural == "selfsubjectrulesreviews":
        if method != "POST" or route.name:
            raise errors.method_not_allowed(method.lower())
        return await subresources.handle_rules_review(ctx, request, user)
    if sub in ("log", "exec", "portforward"):
        if (sub == "log" and method != "GET") or method not in ("GET", "POST"):
            raise errors.method_not_allowed(method.lower())
        return await subresources.handle_stream(ctx, request, route)
    if sub == "token":
        if method != "POST":
            raise errors.method_not_allowed(method.lower())
        return await subresources.handle_token_request(ctx, request, route)
    if sub == "scale":
        if method not in ("GET", "PUT", "PATCH"):
            raise errors.method_not_allowed(method.lower())
        return await subresources.handle_scale(ctx, request, route)
    if method in ("GET", "HEAD"):
        if route.watch:
            return await watch.handle_watch(ctx, request, route)
        if route.name:
            return reads.handle_get(ctx, request, route)
        return reads.handle_list(ctx, request, route)
    if method == "POST":
        return await writes.handle_create(ctx, request, route)
    if not route.name:
        if method == "DELETE":
            return await writes.handle_delete_collection(ctx, request, route)
        raise errors.method_not_allowed(method.lower())
    if sub and sub not in ("status", "finalize") or (sub == "finalize" and method != "PUT"):
        raise errors.method_not_allowed(method.lower())
    if method == "PUT":
        return await writes.handle_update(ctx, request, route)
    if method == "PATCH":
        return await writes.handle_patch(ctx, request, route)
    if method == "DELETE":
        if sub:
            raise errors.method_not_allowed("delete")
        return await writes.handle_delete(ctx, request, route)
    raise errors.method_not_allowed(method.lower())


def make_app(ctx: ApiContext) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        response = await dispatch(request)
        if access_log.isEnabledFor(logging.DEBUG):
            access_log.debug("%s %s -> %s in %.1f ms", request.method, request.path_qs, response.status,
                             (time.perf_counter() - started) * 1000)
        return response

    async def dispatch(request: web.Request) -> web.StreamResponse:
        try:
            peercert = request.transport.get_extra_info("peercert") if request.transport else None
            user = ctx.authenticator.authenticate(request.headers.get("Authorization"), peercert)
            if user is None:
                raise errors.unauthorized()
            user = impersonate(ctx.authorizer, user, request.headers)
            route = parse(request.path, request.query)
            ctx.authorizer.check(user, attributes(request.method, route))
            if not route.is_resource:
                return await _non_resource(ctx, request, route)
            return await _resource(ctx, request, route, user)
        except errors.ApiError as exc:
            return status_response(exc)
        except RecursionError:
            return status_response(errors.bad_request("the request body is nested too deeply"))
        except ConnectionResetError:
            raise
        except (HttpProcessingError, RequestPayloadError) as exc:
            # A body aiohttp cannot decode (say, Content-Encoding: gzip over plain bytes).
            return status_response(errors.bad_request(f"unable to read the request body: {exc}"))
        except web.HTTPException as exc:
            # aiohttp's own refusals (a body over the size limit) still answer as a Status.
            return status_response(errors.ApiError(exc.status, exc.reason.replace(" ", ""), exc.reason, {}))
        except Exception:   # noqa: BLE001 - the server must answer, never drop the connection
            log.exception("internal error on %s %s", request.method, request.path_qs)
            return status_response(errors.ApiError(500, "InternalError", "Internal error occurred: see the "
                                                   "kubesim log", {}))

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _ssl_context(state_dir: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(state_dir / "apiserver.crt", state_dir / "apiserver.key")
    ctx.load_verify_locations(state_dir / "ca.crt")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    # No ALPN: kubectl then speaks HTTP/1.1, which the streaming upgrades need.
    return ctx


def _write(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def _kubeconfig(server: str, ca_pem: bytes, admin_cert, admin_key, restricted_token: str) -> dict:
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kubesim", "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(admin_cert),
                                             "client-key-data": b64(admin_key)}},
                  {"name": "restricted", "user": {"token": restricted_token}}],
        "contexts": [{"name": "kubesim-admin", "context": {"cluster": "kubesim", "user": "admin",
                                                           "namespace": "default"}},
                     {"name": "kubesim-restricted", "context": {"cluster": "kubesim", "user": "restricted",
                                                                "namespace": "default"}}],
        "current-context": "kubesim-admin",
    }


async def start_api_server(state_dir: Path, store: Store, hooks) -> ApiServer:
    """Starts the API server and the controllers; writes kubeconfig, port, CA and credentials."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority()
    serving = ca.serving_cert()
    admin = ca.client_cert(ADMIN_USER, [ADMIN_GROUP])
    _write(state_dir / "ca.crt", ca.cert_pem, 0o644)
    _write(state_dir / "apiserver.crt", serving.cert_pem)
    _write(state_dir / "apiserver.key", serving.key_pem)
    _write(state_dir / "admin.crt", admin.cert_pem)
    _write(state_dir / "admin.key", admin.key_pem)
    (state_dir / "ca.key").unlink(missing_ok=True)

    authn = Authenticator()
    admin_token, restricted_token = secrets.token_hex(24), secrets.token_hex(24)
    basic_password = secrets.token_hex(12)
    authn.add_token(admin_token, ADMIN_USER, [ADMIN_GROUP])
    authn.add_token(restricted_token, RESTRICTED_USER)
    authn.add_basic(BASIC_USER, basic_password, [ADMIN_GROUP])
    _write(state_dir / "admin-token", admin_token)
    _write(state_dir / "restricted-token", restricted_token)
    _write(state_dir / "basic-auth", f"{BASIC_USER}:{basic_password}")

    store.hooks = hooks
    ctx = ApiContext(store, hooks, authn, Authorizer(store))
    app = make_app(ctx)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=_ssl_context(state_dir), reuse_address=True,
                       shutdown_timeout=1.0)
    await site.start()
    # The port the kernel picked for port 0.
    port = runner.addresses[0][1]
    ctx.server_address = f"127.0.0.1:{port}"
    server_url = f"https://127.0.0.1:{port}"
    kubeconfig = state_dir / "kubeconfig"
    _write(kubeconfig, yaml.safe_dump(_kubeconfig(server_url, ca.cert_pem, admin.cert_pem, admin.key_pem,
                                                  restricted_token), sort_keys=False))
    _write(state_dir / "port", str(port), 0o644)
    return ApiServer(port, kubeconfig, state_dir, ca, ctx, runner, start_controllers(store))
