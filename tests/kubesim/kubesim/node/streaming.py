"""Entry points for the pod streaming subresources (log, exec, portforward) and their helpers.

The API server has already authenticated and authorized the request and checked that the pod
exists; these functions find the pod's runtime on this node, check what only the node can
know (is the container there, has it started) and hand over to the protocol modules.
"""

import json

from aiohttp import web


def status_response(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    return web.Response(status=code, text=json.dumps(body), content_type="application/json")


def bad_request(message: str) -> web.Response:
    return status_response(400, "BadRequest", message)


class Refused(Exception):
    """Raised with the Status response that explains why a stream cannot be served."""

    def __init__(self, response: web.Response):
        super().__init__(response.text)
        self.response = response


def pick_container(node, request: web.Request, pod: dict):
    """Returns (runtime, container) or raises Refused with the Status that says why not."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    specs = spec.get("containers") or []
    wanted = request.query.get("container")
    if not wanted:
        if len(specs) != 1:
            names = " ".join(c.get("name", "") for c in specs)
            raise Refused(bad_request(f"a container name must be specified for pod {name}, choose one of: [{names}]"))
        wanted = specs[0].get("name")
    if wanted not in [c.get("name") for c in specs + (spec.get("initContainers") or [])]:
        raise Refused(bad_request(f"container {wanted} is not valid for pod {name}"))
    rt = node.kubelet.runtime_for(pod)
    if rt is None:
        raise Refused(bad_request(f'container "{wanted}" in pod "{name}" is waiting to start: ContainerCreating'))
    container = next(c for c in rt.init_containers + rt.containers if c.name == wanted)
    return rt, container


def waiting_reason(container) -> str:
    waiting = container.state.get("waiting")
    if not waiting:
        return "ContainerCreating"
    reason = waiting.get("reason", "ContainerCreating")
    if reason in ("ErrImagePull", "ImagePullBackOff"):
        return "trying and failing to pull image"
    return reason


async def log(node, request, pod):
    from .logstream import serve_log
    try:
        rt, container = pick_container(node, request, pod)
    except Refused as exc:
        return exc.response
    return await serve_log(request, pod, container)


async def exec_(node, request, pod):
    from .execstream import serve_exec
    try:
        rt, container = pick_container(node, request, pod)
    except Refused as exc:
        return exc.response
    if not container.running():
        return bad_request(f'container {container.name} is not running in pod {pod["metadata"]["name"]}')
    return await serve_exec(node, request, pod, rt, container)


async def portforward(node, request, pod):
    from .portforward import serve_portforward
    rt = node.kubelet.runtime_for(pod)
    if rt is None or not rt.netns:
        return bad_request(f'pod {pod["metadata"]["name"]} has no network namespace yet')
    return await serve_portforward(request, pod, rt)
