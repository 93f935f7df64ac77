#!/usr/bin/python3
"""bench/mesh: the mesh router beside the peers a team would otherwise use, one run on one machine.

Part 1 (kubesim, root): `tether mesh orders --header x-dev=alice` on a namespace whose `orders` pods are an
nginx answering 100 bytes. wrk in the client pod, HTTP/1.1 keep-alive, 32 connections, for each row:
  router stable  the router pod (by IP), no header: the router sends it to the stable Service
  router routed  the router pod, `x-dev: alice`: router -> alice's shadow pod -> tunnel -> an nginx on
                 this machine answering the same 100 bytes
  via Service    http://orders (the Service's ClusterIP, then the router), no header: what a client does
  direct Service the stable Service's ClusterIP (the original pods, no router): the baseline for the router
  direct pod     an original pod by IP (no Service, no router)
  kt nginx       an nginx pod configured as kt-connect's router is (header `if` + proxy_pass to the stable
                 Service, no upstream keep-alive), no header
  nginx keepalive the same nginx with upstream keep-alive (what a well-tuned proxy does)
kubesim's ClusterIPs are served by a userspace proxy in Python: every row through a Service pays it, so
compare the router with "direct Service" and the nginx rows, which pay it too.

Part 2 (loopback, no cluster): a router process with two nginx upstreams (stable, alice):
  lease put -> first routed request, and lease expiry -> first request on stable (p50/p99 over ROUNDS);
  failed requests of a wrk load while 100 leases come and go, beside the same load through nginx while it is
  reloaded 100 times (kt-connect rewrites and reloads its nginx on every change);
  router RSS with 1,000 idle keep-alive connections;
  h2c: h2load (10 connections x 100 streams) through the router beside the same nginx upstream directly,
  and router RSS with 10,000 open h2 streams (an upstream that never answers).
Prints; never fails the build. Usage: bench/mesh/run.py [BUILD_DIR] [seconds-per-row]
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KUBESIM = ROOT / "tests" / "kubesim" / "bin" / "kubesim"
NS = "bench"
BODY = "x" * 100
ROUNDS = int(os.environ.get("TETHER_BENCH_MESH_ROUNDS", "30"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_conf(work: Path, name: str, listen: str, body: str = BODY, upstream: str = "", keepalive=False) -> Path:
    """An nginx config: answers `body`, or proxies to `upstream` (kt-connect style unless keepalive)."""
    if upstream:
        pool = f"upstream up {{ server {upstream}; {'keepalive 64;' if keepalive else ''} }}"
        # kt-connect's router: one `if` on the header per request, then proxy_pass (to the user's shadow
        # when it matches; every request here goes to stable, so both branches name the same upstream).
        http11 = 'proxy_http_version 1.1; proxy_set_header Connection ""; ' if keepalive else ''
        location = ('location / { if ($http_x_dev = "alice") { proxy_pass http://up; } ' + http11
                    + 'proxy_pass http://up; }')
    else:
        pool, location = "", f'location / {{ return 200 "{body}"; }}'
    conf = work / f"{name}.conf"
    conf.write_text(f"""worker_processes 1; pid {work}/{name}.pid; error_log {work}/{name}.log; daemon off;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
       uwsgi_temp_path {work}; scgi_temp_path {work}; {pool}
       server {{ listen {listen}; {location} }} }}
