"""Port-forward over WebSocket v4.channel.k8s.io through a whole kubesim cluster: 64 MiB both ways with
matching sha256, the error channel's text, and the same through an HTTP CONNECT proxy."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from proxy import ConnectProxy

KUBESIM = Path(__file__).resolve().parents[1] / "kubesim" / "bin" / "kubesim"

ECHO_POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tcp-echo"},
    "spec": {"containers": [{
        "name": "echo", "image": "kubesim/toolbox",
        "command": ["socat", "TCP-LISTEN:9000,reuseaddr,fork", "EXEC:cat"],
        "readinessProbe": {"tcpSocket": {"port": 9000}}}]}}


@pytest.fixture(scope="module")
def node_cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("kubesim needs root (network namespaces); run the suite as root, as CI does")
    state = tmp_path_factory.mktemp("kube-node")
    subprocess.run([str(KUBESIM), "up", "--detach", "--state", str(state)], check=True, capture_output=True, timeout=120)
    yield state / "kubeconfig"
    subprocess.run([str(KUBESIM), "down", "--state", str(state)], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def echo_pod(node_cluster, probe_path):
    from conftest import Probe
    probe = Probe(probe_path)
    rc, out, err = probe(node_cluster, "create", "pods", "default", json.dumps(ECHO_POD))
    assert rc == 0, (out, err)
    rc, out, err = probe(node_cluster, "wait-ready", "default", "tcp-echo", 30000)
    assert rc == 0, (out, err)
    return "tcp-echo"


def test_64_mib_both_ways_with_matching_sha256(node_cluster, echo_pod, probe):
    rc, out, err = probe(node_cluster, "portforward", "default", echo_pod, 9000, 64 * 1024 * 1024, timeout=180)
    assert rc == 0, (out, err)
    assert out[0]["bytes"] == 64 * 1024 * 1024
    assert out[0]["sent"] == out[0]["received"]


def test_nothing_listening_is_reported_from_the_error_channel(node_cluster, echo_pod, probe):
    rc, out, _ = probe(node_cluster, "portforward", "default", echo_pod, 9001, 100)
    assert rc == 3
    message = out[0]["error"]["message"]
    assert message.startswith("port-forward to pod default/tcp-echo port 9001: ")
    assert "connection refused" in message


def test_missing_pod_is_reported(node_cluster, probe):
    rc, out, _ = probe(node_cluster, "portforward", "default", "no-such-pod", 9000, 100)
    assert rc == 3
    assert "HTTP 404" in out[0]["error"]["message"]


def test_port_forward_through_proxy_url(node_cluster, echo_pod, probe, tmp_path):
    proxy = ConnectProxy()
    try:
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
        rc, out, err = probe(proxied, "portforward", "default", echo_pod, 9000, 1024 * 1024)
        assert rc == 0, (out, err)
        assert out[0]["sent"] == out[0]["received"]
        server = config["clusters"][0]["cluster"]["server"].removeprefix("https://")
        assert proxy.targets == [server]  # the WebSocket went through the proxy
    finally:
        proxy.close()
