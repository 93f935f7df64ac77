"""Test support for the API half: a fake kubelet, a cluster running in a background thread, a small
HTTPS client and a kubectl runner with a fresh HOME.

The API tests must run without the node half (no root, no network namespaces), so FakeKubelet plays
the node: it implements NodeHooks and moves pods to Running/Ready through `store.update_status`, as
the contract says the real kubelet does. Tests import the pytest fixtures at the bottom.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web

from .server import start_api_server
from .store import Store
from .util import rfc3339

KUBECTL = "/usr/bin/kubectl"
NOT_READY_IMAGE = "kubesim/never-ready"     # Running but never Ready
BAD_IMAGE_PREFIX = "unmapped/"               # stays Pending with ErrImagePull


class FakeKubelet:
    """NodeHooks for tests. Pods become Running and Ready at once with an IP from 10.244.0.0/16;
    graceful deletions finish at once unless `hold_terminations` is set (then `release()` ends them)."""

    def __init__(self, store: Store):
        self.store = store
        self.deletions: list[tuple[str, str, int]] = []
        self.hold_terminations = False
        self._held: list[tuple[str, str]] = []
        self._next_ip = 2
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def pod_deletion_requested(self, pod: dict, grace_seconds: int) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.deletions.append((ns, name, grace_seconds))
        if self.hold_terminations and grace_seconds > 0:
            self._held.append((ns, name))
        else:
            asyncio.get_running_loop().call_soon(self.store.finish_pod_termination, ns, name)

    def release(self) -> None:
        for ns, name in self._held:
            self.store.finish_pod_termination(ns, name)
        self._held.clear()

    async def portforward(self, request: web.Request, pod: dict) -> web.StreamResponse:
        return web.Response(text=f"fake portforward to {pod['metadata']['name']}")

    async def exec(self, request: web.Request, pod: dict) -> web.StreamResponse:
        return web.Response(text=f"fake exec in {pod['metadata']['name']}")

    async def log(self, request: web.Request, pod: dict) -> web.StreamResponse:
        return web.Response(text=f"log line from {pod['metadata']['name']}\n", content_type="text/plain")

    async def _run(self) -> None:
        queue = self.store.subscribe()
        try:
            while True:
                event = await queue.get()
                if event.resource == "pods" and event.type == "ADDED":
                    self._start_pod(event.object)
        finally:
            self.store.unsubscribe(queue)

    def _start_pod(self, pod: dict) -> None:
        ip = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
        self._next_ip += 1
        containers = pod["spec"].get("containers") or []
        images = [c.get("image", "") for c in containers]
        stamp = rfc3339()
        if any(i.startswith(BAD_IMAGE_PREFIX) for i in images):
            def mutate(p):
                p["status"]["containerStatuses"] = [
                    {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
                     "started": False, "restartCount": 0,
                     "state": {"waiting": {"reason": "ErrImagePull", "message": "image is not mapped"}}}
                    for c in containers]
            self.store.update_status("pods", pod["metadata"]["namespace"], pod["metadata"]["name"], mutate)
            return
        ready = "False" if NOT_READY_IMAGE in images else "True"

        def mutate(p):
            p["status"].update({
                "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "10.244.0.1",
                "startTime": stamp,
                "conditions": [{"type": t, "status": ready if t in ("Ready", "ContainersReady") else "True",
                                "lastProbeTime": None, "lastTransitionTime": stamp}
                               for t in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready",
                                         "PodScheduled")],
                "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "imageID": "",
                                       "containerID": f"kubesim://{c['name']}", "ready": ready == "True",
                                       "started": True, "restartCount": 0,
                                       "state": {"running": {"startedAt": stamp}}} for c in containers]})
        self.store.update_status("pods", pod["metadata"]["namespace"], pod["metadata"]["name"], mutate)


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:300]!r}>"


class Client:
    """A minimal HTTPS client for the API (one connection per request keeps it simple and robust)."""

    def __init__(self, port: int, ca_file: Path, token: str | None = None, cert: tuple[str, str] | None = None,
                 basic: str | None = None):
        self.port = port
        self.ssl = ssl.create_default_context(cafile=str(ca_file))
        if cert:
            self.ssl.load_cert_chain(*cert)
        self.headers = {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        if basic:
            import base64
            self.headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()

    def connect(self, timeout: float = 30) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl, timeout=timeout)

    def request(self, method: str, path: str, body=None, content_type: str = "application/json",
                headers: dict | None = None) -> Response:
        conn = self.connect()
        try:
            hdrs = {**self.headers, **(headers or {})}
            data = None
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
                hdrs.setdefault("Content-Type", content_type)
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body, **kw) -> Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body, **kw) -> Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body, content_type: str, **kw) -> Response:
        return self.request("PATCH", path, body, content_type=content_type, **kw)

    def delete(self, path: str, body=None, **kw) -> Response:
        return self.request("DELETE", path, body, **kw)

    def watch(self, path: str, headers: dict | None = None) -> "WatchStream":
        conn = self.connect(timeout=15)
        conn.request("GET", path, headers={**self.headers, **(headers or {})})
        return WatchStream(conn, conn.getresponse())


class WatchStream:
    """Reads NDJSON watch events; `next_event` waits at most the connection timeout."""

    def __init__(self, conn, response):
        self.conn = conn
        self.response = response
        self.status = response.status

    def next_event(self) -> dict | None:
        line = self.response.readline()
        if not line:
            return None
        return json.loads(line)

    def until(self, predicate, limit: int = 200) -> dict:
        for _ in range(limit):
            event = self.next_event()
            if event is None:
                raise AssertionError("watch stream ended before the expected event")
            if predicate(event):
                return event
        raise AssertionError("expected watch event did not arrive")

    def close(self) -> None:
        self.conn.close()


class Cluster:
    """An API server plus FakeKubelet on an event loop in a background thread."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.store: Store = self.call(self._make_store())
        self.kubelet = FakeKubelet(self.store)
        self.server = self.call(self._start())

    async def _make_store(self) -> Store:
        return Store()

    async def _start(self):
        server = await start_api_server(self.state_dir, self.store, self.kubelet)
        self.kubelet.start()
        return server

    def call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn, *args):
        """Runs a plain function on the loop thread (where the store must be used)."""
        async def wrapper():
            return fn(*args)
        return self.call(wrapper())

    def stop(self) -> None:
        self.call(self.kubelet.stop())
        self.call(self.server.stop())
        self.call(self._cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @staticmethod
    async def _cancel_rest() -> None:
        """Ends what is still running (open watches), so the loop closes cleanly."""
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    @property
    def port(self) -> int:
        return self.server.port

    def client(self, identity: str = "admin") -> Client:
        ca = self.state_dir / "ca.crt"
        if identity == "admin":
            return Client(self.port, ca, token=(self.state_dir / "admin-token").read_text())
        if identity == "restricted":
            return Client(self.port, ca, token=(self.state_dir / "restricted-token").read_text())
        if identity == "anonymous":
            return Client(self.port, ca)
        raise ValueError(identity)

    def wait_for(self, condition, timeout: float = 10.0, what: str = "condition"):
        """Polls a store condition (evaluated on the loop thread) until it holds or the time is up."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(condition)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)


class Kubectl:
    """Runs the real kubectl against a cluster with a fresh HOME and cache dir."""

    def __init__(self, cluster: Cluster, home: Path):
        self.cluster = cluster
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                    "KUBECACHEDIR": str(home / "kube-cache"), "KUBECONFIG": str(cluster.server.kubeconfig)}

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60,
                 check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True, env=self.env,
                              timeout=timeout, cwd=self.home)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed rc={proc.returncode}\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([KUBECTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, cwd=self.home)


# The fixture names differ from the node side's conftest fixtures (`cluster`, `kubectl`), which start a
# real, root-only cluster; the API tests use these instead.
@pytest.fixture
def sim(tmp_path):
    c = Cluster(tmp_path / "state")
    yield c
    c.stop()


@pytest.fixture
def api(sim) -> Client:
    return sim.client("admin")


@pytest.fixture
def kc(sim, tmp_path) -> Kubectl:
    return Kubectl(sim, tmp_path / "home")