""")
    return conf


def parse_wrk(text: str) -> dict:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)", text, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", text, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)

    def ms(match):
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(x) for x in socket_errors.groups())
    return {"rps": float(rate.group(1)) if rate else float("nan"), "p50": ms(p50), "p99": ms(p99), "failed": failed}


class Cluster:
    def __init__(self, state: Path, home: Path):
        self.env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(state / "kubeconfig")}

    def kubectl(self, *args, check=True, timeout=300, input=None):
        return subprocess.run(["kubectl", "-n", NS, *args], capture_output=True, text=True, env=self.env,
                              check=check, timeout=timeout, input=input)

    def pod_ip(self, name: str) -> str:
        return self.kubectl("get", "pod", name, "-o", "jsonpath={.status.podIP}").stdout

    def wrk(self, url: str, secs: int, header: str = "") -> dict:
        args = ["exec", "client", "--", "wrk", "-t2", "-c32", f"-d{secs}s", "--latency"]
        if header:
            args += ["-H", header]
        return parse_wrk(self.kubectl(*args, url, timeout=secs + 120).stdout)


def part1(build: Path, work: Path, secs: int):
    state, home = work / "kubesim", work / "home"
    home.mkdir()
    confs = {name: nginx_conf(work, name, "0.0.0.0:8080") for name in ("origin",)}
    image_map = work / "images.json"
    image_map.write_text(json.dumps({
        "ghcr.io/tether-dev/tether-shadow": {"command": [str(build / "shadow" / "tether-shadow")]},
        "bench/origin": {"command": ["nginx", "-e", str(work / "origin-e.log"), "-c", str(confs["origin"])]},
        "bench/kt": {"command": ["nginx", "-e", str(work / "kt-e.log"), "-c", str(work / "kt.conf")]},
        "bench/keepalive": {"command": ["nginx", "-e", str(work / "ka-e.log"), "-c", str(work / "ka.conf")]}}))
    subprocess.run([str(KUBESIM), "up", "--detach", "--state", str(state), "--image-map", str(image_map)],
                   check=True, capture_output=True, timeout=180)
    cluster = Cluster(state, home)
    local_conf = nginx_conf(work, "local", f"127.0.0.1:{free_port()}")
    local_port = int(re.search(r"listen 127.0.0.1:(\d+)", local_conf.read_text()).group(1))
    local = subprocess.Popen(["nginx", "-e", str(work / "local-e.log"), "-c", str(local_conf)])
    mesh = None
    try:
        manifest = {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orders", "namespace": NS},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "orders"}},
                      "template": {"metadata": {"labels": {"app": "orders"}},
                                   "spec": {"containers": [{"name": "nginx", "image": "bench/origin",
                                                            "ports": [{"name": "http", "containerPort": 8080}]}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "orders", "namespace": NS},
             "spec": {"selector": {"app": "orders"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": NS},
             "spec": {"containers": [{"name": "toolbox", "image": "kubesim/toolbox"}]}}]}
        applied = subprocess.run(["kubectl", "apply", "--validate=false", "-f", "-"], input=json.dumps(manifest),
                                 text=True, env=cluster.env, capture_output=True, timeout=120)
        if applied.returncode != 0:
            raise RuntimeError("kubectl apply: " + applied.stderr.strip())
        cluster.kubectl("wait", "--for=condition=Available", "deployment/orders", "--timeout=120s")
        cluster.kubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=120s")
        env = {**cluster.env, "USER": "alice"}
        mesh = subprocess.Popen([str(build / "server" / "tether"), "mesh", "orders", "-n", NS, "--expose",
                                 f"{local_port}:80", "--header", "x-dev=alice", "--output", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        for line in mesh.stdout:
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("event") == "session" and event["session"]["state"] == "failed":
                print("bench/mesh: the mesh failed:", event["session"].get("message"))
                pod = event["session"].get("shadowPod", "")
                if pod:
                    print(cluster.kubectl("logs", pod, "--previous", check=False).stdout[-2000:])
                return
            if event.get("event") == "session" and event["session"]["state"] == "active":
                break
            if event.get("event") == "error":
                print("bench/mesh: the mesh did not start:", event.get("message"))
                return
        threading.Thread(target=lambda: [None for _ in mesh.stdout], daemon=True).start()
        svc = json.loads(cluster.kubectl("get", "svc", "orders", "-o", "json").stdout)
        router = svc["metadata"]["annotations"]["tether.dev/mesh-router"]
        stable_ip = json.loads(cluster.kubectl("get", "svc", "orders-tether-stable", "-o", "json").stdout)["spec"][
            "clusterIP"]
        stable = f"{stable_ip}:80"
        nginx_conf(work, "kt", "0.0.0.0:8081", upstream=stable)
        nginx_conf(work, "ka", "0.0.0.0:8081", upstream=stable, keepalive=True)
        for pod, image in (("kt", "bench/kt"), ("keepalive", "bench/keepalive")):
            cluster.kubectl("run", pod, f"--image={image}", "--port=8081")
            cluster.kubectl("wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=120s")
        origin = json.loads(cluster.kubectl("get", "pods", "-l", "app=orders", "-o", "json").stdout)["items"][0]
        router_ip = cluster.pod_ip(router)
        rows = [
            ("router stable", f"http://{router_ip}:8080/", ""),
            ("router routed", f"http://{router_ip}:8080/", "x-dev: alice"),
            ("via Service", "http://orders/", ""),
            ("direct Service", f"http://{stable}/", ""),
            ("direct pod", f"http://{origin['status']['podIP']}:8080/", ""),
            ("kt nginx", f"http://{cluster.pod_ip('kt')}:8081/", ""),
            ("nginx keepalive", f"http://{cluster.pod_ip('keepalive')}:8081/", ""),
        ]
        results = {}
        for name, url, header in rows:
            cluster.wrk(url, 2, header)  # warm-up: pools, caches
            results[name] = cluster.wrk(url, secs, header)
        print(f"\nbench/mesh part 1 (kubesim, wrk -t2 -c32 -d{secs}s from a pod, HTTP/1.1 keep-alive, 100-byte "
              f"answers, one run; {os.cpu_count()} cores shared by wrk, proxies, upstreams and kubesim)")
        print(f"{'row':<17}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}")
        for name, _, _ in rows:
            r = results[name]
            print(f"{name:<17}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['failed']:>8}")
        base, stable_row = results["direct Service"], results["router stable"]
        print(f"router stable vs kt nginx: {stable_row['rps'] / results['kt nginx']['rps']:.2f}x req/s; vs nginx "
              f"keepalive: {stable_row['rps'] / results['nginx keepalive']['rps']:.2f}x (aims: >= 1, >= 0.8)")
        print(f"added p99 over direct Service: router {stable_row['p99'] - base['p99']:+.2f} ms (aim <= 1 ms), "
              f"kt nginx {results['kt nginx']['p99'] - base['p99']:+.2f} ms, nginx keepalive "
              f"{results['nginx keepalive']['p99'] - base['p99']:+.2f} ms")
    finally:
        if mesh and mesh.poll() is None:
            mesh.send_signal(signal.SIGINT)
            try:
                mesh.wait(timeout=60)
            except subprocess.TimeoutExpired:
                mesh.kill()
        local.terminate()
        local.wait(timeout=30)
        subprocess.run([str(KUBESIM), "down", "--state", str(state)], capture_output=True, timeout=180)


# --- part 2: one router process on loopback ------------------------------------------------------------------

class LocalRouter:
    def __init__(self, build: Path, work: Path, stable_port: int):
        self.port, self.control = free_port(), free_port()
        self.process = subprocess.Popen([str(build / "shadow" / "tether-shadow"), "--role", "router", "--listen-host",
                                         "127.0.0.1", "--route-port", f"{self.port}=127.0.0.1:{stable_port}/http",
                                         "--control-port", str(self.control), "--log-level", "warn"])
        wait_listening(self.control)
        self.connection = socket.create_connection(("127.0.0.1", self.control))
        self.replies = self.connection.makefile("r")

    def send(self, line: str) -> str:
        self.connection.sendall((line + "\n").encode())
        return self.replies.readline().strip()

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))

    def close(self):
        self.connection.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def wait_listening(port: int):
    """Until something accepts on 127.0.0.1:port (bounded): a readiness check, not a fixed pause."""
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing listens on port {port}")


def who_answers(connection: socket.socket, header: str) -> str:
    connection.sendall(f"GET / HTTP/1.1\r\nHost: b\r\n{header}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 5:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data.split(b"\r\n\r\n", 1)[1][:5].decode()


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def part2(build: Path, work: Path, secs: int):
    stable_port, alice_port, nginx_proxy_port = free_port(), free_port(), free_port()
    servers = [subprocess.Popen(["nginx", "-e", str(work / f"{n}-e.log"), "-c",
                                 str(nginx_conf(work, n, f"127.0.0.1:{p}", body=n[:5] * 20))])
               for n, p in (("stabl", stable_port), ("alice", alice_port))]
    proxy_conf = nginx_conf(work, "proxy", f"127.0.0.1:{nginx_proxy_port}", upstream=f"127.0.0.1:{stable_port}")
    proxy = subprocess.Popen(["nginx", "-e", str(work / "proxy-e.log"), "-c", str(proxy_conf)])
    router = LocalRouter(build, work, stable_port)
    try:
        for port in (stable_port, alice_port, nginx_proxy_port):
            wait_listening(port)
        client = socket.create_connection(("127.0.0.1", router.port))
        puts, expiries = [], []
        for i in range(ROUNDS):
            start = time.monotonic()
            router.send(f"put r{i} 60000 * 127.0.0.1:{alice_port} bench exact:x-dev=alice")
            while who_answers(client, "x-dev: alice\r\n") != "alice":
                pass
            puts.append((time.monotonic() - start) * 1000)
            router.send(f"drop r{i}")
            ttl = 200
            start = time.monotonic()
            router.send(f"put e{i} {ttl} * 127.0.0.1:{alice_port} bench exact:x-dev=alice")
            while who_answers(client, "x-dev: alice\r\n") != "stabl":
                pass
            expiries.append((time.monotonic() - start) * 1000 - ttl)
        print(f"\nbench/mesh part 2 (loopback router, nginx upstreams, {ROUNDS} rounds)")
        print(f"lease put -> first routed request: p50 {percentile(puts, .5):.2f} ms, p99 {percentile(puts, .99):.2f} ms")
        print(f"lease expiry -> first request on stable (after the TTL): p50 {percentile(expiries, .5):.2f} ms, "
              f"p99 {percentile(expiries, .99):.2f} ms")

        def churn():
            for i in range(100):
                router.send(f"put c{i} 60000 * 127.0.0.1:{alice_port} bench exact:x-churn=c{i}")
                time.sleep(secs / 200)
                router.send(f"drop c{i}")

        def reloads():
            for _ in range(100):
                subprocess.run(["nginx", "-e", str(work / "proxy-e.log"), "-c", str(proxy_conf), "-s", "reload"],
                               capture_output=True)
                time.sleep(secs / 100)

        results = {}
        for name, port, action in (("router, 100 leases come and go", router.port, churn),
                                   ("nginx, 100 reloads", nginx_proxy_port, reloads)):
            changer = threading.Thread(target=action)
            load = subprocess.Popen(["wrk", "-t2", "-c32", f"-d{secs}s", "--latency", f"http://127.0.0.1:{port}/"],
                                    stdout=subprocess.PIPE, text=True)
            changer.start()
            out, _ = load.communicate(timeout=secs + 60)
            changer.join()
            results[name] = parse_wrk(out)
        print(f"{'failed requests during route changes':<40}{'req/s':>10}{'failed':>8}")
        for name, r in results.items():
            print(f"{name:<40}{r['rps']:>10.0f}{r['failed']:>8}")

        before = router.rss_kib()
        idle = []
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", router.port))
            who_answers(s, "")
            idle.append(s)
        after = router.rss_kib()
        print(f"router RSS: {before / 1024:.1f} MiB, with 1,000 idle keep-alive connections {after / 1024:.1f} MiB "
              f"({(after - before) * 1024 / 1000:.0f} bytes each)")
        for s in idle:
            s.close()
        client.close()
    finally:
        router.close()
        for process in servers + [proxy]:
            process.terminate()
            process.wait(timeout=30)
    part2_h2(build, work, secs)


def h2load(url: str, secs: int, header: str = "") -> dict:
    # A request count, not -D: h2load 1.52 counts the streams a duration cuts off as failed.
    args = ["h2load", "-c10", "-m100", "-t2", "-n", str(30000 * secs), url]
    if header:
        args[1:1] = ["-H", header]
    out = subprocess.run(args, capture_output=True, text=True, timeout=secs + 120).stdout
    rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    failed = re.search(r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored", out)
    latency = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", out)

    def ms(value, unit):
        return float(value) / 1000 if unit == "us" else float(value) * 1000 if unit == "s" else float(value)
    return {"rps": float(rate.group(1)) if rate else float("nan"),
            "mean": ms(latency.group(5), latency.group(6)) if latency else float("nan"),
            "max": ms(latency.group(3), latency.group(4)) if latency else float("nan"),
            "failed": int(failed.group(1)) + int(failed.group(2)) if failed else -1}


# Holds every stream it is given open without answering: for the router's memory with many open streams.
SILENT_H2 = r"""
import socket, sys, threading
import h2.config, h2.connection, h2.settings
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
def serve(conn):
    h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    # A stream limit far above the test's, set before the preface so every stream is taken at once.
    h2conn.local_settings = h2.settings.Settings(
        client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100000})
    h2conn.initiate_connection()
    conn.sendall(h2conn.data_to_send())
    while (data := conn.recv(65536)):
        h2conn.receive_data(data)
        conn.sendall(h2conn.data_to_send())
