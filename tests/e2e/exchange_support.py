"""What the exchange end-to-end tests share: the developer's machine (local servers, a proxy the test can
cut), the `tether` processes (CLI exchanges followed event by event, JSON-RPC backends) and the cluster side
(a namespace with the sample app, waits by watch, the checks that the cluster is as it was)."""
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

from tethertest.ports import free_port  # noqa: F401  (the tests import it from here)
from tethertest.rpc import RpcBackend

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "demo" / "sample-app.json").read_text())
TETHER_OBJECTS = "tether.dev/session"  # the label on every object Tether creates
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


# --- the developer's machine ---------------------------------------------------------------------------

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


class CliSession:
    """`tether exchange|connect|preview|forward ...`, its stdout followed line by line (JSON events with
    --output json)."""

    def __init__(self, tether: str, env: dict, args: list, log: Path, output: str = "json", cluster_log=None,
                 command: str = "exchange"):
        self.log = log
        self.command = command
        self.cluster_log = cluster_log or (lambda: "")
        self._stderr = open(log, "wb")
        self.process = subprocess.Popen([tether, command, "--output", output, *map(str, args)],
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
                    raise AssertionError(f"tether {self.command}: no {what} within {timeout} s "
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

    def cli(self, env: dict, *args, output: str = "json", command: str = "exchange") -> CliSession:
        self.count += 1
        process = CliSession(self.tether, env, list(args), self.directory / f"{command}-{self.count}.log", output,
                             self.cluster_log, command)
        self.processes.append(process)
        return process

    def rpc(self, env: dict, *args) -> RpcBackend:
        self.count += 1
        backend = RpcBackend(self.tether, env, self.directory / f"serve-{self.count}.log", args)
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




def assert_points_at_shadow(demo: Demo, service: str, session: dict):
    held = demo.svc(service)
    assert held["spec"]["selector"] == {"tether.dev/session": session["id"]}
    annotations = tether_annotations(held)
    assert annotations["tether.dev/locked-by"] == session["id"]
    assert annotations["tether.dev/owner"] == session["owner"]
    assert annotations["tether.dev/mode"] == "exchange"
    return held
