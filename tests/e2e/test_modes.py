"""connect, preview and forward on kubesim, with real traffic: each does what it says and leaves the cluster
as it was (connect and forward change nothing but their shadow; preview's Service goes with it)."""
import json
import os
import signal
import socket
import struct
import subprocess

import pytest

from exchange_support import LocalServer, free_port, watch_until

CONNECT_CHECK = r'''
import json, os, subprocess, sys
import requests

ns = sys.argv[2]
results = {}
for name, url in (("short", "http://inventory/short"), ("fqdn", f"http://inventory.{ns}.svc.cluster.local/fqdn")):
    curl = subprocess.run(["curl", "-sS", "--max-time", "20", url], capture_output=True, text=True)
    results["curl_" + name] = json.loads(curl.stdout) if curl.returncode == 0 else curl.stderr
results["requests"] = requests.get("http://frontend/requests", timeout=20).json()
java = subprocess.run(["java", sys.argv[3]], capture_output=True, text=True, timeout=120)
results["java"] = [json.loads(line) for line in java.stdout.splitlines() if line.startswith("{")]
results["java_stderr"] = java.stderr
with open(sys.argv[1], "w") as out:
    json.dump(results, out)
'''

JAVA_CLIENT = """
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;

public class Fetch {
  public static void main(String[] args) throws Exception {
    HttpURLConnection connection = (HttpURLConnection) new URL("http://inventory/jvm").openConnection();
    connection.setConnectTimeout(20000);
    connection.setReadTimeout(20000);
    try (InputStream in = connection.getInputStream()) {
      System.out.println(new String(in.readAllBytes()));
    }
  }
}
"""


def snapshot(demo):
    """Everything in the namespace that is not Tether's own: Services (with their specs) and Deployments."""
    deployments = json.loads(demo.kubectl("get", "deployments", "-o", "json").stdout)["items"]
    return demo.services(), {d["metadata"]["name"]: (d["metadata"]["resourceVersion"], d["spec"]["replicas"])
                             for d in deployments}


# --- connect ----------------------------------------------------------------------------------------------

def test_connect_gives_a_command_the_namespace_by_name_and_changes_nothing(demo, launcher, tmp_path):
    before = snapshot(demo)
    found = tmp_path / "connect.json"
    java = tmp_path / "Fetch.java"
    java.write_text(JAVA_CLIENT)
    connect = launcher.cli(launcher.env(), "-n", demo.ns, "--", "/usr/bin/python3", "-c", CONNECT_CHECK, found,
                           demo.ns, java, command="connect")
    assert connect.wait(timeout=180) == 0, connect.stderr_text()
    results = json.loads(found.read_text())
    assert (results["curl_short"]["service"], results["curl_short"]["path"]) == ("inventory", "/short"), results
    assert (results["curl_fqdn"]["service"], results["curl_fqdn"]["path"]) == ("inventory", "/fqdn"), results
    assert (results["requests"]["service"], results["requests"]["path"]) == ("frontend", "/requests")
    assert [(r["service"], r["path"]) for r in results["java"]] == [("inventory", "/jvm")], results["java_stderr"]
    session = next(e["session"] for e in connect.events if e.get("event") == "session")
    assert session["mode"] == "connect" and session["target"] == ""
    demo.wait_tether_objects_gone()
    assert snapshot(demo) == before


