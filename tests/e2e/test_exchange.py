"""Exchange end to end on kubesim (issue #6): the real `tether` binary (CLI and `serve --stdio`), the real
shadow pod, the real port-forward and real traffic from pods of the cluster to processes on this machine.

Every test gets its own namespace holding demo/sample-app.json (frontend -> orders -> inventory, and a
`client` toolbox pod), its own HOME and Tether state dir, and local servers on ports the kernel picked.
Waits are on events (output lines, JSON-RPC notifications, `kubectl wait`, `kubectl get --watch`), each
bounded by a deadline; nothing sleeps to synchronise."""
import codecs
import http.server
import json
import os
import re
import secrets
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from rpc_client import RpcBackend, RpcError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "demo" / "sample-app.json").read_text())
TETHER_OBJECTS = "tether.dev/session"  # the label on every object Tether creates
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


# --- the developer's machine ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """The developer's process: an HTTP server on 127.0.0.1 that answers with its own token."""

    def __init__(self, port: int = 0):
        self.token = secrets.token_hex(6)
        token = self.token

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"served_by": "laptop", "token": token, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> dict:
        return {"served_by": "laptop", "token": self.token, "path": path}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CuttableProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 (loopback targets only) that can cut every connection it relays,
    as a dropped VPN or a sleeping laptop would."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.targets: list[str] = []
        self.live: set = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        upstream = None
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            method, target, _ = request.split(b"\r\n", 1)[0].decode().split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host not in ("127.0.0.1", "localhost"):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            upstream = socket.create_connection((host, int(port)))
            with self.lock:
                self.targets.append(target)
                self.live.add((client, upstream))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = request.split(b"\r\n\r\n", 1)[1]
            if rest:
                upstream.sendall(rest)
            sockets = [client, upstream]
            while True:
                readable, _, _ = select.select(sockets, [], [])
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            with self.lock:
                self.live.discard((client, upstream))
            for sock in (client, upstream):
                if sock is not None:
                    sock.close()

    def cut(self) -> int:
        """Resets every relayed connection; returns how many there were."""
        with self.lock:
            pairs = list(self.live)
        for pair in pairs:
            for sock in pair:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return len(pairs)

    def close(self):
        self.server.close()
        self.cut()


# --- tether processes ----------------------------------------------------------------------------------

def tether_env(cluster, directory: Path, user: str = "pytest") -> dict:
    """The environment of one backend: its own HOME and state dir, no proxy settings from the host."""
    env = {key: value for key, value in cluster.env.items()
           if key.lower() not in PROXY_VARIABLES and key not in ("TETHER_SHADOW_IMAGE", "XDG_STATE_HOME",
                                                                  "XDG_CONFIG_HOME")}
    (directory / "home").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(directory / "home"), TETHER_STATE_DIR=str(directory / "state"), USER=user)
    return env


class CliExchange:
    """`tether exchange ...`, its stdout followed line by line (JSON events with --output json)."""

    def __init__(self, tether: str, env: dict, args: list, log: Path, output: str = "json", cluster_log=None):
        self.log = log
        self.cluster_log = cluster_log or (lambda: "")
        self._stderr = open(log, "wb")
        self.process = subprocess.Popen([tether, "exchange", "--output", output, *map(str, args)],
                                        stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True)
        self.lines: list[str] = []
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                if line.startswith("{"):
                    try:
                        self.events.append(json.loads(line))
                    except ValueError:
                        pass
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _wait(self, items, predicate, start: int, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index in range(start, len(items)):
                    if predicate(items[index]):
                        return index, items[index]
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    raise AssertionError(f"tether exchange: no {what} within {timeout} s "
                                         f"({'exited' if self._eof else 'still running'}); stdout:\n"
                                         + "\n".join(self.lines[-30:]) + f"\nstderr:\n{self.stderr_text()}"
                                         + f"\ncluster log:\n{self.cluster_log()}")
                self._cond.wait(remaining)

    def wait_line(self, predicate, timeout: float = 60, what: str = "matching line") -> str:
        return self._wait(self.lines, predicate, 0, timeout, what)[1]

    def wait_event(self, predicate, start: int = 0, timeout: float = 60, what: str = "matching event"):
        """(index, event) of the first event from `start` on that satisfies predicate."""
        return self._wait(self.events, predicate, start, timeout, what)

    def wait_state(self, state: str, start: int = 0, timeout: float = 60, message_part: str | None = None):
        def matches(event):
            if event.get("event") != "session" or event["session"]["state"] != state:
                return False
            return message_part is None or message_part in event["session"].get("message", "")
        return self.wait_event(matches, start, timeout, f"session event with state {state}")

    def wait_started(self, timeout: float = 60) -> dict:
        """The active session, or fails with the error tether printed."""
        _, event = self.wait_event(lambda e: e.get("event") == "error" or (
            e.get("event") == "session" and e["session"]["state"] in ("active", "failed")), 0, timeout,
            "active session")
        assert event.get("event") == "session" and event["session"]["state"] == "active", \
            f"{event}\nstderr:\n{self.stderr_text()}\ncluster log:\n{self.cluster_log()}"
        return event["session"]

    def session_states(self) -> list[str]:
        with self._cond:
            return [e["session"]["state"] for e in self.events if e.get("event") == "session"]

    def error(self) -> dict:
        with self._cond:
            errors = [e for e in self.events if e.get("event") == "error"]
        assert errors, "no error event; stdout:\n" + "\n".join(self.lines) + f"\nstderr:\n{self.stderr_text()}"
        return errors[-1]

    def interrupt(self, timeout: float = 90) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 90) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stderr_text(self) -> str:
        self._stderr.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._stderr.close()


