"""Traffic between pods, Services and cluster DNS, and the laptop's view of it (issue items 7, 8, 12).

A toolbox pod plays the client: it runs curl and getent in its own network namespace, as
`kubectl exec` would. The echo pods answer with their own name, so each test sees where a
request landed.
"""

import json
import subprocess
import threading
import time

import pytest

from conftest import echo_pod, in_netns, pod_netns, service, toolbox_pod


def curl(netns: str, url: str) -> dict:
    res = in_netns(netns, "curl", "-sS", "-m", "5", url)
    assert res.returncode == 0, f"curl {url}: rc={res.returncode} {res.stderr}"
    return json.loads(res.stdout)


@pytest.fixture
def web(kubectl, ns):
    """Two echo pods behind Service `web`, one other echo pod, and a toolbox pod."""
    kubectl.apply([echo_pod("web-a", {"app": "web"}), echo_pod("web-b", {"app": "web"}),
                   echo_pod("other", {"app": "other"}), toolbox_pod(),
                   service("web", {"app": "web"})], ns)
    kubectl.wait_ready(ns, "web-a", "web-b", "other", "toolbox")
    kubectl("wait", "-n", ns, "--for=jsonpath={.subsets[0].addresses[1].ip}", "endpoints/web",
            "--timeout=20s")
    return pod_netns(kubectl, ns, "toolbox")


def test_service_by_name_fqdn_and_cluster_ip(kubectl, ns, web):
    cluster_ip = kubectl.json("get", "svc", "-n", ns, "web")["spec"]["clusterIP"]
    seen = set()
    for host in ("web", f"web.{ns}", f"web.{ns}.svc", f"web.{ns}.svc.cluster.local", cluster_ip):
        answer = curl(web, f"http://{host}/hello")
        assert answer["namespace"] == ns
        assert answer["path"] == "/hello"
        assert answer["headers"]["Host"] == host
        seen.add(answer["pod"])
    # Five new connections alternate between the two ready endpoints.
    assert seen == {"web-a", "web-b"}


def test_dns_answers_services_and_pods_and_nothing_else(kubectl, ns, web):
    cluster_ip = kubectl.json("get", "svc", "-n", ns, "web")["spec"]["clusterIP"]
    res = in_netns(web, "getent", "hosts", f"web.{ns}.svc.cluster.local")
    assert res.returncode == 0 and res.stdout.split()[0] == cluster_ip
    pod_ip = kubectl.json("get", "pod", "-n", ns, "web-a")["status"]["podIP"]
    res = in_netns(web, "getent", "hosts", f"{pod_ip.replace('.', '-')}.{ns}.pod.cluster.local")
    assert res.returncode == 0 and res.stdout.split()[0] == pod_ip
    for name in ("nope", f"nope.{ns}.svc.cluster.local", "example.com"):
        assert in_netns(web, "getent", "hosts", name).returncode == 2, name
    # The same answer over TCP (what resolvers fall back to for long answers).
    res = in_netns(web, "/usr/bin/python3", "-c", TCP_QUERY, f"web.{ns}.svc.cluster.local")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == cluster_ip


TCP_QUERY = """
import socket, struct, sys
name = sys.argv[1]
q = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0" + struct.pack("!HH", 1, 1)
s = socket.create_connection(("10.96.0.10", 53), timeout=5)
s.sendall(struct.pack("!H", len(q)) + q)
n = struct.unpack("!H", s.recv(2))[0]
r = b""
while len(r) < n:
    r += s.recv(n - len(r))
assert struct.unpack("!H", r[:2])[0] == 7 and struct.unpack("!H", r[6:8])[0] == 1
print(socket.inet_ntoa(r[-4:]))
"""


