"""The real kubectl (1.32 via the dispatcher, fresh HOME per test) reading from kubesim: get by name,
-A, -o yaml/json/wide, -l, --field-selector, -w, get all, and the errors it prints."""
import json
import queue
import threading
import time

import yaml

from kubesim.api.testing import NOT_READY_IMAGE, api, kc, sim  # noqa: F401 - pytest fixtures

NS = "/api/v1/namespaces"


def make_pod(api, name, ns="default", labels=None, image="kubesim/echo"):
    r = api.post(f"{NS}/{ns}/pods", {"metadata": {"name": name, "labels": labels or {}},
                                     "spec": {"containers": [{"name": "c", "image": image}]}})
    assert r.status == 201, r


class LineReader:
    """Collects a process's stdout lines in a thread, so tests can wait for one with a time bound."""

    def __init__(self, proc):
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc) -> None:
        for line in proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, needle: str, timeout: float = 20) -> str:
        seen = ""
        deadline = time.monotonic() + timeout
        while needle not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{needle!r} not printed; got {seen!r}"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"kubectl exited before printing {needle!r}; got {seen!r}"
            seen += line
        return seen


def test_version_pins_kubectl_132(kc):
    out = json.loads(kc("version", "-o", "json").stdout)
    assert out["serverVersion"]["minor"] == "32"
    assert out["clientVersion"]["gitVersion"].startswith("v1.32."), "the dispatcher ran kubectl 1.32"


def test_get_by_name_table_yaml_json(api, kc, sim):
    make_pod(api, "p1", labels={"app": "web"})
    sim.wait_for(lambda: sim.store.get("pods", "default", "p1")["status"]["phase"] == "Running")
    out = kc("get", "pod", "p1").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out[1].split()[:4] == ["p1", "1/1", "Running", "0"]
    wide = kc("get", "pod", "p1", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    assert "kubesim-node" in wide[1]
    doc = yaml.safe_load(kc("get", "pod", "p1", "-o", "yaml").stdout)
    assert doc["kind"] == "Pod" and doc["metadata"]["labels"] == {"app": "web"}
    assert json.loads(kc("get", "pods", "-o", "json").stdout)["items"][0]["metadata"]["name"] == "p1"
    assert kc("get", "pod", "p1", "-o", "jsonpath={.status.phase}").stdout == "Running"


def test_get_all_namespaces_labels_and_fields(api, kc, sim):
    api.post(NS, {"metadata": {"name": "other"}})
    make_pod(api, "a", labels={"app": "web", "tier": "front"})
    make_pod(api, "b", labels={"app": "db"})
    make_pod(api, "c", "other", labels={"app": "web"})
    make_pod(api, "stuck", labels={"app": "x"}, image="unmapped/img")
    sim.wait_for(lambda: sim.store.get("pods", "other", "c")["status"]["phase"] == "Running")
    out = kc("get", "pods", "-A", "-l", "app in (web,x),!tier").stdout.splitlines()
    assert out[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert sorted((line.split()[0], line.split()[1]) for line in out[1:]) == [("default", "stuck"), ("other", "c")]
    pending = kc("get", "pods", "--field-selector", "status.phase=Pending").stdout
    assert "stuck" in pending and "ErrImagePull" in pending and " a " not in pending
    r = kc("get", "pods", "--field-selector", "spec.bogus=1", check=False)
    assert r.returncode == 1 and "field label not supported: spec.bogus" in r.stderr
    r = kc("get", "pods", "-n", "nowhere", check=False)
    assert r.stdout == "" and "No resources found in nowhere namespace." in r.stderr


def test_get_all_and_short_names(api, kc):
    api.post(f"{NS}/default/services", {"metadata": {"name": "s1"}, "spec": {"selector": {"app": "web"},
                                                                           "ports": [{"port": 80}]}})
    api.post("/apis/apps/v1/namespaces/default/deployments", {
        "metadata": {"name": "d1"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d1"}},
                                             "template": {"metadata": {"labels": {"app": "d1"}},
                                                          "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    out = kc("get", "all").stdout
    assert "service/s1" in out and "deployment.apps/d1" in out and "replicaset.apps/d1-" in out
    svc = kc("get", "svc", "s1").stdout.splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert svc[1].split()[1] == "ClusterIP" and svc[1].split()[4] == "80/TCP"
    assert kc("get", "deploy", "d1", "-o", "name").stdout.strip() == "deployment.apps/d1"
    assert "default" in kc("get", "ns").stdout and "Active" in kc("get", "ns", "default").stdout


def test_get_errors(api, kc):
    r = kc("get", "pod", "ghost", check=False)
    assert r.returncode == 1 and r.stderr.strip() == 'Error from server (NotFound): pods "ghost" not found'
    r = kc("get", "pod", "ghost", "-n", "ghostns", check=False)
    assert r.stderr.strip() == 'Error from server (NotFound): namespaces "ghostns" not found'
    r = kc("get", "widgets", check=False)
    assert r.returncode == 1 and 'the server doesn\'t have a resource type "widgets"' in r.stderr


def test_get_watch_prints_changes(api, kc, sim):
    make_pod(api, "first")
    proc = kc.popen("get", "pods", "-w")
    reader = LineReader(proc)
    try:
        out = reader.until("first")
        assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        make_pod(api, "second", image=NOT_READY_IMAGE)
        assert "0/1" in reader.until("second")
        sim.kubelet.hold_terminations = True
        api.delete(f"{NS}/default/pods/first")
        assert "first" in reader.until("Terminating")
    finally:
        proc.kill()
        proc.wait(10)


def test_get_nodes(kc):
    out = kc("get", "nodes").stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert out[1].split()[:3] == ["kubesim-node", "Ready", "control-plane"]


def test_get_in_chunks(api, kc):
    for i in range(5):
        make_pod(api, f"c{i}")
    out = kc("get", "pods", "--chunk-size=2", "-o", "name").stdout.split()
    assert out == [f"pod/c{i}" for i in range(5)]


def test_describe_every_kind(api, kc):
    """kubectl describe dereferences many optional fields; every kind must describe without a crash."""
    kc("create", "deployment", "web", "--image=kubesim/echo", "--replicas=2", "--port=8080")
    kc("expose", "deployment", "web", "--port=80", "--target-port=8080")
    kc("create", "configmap", "cm", "--from-literal=a=b")
    kc("create", "role", "r", "--verb=get", "--resource=pods")
    kc("create", "rolebinding", "rb", "--role=r", "--user=u")
    kc("rollout", "status", "deploy/web", "--timeout=30s")
    for kind in ("pods", "deploy", "rs", "svc", "ep", "endpointslices", "ns", "nodes", "sa", "cm", "role",
                 "rolebinding"):
        r = kc("describe", kind, check=False)
        assert r.returncode == 0 and "panic" not in r.stderr, (kind, r.stderr[:500])
    svc = kc("describe", "svc", "web").stdout
    assert "TargetPort:               8080/TCP" in svc and "Endpoints:" in svc
    deploy = kc("describe", "deploy", "web").stdout
    assert "2 desired | 2 updated | 2 total | 2 available | 0 unavailable" in deploy
    assert "Scaled up replica set web-" in deploy