def run_tether(tether: str, env: dict, *args, timeout: float = 120):
    """A short tether command; returns (exit code, JSON events, stderr)."""
    result = subprocess.run([tether, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, events, result.stderr


class Launcher:
    """Starts tether processes for one test and kills whatever is still running at its end."""

    def __init__(self, tether: str, cluster, directory: Path):
        self.tether = tether
        self.cluster = cluster
        self.directory = directory
        self.processes = []
        self.count = 0

    def env(self, name: str = "me", user: str = "pytest") -> dict:
        return tether_env(self.cluster, self.directory / name, user)

    def cli(self, env: dict, *args, output: str = "json") -> CliExchange:
        self.count += 1
        process = CliExchange(self.tether, env, list(args), self.directory / f"exchange-{self.count}.log", output,
                              self.cluster_log)
        self.processes.append(process)
        return process

    def rpc(self, env: dict) -> RpcBackend:
        self.count += 1
        backend = RpcBackend(self.tether, env, self.directory / f"serve-{self.count}.log")
        self.processes.append(backend)
        return backend

    def cluster_log(self) -> str:
        """The end of kubesim's log (pods starting and exiting), for failure messages."""
        log = Path(self.cluster.kubeconfig).parent / "kubesim.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""

    def run(self, env: dict, *args):
        return run_tether(self.tether, env, *args)

    def close(self):
        for process in self.processes:
            process.kill()


@pytest.fixture
def launcher(tether, cluster, tmp_path):
    launcher = Launcher(tether, cluster, tmp_path)
    yield launcher
    launcher.close()


# --- the cluster side ----------------------------------------------------------------------------------

def watch_until(cluster, namespace: str, resource: str, name: str, predicate, timeout: float = 30) -> dict:
    """Follows `kubectl get RESOURCE NAME --watch -o json` until an object satisfies predicate."""
    process = subprocess.Popen(["kubectl", "-n", namespace, "get", resource, name, "-o", "json", "--watch"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=cluster.env)
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")()
    buffer, last = "", None
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{resource}/{name} in {namespace}: condition not met within {timeout} s; "
                                     f"last seen: {json.dumps(last)[:2000]}")
            readable, _, _ = select.select([process.stdout], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the watch on {resource}/{name} ended; last seen: {json.dumps(last)[:2000]}")
            buffer += text.decode(chunk)
            while True:
                buffer = buffer.lstrip()
                try:
                    obj, end = decoder.raw_decode(buffer)
                except ValueError:
                    break
                buffer = buffer[end:]
                last = obj
                if predicate(obj):
                    return obj
    finally:
        process.kill()
        process.wait()


def endpoint_names(endpoints: dict) -> list[str]:
    return sorted(address.get("targetRef", {}).get("name", "")
                  for subset in endpoints.get("subsets") or [] for address in subset.get("addresses") or [])


def tether_annotations(obj: dict) -> dict:
    return {k: v for k, v in (obj["metadata"].get("annotations") or {}).items() if k.startswith("tether.dev/")}


class Demo:
    """One namespace with the sample app."""

    def __init__(self, cluster, namespace: str):
        self.cluster = cluster
        self.ns = namespace

    def kubectl(self, *args, **kwargs):
        return self.cluster.kubectl("-n", self.ns, *args, **kwargs)

    def svc(self, name: str) -> dict:
        return json.loads(self.kubectl("get", "svc", name, "-o", "json").stdout)

    def services(self) -> dict:
        """Every Service of the namespace: name -> (resourceVersion, spec, annotations)."""
        items = json.loads(self.kubectl("get", "svc", "-o", "json").stdout)["items"]
        return {s["metadata"]["name"]: (s["metadata"]["resourceVersion"], json.dumps(s["spec"]),
                                        s["metadata"].get("annotations") or {}) for s in items}

    def deployment(self, name: str) -> dict:
        return json.loads(self.kubectl("get", "deployment", name, "-o", "json").stdout)

    def curl(self, url: str, max_time: int = 20):
        return self.kubectl("exec", "client", "--", "curl", "-sS", "--max-time", str(max_time), url, check=False)

    def get_json(self, url: str) -> dict:
        result = self.curl(url)
        assert result.returncode == 0, f"curl {url} from the client pod failed ({result.returncode}): {result.stderr}"
        return json.loads(result.stdout)

    def tether_objects(self) -> list[str]:
        """Pods (not yet terminating) and Secrets carrying Tether's session label."""
        pods = json.loads(self.kubectl("get", "pods", "-l", TETHER_OBJECTS, "-o", "json").stdout)["items"]
        secrets_ = self.kubectl("get", "secrets", "-l", TETHER_OBJECTS, "-o", "name").stdout.split()
        return [f"pod/{p['metadata']['name']}" for p in pods if not p["metadata"].get("deletionTimestamp")] + secrets_

    def wait_tether_objects_gone(self):
        self.kubectl("wait", "--for=delete", "pods,secrets", "-l", TETHER_OBJECTS, "--timeout=60s")
        assert self.kubectl("get", "pods,secrets", "-l", TETHER_OBJECTS, "-o", "name").stdout.split() == []

    def wait_endpoints(self, service: str, predicate, what: str, timeout: float = 30) -> list[str]:
        found = watch_until(self.cluster, self.ns, "endpoints", service,
                            lambda ep: predicate(endpoint_names(ep)), timeout)
        return endpoint_names(found)

    def wait_served_by_cluster(self, service: str):
        """Until the Service's endpoints are its own pods again (the endpoints controller is asynchronous)."""
        self.wait_endpoints(service, lambda names: names and all(n.startswith(service + "-") for n in names),
                            f"{service}'s own pods")

    def wait_served_by(self, service: str, pod: str):
        self.wait_endpoints(service, lambda names: names == [pod], pod)

    def assert_restored(self, name: str, before: dict):
        """The Service's spec is byte-for-byte what it was, and its metadata carries nothing of Tether's."""
        after = self.svc(name)
        assert json.dumps(after["spec"]) == json.dumps(before["spec"])
        assert tether_annotations(after) == {}
        assert (after["metadata"].get("annotations") or {}) == (before["metadata"].get("annotations") or {})
        assert (after["metadata"].get("labels") or {}) == (before["metadata"].get("labels") or {})


def make_demo(cluster, namespace: str) -> Demo:
    items = json.loads(json.dumps(SAMPLE["items"]))
    for item in items:
        if item["kind"] == "Namespace":
            item["metadata"]["name"] = namespace
        else:
            item["metadata"]["namespace"] = namespace
    cluster.kubectl("apply", "--validate=false", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                              "items": items}))
    demo = Demo(cluster, namespace)
    demo.kubectl("wait", "--for=condition=Available", "deployment", "--all", "--timeout=90s")
    demo.kubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=60s")
    for service, replicas in (("inventory", 1), ("orders", 2), ("frontend", 1)):
        demo.wait_endpoints(service, lambda names, s=service, r=replicas:
                            len(names) == r and all(n.startswith(s + "-") for n in names), "ready pods")
    return demo


def namespace_for(test_name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")).strip("-")[:40].strip("-")
    return f"{base}-{secrets.token_hex(2)}"


@pytest.fixture
def demo(cluster, request):
    namespace = namespace_for(request.node.name)
    yield make_demo(cluster, namespace)
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def fixed_demo(cluster):
    """One namespace for the bad-input tests, which must leave it as it was; it also holds a Service
    without selector and an ExternalName Service."""
    demo = make_demo(cluster, f"bad-input-{secrets.token_hex(2)}")
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual", "namespace": demo.ns},
                   "spec": {"ports": [{"port": 80, "targetPort": 8080}]}})
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "alias", "namespace": demo.ns},
                   "spec": {"type": "ExternalName", "externalName": f"inventory.{demo.ns}.svc.cluster.local"}})
    yield demo
    cluster.kubectl("delete", "namespace", demo.ns, "--wait=false", check=False)


