"""`kubectl port-forward` to a pod and to svc/NAME, over the WebSocket tunnel (kubectl 1.31+
default) and over the plain SPDY upgrade (KUBECTL_PORT_FORWARD_WEBSOCKETS=false)."""

import json
import re
import subprocess

import pytest

from conftest import echo_pod, readline, service

WS_OFF = {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}


class Forward:
    """A running `kubectl port-forward`; the local port is read from its first line."""

    def __init__(self, kubectl, *args, env=None):
        self.proc = kubectl.popen("port-forward", *args, env=env)
        line = readline(self.proc)
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
        if not m:
            self.close()
            raise AssertionError(f"unexpected port-forward output: {line!r} {self.proc.stderr.read()}")
        self.local, self.remote = int(m.group(1)), int(m.group(2))

    def get(self, path="/", check=True):
        res = subprocess.run(["curl", "-sS", "-m", "10", f"http://127.0.0.1:{self.local}{path}"],
                             capture_output=True, timeout=20)
        if check:
            assert res.returncode == 0, res.stderr
        return res

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def echo(kubectl, ns):
    kubectl.apply([echo_pod("pf", {"app": "pf"}), service("pf-svc", {"app": "pf"})], ns)
    kubectl.wait_ready(ns, "pf")
    return ns


@pytest.mark.parametrize("env", [None, WS_OFF], ids=["websocket-tunnel", "spdy-upgrade"])
def test_port_forward_to_pod(kubectl, echo, env):
    fwd = Forward(kubectl, "-n", echo, "pod/pf", ":8080", env=env)
    try:
        assert fwd.remote == 8080
        for i in range(3):
            # Each request is a new local connection, so a new pair of streams.
            answer = json.loads(fwd.get(f"/n{i}").stdout)
            assert answer["pod"] == "pf" and answer["path"] == f"/n{i}"
        big = fwd.get("/bytes/3000000").stdout
        assert len(big) == 3000000
    finally:
        fwd.close()


@pytest.mark.parametrize("env", [None, WS_OFF], ids=["websocket-tunnel", "spdy-upgrade"])
def test_port_forward_to_service_translates_target_port(kubectl, echo, env):
    fwd = Forward(kubectl, "-n", echo, "svc/pf-svc", ":80", env=env)
    try:
        assert fwd.remote == 8080
        assert json.loads(fwd.get("/via-svc").stdout)["pod"] == "pf"
    finally:
        fwd.close()


def test_port_forward_to_closed_port_reports_the_error(kubectl, echo):
    fwd = Forward(kubectl, "-n", echo, "pod/pf", ":9999")
    try:
        assert fwd.get("/", check=False).returncode != 0
        fwd.proc.wait(timeout=20)
        err = fwd.proc.stderr.read()
        assert "an error occurred forwarding" in err and "connection refused" in err
    finally:
        fwd.close()