while True:
    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
"""


def open_streams(port: int, connections: int, per_connection: int) -> list:
    """`connections` h2c connections to the router with `per_connection` open streams each (requests sent,
    no answer expected)."""
    import h2.config
    import h2.connection
    import h2.events
    opened = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.update_settings({3: per_connection * 2})
        sock.sendall(conn.data_to_send())
        peer_limit = 0
        while peer_limit == 0:
            for event in conn.receive_data(sock.recv(65536)):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    peer_limit = conn.remote_settings.max_concurrent_streams
            sock.sendall(conn.data_to_send())
        for _ in range(min(per_connection, peer_limit)):
            stream = conn.get_next_available_stream_id()
            conn.send_headers(stream, [(":method", "GET"), (":scheme", "http"), (":authority", "b"),
                                       (":path", "/open")], end_stream=True)
        sock.sendall(conn.data_to_send())
        opened.append((sock, conn))
    return opened


def part2_h2(build: Path, work: Path, secs: int):
    if not shutil.which("h2load"):
        print("bench/mesh: h2load is missing (nghttp2-client, scripts/bootstrap installs it); h2c rows skipped")
        return
    upstream_port = free_port()
    conf = work / "h2.conf"
    conf.write_text(f"""worker_processes 1; pid {work}/h2.pid; error_log {work}/h2.log; daemon off;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
       uwsgi_temp_path {work}; scgi_temp_path {work}; http2_max_concurrent_streams 1000;
       keepalive_requests 100000000;
       server {{ listen 127.0.0.1:{upstream_port} http2; location / {{ return 200 "{BODY}"; }} }} }}
