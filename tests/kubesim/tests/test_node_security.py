"""Security contexts and Pod Security admission, as a tool's pod spec meets them on a restricted cluster:
the namespace label refuses what the profile forbids (with the apiserver's message), containers run as
their runAsUser, runAsNonRoot is enforced, and the pod's sysctls are applied (safe ones) or refuse the pod."""
import json
import uuid

import pytest

BIND_80 = "import socket; s = socket.socket(); s.bind(('0.0.0.0', 80)); print('bound', flush=True)"


def restricted_container(name="app", command=None):
    container = {"name": name, "image": "kubesim/toolbox",
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "allowPrivilegeEscalation": False,
                                     "capabilities": {"drop": ["ALL"]},
                                     "seccompProfile": {"type": "RuntimeDefault"}}}
    if command:
        container["command"] = command
    return container


def pod(name, *containers, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "restartPolicy": "Never", "containers": list(containers),
                     **spec}}


@pytest.fixture
def restricted_ns(kubectl):
    name = "r-" + uuid.uuid4().hex[:8]
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}))
    return name


def wait_phase(kubectl, ns, name, phase):
    kubectl("wait", "-n", ns, f"--for=jsonpath={{.status.phase}}={phase}", f"pod/{name}", "--timeout=30s")


def test_a_restricted_namespace_refuses_what_the_profile_forbids(kubectl, restricted_ns):
    plain = pod("plain", {"name": "app", "image": "kubesim/toolbox"})
    res = kubectl("apply", "-n", restricted_ns, "-f", "-", input=json.dumps(plain), check=False)
    assert res.returncode != 0
    assert 'Error from server (Forbidden)' in res.stderr
    assert 'pods "plain" is forbidden: violates PodSecurity "restricted:latest"' in res.stderr
    for part in ('allowPrivilegeEscalation != false (container "app" must set '
                 'securityContext.allowPrivilegeEscalation=false)',
                 'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"])',
                 'runAsNonRoot != true', 'seccompProfile (pod or container "app" must set'):
        assert part in res.stderr, res.stderr
    added = restricted_container()
    added["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]
    res = kubectl("apply", "-n", restricted_ns, "-f", "-", input=json.dumps(pod("admin", added)), check=False)
    assert 'must not include "NET_ADMIN" in securityContext.capabilities.add' in res.stderr
    unsafe = pod("unsafe", restricted_container(),
                 securityContext={"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]})
    res = kubectl("apply", "-n", restricted_ns, "-f", "-", input=json.dumps(unsafe), check=False)
    assert "forbidden sysctls (net.core.somaxconn)" in res.stderr
    assert kubectl("get", "pods", "-n", restricted_ns, "-o", "name").stdout == ""
    # What the profile allows is created.
    kubectl.apply(pod("fine", restricted_container()), restricted_ns)


def test_a_container_runs_as_its_user_and_binds_low_ports_only_with_the_sysctl(kubectl, ns):
    kubectl.apply(pod("who", restricted_container(command=["sh", "-c", "id -u; id -g"])), ns)
    wait_phase(kubectl, ns, "who", "Succeeded")
    assert kubectl("logs", "-n", ns, "who").stdout.split() == ["65532", "65532"]

    kubectl.apply(pod("low", restricted_container(command=["python3", "-c", BIND_80])), ns)
    wait_phase(kubectl, ns, "low", "Failed")
    assert "Permission denied" in kubectl("logs", "-n", ns, "low").stdout
    allowed = pod("allowed", restricted_container(command=["python3", "-c", BIND_80]),
                  securityContext={"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}]})
    kubectl.apply(allowed, ns)
    wait_phase(kubectl, ns, "allowed", "Succeeded")
    assert kubectl("logs", "-n", ns, "allowed").stdout == "bound\n"


def test_run_as_non_root_without_a_user_is_refused_by_the_kubelet(kubectl, ns):
    container = {"name": "app", "image": "kubesim/toolbox", "securityContext": {"runAsNonRoot": True}}
    kubectl.apply(pod("rooted", container), ns)
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}"
            "=CreateContainerConfigError", "pod/rooted", "--timeout=30s")
    message = kubectl("get", "pod", "-n", ns, "rooted", "-o",
                      "jsonpath={.status.containerStatuses[0].state.waiting.message}").stdout
    assert message.startswith("container has runAsNonRoot and image will run as root")


def test_an_unsafe_sysctl_fails_the_pod_outside_pod_security(kubectl, ns):
    unsafe = pod("unsafe", {"name": "app", "image": "kubesim/toolbox"},
                 securityContext={"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]})
    kubectl.apply(unsafe, ns)
    wait_phase(kubectl, ns, "unsafe", "Failed")
    status = kubectl.json("get", "pod", "-n", ns, "unsafe")["status"]
    assert (status["reason"], status["message"]) == ("SysctlForbidden",
                                                     'Pod forbidden sysctl: "net.core.somaxconn" not allowlisted')
