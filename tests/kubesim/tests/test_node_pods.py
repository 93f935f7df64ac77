"""The kubesim kubelet as kubectl sees it (issue items 5 and 6): pods as processes in their own
network namespaces, environment, status transitions, readiness probes, restart policy,
unknown images and graceful deletion."""

import os
import time

from conftest import echo_pod, in_netns, pod_netns


def shell_pod(name, script, restart="Never", **container_extra):
    container = {"name": "main", "image": "kubesim/toolbox", "command": ["sh", "-c", script]}
    container.update(container_extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 2,
                     "containers": [container]}}


def test_pod_runs_in_its_own_namespace_with_cluster_resolv_conf(kubectl, ns):
    kubectl.apply(echo_pod("e1"), ns)
    kubectl.wait_ready(ns, "e1")
    pod = kubectl.json("get", "pod", "-n", ns, "e1")
    status = pod["status"]
    assert status["phase"] == "Running"
    assert status["podIP"].startswith("10.244.")
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
        "ContainersReady": "True", "PodScheduled": "True"}
    cs = status["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and "running" in cs["state"] and cs["restartCount"] == 0
    netns = pod_netns(kubectl, ns, "e1")
    addr = in_netns(netns, "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert f"{status['podIP']}/16" in addr
    resolv = in_netns(netns, "cat", "/etc/resolv.conf").stdout
    assert f"search {ns}.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert "nameserver 10.96.0.10" in resolv


def test_env_from_literals_configmaps_secrets_and_fields(kubectl, ns):
    # Applied from YAML: `kubectl create configmap/secret` send protobuf bodies.
    kubectl.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                    "data": {"color": "blue"}},
                   {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
                    "stringData": {"token": "s3cr3t"}}], ns)
    env = [{"name": "LIT", "value": "plain"},
           {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
           {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
           {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
           {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
           {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
    kubectl.apply(shell_pod("envy", 'echo "$LIT $COLOR $TOKEN $IP $NAME $NS"', env=env), ns)
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", "pod/envy", "--timeout=30s")
    ip = kubectl.json("get", "pod", "-n", ns, "envy")["status"]["podIP"]
    assert kubectl("logs", "-n", ns, "envy").stdout == f"plain blue s3cr3t {ip} envy {ns}\n"


def test_restart_policies(kubectl, ns):
    kubectl.apply([shell_pod("never-fails", "exit 3", "Never"),
                   shell_pod("onfailure-ok", "exit 0", "OnFailure"),
                   shell_pod("always", "echo run; exit 1", "Always")], ns)
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Failed", "pod/never-fails", "--timeout=30s")
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", "pod/onfailure-ok", "--timeout=30s")
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.containerStatuses[0].restartCount}=2",
            "pod/always", "--timeout=30s")
    failed = kubectl.json("get", "pod", "-n", ns, "never-fails")["status"]["containerStatuses"][0]
    assert failed["state"]["terminated"]["exitCode"] == 3
    assert failed["state"]["terminated"]["reason"] == "Error"
    assert failed["restartCount"] == 0
    always = kubectl.json("get", "pod", "-n", ns, "always")["status"]
    assert always["phase"] == "Running"
    assert always["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


def test_readiness_probe_exec_decides_ready(kubectl, ns):
    flag = f"/tmp/kubesim-ready-{ns}"
    probe = {"exec": {"command": ["test", "-f", flag]}, "periodSeconds": 1, "failureThreshold": 1}
    kubectl.apply(shell_pod("gated", "exec sleep 300", "Always", readinessProbe=probe), ns)
    try:
        kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Running", "pod/gated", "--timeout=30s")
        pod = kubectl.json("get", "pod", "-n", ns, "gated")
        ready = {c["type"]: c for c in pod["status"]["conditions"]}["Ready"]
        assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
        open(flag, "w").close()
        kubectl.wait_ready(ns, "gated")
        os.unlink(flag)
        kubectl("wait", "-n", ns, "--for=condition=Ready=false", "pod/gated", "--timeout=30s")
    finally:
        if os.path.exists(flag):
            os.unlink(flag)


def test_readiness_probe_http_get(kubectl, ns):
    pod = echo_pod("probed", readinessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1})
    kubectl.apply(pod, ns)
    kubectl.wait_ready(ns, "probed")
    logs = kubectl("logs", "-n", ns, "probed").stdout
    assert '"GET /healthz HTTP/1.1" 200' in logs


def test_unmapped_image_is_err_image_pull_then_backoff(kubectl, ns):
    kubectl("run", "ghost", "-n", ns, "--image=registry.example/ghost:1", "--restart=Never")
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff",
            "pod/ghost", "--timeout=30s")
    pod = kubectl.json("get", "pod", "-n", ns, "ghost")
    assert pod["status"]["phase"] == "Pending"
    out = kubectl("get", "pod", "-n", ns, "ghost").stdout
    assert "ImagePullBackOff" in out or "ErrImagePull" in out


def test_graceful_delete_sigterm_then_sigkill(kubectl, ns):
    # The first pod exits on SIGTERM; the second ignores it and must be killed after its grace.
    kubectl.apply([shell_pod("polite", "trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done"),
                   shell_pod("stubborn", "trap '' TERM; while true; do sleep 0.1; done")], ns)
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Running", "pod/polite", "pod/stubborn",
            "--timeout=30s")
    netns = pod_netns(kubectl, ns, "stubborn")
    started = time.monotonic()
    kubectl("delete", "-n", ns, "pod", "polite", "stubborn", "--grace-period=2", timeout=60)
    # kubectl returns once both are gone; the stubborn one needed the whole grace period.
    assert time.monotonic() - started >= 2.0
    res = kubectl("get", "pod", "-n", ns, "polite", "stubborn", check=False)
    assert "NotFound" in res.stderr
    assert in_netns(None, "ip", "netns", "pids", netns).returncode != 0


def test_status_shape_matches_a_kubelet(kubectl, ns):
    kubectl.apply(echo_pod("shape"), ns)
    kubectl.wait_ready(ns, "shape")
    status = kubectl.json("get", "pod", "-n", ns, "shape")["status"]
    for key in ("hostIP", "podIPs", "startTime", "qosClass"):
        assert key in status, key
    cs = status["containerStatuses"][0]
    assert cs["image"] == "kubesim/echo" and cs["containerID"].startswith("kubesim://")
    wide = kubectl("get", "pod", "-n", ns, "shape", "-o", "wide").stdout
    assert status["podIP"] in wide and "Running" in wide


def test_init_containers_run_first_and_a_failed_one_fails_the_pod(kubectl, ns):
    ok = shell_pod("inited", "echo main-started; exec sleep 300", "Always")
    ok["spec"]["initContainers"] = [{"name": "setup", "image": "kubesim/toolbox",
                                     "command": ["sh", "-c", "echo init-done"]}]
    bad = shell_pod("init-fails", "echo never", "Never")
    bad["spec"]["initContainers"] = [{"name": "setup", "image": "kubesim/toolbox",
                                      "command": ["sh", "-c", "exit 7"]}]
    kubectl.apply([ok, bad], ns)
    kubectl.wait_ready(ns, "inited")
    status = kubectl.json("get", "pod", "-n", ns, "inited")["status"]
    init = status["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert kubectl("logs", "-n", ns, "inited", "-c", "setup").stdout == "init-done\n"
    assert kubectl("logs", "-n", ns, "inited", "-c", "main").stdout == "main-started\n"
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Failed", "pod/init-fails", "--timeout=30s")
    failed = kubectl.json("get", "pod", "-n", ns, "init-fails")["status"]
    assert failed["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 7
    assert "waiting" in failed["containerStatuses"][0]["state"]


def test_liveness_probe_failure_restarts_the_container(kubectl, ns):
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
    kubectl.apply(shell_pod("unhealthy", "exec sleep 300", "Always", livenessProbe=probe), ns)
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.containerStatuses[0].restartCount}=1",
            "pod/unhealthy", "--timeout=30s")
    last = kubectl.json("get", "pod", "-n", ns, "unhealthy")["status"]["containerStatuses"][0]["lastState"]
    assert last["terminated"]["exitCode"] == 137


def test_pods_deleted_right_after_creation_leave_nothing(kubectl, ns, cluster):
    before = set(cluster.netns())
    kubectl.apply([echo_pod(f"brief-{i}") for i in range(5)], ns)
    kubectl("delete", "-n", ns, "pod", *[f"brief-{i}" for i in range(5)], "--grace-period=1")
    res = kubectl("get", "pods", "-n", ns, "-o", "name")
    assert res.stdout == ""
    # kubectl returned after every DELETED event, which the kubelet only allows once the pod's
    # namespace is gone.
    assert set(cluster.netns()) == before


def test_kubelet_events_explain_the_pod(kubectl, ns):
    kubectl.apply(echo_pod("told"), ns)
    kubectl("run", "lost", "-n", ns, "--image=nowhere/lost:1", "--restart=Never")
    kubectl.wait_ready(ns, "told")
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff",
            "pod/lost", "--timeout=30s")
    told = kubectl("describe", "pod", "-n", ns, "told").stdout
    for line in ('Container image "kubesim/echo" already present on machine',
                 "Created container echo", "Started container echo"):
        assert line in told, line
    lost = kubectl("describe", "pod", "-n", ns, "lost").stdout
    assert 'Failed to pull image "nowhere/lost:1"' in lost
    assert 'Back-off pulling image "nowhere/lost:1"' in lost