def test_connect_without_a_command_runs_until_stopped_with_only_its_shadow_in_the_cluster(demo, launcher):
    before = snapshot(demo)
    env = launcher.env()
    connect = launcher.cli(env, "-n", demo.ns, command="connect")
    session = connect.wait_started()
    # `tether sessions` lists this machine's sessions, from the state file its tether keeps.
    listed = subprocess.run([launcher.tether, "sessions"], env=env, capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:4] == ["ID", "MODE", "TARGET", "NAMESPACE"]
    assert row.split()[:4] == [session["id"], "connect", "-", demo.ns] and "running (pid" in row
    shadow = f"tether-connect-{session['id']}"
    assert sorted(demo.tether_objects()) == [f"pod/{shadow}", f"secret/{shadow}-token"]
    pod = watch_until(demo.cluster, demo.ns, "pods", shadow,
                      lambda p: "tether.dev/heartbeat" in (p["metadata"].get("annotations") or {}))
    assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tether"
    assert pod["metadata"]["annotations"]["tether.dev/mode"] == "connect"
    # The launch environment reaches the namespace from any process given it.
    # The session's DNS forwarder answers names as the namespace's pods resolve them.
    host, port = session["dns"].split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(20)
        name = f"inventory.{demo.ns}.svc.cluster.local"
        question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01"
        udp.sendto(struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + question, (host, int(port)))
        answer = udp.recv(4096)
    qid, flags, _, answers, _, _ = struct.unpack(">HHHHHH", answer[:12])
    cluster_ip = demo.svc("inventory")["spec"]["clusterIP"]
    assert qid == 0x4242 and flags & 0xF == 0 and answers >= 1
    assert answer[-4:] == socket.inet_aton(cluster_ip)
    curl = subprocess.run(["curl", "-sS", "--max-time", "20", "http://inventory/by-env"],
                          env={**os.environ, **session["launch"]["env"]},
                          capture_output=True, text=True)
    assert json.loads(curl.stdout)["service"] == "inventory", curl.stderr
    # The session renews a heartbeat on its shadow pod (it holds no Service), and another machine's clean
    # keeps it for that.
    assert "tether.dev/heartbeat" in pod["metadata"]["annotations"]
    code, events, stderr = launcher.run(launcher.env("other-machine"), "clean", "-n", demo.ns, "--output", "json")
    assert code == 0, stderr
    assert [e for e in events if e.get("event") == "clean"] == []
    assert any(session["id"] in e["session"] for e in events if e.get("event") == "kept"), events
    assert connect.interrupt() == 0
    demo.wait_tether_objects_gone()
    assert snapshot(demo) == before


# --- preview ----------------------------------------------------------------------------------------------

