"""Fixtures for the C++ Kubernetes client's integration tests.

`sim` is kubesim's API server (real HTTPS, auth, RBAC, watch) with the fake kubelet, in this process
(kubesim.api.testing.Cluster), so tests can also reach into its store (compaction for 410 Expired).
`node_cluster` is a whole kubesim cluster (`bin/kubesim up`, needs root) for port-forward traffic.
The client under test is the real C++ code: the `kube_probe` driver and the `tether` binary.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBESIM = ROOT / "tests" / "kubesim"
sys.path.insert(0, str(KUBESIM))

from kubesim.api.testing import Cluster  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--probe", default=str(ROOT / "build/dev/tests/kube/kube_probe"))
    parser.addoption("--tether", default=str(ROOT / "build/dev/server/tether"))


@pytest.fixture(scope="session")
def probe_path(request):
    return request.config.getoption("--probe")


@pytest.fixture(scope="session")
def tether_path(request):
    return request.config.getoption("--tether")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("kube-sim"))
    yield cluster
    cluster.stop()


class Kubeconfigs:
    """Writes kubeconfig files for one API server with the user and cluster settings a test needs."""

    def __init__(self, directory: Path, server: str, ca_file: Path):
        self.directory = directory
        self.server = server
        self.ca_file = ca_file
        self.count = 0

    def write(self, user: dict, cluster: dict | None = None, namespace: str = "default") -> Path:
        self.count += 1
        cluster_entry = {"server": self.server, "certificate-authority": str(self.ca_file)}
        cluster_entry.update(cluster or {})
        cluster_entry = {k: v for k, v in cluster_entry.items() if v is not None}
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "c", "cluster": cluster_entry}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "test", "context": {"cluster": "c", "user": "u", "namespace": namespace}}],
        }
        path = self.directory / f"kubeconfig-{self.count}"
        path.write_text(yaml.safe_dump(config))
        return path


@pytest.fixture
def kubeconfigs(sim, tmp_path):
    return Kubeconfigs(tmp_path, f"https://127.0.0.1:{sim.port}", sim.state_dir / "ca.crt")


@pytest.fixture
def admin_token(sim):
    return (sim.state_dir / "admin-token").read_text().strip()


class Probe:
    def __init__(self, path: str):
        self.path = path

    def __call__(self, kubeconfig: Path, *args, timeout: float = 60, env: dict | None = None):
        completed = subprocess.run([self.path, "--kubeconfig", str(kubeconfig), *map(str, args)],
                                   capture_output=True, text=True, timeout=timeout,
                                   env={**os.environ, **(env or {})})
        lines = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
        return completed.returncode, lines, completed.stderr


@pytest.fixture
def probe(probe_path):
    return Probe(probe_path)


def rpc_session(tether: str, requests: list[dict], env: dict | None = None, timeout: float = 60) -> list[dict]:
    """Runs `tether serve --stdio` with initialize + requests + shutdown/exit; returns the responses by id."""
    messages = [{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}] + requests + [
        {"jsonrpc": "2.0", "id": 999, "method": "shutdown"}, {"jsonrpc": "2.0", "method": "exit"}]
    # One message at a time, each request waiting for its answer: a test can act between two requests
    # (an item that is a plain function is called at that point, e.g. to rotate a token file).
    process = subprocess.Popen([tether, "serve", "--stdio", "--log-level=warn"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    responses = {}

    def read_one():
        length = None
        while True:
            line = process.stdout.readline()
            if not line:
                raise AssertionError("tether closed its output: " + process.stderr.read().decode()[-2000:])
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(process.stdout.read(length))

    for message in messages:
        if callable(message):
            message()
            continue
        body = json.dumps(message).encode()
        process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        process.stdin.flush()
        if "id" in message:
            while True:
                answer = read_one()
                if "id" in answer:
                    responses[answer["id"]] = answer
                    break
    process.stdin.close()
    assert process.wait(timeout=timeout) == 0
    return responses