""")
    upstream = subprocess.Popen(["nginx", "-e", str(work / "h2-e.log"), "-c", str(conf)])
    router_port, control_port = free_port(), free_port()
    router = subprocess.Popen([str(build / "shadow" / "tether-shadow"), "--role", "router", "--listen-host",
                               "127.0.0.1", "--route-port", f"{router_port}=127.0.0.1:{upstream_port}/h2c",
                               "--control-port", str(control_port), "--log-level", "warn", "--drain-timeout", "0s"])
    try:
        wait_listening(upstream_port)
        wait_listening(router_port)
        rows = {"router h2c": h2load(f"http://127.0.0.1:{router_port}/", secs),
                "direct h2c": h2load(f"http://127.0.0.1:{upstream_port}/", secs)}
        print(f"\nh2c (h2load -c10 -m100 -n {30000 * secs}, loopback, nginx h2c upstream; one run)")
        print(f"{'row':<14}{'req/s':>10}{'mean ms':>9}{'max ms':>9}{'failed':>8}")
        for name, r in rows.items():
            print(f"{name:<14}{r['rps']:>10.0f}{r['mean']:>9.2f}{r['max']:>9.2f}{r['failed']:>8}")
    finally:
        router.terminate()
        router.wait(timeout=30)
        upstream.terminate()
        upstream.wait(timeout=30)

    silent_port = free_port()
    silent = subprocess.Popen(["/usr/bin/python3", "-c", SILENT_H2, str(silent_port)])
    router_port = free_port()
    router = subprocess.Popen([str(build / "shadow" / "tether-shadow"), "--role", "router", "--listen-host",
                               "127.0.0.1", "--route-port", f"{router_port}=127.0.0.1:{silent_port}/h2c",
                               "--control-port", str(free_port()), "--log-level", "warn", "--drain-timeout", "0s"])
    try:
        wait_listening(silent_port)
        wait_listening(router_port)
        status = Path(f"/proc/{router.pid}/status")
        rss = lambda: int(re.search(r"VmRSS:\s+(\d+)", status.read_text()).group(1))  # noqa: E731
        before = rss()
        opened = open_streams(router_port, 10, 1000)
        # The router has them all once the upstream saw them; a bounded wait on its memory to settle.
        settled, last = time.monotonic() + 30, -1
        while time.monotonic() < settled:
            now = rss()
            if now == last:
                break
            last = now
            time.sleep(0.5)
        print(f"router RSS: {before / 1024:.1f} MiB, with 10,000 open h2 streams (10 connections) "
              f"{rss() / 1024:.1f} MiB ({(rss() - before) * 1024 / 10000:.0f} bytes each)")
        for sock, _ in opened:
            sock.close()
    finally:
        router.terminate()
        router.wait(timeout=30)
        silent.terminate()
        silent.wait(timeout=30)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    build = (Path(args[0]) if args else ROOT / "build" / "bench").resolve()
    if not (build / "shadow" / "tether-shadow").exists():
        build = (ROOT / "build" / "dev").resolve()
    secs = int(args[1]) if len(args) > 1 else 10
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            print(f"bench/mesh: {tool} is missing (scripts/bootstrap installs it); skipped")
            return
    work = Path(tempfile.mkdtemp(prefix="tether-bench-mesh-"))
    os.chmod(work, 0o755)  # nginx workers run as nobody
    try:
        if os.geteuid() == 0:
            part1(build, work, secs)
        else:
            print("bench/mesh: part 1 needs root (kubesim); skipped")
        part2(build, work, secs)
    except Exception as error:  # a benchmark reports, it never fails the build
        print(f"bench/mesh: stopped: {error}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