def test_headless_service_resolves_to_ready_pod_ips(kubectl, ns, web):
    kubectl.apply(service("web-headless", {"app": "web"}, headless=True), ns)
    kubectl("wait", "-n", ns, "--for=jsonpath={.subsets[0].addresses[1].ip}",
            "endpoints/web-headless", "--timeout=20s")
    res = in_netns(web, "getent", "ahostsv4", "web-headless")
    assert res.returncode == 0, res.stderr
    ips = {line.split()[0] for line in res.stdout.splitlines()}
    pods = {kubectl.json("get", "pod", "-n", ns, p)["status"]["podIP"] for p in ("web-a", "web-b")}
    assert ips == pods


def test_selector_change_moves_new_connections(kubectl, ns, web):
    assert curl(web, "http://web/")["pod"] in ("web-a", "web-b")
    kubectl("patch", "-n", ns, "svc", "web", "--type=merge", "-p", '{"spec":{"selector":{"app":"other"}}}')
    other_ip = kubectl.json("get", "pod", "-n", ns, "other")["status"]["podIP"]
    kubectl("wait", "-n", ns, f"--for=jsonpath={{.subsets[0].addresses[0].ip}}={other_ip}",
            "endpoints/web", "--timeout=20s")
    assert {curl(web, "http://web/")["pod"] for _ in range(4)} == {"other"}


