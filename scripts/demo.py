#!/usr/bin/python3
"""`make demo`: an exchange session on a local simulated cluster, step by step.

Starts kubesim (tests/kubesim) with the sample app (demo/: frontend -> orders -> inventory, and a `client`
pod), shows a request answered in the cluster, hands the `orders` Service to a local process with
`tether exchange`, shows that process answering (and reaching the cluster's inventory through the session's
proxy), stops the session and shows the cluster as it was. Exits non-zero when the evidence is not as
expected. Tears the cluster down whatever happens; a cluster left by an interrupted run is removed first.
Usage: scripts/demo.py [BUILD_DIR]   (default build/dev; needs root: kubesim's network namespaces)
"""
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from tethertest import framing  # noqa: E402  (the tests' LSP framing, tested there)

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build" / "dev").resolve()
TETHER = BUILD / "server" / "tether"
SHADOW = BUILD / "shadow" / "tether-shadow"
KUBESIM = ROOT / "tests" / "kubesim" / "bin" / "kubesim"
WORK = ROOT / "build" / "demo"           # fixed, so the next run finds what an interrupted one left
STATE = WORK / "kubesim"
KUBECONFIG = STATE / "kubeconfig"
NS = "demo"
LOCAL_PORT = 12001
STEPS = 7
TIMEOUT = 60  # seconds for any one wait; the whole demo normally takes a few seconds

# kubectl and tether get their own HOME (kubectl's cache, tether's session records) and the demo cluster.
ENV = {key: value for key, value in os.environ.items() if key.lower() not in
       ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
ENV.update(HOME=str(WORK / "home"), KUBECACHEDIR=str(WORK / "home" / "cache"), KUBECONFIG=str(KUBECONFIG))
MARKER = f"TETHER_DEMO_RUN={WORK}"  # in the environment of the demo's tether and local orders only


class DemoFailed(Exception):
    pass


def rel(path):
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def step(number, title, *explanation):
    print(f"\n[{number}/{STEPS}] {title}")
    for line in explanation:
        print(f"      {line}")


def say(text=""):
    print(f"      {text}" if text else "", flush=True)


def ok(text):
    print(f"      ✓ {text}", flush=True)


def run(argv, show=True, check=True, timeout=TIMEOUT, input=None):
    """Runs a command, printing it as the newcomer would type it; returns stdout."""
    if show:
        say("$ " + " ".join(shlex.quote(rel(a) if isinstance(a, Path) else str(a)) for a in argv))
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=ENV, timeout=timeout,
                            input=input)
    if check and result.returncode != 0:
        raise DemoFailed(f"`{' '.join(map(str, argv))}` failed ({result.returncode}): "
                         f"{(result.stderr or result.stdout).strip()}")
    return result.stdout


def kubectl(*args, show=False, **kwargs):
    return run(["kubectl", "-n", NS, *args], show=show, **kwargs)


def get_json(*args):
    return json.loads(kubectl("get", *args, "-o", "json"))


