"""Port-forward through a whole kubesim cluster, both ways Tether opens connections: one WebSocket
v4.channel.k8s.io each, and streams on one shared SPDY-over-WebSocket session (as kubectl). 64 MiB both
ways with matching sha256, many connections at once, the error text, the same through an HTTP CONNECT
proxy, and the fall back to WebSockets when the server does not speak the shared protocol."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from proxy import ConnectProxy

KUBESIM = Path(__file__).resolve().parents[1] / "kubesim" / "bin" / "kubesim"

RESETTER = """
import socket, struct
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 9002))
server.listen(16)
while True:
    connection, _ = server.accept()
    connection.recv(1)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
"""

# Port 9003 reads each connection to its end and remembers the sha256 of what came; 9004 tells it.
SINK = """
import hashlib, socket, threading
last = {"sha": ""}
def listen(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(16)
    return server
def sink(server):
    while True:
        connection, _ = server.accept()
        digest = hashlib.sha256()
        while chunk := connection.recv(65536):
            digest.update(chunk)
        last["sha"] = digest.hexdigest()
        connection.close()
sinks, tells = listen(9003), listen(9004)
threading.Thread(target=sink, args=(sinks,), daemon=True).start()
while True:
    connection, _ = tells.accept()
    connection.sendall(last["sha"].encode())
    connection.close()
"""

ECHO_POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tcp-echo"},
    "spec": {"containers": [{
        "name": "echo", "image": "kubesim/toolbox",
        "command": ["socat", "TCP-LISTEN:9000,reuseaddr,fork,backlog=128", "EXEC:cat"],
        "readinessProbe": {"tcpSocket": {"port": 9000}}},
        # Reads a byte, then drops the connection with a reset (SO_LINGER 0).
        {"name": "resetter", "image": "kubesim/toolbox", "command": ["/usr/bin/python3", "-c", RESETTER],
         "readinessProbe": {"tcpSocket": {"port": 9002}}},
        {"name": "sink", "image": "kubesim/toolbox", "command": ["/usr/bin/python3", "-c", SINK],
         "readinessProbe": {"tcpSocket": {"port": 9004}}}]}}


def start_cluster(state, **env):
    if os.geteuid() != 0:
        pytest.fail("kubesim needs root (network namespaces); run the suite as root, as CI does")
    subprocess.run([str(KUBESIM), "up", "--detach", "--state", str(state)], check=True, capture_output=True,
                   timeout=120, env={**os.environ, **env})
    return state / "kubeconfig"


def start_echo_pod(kubeconfig, probe_path):
    from conftest import Probe
    probe = Probe(probe_path)
    rc, out, err = probe(kubeconfig, "create", "pods", "default", json.dumps(ECHO_POD))
    assert rc == 0, (out, err)
    rc, out, err = probe(kubeconfig, "wait-ready", "default", "tcp-echo", 30000)
    assert rc == 0, (out, err)
    return "tcp-echo"


@pytest.fixture(scope="module")
def node_cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("kube-node")
    yield start_cluster(state)
    subprocess.run([str(KUBESIM), "down", "--state", str(state)], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def echo_pod(node_cluster, probe_path):
    return start_echo_pod(node_cluster, probe_path)


@pytest.mark.parametrize("transport", ["websocket", "shared"])
def test_64_mib_both_ways_with_matching_sha256(node_cluster, echo_pod, probe, transport):
    rc, out, err = probe(node_cluster, "portforward", "default", echo_pod, 9000, 64 * 1024 * 1024, transport,
                         timeout=180)
    assert rc == 0, (out, err)
    assert out[0]["bytes"] == 64 * 1024 * 1024
    assert out[0]["sent"] == out[0]["received"]
    assert out[0]["multiplexed"] == (transport == "shared")


def test_many_connections_share_one_session_and_keep_their_bytes_apart(node_cluster, echo_pod, probe):
    # 32 connections at once, each echoing 2 MB of its own random bytes through one SPDY session.
    rc, out, err = probe(node_cluster, "pf-parallel", "default", echo_pod, 9000, 32, 2_000_000, "shared",
                         timeout=180)
    assert rc == 0, (out, err)
    assert len(out) == 32
    assert all(line["multiplexed"] and line["bytes"] == 2_000_000 for line in out)
    assert all(line["sent"] == line["received"] for line in out)
    assert len({line["sent"] for line in out}) == 32  # every connection carried its own bytes


@pytest.mark.parametrize("transport", ["websocket", "shared"])
def test_nothing_listening_is_reported_from_the_error_channel(node_cluster, echo_pod, probe, transport):
    rc, out, _ = probe(node_cluster, "portforward", "default", echo_pod, 9001, 100, transport)
    assert rc == 3
    message = out[0]["error"]["message"]
    assert message.startswith("port-forward to pod default/tcp-echo port 9001: ")
    assert "connection refused" in message


def test_a_refused_connection_leaves_the_others_on_the_session_working(node_cluster, echo_pod, probe):
    # One session: 9001 refused, 9000 echoes. The refusal is that connection's error only.
    rc, out, _ = probe(node_cluster, "pf-mixed", "default", echo_pod, 9000, 9001, "shared")
    assert rc == 0, out
    assert out[0]["refused"].endswith("connection refused")
    assert out[0]["echoed"] is True


@pytest.mark.parametrize("transport", ["websocket", "shared"])
def test_bytes_written_just_before_close_all_reach_the_pod(node_cluster, echo_pod, probe, transport):
    rc, sent, err = probe(node_cluster, "pf-send", "default", echo_pod, 9003, 3_000_000, transport)
    assert rc == 0, (sent, err)
    rc, told, err = probe(node_cluster, "pf-read", "default", echo_pod, 9004, 100, transport)
    assert rc == 0, (told, err)
    assert told[0]["text"] == sent[0]["sent"]


def test_a_connection_the_pod_resets_is_reported_not_left_open(node_cluster, echo_pod, probe):
    rc, out, _ = probe(node_cluster, "portforward", "default", echo_pod, 9002, 100, "shared", timeout=30)
    assert rc == 3
    assert out[0]["error"]["message"].endswith("connection reset by peer")


@pytest.mark.parametrize("transport", ["websocket", "shared"])
def test_missing_pod_is_reported(node_cluster, probe, transport):
    rc, out, _ = probe(node_cluster, "portforward", "default", "no-such-pod", 9000, 100, transport)
    assert rc == 3
    assert "HTTP 404" in out[0]["error"]["message"]


def test_a_server_without_the_shared_protocol_gets_one_websocket_per_connection(tmp_path, probe, probe_path):
    # A server before 1.31 refuses SPDY over WebSocket; the session falls back and still carries traffic.
    kubeconfig = start_cluster(tmp_path, KUBESIM_PORTFORWARD_TUNNEL="0")
    try:
        pod = start_echo_pod(kubeconfig, probe_path)
        rc, out, err = probe(kubeconfig, "pf-parallel", "default", pod, 9000, 4, 100_000, "shared")
        assert rc == 0, (out, err)
        assert all(not line["multiplexed"] and line["sent"] == line["received"] for line in out)
    finally:
        subprocess.run([str(KUBESIM), "down", "--state", str(tmp_path)], check=True, capture_output=True,
                       timeout=120)


def proxied_kubeconfig(node_cluster, proxy, tmp_path):
    """The cluster's kubeconfig with proxy-url set and every file path made absolute."""
    config = yaml.safe_load(node_cluster.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["proxy-url"] = proxy.url
        # The cluster's CA file is relative to the state dir; make it absolute for the copied config.
        if "certificate-authority" in cluster["cluster"]:
            cluster["cluster"]["certificate-authority"] = str(
                (node_cluster.parent / cluster["cluster"]["certificate-authority"]).resolve())
    proxied = tmp_path / "kubeconfig"
    for user in config["users"]:
        for key in ("client-certificate", "client-key"):
            if key in user["user"]:
                user["user"][key] = str((node_cluster.parent / user["user"][key]).resolve())
    proxied.write_text(yaml.safe_dump(config))
    return proxied, config


def test_port_forward_through_proxy_url(node_cluster, echo_pod, probe, tmp_path):
    proxy = ConnectProxy()
    try:
        proxied, config = proxied_kubeconfig(node_cluster, proxy, tmp_path)
        for transport in ("websocket", "shared"):
            rc, out, err = probe(proxied, "portforward", "default", echo_pod, 9000, 1024 * 1024, transport)
            assert rc == 0, (out, err)
            assert out[0]["sent"] == out[0]["received"]
        server = config["clusters"][0]["cluster"]["server"].removeprefix("https://")
        assert proxy.targets == [server, server]  # both WebSockets went through the proxy
    finally:
        proxy.close()


def test_a_proxy_answer_is_read_as_http_with_a_bound(node_cluster, echo_pod, probe, tmp_path):
    """A refusal whose reason happens to contain " 200", and a head that never ends, are both refused with
    what the proxy said; neither is taken for an open tunnel."""
    cases = [(b"HTTP/1.1 403 Forbidden by rule 200\r\n\r\n", "refused CONNECT: 403 Forbidden by rule 200"),
             (b"HTTP/1.1 200 OK\r\nX-Filler: " + b"a" * 40000, "its head is longer than 16384 bytes"),
             (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "gave no usable answer to CONNECT")]
    for answer, expected in cases:
        proxy = ConnectProxy(answer)
        try:
            proxied, _ = proxied_kubeconfig(node_cluster, proxy, tmp_path)
            rc, out, err = probe(proxied, "portforward", "default", echo_pod, 9000, 1024, "websocket")
            assert rc != 0 and expected in json.dumps(out), (answer[:40], out, err)
        finally:
            proxy.close()
