#!/usr/bin/python3
"""bench/kube: Tether's Kubernetes client beside `kubectl port-forward`, in one run, through kubesim.

Rows: port-forward bulk throughput (MB/s, one connection reading 256 MiB from a pod, and one writing
256 MiB to a pod that answers once it has read them all) and connection set-up latency (open a forwarded connection, read the pod's first byte; p50/p99 over 50), for ours on a
shared SPDY session (SPDY/3.1 inside one WebSocket, as kubectl >= 1.31), ours with one WebSocket
v4.channel.k8s.io per connection, and kubectl port-forward to the same pod; then request latency p50/p99
for get, list and patch. The set-up target answers from an accept loop (no fork per connection), so the
numbers are the forwarding path's, not a process start inside the pod. Prints a table; never fails the
build.
Usage: bench/kube/run.py BUILD_DIR (needs root: kubesim's network namespaces).
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KUBESIM = ROOT / "tests" / "kubesim" / "bin" / "kubesim"
BULK = 256 * 1024 * 1024
UPLOAD = 256 * 1024 * 1024
SETUPS = 50

# Greets every connection at once and closes it: an accept loop, so set-up latency is not a fork.
HELLO = """
import socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 9101))
server.listen(128)
while True:
    connection, _ = server.accept()
    connection.sendall(b"hi\\n")
    connection.close()
"""

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-source"},
       "spec": {"containers": [
           {"name": "bulk", "image": "kubesim/toolbox",
            "command": ["socat", "TCP-LISTEN:9100,reuseaddr,fork", f"SYSTEM:head -c {BULK} /dev/zero"]},
           {"name": "sink", "image": "kubesim/toolbox",
            "command": ["socat", "TCP-LISTEN:9102,reuseaddr,fork", f"SYSTEM:head -c {UPLOAD} | wc -c"]},
           {"name": "hello", "image": "kubesim/toolbox",
            "command": ["/usr/bin/python3", "-c", HELLO],
            "readinessProbe": {"tcpSocket": {"port": 9101}}}]}}


def percentile(values, p):
    values = sorted(values)
    return values[int(p * (len(values) - 1))]


def kubectl_port_forward(kubeconfig, env, port):
    """Starts `kubectl port-forward` on a free local port and returns (process, local port)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    local = probe.getsockname()[1]
    probe.close()
    process = subprocess.Popen(["kubectl", "--kubeconfig", str(kubeconfig), "port-forward", "pod/bench-source",
                                f"{local}:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    line = process.stdout.readline()  # "Forwarding from 127.0.0.1:N -> P" once it listens
    if "Forwarding" not in line:
        raise RuntimeError("kubectl port-forward did not start: " + process.stderr.read())
    return process, local


def main():
    build = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build" / "bench")
    probe = build / "tests" / "kube" / "kube_probe"
    state = Path(tempfile.mkdtemp(prefix="tether-bench-kube-"))
    home = Path(tempfile.mkdtemp(prefix="tether-bench-home-"))
    env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / "cache")}
    subprocess.run([str(KUBESIM), "up", "--detach", "--state", str(state)], check=True, capture_output=True)
    kubeconfig = state / "kubeconfig"
    run = lambda *a: json.loads(subprocess.run([str(probe), "--kubeconfig", str(kubeconfig), *map(str, a)],
                                               check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    try:
        run("create", "pods", "default", json.dumps(POD))
        run("wait-ready", "default", "bench-source", 30000)
        ours = {}
        for mode in ("shared", "websocket"):
            ours[mode] = (run("pf-download", "default", "bench-source", 9100, BULK, mode)["mbps"],
                          run("pf-upload", "default", "bench-source", 9102, UPLOAD, mode)["mbps"],
                          run("pf-setup", "default", "bench-source", 9101, SETUPS, mode))

        process, local = kubectl_port_forward(kubeconfig, env, 9100)
        try:
            start, got = time.monotonic(), 0
            with socket.create_connection(("127.0.0.1", local)) as sock:
                while got < BULK:
                    data = sock.recv(1 << 20)
                    if not data:
                        break
                    got += len(data)
            kubectl_bulk = got / 1e6 / (time.monotonic() - start)
        finally:
            process.terminate()
            process.wait()
        process, local = kubectl_port_forward(kubeconfig, env, 9102)
        try:
            start = time.monotonic()
            with socket.create_connection(("127.0.0.1", local)) as sock:
                chunk = b"u" * (1 << 20)
                for _ in range(UPLOAD // len(chunk)):
                    sock.sendall(chunk)
                answer = sock.recv(256)
            kubectl_upload = UPLOAD / 1e6 / (time.monotonic() - start) if answer.strip() else float("nan")
        finally:
            process.terminate()
            process.wait()
        process, local = kubectl_port_forward(kubeconfig, env, 9101)
        try:
            setups = []
            for _ in range(SETUPS):
                start = time.monotonic()
                with socket.create_connection(("127.0.0.1", local)) as sock:
                    sock.recv(1)
                setups.append((time.monotonic() - start) * 1000)
        finally:
            process.terminate()
            process.wait()
        requests = run("requests", "default", 200)

        print("bench/kube (kubesim, one run)")
        print(f"{'path':34} {'bulk MB/s':>10} {'upload MB/s':>12} {'setup p50 ms':>13} {'setup p99 ms':>13}")
        names = {"shared": "tether, shared session (SPDY/WS)", "websocket": "tether, WebSocket v4 each"}
        for mode, (bulk, upload, setup) in ours.items():
            if mode == "shared" and not setup["multiplexed"]:
                names[mode] += " [fell back]"
            print(f"{names[mode]:34} {bulk:10.0f} {upload:12.0f} {setup['p50_ms']:13.1f} {setup['p99_ms']:13.1f}")
        print(f"{'kubectl port-forward (SPDY/WS)':34} {kubectl_bulk:10.0f} {kubectl_upload:12.0f} "
              f"{percentile(setups, .5):13.1f} "
              f"{percentile(setups, .99):13.1f}")
        print(f"\n{'request (tether client)':34} {'p50 ms':>10} {'p99 ms':>13}")
        for name in ("get", "list", "patch"):
            print(f"{name:34} {requests[name]['p50_ms']:10.2f} {requests[name]['p99_ms']:13.2f}")
    finally:
        subprocess.run([str(KUBESIM), "down", "--state", str(state)], capture_output=True)


if __name__ == "__main__":
    main()
