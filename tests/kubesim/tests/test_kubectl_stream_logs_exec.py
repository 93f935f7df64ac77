"""`kubectl logs` and `kubectl exec` against kubesim, printing what they print on a real cluster."""

import http.client
import json
import re
import subprocess
from urllib.parse import urlparse

import pytest

from conftest import echo_pod, readline, toolbox_pod


def counting_pod(name, lines=5):
    script = f'for i in $(seq 1 {lines}); do echo line-$i; done; exec sleep 300'
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "kubesim/toolbox",
                                     "command": ["sh", "-c", script]}]}}


def test_logs_tail_and_timestamps(kubectl, ns):
    kubectl.apply(counting_pod("counter"), ns)
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Running", "pod/counter", "--timeout=30s")
    # The lines are written right after start; wait for the last one through the API itself.
    proc = kubectl.popen("logs", "-f", "-n", ns, "counter")
    try:
        seen = [readline(proc) for _ in range(5)]
    finally:
        proc.kill()
        proc.wait()
    assert seen == [f"line-{i}\n" for i in range(1, 6)]
    assert kubectl("logs", "-n", ns, "counter", "--tail=2").stdout == "line-4\nline-5\n"
    stamped = kubectl("logs", "-n", ns, "counter", "--tail=1", "--timestamps").stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line-5\n", stamped), stamped


def test_logs_follow_streams_new_lines(kubectl, ns):
    kubectl.apply(echo_pod("talker"), ns)
    kubectl.wait_ready(ns, "talker")
    proc = kubectl.popen("logs", "-f", "-n", ns, "talker")
    try:
        assert "listening on :8080" in readline(proc)
        kubectl("exec", "-n", ns, "talker", "--", "curl", "-s", "http://127.0.0.1:8080/followed")
        assert '"GET /followed HTTP/1.1" 200' in readline(proc)
    finally:
        proc.kill()
        proc.wait()


def test_logs_of_unknown_container_and_waiting_pod(kubectl, ns):
    kubectl("run", "ghost", "-n", ns, "--image=nowhere/ghost", "--restart=Never")
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff",
            "pod/ghost", "--timeout=30s")
    res = kubectl("logs", "-n", ns, "ghost", check=False)
    assert res.returncode == 1
    assert 'container "ghost" in pod "ghost" is waiting to start' in res.stderr


SPDY_EXEC = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}


@pytest.mark.parametrize("env", [None, SPDY_EXEC], ids=["websocket-v5", "spdy"])
def test_exec_output_exit_code_and_stdin(kubectl, ns, env):
    kubectl.apply(toolbox_pod("tb"), ns)
    kubectl.wait_ready(ns, "tb")
    if env:
        kubectl.env.update(env)
    res = kubectl("exec", "-n", ns, "tb", "--", "sh", "-c", "echo out; echo err >&2")
    assert res.stdout == "out\n" and res.stderr == "err\n"
    res = kubectl("exec", "-n", ns, "tb", "--", "sh", "-c", "exit 3", check=False)
    assert res.returncode == 3
    assert "command terminated with exit code 3" in res.stderr
    res = kubectl("exec", "-i", "-n", ns, "tb", "--", "tr", "a-z", "A-Z", input="hello stdin\n")
    assert res.stdout == "HELLO STDIN\n"
    env = kubectl("exec", "-n", ns, "tb", "--", "sh", "-c", "echo $KUBESIM_POD_NAME; cat /etc/resolv.conf")
    assert env.stdout.startswith("tb\n") and f"search {ns}.svc.cluster.local" in env.stdout


def test_exec_runs_in_the_pod_network(kubectl, ns):
    kubectl.apply([echo_pod("srv"), toolbox_pod("tb")], ns)
    kubectl.wait_ready(ns, "srv", "tb")
    ip = kubectl.json("get", "pod", "-n", ns, "srv")["status"]["podIP"]
    res = kubectl("exec", "-n", ns, "tb", "--", "curl", "-s", f"http://{ip}:8080/from-exec")
    assert json.loads(res.stdout)["pod"] == "srv"
    res = kubectl("exec", "-n", ns, "tb", "--", "no-such-program", check=False)
    assert res.returncode != 0 and "executable file not found" in res.stderr