def ready_endpoint_names(kubectl, ns, name):
    ep = kubectl.json("get", "endpoints", "-n", ns, name)
    return sorted(a["targetRef"]["name"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def test_deleted_pod_drains(kubectl, ns, web):
    # Two slow requests through the Service: round robin puts one on each pod.
    slow = [subprocess.Popen(["ip", "netns", "exec", web, "curl", "-sS", "-m", "30", "http://web/delay/3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for pod in ("web-a", "web-b"):
            follower = kubectl.popen("logs", "-f", "-n", ns, pod)
            # The wait is bounded: a timer ends the log stream if the line never comes.
            timer = threading.Timer(20, follower.kill)
            timer.start()
            try:
                assert any("/delay/3 in flight" in line for line in follower.stdout), pod
            finally:
                timer.cancel()
                follower.kill()
                follower.wait()
        kubectl("delete", "-n", ns, "pod", "web-a", "--wait=false")
        deadline = time.monotonic() + 20
        while ready_endpoint_names(kubectl, ns, "web") != ["web-b"]:
            assert time.monotonic() < deadline, "web-a never left the endpoints"
        # New connections avoid the terminating pod ...
        assert {curl(web, "http://web/")["pod"] for _ in range(4)} == {"web-b"}
        # ... while the request it already had completes: the pod drained instead of dying.
        answers = [json.loads(p.communicate(timeout=30)[0]) for p in slow]
        assert sorted(a["pod"] for a in answers) == ["web-a", "web-b"]
    finally:
        for p in slow:
            if p.poll() is None:
                p.kill()
                p.wait()
    kubectl("wait", "-n", ns, "--for=delete", "pod/web-a", "--timeout=30s")


def test_host_cannot_reach_pod_or_service_ips_but_a_pod_can(kubectl, ns, web):
    cluster_ip = kubectl.json("get", "svc", "-n", ns, "web")["spec"]["clusterIP"]
    pod_ip = kubectl.json("get", "pod", "-n", ns, "web-a")["status"]["podIP"]
    for url in (f"http://{pod_ip}:8080/", f"http://{cluster_ip}/"):
        host = in_netns(None, "curl", "-sS", "-m", "2", url)
        assert host.returncode != 0, f"host reached {url}"
        assert curl(web, url)["namespace"] == ns
    routes = in_netns(None, "ip", "route", "show", "type", "blackhole").stdout
    assert "10.244.0.0/16" in routes and "10.96.0.0/16" in routes


def test_service_without_ready_endpoints_refuses_connections(kubectl, ns, web):
    kubectl.apply(service("empty", {"app": "nobody"}), ns)
    cluster_ip = kubectl.json("get", "svc", "-n", ns, "empty")["spec"]["clusterIP"]
    probe = ("import socket, sys\ntry:\n    socket.create_connection((sys.argv[1], 80), timeout=5)\n"
             "except ConnectionRefusedError:\n    print('refused')\n")
    res = in_netns(web, "/usr/bin/python3", "-c", probe, cluster_ip)
    assert res.stdout == "refused\n", (res.stdout, res.stderr)
    # Selecting a ready pod opens the Service.
    kubectl("patch", "-n", ns, "svc", "empty", "--type=merge", "-p", '{"spec":{"selector":{"app":"other"}}}')
    kubectl("wait", "-n", ns, "--for=jsonpath={.subsets[0].addresses[0].targetRef.name}=other",
            "endpoints/empty", "--timeout=20s")
    assert curl(web, f"http://{cluster_ip}/")["pod"] == "other"


def test_selectorless_service_uses_hand_written_endpoints(kubectl, ns, web):
    # What a tool that takes over traffic may do: a Service without selector, Endpoints by hand.
    other_ip = kubectl.json("get", "pod", "-n", ns, "other")["status"]["podIP"]
    kubectl.apply([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"},
                    "spec": {"ports": [{"name": "web", "port": 80, "targetPort": 8080}]}},
                   {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "manual"},
                    "subsets": [{"addresses": [{"ip": other_ip}], "ports": [{"name": "web", "port": 8080}]}]}],
                  ns)
    assert curl(web, "http://manual/")["pod"] == "other"
    web_a_ip = kubectl.json("get", "pod", "-n", ns, "web-a")["status"]["podIP"]
    kubectl("patch", "-n", ns, "endpoints", "manual", "--type=json", "-p",
            json.dumps([{"op": "replace", "path": "/subsets/0/addresses/0/ip", "value": web_a_ip}]))
    assert {curl(web, "http://manual/")["pod"] for _ in range(3)} == {"web-a"}


RESETTER = ("import socket, struct\n"
            "server = socket.create_server(('0.0.0.0', 9000))\n"
            "while True:\n"
            "    conn, _ = server.accept()\n"
            "    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n"
            "    conn.recv(1024)\n"
            "    conn.close()\n")


def test_a_reset_from_the_endpoint_reaches_the_client(kubectl, ns, web):
    # An endpoint that answers a request with RST: the client through the Service sees the reset (curl 56),
    # as through kube-proxy, instead of waiting until its timeout (curl 28).
    kubectl.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "resetter", "labels": {"app": "resetter"}},
                    "spec": {"containers": [{"name": "c", "image": "kubesim/toolbox",
                                             "command": ["/usr/bin/python3", "-c", RESETTER],
                                             "readinessProbe": {"tcpSocket": {"port": 9000}}}]}},
                   service("resetter", {"app": "resetter"}, target=9000)], ns)
    kubectl.wait_ready(ns, "resetter")
    kubectl("wait", "-n", ns, "--for=jsonpath={.subsets[0].addresses[0].targetRef.name}=resetter",
            "endpoints/resetter", "--timeout=20s")
    res = in_netns(web, "curl", "-sS", "-m", "15", "http://resetter/")
    assert res.returncode == 56, (res.returncode, res.stderr)


def test_the_gateway_keeps_its_mac_when_pods_come_and_go(cluster, kubectl, ns, web):
    # A bridge without an address of its own takes the lowest MAC of its ports: every new pod could
    # change the gateway's MAC under the running pods, whose cached neighbour entry then drops their
    # traffic to DNS and Services until it expires.
    node = f"{cluster.prefix}node"
    mac = in_netns(node, "cat", "/sys/class/net/br0/address").stdout.strip()
    kubectl.apply([echo_pod(f"more-{i}", {"app": "more"}) for i in range(4)], ns)
    kubectl.wait_ready(ns, *[f"more-{i}" for i in range(4)])
    assert in_netns(node, "cat", "/sys/class/net/br0/address").stdout.strip() == mac
    ports = in_netns(node, "ip", "-o", "link", "show", "master", "br0").stdout
    assert mac not in ports  # its own address, not one of a port that may go away
    assert curl(web, "http://web/")["namespace"] == ns