def assert_points_at_shadow(demo: Demo, service: str, session: dict):
    held = demo.svc(service)
    assert held["spec"]["selector"] == {"tether.dev/session": session["id"]}
    annotations = tether_annotations(held)
    assert annotations["tether.dev/locked-by"] == session["id"]
    assert annotations["tether.dev/owner"] == session["owner"]
    assert annotations["tether.dev/mode"] == "exchange"
    return held


# --- 1. the CLI --------------------------------------------------------------------------------------------

def test_cli_exchange_sends_cluster_traffic_to_the_local_process_and_ctrl_c_restores(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns, output="text")
    exchange.wait_line(lambda line: line == "Press Ctrl-C to stop and restore orders.")
    session_id = re.search(r"\(session ([0-9a-f]+)\)", "\n".join(exchange.lines)).group(1)

    held = demo.svc("orders")
    assert held["spec"]["selector"] == {"tether.dev/session": session_id}
    annotations = tether_annotations(held)
    assert annotations["tether.dev/locked-by"] == session_id
    assert annotations["tether.dev/original-selector"] == "app=orders"
    assert annotations["tether.dev/owner"].startswith("pytest@")
    assert annotations["tether.dev/strategy"] == "selector"
    assert {"tether.dev/since", "tether.dev/heartbeat", "tether.dev/mode"} <= annotations.keys()
    shadow = f"tether-orders-{session_id}"
    assert sorted(demo.tether_objects()) == [f"pod/{shadow}", f"secret/{shadow}-token"]

    # By Service name, from a pod of the cluster, and through a caller (frontend -> orders).
    assert demo.get_json("http://orders/direct?x=1") == local.answer("/direct?x=1")
    assert demo.get_json("http://frontend/")["upstream"]["http://orders"] == local.answer("/")

    assert exchange.interrupt() == 0
    assert exchange.lines[-1] == "tether: orders restored."
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    demo.wait_served_by_cluster("orders")
    answer = demo.get_json("http://orders/")
    assert (answer["service"], answer["where"]) == ("orders", "cluster")
    local.close()