def test_exec_and_port_forward_with_kubectl_1_29_which_speaks_only_spdy(kubectl, ns):
    kubectl.apply([toolbox_pod("tb"), echo_pod("srv")], ns)
    kubectl.wait_ready(ns, "tb", "srv")
    old = "/usr/lib/google-cloud-sdk/bin/kubectl.1.29"
    res = subprocess.run([old, "exec", "-n", ns, "tb", "--", "sh", "-c", "echo v129; exit 2"],
                         capture_output=True, text=True, env=kubectl.env, timeout=60)
    assert (res.returncode, res.stdout) == (2, "v129\n")
    assert "command terminated with exit code 2" in res.stderr
    proc = subprocess.Popen([old, "port-forward", "-n", ns, "pod/srv", ":8080"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=kubectl.env)
    try:
        port = re.match(r"Forwarding from 127\.0\.0\.1:(\d+)", readline(proc)).group(1)
        res = subprocess.run(["curl", "-sS", "-m", "10", f"http://127.0.0.1:{port}/old"],
                             capture_output=True, text=True, timeout=20)
        assert json.loads(res.stdout)["path"] == "/old"
    finally:
        proc.kill()
        proc.wait()


def test_logs_previous_and_container_choice(kubectl, ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two"},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [
               {"name": "crashy", "image": "kubesim/toolbox",
                "command": ["sh", "-c", "echo run-$(date +%s%N); exit 1"]},
               {"name": "steady", "image": "kubesim/toolbox", "command": ["sh", "-c", "echo steady; exec sleep 300"]}]}}
    kubectl.apply(pod, ns)
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.containerStatuses[0].restartCount}=1",
            "pod/two", "--timeout=30s")
    # kubectl picks the first container itself and says so, as against a real cluster.
    res = kubectl("logs", "-n", ns, "two", "--tail=1")
    assert 'Defaulted container "crashy" out of: crashy, steady' in res.stderr
    assert kubectl("logs", "-n", ns, "two", "-c", "steady").stdout == "steady\n"
    previous = kubectl("logs", "-n", ns, "two", "-c", "crashy", "--previous").stdout
    assert re.fullmatch(r"run-\d+\n", previous), previous


def test_previous_log_is_kept_when_the_restart_is_counted(cluster, kubectl, ns):
    """A kubelet serves `logs --previous` from lastState's container, so the log of the instance that ended
    must be there as soon as restartCount > 0 is published, not only once the next instance starts.
    The test reads the pod through a watch and asks for the previous log the moment it sees the count,
    while the next instance is still in its back-off."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "once"},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [
               {"name": "crashy", "image": "kubesim/toolbox", "command": ["sh", "-c", "echo first-run; exit 3"]}]}}
    kubectl.apply(pod, ns)
    server = urlparse(cluster.server())
    conn = http.client.HTTPSConnection(server.hostname, server.port, context=cluster.ssl_context(), timeout=30)
    conn.request("GET", f"/api/v1/namespaces/{ns}/pods?watch=true&fieldSelector=metadata.name%3Donce")
    watch = conn.getresponse()
    assert watch.status == 200
    status = None
    while status is None:
        line = watch.readline()
        assert line, "the watch ended before the restart was counted"
        obj = json.loads(line)["object"]
        statuses = obj.get("status", {}).get("containerStatuses") or []
        if statuses and statuses[0]["restartCount"] >= 1:
            status = statuses[0]
    conn.close()
    logs = http.client.HTTPSConnection(server.hostname, server.port, context=cluster.ssl_context(), timeout=30)
    logs.request("GET", f"/api/v1/namespaces/{ns}/pods/once/log?container=crashy&previous=true")
    answer = logs.getresponse()
    body = answer.read().decode()
    logs.close()
    assert answer.status == 200, body
    assert body == "first-run\n"
    assert status["lastState"]["terminated"]["exitCode"] == 3
