"""`python3 -m kubesim.api` serves the API without root and cleans up after SIGTERM."""
import os
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_standalone_api_server(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen(["/usr/bin/python3", "-m", "kubesim.api", "--state", str(state)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        kubeconfig = proc.stdout.readline().strip()
        assert kubeconfig == str(state / "kubeconfig"), proc.stderr.read() if proc.poll() is not None else ""
        home = tmp_path / "home"
        home.mkdir()
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "KUBECACHEDIR": str(home / "cache"),
               "KUBECONFIG": kubeconfig}
        out = subprocess.run(["/usr/bin/kubectl", "get", "ns", "default", "-o", "name"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "namespace/default", out.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert not state.exists(), "the state directory is removed on exit"
