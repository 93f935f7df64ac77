"""The shadow pod as a restricted cluster sees it: it passes Pod Security "restricted", binds a Service's
port below 1024 without root or capabilities, is restarted in place when it crashes (an OOM kill) while the
session carries on, and takes its token Secret with it when it is deleted."""
import json
import os
import signal
import socket
import subprocess
import threading

from exchange_support import LocalServer

RESTRICTED = "pod-security.kubernetes.io/enforce=restricted"


def shadow_of(demo, session):
    return f"tether-{session['target']}-{session['id']}"


def test_exchange_in_a_restricted_namespace_on_a_port_below_1024(demo, launcher):
    # A Service whose pods listen on port 80: the shadow takes that port over as uid 65532.
    demo.cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "legacy", "namespace": demo.ns},
                        "spec": {"selector": {"app": "inventory"}, "ports": [{"port": 80, "targetPort": 80}]}})
    demo.kubectl("label", "namespace", demo.ns, RESTRICTED)
    before = demo.svc("legacy")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "legacy", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    pod = json.loads(demo.kubectl("get", "pod", shadow_of(demo, session), "-o", "json").stdout)
    spec = pod["spec"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["sysctls"] == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}]
    assert spec["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}  # nothing added back
    assert spec["restartPolicy"] == "OnFailure"
    assert demo.get_json("http://legacy/low-port") == local.answer("/low-port")
    assert exchange.interrupt() == 0
    demo.assert_restored("legacy", before)
    demo.wait_tether_objects_gone()
    local.close()


def test_a_crashed_shadow_is_restarted_and_the_session_carries_on(demo, launcher):
    """An OOM kill is a SIGKILL: the kubelet restarts the agent in the same pod, the Service keeps its
    endpoint, and the client reconnects to it."""
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    shadow = shadow_of(demo, session)
    assert demo.get_json("http://orders/before") == local.answer("/before")
    start = len(exchange.events)

    netns = json.loads(demo.kubectl("get", "pod", shadow, "-o", "json").stdout)["metadata"]["annotations"][
        "kubesim.io/netns"]
    pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, check=True).stdout.split()
    assert pids
    for pid in pids:
        os.kill(int(pid), signal.SIGKILL)

    index, _ = exchange.wait_state("reconnecting", start, timeout=60)
    exchange.wait_state("active", index + 1, timeout=90)
    restarts = demo.kubectl("get", "pod", shadow, "-o", "jsonpath={.status.containerStatuses[0].restartCount}").stdout
    assert restarts == "1"
    assert demo.get_json("http://orders/after") == local.answer("/after")
    assert "failed" not in exchange.session_states()
    assert exchange.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


def test_deleting_the_shadow_pod_deletes_its_token(demo, launcher):
    """The token Secret is owned by the shadow pod: with the backend gone (kill -9), deleting the pod by hand
    leaves no Secret behind."""
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    shadow = shadow_of(demo, session)
    pod_uid = demo.kubectl("get", "pod", shadow, "-o", "jsonpath={.metadata.uid}").stdout
    owners = json.loads(demo.kubectl("get", "secret", f"{shadow}-token", "-o", "json").stdout)["metadata"][
        "ownerReferences"]
    assert [(o["kind"], o["name"], o["uid"]) for o in owners] == [("Pod", shadow, pod_uid)]
    exchange.process.send_signal(signal.SIGKILL)
    exchange.wait()
    demo.kubectl("delete", "pod", shadow, "--wait=false")
    demo.kubectl("wait", "--for=delete", f"secret/{shadow}-token", "--timeout=60s")
    launcher.run(launcher.env(), "recover", "orders", "-n", demo.ns)
    local.close()


class ProxyProtocolServer:
    """A local app that expects a PROXY v1 line before each HTTP request and answers with what it said."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                first = data.split(b"\r\n", 1)[0].decode()
                body = json.dumps({"proxy": first}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))

    def close(self):
        self.sock.close()


def test_proxy_protocol_names_the_cluster_client(demo, launcher):
    """Cluster connections reach the local app from 127.0.0.1; with --proxy-protocol each starts with a line
    naming the pod that really called."""
    local = ProxyProtocolServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns, "--proxy-protocol")
    session = exchange.wait_started()
    shadow_ip = demo.kubectl("get", "pod", shadow_of(demo, session), "-o", "jsonpath={.status.podIP}").stdout
    client_ip = demo.kubectl("get", "pod", "client", "-o", "jsonpath={.status.podIP}").stdout
    line = demo.get_json(f"http://{shadow_ip}:8080/")["proxy"]
    words = line.split(" ")
    assert words[:4] == ["PROXY", "TCP4", client_ip, shadow_ip] and words[5] == "8080", line
    assert exchange.interrupt() == 0
    demo.wait_tether_objects_gone()
    local.close()