def watch_until(kind, name, predicate, what):
    """Follows `kubectl get --watch` on one object until predicate(object) holds: waits on the cluster's
    events rather than for a fixed time. Returns the object."""
    watcher = subprocess.Popen(["kubectl", "-n", NS, "get", kind, name, "--watch", "-o", "json"], env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    decoder, buffer, deadline, last = json.JSONDecoder(), "", time.monotonic() + TIMEOUT, None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([watcher.stdout], [], [], remaining)[0]:
                raise DemoFailed(f"timed out after {TIMEOUT} s waiting for {what}; last seen: {json.dumps(last)}")
            chunk = os.read(watcher.stdout.fileno(), 65536).decode()
            if not chunk:
                raise DemoFailed(f"kubectl stopped watching {kind}/{name} before {what}")
            buffer += chunk
            while buffer.strip():
                try:
                    last, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    break  # an object cut in the middle: read on
                buffer = buffer.lstrip()[end:]
                if predicate(last):
                    return last
    finally:
        watcher.kill()
        watcher.wait()


def endpoint_pods(endpoints):
    return sorted(address.get("targetRef", {}).get("name", address["ip"])
                  for subset in endpoints.get("subsets") or [] for address in subset.get("addresses") or [])


def request_through_frontend(show=True):
    """One request from the client pod to frontend; returns the answer as the chain of services."""
    body = kubectl("exec", "client", "--", "curl", "-s", "-m", "15", "http://frontend/", show=show)
    try:
        answer = json.loads(body)
    except json.JSONDecodeError:
        raise DemoFailed(f"frontend did not answer with JSON: {body!r}")
    chain, node = [], answer
    while node:
        chain.append(node)
        upstream = node.get("upstream") or {}
        node = next(iter(upstream.values()), None)
    return chain


def describe(node):
    if "error" in node:
        return f"FAILED: {node['error']}"
    if node.get("where") == "laptop":
        return f"{node['service']:<9} answered on THIS MACHINE (local process, host {node['host']})"
    return f"{node['service']:<9} answered in the cluster by pod {node['host']}"


def show_chain(chain):
    for depth, node in enumerate(chain):
        say(("   " * (depth - 1) + "└─ " if depth else "") + describe(node))


def expect_chain(chain, orders_where, orders_pods=None):
    names = [node.get("service", "?") for node in chain]
    if names != ["frontend", "orders", "inventory"] or any("error" in node for node in chain):
        raise DemoFailed(f"expected frontend -> orders -> inventory, got {json.dumps(chain[0])}")
    orders, inventory = chain[1], chain[2]
    if orders["where"] != orders_where:
        raise DemoFailed(f"expected orders to answer from the {orders_where}, it answered from {orders['where']} "
                         f"({orders['host']})")
    if orders_pods is not None and orders["host"] not in orders_pods:
        raise DemoFailed(f"orders answered from {orders['host']}, not one of the Service's pods {orders_pods}")
    if inventory["where"] != "cluster":
        raise DemoFailed(f"expected the cluster's inventory to answer, got {json.dumps(inventory)}")


class Exchange:
    """`tether exchange` running the local orders; its output is echoed and matched line by line."""

    def __init__(self):
        self.lines, self.cond, self.process = [], threading.Condition(), None

    def start(self, argv, env):
        self.log = open(WORK / "tether.log", "w")
        # Its own session: the demo decides when it gets Ctrl-C (and a Ctrl-C on the demo stops it in order).
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
                                        start_new_session=True, cwd=ROOT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            say("│ " + line.rstrip())
            with self.cond:
                self.lines.append(line.rstrip())
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of output
            self.cond.notify_all()

    def wait_line(self, predicate, what):
        deadline = time.monotonic() + TIMEOUT
        with self.cond:
            while True:
                for line in self.lines:
                    if line is None:
                        raise DemoFailed(f"tether exited before {what} (exit code {self.process.wait()})")
                    if predicate(line):
                        return line
                if not self.cond.wait(deadline - time.monotonic()) and time.monotonic() >= deadline:
                    raise DemoFailed(f"timed out after {TIMEOUT} s waiting for {what}")

    def stop(self):
        """Ctrl-C, as a developer stops it; returns tether's exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise DemoFailed(f"tether did not stop within {TIMEOUT} s after Ctrl-C")


def stop_leftovers():
    """A run killed outright (SIGKILL, a closed terminal) can leave its tether and local orders running,
    holding port 12001. They carry MARKER in their environment: stop exactly those, by pid."""
    def ours():
        found = {}
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and int(entry.name) != os.getpid() and \
                        MARKER.encode() in (entry / "environ").read_bytes().split(b"\0"):
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                pass  # gone meanwhile, or not ours to read
        return found

    def wait_gone(pids, seconds):
        deadline = time.monotonic() + seconds
        while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)  # not our children: nothing to wait() on, so look again shortly

    leftovers = ours()
    if not leftovers:
        return
    print(f"(stopping what an interrupted run left: pids {', '.join(map(str, sorted(leftovers)))})")
    tethers = [pid for pid, program in leftovers.items() if program.endswith(b"/tether")]
    for pid in tethers:  # Ctrl-C first, so a tether that still can restores its Service
        os.kill(pid, signal.SIGINT)
    wait_gone(tethers, 15)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ours():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        wait_gone(leftovers, 5)


def ide_view_of_services():
    """The same cluster as an IDE extension sees it: JSON-RPC over `tether serve --stdio`."""
    backend = subprocess.Popen([str(TETHER), "serve", "--stdio", "--log-level=warn"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV)

    def call(message):
        backend.stdin.write(framing.frame(message))
        backend.stdin.flush()
        if "id" not in message:
            return None
        answer = framing.read_frame(backend.stdout)
        if answer is None:
            raise DemoFailed("tether serve --stdio closed its output unexpectedly")
        return answer

    try:
        call({"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"processId": None, "clientInfo": {"name": "make demo"}}})
        call({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        request = {"jsonrpc": "2.0", "id": 2, "method": "tether/services", "params": {"namespace": NS}}
        answer = call(request)
        call({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
        call({"jsonrpc": "2.0", "method": "exit"})
        backend.stdin.close()
        backend.wait(timeout=TIMEOUT)
    finally:
        if backend.poll() is None:
            backend.kill()
            backend.wait()
    return request, answer


def main():
    if os.geteuid() != 0:
        raise DemoFailed("kubesim needs root (network namespaces): run `sudo make demo`")
    for binary in (TETHER, SHADOW):
        if not binary.exists():
            raise DemoFailed(f"{binary} is missing: build first (`make build`)")
    print("Tether demo: hand one Kubernetes Service's traffic to a process on this machine, and back.")
    print("The sample app (demo/app.py) is three services in namespace `demo`: frontend -> orders ->")
    print("inventory, plus a `client` pod to send requests from. Each answer names the service, where it")
    print("ran and which pod, and embeds what it fetched from its upstream service.")

    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "home").mkdir(exist_ok=True)
    (WORK / "tether.log").unlink(missing_ok=True)  # a failure shows this run's log only
    stop_leftovers()
    subprocess.run([str(KUBESIM), "down", "--state", str(STATE)], capture_output=True, timeout=TIMEOUT)
    image_map = WORK / "images.json"
    image_map.write_text(json.dumps({"ghcr.io/tether-dev/tether-shadow": {"command": [str(SHADOW)]},
                                     "demo/app": {"command": ["/usr/bin/python3", str(ROOT / "demo" / "app.py")]}},
                                    indent=1))
    with socket.socket() as probe:  # the local orders needs this port; say so now rather than half-way
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", LOCAL_PORT))
        except OSError as error:
            raise DemoFailed(f"port {LOCAL_PORT} on 127.0.0.1 is taken ({error}); the local orders needs it: "
                             f"see `ss -ltnp 'sport = :{LOCAL_PORT}'`")
    exchange = Exchange()
    try:
        step(1, "Start a local cluster",
             "kubesim simulates a Kubernetes cluster on this machine: pods are processes in their own",
             f"network namespaces, and kubectl works against it. Its image map ({rel(image_map)}) runs",
             "demo/app.py for the image demo/app:1 and this build's tether-shadow for Tether's agent.")
        run([KUBESIM, "up", "--detach", "--state", STATE, "--image-map", image_map])
        say(f"kubeconfig: {rel(KUBECONFIG)}")

        step(2, "Deploy the sample app and wait until it is ready")
        kubectl("apply", "--validate=false", "-f", ROOT / "demo" / "sample-app.json", show=True)
        for deployment in ("inventory", "orders", "frontend"):
            kubectl("rollout", "status", f"deployment/{deployment}", f"--timeout={TIMEOUT}s",
                    show=deployment == "inventory")
        kubectl("wait", "--for=condition=Ready", "pod/client", f"--timeout={TIMEOUT}s", show=True)
        say("(and `kubectl rollout status` for orders and frontend)")
        orders_pods = endpoint_pods(get_json("endpoints", "orders"))
        if len(orders_pods) != 2:
            raise DemoFailed(f"expected the orders Service to have 2 pods, it has {orders_pods}")
        ok(f"ready; the orders Service sends its traffic to pods {', '.join(orders_pods)}")

        step(3, "Before: a request from the client pod through frontend",
             "frontend calls http://orders, and orders calls http://inventory, all inside the cluster.")
        chain = request_through_frontend()
        show_chain(chain)
        expect_chain(chain, "cluster", orders_pods)
        ok(f"orders answered in the cluster (pod {chain[1]['host']})")

        step(4, "Exchange orders: run orders on this machine and send the Service's traffic to it",
             "tether creates a small agent pod (the shadow), opens a tunnel to it through the API server,",
             "and points the orders Service at it; the command after `--` runs with the session's proxy",
             "environment (HTTP_PROXY ...), so the local orders can call http://inventory by its cluster name.")
        local_env = {**ENV, MARKER.split("=")[0]: str(WORK), "NAME": "orders", "WHERE": "laptop", "PORT": str(LOCAL_PORT), "UPSTREAM": "http://inventory"}
        argv = [TETHER, "exchange", "orders", "-n", NS, "--expose", f"{LOCAL_PORT}:8080", "--",
                "/usr/bin/python3", "demo/app.py"]
        say(f"$ NAME=orders WHERE=laptop PORT={LOCAL_PORT} UPSTREAM=http://inventory \\")
        say(f"    {rel(TETHER)} exchange orders -n {NS} --expose {LOCAL_PORT}:8080 -- /usr/bin/python3 demo/app.py")
        exchange.start([str(a) for a in argv], local_env)
        exchange.wait_line(lambda line: line.startswith("Press Ctrl-C"), "the session became active")
        exchange.wait_line(lambda line: f"listening on {LOCAL_PORT}" in line, "the local orders listened")
        if any(line and "nothing answers on" in line for line in exchange.lines):
            say("(tether switches the traffic before it starts the command, so it may warn that nothing answers")
            say(f" on {LOCAL_PORT} yet; the demo sends its requests once the local orders listens.)")
        selector = get_json("service", "orders")["spec"]["selector"]
        shadow_pods = sorted(pod["metadata"]["name"] for pod in get_json(
            "pods", "-l", ",".join(f"{k}={v}" for k, v in selector.items()))["items"])
        if "app" in selector or len(shadow_pods) != 1:
            raise DemoFailed(f"expected the Service's selector to pick only the shadow pod, got {selector} -> "
                             f"{shadow_pods}")
        say(f"The orders Service's selector is now {json.dumps(selector)}: pod {shadow_pods[0]}, the shadow.")
        watch_until("endpoints", "orders", lambda e: endpoint_pods(e) == shadow_pods,
                    "the orders endpoints to be the shadow pod")
        ok(f"the orders endpoints are now [{shadow_pods[0]}]; the cluster's orders pods keep running, idle")

        step(5, "During: requests from the client pod through frontend",
             "Nothing changed in frontend: it still calls http://orders, which now reaches this machine.")
        for number in range(1, 4):
            chain = request_through_frontend(show=number == 1)
            say(f"request {number}:")
            show_chain(chain)
            expect_chain(chain, "laptop")
        proxy = re.search(r"through (\S+) \(HTTP_PROXY", exchange.wait_line(
            lambda line: line.startswith("Outbound:"), "the session's proxy address"))
        ok("the local orders answered every request, and fetched the cluster's inventory through the")
        say(f"  session's proxy, {proxy.group(1) if proxy else '?'} (this machine itself has no route to the cluster's")
        say("  pod and Service addresses, nor DNS for its names).")
        say("What an IDE extension sees: it drives the same backend over JSON-RPC (`tether serve --stdio`):")
        request, answer = ide_view_of_services()
        held = {s["name"]: s.get("heldBy") for s in answer.get("result", {}).get("services", [])}
        say(f"  IDE -> tether  {json.dumps(request)}")
        say(f"  tether -> IDE  orders: heldBy {json.dumps(held.get('orders'))}  (inventory, frontend: "
            f"{'not held' if not held.get('inventory') and not held.get('frontend') else 'HELD?'})")
        if not held.get("orders") or held.get("inventory") or held.get("frontend"):
            raise DemoFailed(f"expected only orders to be held by a session, got {json.dumps(answer)}")

        step(6, "Stop the session: Ctrl-C to tether",
             "tether restores the Service's selector first (traffic goes back to the cluster's pods), then",
             "deletes the shadow pod and ends the local process.")
        code = exchange.stop()
        if code != 0:
            raise DemoFailed(f"tether exited with code {code} after Ctrl-C (expected 0)")
        if not any(line and line.endswith("orders restored.") for line in exchange.lines):
            raise DemoFailed("tether did not report `orders restored.`")
        selector = get_json("service", "orders")["spec"]["selector"]
        if selector != {"app": "orders"}:
            raise DemoFailed(f"expected the selector restored to {{\"app\": \"orders\"}}, got {selector}")
        ok(f"the orders selector is back to {json.dumps(selector)}")
        kubectl("wait", "--for=delete", f"pod/{shadow_pods[0]}", f"--timeout={TIMEOUT}s")
        watch_until("endpoints", "orders", lambda e: endpoint_pods(e) == orders_pods,
                    "the orders endpoints to be the original pods again")
        ok(f"the shadow pod is gone; the orders endpoints are {', '.join(orders_pods)} again")
        hosts = set()
        for number in range(1, 3):
            chain = request_through_frontend(show=number == 1)
            say(f"request {number}:")
            show_chain(chain)
            expect_chain(chain, "cluster", orders_pods)
            hosts.add(chain[1]["host"])
        ok(f"the cluster's orders answer again ({', '.join(sorted(hosts))})")
    finally:
        try:
            exchange.stop()
        except DemoFailed as error:
            print(f"demo: {error}", file=sys.stderr)
        step(7, "Tear the cluster down")
        result = subprocess.run([str(KUBESIM), "down", "--state", str(STATE)], capture_output=True, text=True,
                                timeout=TIMEOUT)
        say(f"$ {rel(KUBESIM)} down --state {rel(STATE)}")
        if result.returncode != 0:
            print(f"demo: kubesim down failed: {result.stderr.strip()}", file=sys.stderr)

    print("\nDemo finished: orders ran on this machine with the cluster around it, and the cluster is as it")
    print("was. To try it yourself on a cluster that stays up: `make playground`.")


def interrupted(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupted)
    sys.stdout.reconfigure(line_buffering=True)  # progress as it happens, also through a pipe (CI logs)
    try:
        main()
    except DemoFailed as error:
        print(f"\ndemo FAILED: {error}", file=sys.stderr)
        log = WORK / "tether.log"
        if log.exists() and log.read_text().strip():
            print(f"tether's log ({rel(log)}):\n{log.read_text()}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\ndemo: interrupted; the cluster was torn down", file=sys.stderr)
        sys.exit(130)