def test_preview_creates_a_service_the_cluster_reaches_and_deletes_it_on_stop(demo, launcher):
    before = snapshot(demo)
    local = LocalServer()
    preview = launcher.cli(launcher.env(), "orders-preview", "--expose", f"{local.port}:80", "-n", demo.ns,
                           command="preview")
    session = preview.wait_started()
    assert session["mode"] == "preview" and session["target"] == "orders-preview"
    service = demo.svc("orders-preview")
    labels = service["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "tether" and labels["tether.dev/role"] == "preview"
    assert service["spec"]["selector"] == {"tether.dev/session": session["id"]}
    # kubesim's DNS and Service proxy pick up the new Service as a cluster's would.
    assert demo.get_json("http://orders-preview/from-the-cluster") == local.answer("/from-the-cluster")
    # `tether services` shows who holds it.
    code, _, stderr = launcher.run(launcher.env(), "services", "-n", demo.ns)
    assert code == 0, stderr
    assert preview.interrupt() == 0
    assert demo.kubectl("get", "svc", "orders-preview", check=False).returncode != 0
    demo.wait_tether_objects_gone()
    assert snapshot(demo) == before
    local.close()


def test_preview_refuses_a_name_that_exists_before_creating_anything(demo, launcher):
    before = snapshot(demo)
    preview = launcher.cli(launcher.env(), "orders", "--expose", f"{free_port()}:80", "-n", demo.ns,
                           command="preview")
    assert preview.wait() != 0
    error = preview.error()
    assert 'Service "orders"' in error["message"] and "already exists" in error["message"], error
    assert "choose another name" in error["message"]
    assert [s for s in preview.session_states() if s not in ("starting", "failed")] == []
    assert demo.tether_objects() == []
    assert snapshot(demo) == before


def test_clean_removes_the_service_and_shadow_of_a_killed_preview(demo, launcher):
    before = snapshot(demo)
    local = LocalServer()
    preview = launcher.cli(launcher.env("killed"), "orders-preview", "--expose", f"{local.port}:80", "-n",
                           demo.ns, command="preview")
    session = preview.wait_started()
    preview.process.send_signal(signal.SIGKILL)
    assert preview.wait() == -signal.SIGKILL
    local.close()
    shadow = f"tether-orders-preview-{session['id']}"
    assert sorted(demo.tether_objects()) == [f"pod/{shadow}", f"secret/{shadow}-token"]
    other = launcher.env("other-machine")
    code, events, _ = launcher.run(other, "clean", "-n", demo.ns, "--output", "json")
    assert code == 0 and [e for e in events if e.get("event") == "clean"] == []  # its heartbeat is fresh
    code, events, stderr = launcher.run(other, "clean", "--stale-after", "0s", "-n", demo.ns, "--output", "json")
    assert code == 0, stderr
    actions = sorted((e["action"]["kind"], e["action"]["object"]) for e in events if e.get("event") == "clean")
    assert actions == [("delete", f"pod/{demo.ns}/{shadow}"), ("delete", f"secret/{demo.ns}/{shadow}-token"),
                       ("delete", f"service/{demo.ns}/orders-preview")], events
    demo.wait_tether_objects_gone()
    assert snapshot(demo) == before


# --- forward ----------------------------------------------------------------------------------------------

def fetch(port: int, path: str) -> dict:
    """One request on its own connection: a new connection each time, as the Service balances them."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: orders\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def orders_pods(demo) -> set[str]:
    pods = json.loads(demo.kubectl("get", "pods", "-l", "app=orders", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def test_forward_balances_connections_over_the_service_and_follows_its_endpoints(demo, launcher):
    before = snapshot(demo)
    port = free_port()
    forward = launcher.cli(launcher.env(), "orders", f"{port}:80", "-n", demo.ns, command="forward")
    session = forward.wait_started()
    assert session["mode"] == "forward"
    assert [(p["local"], p["servicePort"]) for p in session["expose"]] == [(port, 80)]
    assert demo.tether_objects() == [f"pod/tether-orders-{session['id']}", f"secret/tether-orders-{session['id']}-token"]

    hosts = [fetch(port, f"/c{i}")["host"] for i in range(100)]
    assert set(hosts) == orders_pods(demo) and len(set(hosts)) == 2
    assert min(hosts.count(h) for h in set(hosts)) >= 20, {h: hosts.count(h) for h in set(hosts)}

    # Scaling the Deployment changes where new connections land.
    demo.kubectl("scale", "deployment", "orders", "--replicas=3")
    demo.wait_endpoints("orders", lambda names: len(names) == 3, "three ready pods", timeout=60)
    hosts = {fetch(port, f"/s{i}")["host"] for i in range(60)}
    assert hosts == orders_pods(demo) and len(hosts) == 3

    # No ready endpoint: each connection is closed at once (no hang), and the session says why.
    demo.kubectl("scale", "deployment", "orders", "--replicas=0")
    demo.wait_endpoints("orders", lambda names: names == [], "no endpoints", timeout=60)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: orders\r\n\r\n")
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
    forward.wait_state("active", message_part="could not reach Service orders")
    demo.kubectl("scale", "deployment", "orders", "--replicas=2")
    demo.kubectl("wait", "--for=condition=Available", "deployment/orders", "--timeout=90s")

    assert forward.interrupt() == 0
    demo.wait_tether_objects_gone()
    services, _ = snapshot(demo)
    assert services == before[0]


def test_connect_names_a_namespace_that_does_not_exist(demo, launcher):
    code, events, _ = launcher.run(launcher.env(), "connect", "-n", "no-such-namespace", "--output", "json")
    error = [e for e in events if e.get("event") == "error"][-1]
    assert code != 0 and 'namespace "no-such-namespace" does not exist' in error["message"], events
    assert demo.tether_objects() == []


def test_forward_names_a_missing_service_and_a_taken_local_port(demo, launcher):
    before = snapshot(demo)
    code, events, _ = launcher.run(launcher.env(), "forward", "nope", f"{free_port()}:80", "-n", demo.ns,
                                   "--output", "json")
    error = [e for e in events if e.get("event") == "error"][-1]
    assert code != 0 and 'Service "nope"' in error["message"] and "was not found" in error["message"], events
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, events, _ = launcher.run(launcher.env(), "forward", "orders", f"{port}:80", "-n", demo.ns,
                                       "--output", "json")
    error = [e for e in events if e.get("event") == "error"][-1]
    assert code != 0 and f"127.0.0.1:{port}" in error["message"] and "pick another local port" in error["message"]
    demo.wait_tether_objects_gone()
    assert snapshot(demo) == before


# --- completion -------------------------------------------------------------------------------------------

def complete(launcher, env, *words):
    """What bash completion offers after `words` (the last one being completed), with tether's script."""
    script = subprocess.run([launcher.tether, "completion", "bash"], env=env, capture_output=True, text=True,
                            check=True).stdout
    quoted = " ".join("'" + w + "'" for w in (launcher.tether, *words))
    probe = script + f"\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words)}; _tether; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    result = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_completion_offers_commands_flags_and_the_clusters_names(demo, launcher):
    env = launcher.env()
    assert "forward" in complete(launcher, env, "") and "preview" in complete(launcher, env, "pre")
    assert demo.ns in complete(launcher, env, "services", "-n", "")
    assert set(complete(launcher, env, "exchange", "-n", demo.ns, "")) == set(demo.services())
    assert complete(launcher, env, "forward", "-n", demo.ns, "inv") == ["inventory"]
    assert complete(launcher, env, "exchange", "orders", "--strategy", "") == ["selector", "scale"]
    assert "--type" in complete(launcher, env, "preview", "x", "--t")
    assert "--type" not in complete(launcher, env, "exchange", "x", "--t")
    # A name from the cluster is offered as it is, never evaluated by the shell.
    trap = launcher.directory / "evaluated"
    kubeconfig = json.loads(launcher.cluster.kubectl("config", "view", "--raw", "-o", "json").stdout)
    kubeconfig["contexts"].append({"name": f"$(touch {trap})", "context": kubeconfig["contexts"][0]["context"]})
    crafted = launcher.directory / "crafted-kubeconfig"
    crafted.write_text(json.dumps(kubeconfig))
    offered = complete(launcher, {**env, "KUBECONFIG": str(crafted)}, "services", "--context", "")
    assert f"$(touch {trap})" in offered and not trap.exists()
    zsh = subprocess.run([launcher.tether, "completion", "zsh"], env=env, capture_output=True, text=True, check=True)
    assert zsh.stdout.startswith("# tether completion for zsh") and "bashcompinit" in zsh.stdout
    assert subprocess.run(["bash", "-n"], input=zsh.stdout, text=True).returncode == 0


@pytest.mark.parametrize("command, args, missing, present", [
    ("connect", (), ("create pods", "create pods/portforward", "create secrets", "patch pods"), ()),
    ("preview", ("orders-v2", "--expose", "12001:80"), ("create services", "delete services", "create pods"),
     ("get services",)),
    ("forward", ("orders", "18080:80"), ("create pods", "create secrets"), ("patch services",)),
])
def test_missing_permissions_are_listed_at_once_for_every_mode(demo, launcher, command, args, missing, present):
    demo.kubectl("create", "rolebinding", f"restricted-view-{command}", "--clusterrole=view",
                 "--user=kubesim-restricted")
    before = demo.services()
    code, events, stderr = launcher.run(launcher.env(), command, *args, "-n", demo.ns, "--context",
                                        "kubesim-restricted", "--output", "json")
    assert code == 1, stderr
    message = next(e for e in events if e["event"] == "error")["message"]
    assert "kubesim-restricted" in message
    for verb in missing:
        assert verb in message, message
    for verb in present:
        assert verb not in message, message
    assert demo.services() == before and demo.tether_objects() == []


def test_forward_to_a_headless_service_dials_the_pods_target_port(demo, launcher):
    demo.cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "orders-pods", "namespace": demo.ns},
                        "spec": {"clusterIP": "None", "selector": {"app": "orders"},
                                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    port = free_port()
    forward = launcher.cli(launcher.env(), "orders-pods", f"{port}:80", "-n", demo.ns, command="forward")
    forward.wait_started()
    assert fetch(port, "/headless")["service"] == "orders"
    assert forward.interrupt() == 0
    demo.wait_tether_objects_gone()
