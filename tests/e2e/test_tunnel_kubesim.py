"""The tunnel in kubesim: the shadow runs as a pod, the backend side reaches it through the real
port-forward, and real traffic flows both ways:
- a toolbox pod calls the shadow's reverse port and reaches an HTTP server on the "laptop";
- a local curl through the SOCKS5 proxy reaches a Service by its cluster name;
- a DNS query for a Service name is answered through the local forwarder;
- a pod that took the shadow's name (and even holds its token) is refused: the client pins the pod's uid."""
import http.server
import json
import os
import secrets
import socket
import subprocess
import threading

import pytest

from tethertest.ports import free_port

TOKEN = secrets.token_hex(16)


@pytest.fixture(scope="module")
def app(cluster):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shadow", "labels": {"app": "shadow"}},
                   "spec": {"containers": [{
                       "name": "shadow", "image": "ghcr.io/tether-dev/tether-shadow:0.1.0",
                       "args": ["--tunnel-port", "7700", "--ready-port", "7701"],
                       "env": [{"name": "TETHER_SHADOW_TOKEN", "value": TOKEN}],
                       "readinessProbe": {"httpGet": {"path": "/", "port": 7701}}}]}})
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "inventory", "labels": {"app": "inventory"}},
                   "spec": {"containers": [{"name": "echo", "image": "kubesim/echo", "env": [{"name": "PORT", "value": "8080"}],
                                            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}}}]}})
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "inventory"},
                   "spec": {"selector": {"app": "inventory"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "toolbox"},
                   "spec": {"containers": [{"name": "tb", "image": "kubesim/toolbox"}]}})
    cluster.kubectl("wait", "--for=condition=Ready", "pod/shadow", "pod/inventory", "pod/toolbox", "--timeout=60s")
    return cluster


class LocalServer:
    """The developer's process: an HTTP server on 127.0.0.1 that names itself."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"served_by": "laptop", "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class Driver:
    """tunnel_via_kube, followed line by line."""

    def __init__(self, path, cluster, *args, pod="default/shadow"):
        self.process = subprocess.Popen([path, "--kubeconfig", str(cluster.kubeconfig), "--pod", pod,
                                         "--tunnel-port", "7700", *map(str, args)], stdout=subprocess.PIPE, text=True,
                                        env={**cluster.env, "TETHER_TOKEN": TOKEN})

    def until(self, prefix, limit=50):
        for _ in range(limit):
            line = self.process.stdout.readline()
            assert line, "the tunnel driver exited"
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"no line starting with {prefix!r}")

    def stop(self):
        self.process.terminate()
        assert self.process.wait(timeout=30) == 0


def test_cluster_traffic_reaches_the_local_process_through_the_reverse_port(app, driver):
    local = LocalServer()
    tunnel = Driver(driver, app, "--reverse", f"18080:{local.port}")
    try:
        tunnel.until("state=connected")
        assert 'code="ok"' in tunnel.until("listener port=18080")
        ip = app.kubectl("get", "pod", "shadow", "-o", "jsonpath={.status.podIP}").stdout
        answer = app.kubectl("exec", "toolbox", "--", "curl", "-s", "--max-time", "10", f"http://{ip}:18080/hello").stdout
        assert json.loads(answer) == {"served_by": "laptop", "path": "/hello"}
    finally:
        tunnel.stop()
        local.close()


def test_local_process_reaches_a_service_by_name_through_socks(app, driver):
    socks = free_port()
    tunnel = Driver(driver, app, "--socks", socks)
    try:
        tunnel.until("serving what=socks5")
        tunnel.until("state=connected")
        answer = subprocess.run(["curl", "-s", "--max-time", "10", "--proxy", f"socks5h://127.0.0.1:{socks}",
                                 "http://inventory/stock"], capture_output=True, text=True, timeout=30).stdout
        assert json.loads(answer)["pod"] == "inventory"
    finally:
        tunnel.stop()


def test_service_names_resolve_through_the_dns_forwarder(app, driver):
    dns = free_port()
    tunnel = Driver(driver, app, "--dns", dns)
    try:
        tunnel.until("serving what=dns")
        tunnel.until("state=connected")
        cluster_ip = app.kubectl("get", "svc", "inventory", "-o", "jsonpath={.spec.clusterIP}").stdout
        name = b"".join(bytes([len(part)]) + part.encode() for part in "inventory.default.svc.cluster.local".split("."))
        packet = bytes.fromhex("123401000001000000000000") + name + b"\x00\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(10)
            sock.sendto(packet, ("127.0.0.1", dns))
            reply, _ = sock.recvfrom(4096)
        assert reply[:2] == b"\x12\x34"
        assert reply[3] & 0x0F == 0  # NOERROR
        assert socket.inet_aton(cluster_ip) in reply
    finally:
        tunnel.stop()


def shadow_pod(name, identity_env):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "shadow", "image": "ghcr.io/tether-dev/tether-shadow:0.1.0",
                "args": ["--tunnel-port", "7700", "--ready-port", "7701"],
                "env": [{"name": "TETHER_SHADOW_TOKEN", "value": TOKEN}, identity_env],
                "readinessProbe": {"httpGet": {"path": "/", "port": 7701}}}]}}


def test_a_pod_that_took_the_shadows_name_is_refused_even_with_the_token(app, driver):
    app.apply(shadow_pod("pinned", {"name": "TETHER_POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}))
    app.kubectl("wait", "--for=condition=Ready", "pod/pinned", "--timeout=60s")
    uid = app.kubectl("get", "pod", "pinned", "-o", "jsonpath={.metadata.uid}").stdout
    tunnel = Driver(driver, app, "--uid", uid, pod="default/pinned")
    try:
        tunnel.until("state=connected")
    finally:
        tunnel.stop()
    # Someone able to delete and create pods (and to read the token) puts an impostor in its place, which
    # even claims the old uid in its handshake.
    app.kubectl("delete", "pod", "pinned", "--grace-period=0", "--wait=true")
    app.apply(shadow_pod("pinned", {"name": "TETHER_POD_UID", "value": uid}))
    app.kubectl("wait", "--for=condition=Ready", "pod/pinned", "--timeout=60s")
    impostor = app.kubectl("get", "pod", "pinned", "-o", "jsonpath={.metadata.uid}").stdout
    assert impostor != uid
    tunnel = Driver(driver, app, "--uid", uid, pod="default/pinned")
    line = tunnel.until("state=failed")
    assert f"pod default/pinned is not this session's shadow any more (uid {impostor}, expected {uid})" in line
    assert tunnel.process.wait(timeout=30) == 3
    # Not a byte reached the impostor: it never even accepted a tunnel connection.
    assert "event=tunnel_accepted" not in app.kubectl("logs", "pinned").stdout
    app.kubectl("delete", "pod", "pinned", "--grace-period=0", "--wait=false")
