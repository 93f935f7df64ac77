"""Fixtures for the end-to-end tests on kubesim: a whole cluster (root) whose image map runs the shadow
binary this build produced for `tether-shadow:*` images and the demo app (demo/app.py) for `demo/app:*`."""
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

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


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("kubesim needs root (network namespaces); run the suite as root, as CI does")
    state = tmp_path_factory.mktemp("e2e-cluster")
    image_map = state.parent / f"{state.name}-images.json"
    image_map.write_text(json.dumps({
        "tether-shadow:": {"command": [request.config.getoption("--shadow")]},
        "demo/app": {"command": ["/usr/bin/python3", str(ROOT / "demo" / "app.py")]}}))
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
