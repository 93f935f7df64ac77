"""Fixtures for the end-to-end tests on kubesim: a whole cluster (root) whose image map runs the shadow
binary this build produced for `ghcr.io/tether-dev/tether-shadow` images (any tag or digest) and the demo app (demo/app.py) for `demo/app:*`."""
import json
import os
import secrets
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))  # tethertest

from exchange_support import Launcher, make_demo, namespace_for

ROOT = Path(__file__).resolve().parents[2]
KUBESIM = ROOT / "tests" / "kubesim" / "bin" / "kubesim"


def pytest_addoption(parser):
    parser.addoption("--driver", default=str(ROOT / "build/dev/tests/e2e/tunnel_via_kube"))
    parser.addoption("--shadow", default=str(ROOT / "build/dev/shadow/tether-shadow"))
    parser.addoption("--tether", default=str(ROOT / "build/dev/server/tether"))


@pytest.fixture(scope="session")
def driver(request):
    return request.config.getoption("--driver")


@pytest.fixture(scope="session")
def tether(request):
    return request.config.getoption("--tether")


@pytest.fixture(scope="session")
def cluster(request, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("kubesim needs root (network namespaces); run the suite as root, as CI does")
    state = tmp_path_factory.mktemp("e2e-cluster")
    image_map = state.parent / f"{state.name}-images.json"
    image_map.write_text(json.dumps({
        "ghcr.io/tether-dev/tether-shadow": {"command": [request.config.getoption("--shadow")]},
        "demo/app": {"command": ["/usr/bin/python3", str(ROOT / "demo" / "app.py")]},
        "e2e/grpc-echo": {"command": ["/usr/bin/python3", str(Path(__file__).resolve().parent / "grpc_echo.py")]},
        # Servers whose clients ignore proxy variables (--outbound netns): Debian's own binaries.
        "e2e/redis": {"command": ["/usr/bin/redis-server", "--port", "6379", "--bind", "0.0.0.0", "--protected-mode",
                                  "no", "--save", "", "--appendonly", "no"]},
        "e2e/postgres": {"command": ["/bin/sh", str(Path(__file__).resolve().parent / "postgres_pod.sh")]}}))
    subprocess.run([str(KUBESIM), "up", "--detach", "--state", str(state), "--image-map", str(image_map)],
                   check=True, capture_output=True, timeout=120)
    home = Path(tempfile.mkdtemp(prefix="e2e-home-"))
    yield Cluster(state / "kubeconfig", home)
    subprocess.run([str(KUBESIM), "down", "--state", str(state)], check=True, capture_output=True, timeout=120)


class Cluster:
    def __init__(self, kubeconfig: Path, home: Path):
        self.kubeconfig = kubeconfig
        self.env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / "cache"),
                    "KUBECONFIG": str(kubeconfig)}

    def kubectl(self, *args, input=None, check=True, timeout=120):
        return subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, env=self.env,
                              check=check, timeout=timeout)

    def apply(self, manifest: dict):
        self.kubectl("apply", "-f", "-", input=json.dumps(manifest))


# --- the exchange tests: a backend launcher and a namespace with the sample app per test ---------------

@pytest.fixture
def launcher(tether, cluster, tmp_path):
    launcher = Launcher(tether, cluster, tmp_path)
    yield launcher
    launcher.close()


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