# --- 2. JSON-RPC -------------------------------------------------------------------------------------------

def test_rpc_exchange_reports_progress_and_changes_and_shutdown_restores(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    rpc = launcher.rpc(launcher.env())
    assert "tether/session/start" in rpc.initialize()["capabilities"]["tether"]["methods"]

    session = rpc.request("tether/session/start", {
        "namespace": demo.ns, "mode": "exchange", "target": "orders",
        "expose": [{"local": local.port, "remote": 80}], "exchange": {"strategy": "selector"},
        "workDoneToken": "t1"})
    assert session["state"] == "active"
    assert session["target"] == "orders" and session["namespace"] == demo.ns and session["mode"] == "exchange"
    assert session["expose"] == [{"local": local.port, "servicePort": 80, "targetPort": 8080}]
    assert session["launch"]["env"]["HTTP_PROXY"].startswith("http://127.0.0.1:")
    session_id = session["id"]

    rpc.wait_notification(lambda n: n.get("method") == "$/progress" and n["params"]["value"]["kind"] == "end",
                          what="$/progress end")
    progress = [n["params"] for n in rpc.notifications if n.get("method") == "$/progress"]
    assert all(p["token"] == "t1" for p in progress)
    kinds = [p["value"]["kind"] for p in progress]
    assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("report") >= 3
    percentages = [p["value"]["percentage"] for p in progress if "percentage" in p["value"]]
    assert percentages == sorted(percentages)

    rpc.wait_session_state(session_id, "active")
    assert rpc.session_changes(session_id)[0]["state"] == "starting"
    listed = rpc.request("tether/session/list")["sessions"]
    assert [(s["id"], s["state"]) for s in listed] == [(session_id, "active")]

    assert_points_at_shadow(demo, "orders", session)
    assert demo.get_json("http://orders/rpc") == local.answer("/rpc")
    assert demo.get_json("http://frontend/")["upstream"]["http://orders"] == local.answer("/")

    assert rpc.request("shutdown") is None
    # shutdown answers once the cluster is restored
    demo.assert_restored("orders", before)
    rpc.wait_session_state(session_id, "stopped")
    rpc.notify("exit")
    assert rpc.wait() == 0
    demo.wait_tether_objects_gone()
    demo.wait_served_by_cluster("orders")
    assert demo.get_json("http://orders/")["where"] == "cluster"
    local.close()


# --- 3. two Services, one backend -------------------------------------------------------------------------

def test_one_backend_exchanges_two_services_at_once(demo, launcher):
    before = {name: demo.svc(name) for name in ("orders", "inventory")}
    orders_local, inventory_local = LocalServer(), LocalServer()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    orders = rpc.request("tether/session/start", {"namespace": demo.ns, "mode": "exchange", "target": "orders",
                                                  "expose": [{"local": orders_local.port, "remote": 80}]})
    # inventory's port is named ("http") and targets a named container port: "remote" by name
    inventory = rpc.request("tether/session/start", {"namespace": demo.ns, "mode": "exchange",
                                                     "target": "inventory",
                                                     "expose": [{"local": inventory_local.port, "remote": "http"}]})
    assert orders["state"] == inventory["state"] == "active"
    assert inventory["expose"] == [{"local": inventory_local.port, "servicePort": 80, "targetPort": 8080}]
    assert sorted(s["target"] for s in rpc.request("tether/session/list")["sessions"]) == ["inventory", "orders"]
    assert_points_at_shadow(demo, "orders", orders)
    assert_points_at_shadow(demo, "inventory", inventory)

    assert demo.get_json("http://orders/a") == orders_local.answer("/a")
    assert demo.get_json("http://inventory/b") == inventory_local.answer("/b")

    stopped = rpc.request("tether/session/stop", {"id": orders["id"]})
    assert stopped["state"] == "stopped"
    demo.assert_restored("orders", before["orders"])
    assert_points_at_shadow(demo, "inventory", inventory)  # the other session is untouched
    assert demo.get_json("http://inventory/c") == inventory_local.answer("/c")
    demo.wait_served_by_cluster("orders")
    assert demo.get_json("http://orders/")["where"] == "cluster"

    rpc.close_stdin()  # end of input: stop everything, restore, exit 1 (no shutdown came)
    assert rpc.wait() == 1
    demo.assert_restored("inventory", before["inventory"])
    demo.wait_tether_objects_gone()
    orders_local.close()
    inventory_local.close()


# --- 4. two backends race for one Service -----------------------------------------------------------------

def test_two_backends_racing_for_one_service_exactly_one_wins(demo, launcher):
    before = demo.svc("orders")
    locals_ = {"alice": LocalServer(), "bob": LocalServer()}
    racers = {user: launcher.cli(launcher.env(user, user=user), "orders", "--expose", f"{server.port}:80",
                                 "-n", demo.ns) for user, server in locals_.items()}

    def outcome(exchange):
        _, event = exchange.wait_event(lambda e: e.get("event") == "error" or (
            e.get("event") == "session" and e["session"]["state"] == "active"), what="active or error")
        return event

    outcomes = {user: outcome(exchange) for user, exchange in racers.items()}
    winners = [user for user, event in outcomes.items() if event.get("event") == "session"]
    assert len(winners) == 1, outcomes
    winner = winners[0]
    loser = "bob" if winner == "alice" else "alice"
    session = outcomes[winner]["session"]

    assert racers[loser].wait() == 1
    message = racers[loser].error()["message"]
    assert session["id"] in message and session["owner"] in message and session["owner"].startswith(winner + "@")
    loser_id = next(e["session"]["id"] for e in racers[loser].events if e.get("event") == "session")
    assert demo.kubectl("get", "pods,secrets", "-l", f"{TETHER_OBJECTS}={loser_id}", "-o", "name").stdout == ""

    assert_points_at_shadow(demo, "orders", session)
    assert demo.get_json("http://orders/race") == locals_[winner].answer("/race")

    assert racers[winner].interrupt() == 0
    demo.assert_restored("orders", before)
    assert demo.svc("orders")["spec"]["selector"] == {"app": "orders"}
    demo.wait_tether_objects_gone()
    for server in locals_.values():
        server.close()


# --- 5. a killed backend ----------------------------------------------------------------------------------

def start_and_kill(demo, launcher, env, service="orders"):
    local = LocalServer()
    exchange = launcher.cli(env, service, "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    exchange.process.send_signal(signal.SIGKILL)
    assert exchange.wait() == -signal.SIGKILL
    local.close()
    # nobody restored anything: the Service still points at the shadow, which still runs
    assert_points_at_shadow(demo, service, session)
    shadow = f"tether-{service}-{session['id']}"
    assert sorted(demo.tether_objects()) == [f"pod/{shadow}", f"secret/{shadow}-token"]
    return session


def clean_actions(events):
    return sorted((e["action"]["kind"], e["action"]["object"]) for e in events if e.get("event") == "clean")


def test_clean_restores_what_a_killed_backend_left(demo, launcher):
    before = demo.svc("orders")
    session = start_and_kill(demo, launcher, launcher.env("killed"))
    shadow = f"tether-orders-{session['id']}"
    expected = sorted([("restore", f"service/{demo.ns}/orders"), ("delete", f"pod/{demo.ns}/{shadow}"),
                       ("delete", f"secret/{demo.ns}/{shadow}-token")])
    other = launcher.env("other-machine")  # another state dir: it knows nothing of the killed session

    # Its heartbeat is fresh: the default threshold (2m) keeps it.
    code, events, _ = launcher.run(other, "clean", "-n", demo.ns, "--output", "json")
    assert code == 0 and clean_actions(events) == []
    kept = [e["session"] for e in events if e["event"] == "kept"]
    assert len(kept) == 1 and kept[0].startswith(session["id"]) and f"service/{demo.ns}/orders" in kept[0]

    code, events, _ = launcher.run(other, "clean", "--stale-after", "0s", "-n", demo.ns, "--dry-run",
                                   "--output", "json")
    assert code == 0 and clean_actions(events) == expected
    assert all(e["dryRun"] is True and e["action"]["session"] == session["id"] for e in events if e["event"] == "clean")
    assert_points_at_shadow(demo, "orders", session)  # a dry run changes nothing

    code, events, stderr = launcher.run(other, "clean", "--stale-after", "0s", "-n", demo.ns, "--output", "json")
    assert code == 0, stderr
    assert clean_actions(events) == expected
    assert all("error" not in e["action"] and e["dryRun"] is False for e in events if e["event"] == "clean")
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    demo.wait_served_by_cluster("orders")
    assert demo.get_json("http://orders/")["where"] == "cluster"


def test_recover_restores_one_service_whatever_its_heartbeat(demo, launcher):
    before = demo.svc("orders")
    session = start_and_kill(demo, launcher, launcher.env("killed"))
    code, events, stderr = launcher.run(launcher.env("other"), "recover", "orders", "-n", demo.ns, "--output", "json")
    assert code == 0, stderr
    assert ("restore", f"service/{demo.ns}/orders") in clean_actions(events)
    assert all(e["action"]["session"] == session["id"] for e in events if e["event"] == "clean")
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()

    code, events, stderr = launcher.run(launcher.env("other"), "recover", "orders", "-n", demo.ns, "--output", "json")
    assert code == 1 and "not held by any session" in next(e for e in events if e["event"] == "error")["message"]


def test_a_new_start_cleans_the_stale_session_of_its_own_state_dir(demo, launcher):
    before = demo.svc("orders")
    env = launcher.env("same-machine")
    stale = start_and_kill(demo, launcher, env)
    inventory_before = demo.svc("inventory")

    local = LocalServer()
    exchange = launcher.cli(env, "inventory", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    cleaned = [e["action"] for e in exchange.events if e.get("event") == "clean"]
    assert ("restore", f"service/{demo.ns}/orders", stale["id"]) in [(a["kind"], a["object"], a["session"])
                                                                     for a in cleaned]
    demo.assert_restored("orders", before)
    demo.kubectl("wait", "--for=delete", "pods,secrets", "-l", f"{TETHER_OBJECTS}={stale['id']}", "--timeout=60s")
    assert demo.get_json("http://inventory/x") == local.answer("/x")

    assert exchange.interrupt() == 0
    assert session["id"] != stale["id"]
    demo.assert_restored("inventory", inventory_before)
    demo.wait_tether_objects_gone()
    local.close()


# --- 6. someone overwrites the selector --------------------------------------------------------------------

def test_an_overwritten_selector_is_reasserted_and_reported(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    shadow = f"tether-orders-{session['id']}"
    start = len(exchange.events)

    demo.kubectl("patch", "svc", "orders", "--type=json",
                 "-p", json.dumps([{"op": "replace", "path": "/spec/selector", "value": {"app": "orders"}}]))
    _, event = exchange.wait_event(
        lambda e: e.get("event") == "session" and "selector" in e["session"].get("message", ""),
        start, what="session event about the selector")
    assert event["session"]["state"] == "active"
    assert "changed by someone else" in event["session"]["message"]
    watch_until(demo.cluster, demo.ns, "svc", "orders",
                lambda svc: svc["spec"]["selector"] == {"tether.dev/session": session["id"]})
    demo.wait_served_by("orders", shadow)
    assert demo.get_json("http://orders/again") == local.answer("/again")
    assert exchange.session_states()[-1] == "active"

    assert exchange.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


def test_a_deleted_shadow_ends_the_session_and_restores_the_service(demo, launcher):
    """The shadow can die under a session (evicted, deleted, its idle TTL after a laptop slept): the session
    must not keep the Service pointing at nothing while it tries to reconnect for ever."""
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    shadow = f"tether-orders-{session['id']}"
    start = len(exchange.events)

    demo.kubectl("delete", "pod", shadow, "--wait=false")
    _, event = exchange.wait_state("failed", start, timeout=90)
    assert "is gone" in event["session"]["message"], event
    assert exchange.process.wait(timeout=60) == 1  # the session ended by itself, and says so by its exit code
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


# --- 7. nothing listens locally ---------------------------------------------------------------------------

def test_nothing_listening_locally_resets_cluster_clients_and_says_so(demo, launcher):
    before = demo.svc("orders")
    port = free_port()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{port}:80", "-n", demo.ns)
    exchange.wait_started()

    failed = demo.curl("http://orders/", max_time=30)
    # 52: empty reply, 56: connection reset; never 28 (a hang until --max-time)
    assert failed.returncode in (52, 56), (failed.returncode, failed.stderr)
    index, _ = exchange.wait_state("active", message_part=f"nothing answers on 127.0.0.1:{port}")
    start = index + 1
    assert exchange.process.poll() is None

    # The developer starts the process: traffic flows and the warning goes away.
    local = LocalServer(port)
    assert demo.get_json("http://orders/late") == local.answer("/late")
    exchange.wait_event(lambda e: e.get("event") == "session" and e["session"]["state"] == "active"
                        and "message" not in e["session"], start, what="active session without message")

    assert exchange.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


# --- 8. missing permissions ------------------------------------------------------------------------------

@pytest.mark.parametrize("rights", ["none", "view"])
def test_the_restricted_identity_gets_an_error_naming_missing_permissions(demo, launcher, rights):
    if rights == "view":
        demo.kubectl("create", "rolebinding", "restricted-view", "--clusterrole=view", "--user=kubesim-restricted")
    before = demo.services()
    code, events, stderr = launcher.run(launcher.env(), "exchange", "orders", "--expose", f"{free_port()}:80",
                                        "-n", demo.ns, "--context", "kubesim-restricted", "--output", "json")
    assert code == 1
    message = next(e for e in events if e["event"] == "error")["message"]
    assert message in stderr
    if rights == "none":
        # Everything that is missing, at once: not only the first refused call.
        assert "kubesim-restricted" in message
        for missing in ("get services", "patch services", "create pods", "create pods/portforward",
                        "create secrets"):
            assert missing in message
    else:
        assert "kubesim-restricted" in message
        for missing in ("patch services", "create pods", "delete pods", "create pods/portforward",
                        "create secrets", "delete secrets"):
            assert missing in message
        assert "get services" not in message and "watch pods" not in message
    assert demo.services() == before  # not even a write that was undone: same resourceVersions
    assert demo.tether_objects() == []


# --- 9. the port-forward is cut --------------------------------------------------------------------------

def test_a_cut_port_forward_reconnects_and_traffic_resumes(demo, launcher, cluster, tmp_path):
    before = demo.svc("orders")
    proxy = CuttableProxy()
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["proxy-url"] = proxy.url
    kubeconfig = tmp_path / "kubeconfig-via-proxy"
    kubeconfig.write_text(yaml.safe_dump(config))

    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns,
                            "--kubeconfig", kubeconfig)
    exchange.wait_started()
    assert demo.get_json("http://orders/before") == local.answer("/before")
    start = len(exchange.events)

    assert proxy.cut() >= 1
    index, _ = exchange.wait_state("reconnecting", start)
    exchange.wait_state("active", index + 1, timeout=90)
    assert demo.get_json("http://orders/after") == local.answer("/after")
    assert all(target.startswith("127.0.0.1:") for target in proxy.targets)

    assert exchange.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    proxy.close()
    local.close()


# --- 10. -- CMD -------------------------------------------------------------------------------------------

def test_a_command_runs_with_the_session_environment_and_its_exit_ends_the_session(demo, launcher, tmp_path):
    before = demo.svc("orders")
    local = LocalServer()
    fetched = tmp_path / "fetched.json"
    script = ("import sys, urllib.request\n"
              "body = urllib.request.urlopen('http://inventory/from-laptop', timeout=30).read()\n"
              "open(sys.argv[1], 'wb').write(body)\n"
              "sys.exit(7)\n")
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns,
                            "--", "/usr/bin/python3", "-c", script, fetched)
    assert exchange.wait(timeout=120) == 7
    answer = json.loads(fetched.read_text())
    assert (answer["service"], answer["where"], answer["path"]) == ("inventory", "cluster", "/from-laptop")
    states = exchange.session_states()
    assert "active" in states and states[-1] == "stopped"
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


# --- 11. bad input -----------------------------------------------------------------------------------------

BAD_INPUT = {
    # case: (service, expose remote, namespace override, words the error must contain)
    "unknown namespace": ("orders", "80", "no-such-namespace", ["no-such-namespace"]),
    "unknown service": ("nosuch", "80", None, ['"nosuch"', "not found"]),
    "bad port": ("orders", "9999", None, ["9999", "80 (http)"]),
    "no selector": ("manual", "80", None, ['"manual"', "no selector"]),
    "ExternalName": ("alias", "80", None, ['"alias"', "ExternalName"]),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_refused_naming_the_object_and_changes_nothing(fixed_demo, launcher, case):
    service, remote, namespace, words = BAD_INPUT[case]
    before = fixed_demo.services()
    code, events, stderr = launcher.run(launcher.env(), "exchange", service, "--expose", f"{free_port()}:{remote}",
                                        "-n", namespace or fixed_demo.ns, "--output", "json")
    assert code == 1
    message = next(e for e in events if e["event"] == "error")["message"]
    for word in words:
        assert word in message
    assert fixed_demo.services() == before
    assert fixed_demo.tether_objects() == []


def test_an_image_that_cannot_be_pulled_fails_and_removes_what_was_created(fixed_demo, launcher):
    before = fixed_demo.svc("inventory")
    code, events, stderr = launcher.run(launcher.env(), "exchange", "inventory", "--expose", f"{free_port()}:80",
                                        "-n", fixed_demo.ns, "--image", "does-not-exist:1", "--output", "json")
    assert code == 1
    message = next(e for e in events if e["event"] == "error")["message"]
    assert "does-not-exist:1" in message and "ErrImagePull" in message
    assert next(e for e in events if e.get("event") == "session" and e["session"]["state"] == "failed")
    fixed_demo.assert_restored("inventory", before)
    fixed_demo.wait_tether_objects_gone()


def test_a_local_port_already_used_by_another_session_is_refused(fixed_demo, launcher):
    local = LocalServer()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    first = rpc.request("tether/session/start", {"namespace": fixed_demo.ns, "mode": "exchange", "target": "frontend",
                                                 "expose": [{"local": local.port, "remote": 80}]})
    before = fixed_demo.services()
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/session/start", {"namespace": fixed_demo.ns, "mode": "exchange", "target": "inventory",
                                             "expose": [{"local": local.port, "remote": 80}]})
    assert refused.value.code == -32803
    assert refused.value.data["category"] == "user"
    for word in (str(local.port), "frontend", first["id"]):
        assert word in refused.value.message
    assert fixed_demo.services() == before  # inventory untouched, frontend still held as it was
    assert [s["id"] for s in rpc.request("tether/session/list")["sessions"]] == [first["id"]]
    assert fixed_demo.get_json("http://frontend/p") == local.answer("/p")

    assert rpc.request("shutdown") is None
    rpc.notify("exit")
    assert rpc.wait() == 0
    assert tether_annotations(fixed_demo.svc("frontend")) == {}
    fixed_demo.wait_tether_objects_gone()
    local.close()


# --- 12. strategy scale -----------------------------------------------------------------------------------

def test_strategy_scale_scales_the_workload_to_zero_and_back(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns,
                            "--strategy", "scale")
    session = exchange.wait_started()
    assert session["strategy"] == "scale"
    shadow = f"tether-orders-{session['id']}"

    held = demo.svc("orders")
    assert held["spec"]["selector"] == {"app": "orders"}  # scale leaves the selector alone
    annotations = tether_annotations(held)
    assert annotations["tether.dev/strategy"] == "scale"
    assert annotations["tether.dev/original-replicas"] == "orders=2"
    assert demo.deployment("orders")["spec"]["replicas"] == 0
    demo.wait_served_by("orders", shadow)
    assert demo.get_json("http://frontend/")["upstream"]["http://orders"] == local.answer("/")

    assert exchange.interrupt() == 0
    deployment = demo.deployment("orders")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["status"].get("readyReplicas") == 2  # the stop waits for the pods to be Ready
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    demo.wait_served_by_cluster("orders")
    answer = demo.get_json("http://frontend/")["upstream"]["http://orders"]
    assert (answer["service"], answer["where"]) == ("orders", "cluster")
    local.close()
