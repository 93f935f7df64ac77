"""Shared fixtures for the node-side tests: a real kubesim cluster, kubectl, pod helpers.

`cluster` brings a real cluster up with `bin/kubesim up --detach` (one per test module) and
takes it down with `bin/kubesim down`, then asserts that nothing is left: no network
namespace or /etc/netns entry with the cluster's prefix, no cluster process, no state dir,
no /run/kubesim record.
`kubectl` runs the real kubectl with a fresh HOME and cache dir for every test.
"""

import base64
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KUBESIM = str(ROOT / "bin" / "kubesim")
KUBECTL = "/usr/bin/kubectl"


class ClusterHandle:
    def __init__(self, state: Path, kubeconfig: Path):
        self.state = state
        self.kubeconfig = kubeconfig
        self.cluster_id = (state / "cluster-id").read_text().strip()
        self.pid = int((state / "pid").read_text().strip())
        self.config = yaml.safe_load(kubeconfig.read_text())

    @property
    def prefix(self) -> str:
        return f"ks-{self.cluster_id}-"

    def netns(self) -> list[str]:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return [line.split()[0] for line in out.splitlines() if line.startswith(self.prefix)]

    def server(self) -> str:
        ctx = self._context("kubesim-admin")
        return next(c["cluster"]["server"] for c in self.config["clusters"] if c["name"] == ctx["cluster"])

    def _context(self, name):
        return next(c["context"] for c in self.config["contexts"] if c["name"] == name)

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context for the admin user (client certificate) of the kubeconfig."""
        ctx_info = self._context("kubesim-admin")
        cluster = next(c["cluster"] for c in self.config["clusters"] if c["name"] == ctx_info["cluster"])
        user = next(u["user"] for u in self.config["users"] if u["name"] == ctx_info["user"])
        base = self.kubeconfig.parent

        def material(kind):
            if f"{kind}-data" in user or f"{kind}-data" in cluster:
                data = user.get(f"{kind}-data") or cluster.get(f"{kind}-data")
                f = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")
                f.write(base64.b64decode(data))
                f.close()
                return f.name
            path = user.get(kind) or cluster.get(kind)
            return str(base / path) if path and not os.path.isabs(path) else path

        ctx = ssl.create_default_context(cafile=material("certificate-authority"))
        ctx.load_cert_chain(material("client-certificate"), material("client-key"))
        return ctx


def process_alive(pid: int) -> bool:
    """True while pid runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def readline(proc: subprocess.Popen, timeout: float = 30) -> str:
    """One line of a child's stdout, bounded: the child is killed if nothing comes in time
    (the line is then empty and the test's assertion on it fails instead of hanging)."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        return proc.stdout.readline()
    finally:
        timer.cancel()


def _down(state: Path) -> subprocess.CompletedProcess:
    return subprocess.run([KUBESIM, "down", "--state", str(state)], capture_output=True, text=True,
                          timeout=60)


def start_cluster(state: Path, *extra: str) -> ClusterHandle:
    res = subprocess.run([KUBESIM, "up", "--detach", "--state", str(state), *extra],
                         capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, f"kubesim up failed: {res.stdout}\n{res.stderr}"
    kubeconfig = Path(res.stdout.strip().splitlines()[-1])
    assert kubeconfig.exists()
    return ClusterHandle(state, kubeconfig)


def stop_cluster(handle: ClusterHandle) -> None:
    res = _down(handle.state)
    assert res.returncode == 0, res.stderr
    assert handle.netns() == [], f"namespaces left behind: {handle.netns()}"
    assert not any(n.startswith(handle.prefix) for n in os.listdir("/etc/netns")) \
        if os.path.isdir("/etc/netns") else True
    assert not process_alive(handle.pid), "cluster process still running"
    assert not Path(f"/run/kubesim/{handle.cluster_id}").exists(), "cluster record left behind"
    assert not handle.state.exists(), "state dir left behind"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("kubesim") / "state"
    handle = start_cluster(state)
    try:
        yield handle
    finally:
        stop_cluster(handle)


class Kubectl:
    def __init__(self, cluster: ClusterHandle, home: Path):
        self.cluster = cluster
        self.env = dict(os.environ, HOME=str(home), KUBECACHEDIR=str(home / "cache"),
                        KUBECONFIG=str(cluster.kubeconfig))

    def __call__(self, *args, input=None, check=True, timeout=60, env=None):
        res = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True,
                             timeout=timeout, env={**self.env, **(env or {})})
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({res.returncode}):\n"
                                 f"{res.stdout}\n{res.stderr}")
        return res

    def popen(self, *args, env=None):
        return subprocess.Popen([KUBECTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**self.env, **(env or {})})

    def apply(self, doc, namespace: str):
        text = doc if isinstance(doc, str) else yaml.safe_dump_all(doc if isinstance(doc, list) else [doc])
        return self("apply", "-n", namespace, "-f", "-", input=text)

    def json(self, *args):
        return json.loads(self(*args, "-o", "json").stdout)

    def wait_ready(self, namespace: str, *pods: str, timeout: int = 30):
        self("wait", "-n", namespace, "--for=condition=Ready", f"--timeout={timeout}s",
             *[f"pod/{p}" for p in pods], timeout=timeout + 15)


@pytest.fixture
def kubectl(cluster, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return Kubectl(cluster, home)


@pytest.fixture
def ns(kubectl):
    name = "t-" + uuid.uuid4().hex[:8]
    # `kubectl create namespace` would send protobuf; apply sends JSON.
    kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def pod_netns(kubectl: Kubectl, namespace: str, pod: str) -> str:
    obj = kubectl.json("get", "pod", "-n", namespace, pod)
    return obj["metadata"]["annotations"]["kubesim.io/netns"]


def in_netns(netns: str, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Runs a command inside a pod's (or the host's, netns=None) network namespace."""
    argv = (["ip", "netns", "exec", netns] if netns else []) + list(cmd)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def echo_pod(name: str, labels: dict | None = None, port: int = 8080, **extra) -> dict:
    container = {"name": "echo", "image": "kubesim/echo",
                 "env": [{"name": "PORT", "value": str(port)}],
                 "ports": [{"name": "http", "containerPort": port}],
                 "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}
    container.update(extra)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 5, "containers": [container]}}


def toolbox_pod(name: str = "toolbox") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 2,
                     "containers": [{"name": "toolbox", "image": "kubesim/toolbox"}]}}


def service(name: str, selector: dict, port: int = 80, target="http", headless=False) -> dict:
    spec = {"selector": selector, "ports": [{"name": "web", "port": port, "targetPort": target}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


__all__ = ["start_cluster", "stop_cluster", "in_netns", "pod_netns", "echo_pod", "toolbox_pod",
           "service", "readline", "KUBESIM"]
