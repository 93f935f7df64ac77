"""The real kubectl changing kubesim: create -f, apply -f (new, unchanged, changed), apply --server-side,
replace with a stale resourceVersion, label, annotate, patch (three types), scale, rollout status,
graceful delete and wait --for=condition=Ready, each printing what it prints against a real cluster."""
import json

import yaml

from kubesim.api.testing import NOT_READY_IMAGE, api, kc, sim  # noqa: F401 - pytest fixtures

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "c", "image": "kubesim/echo"}]}}


def deployment(image="kubesim/echo:1", replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "d1"}},
                     "template": {"metadata": {"labels": {"app": "d1"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def write(tmp_path, name, doc) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_create_and_already_exists(kc, tmp_path):
    f = write(tmp_path, "pod.yaml", POD)
    assert kc("create", "-f", f).stdout.strip() == "pod/p1 created"
    r = kc("create", "-f", f, check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == f'Error from server (AlreadyExists): error when creating "{f}": pods "p1" already exists'
    bad = dict(POD, metadata={"name": "p2"}, spec={"containers": [{"name": "c"}]})
    r = kc("create", "-f", write(tmp_path, "bad.yaml", bad), check=False)
    assert r.returncode == 1
    assert 'The Pod "p2" is invalid: spec.containers[0].image: Required value' in r.stderr


def test_apply_new_unchanged_changed_and_rollout(kc, sim, tmp_path):
    f = write(tmp_path, "d.yaml", deployment())
    assert kc("apply", "-f", f).stdout.strip() == "deployment.apps/d1 created"
    assert kc("apply", "-f", f).stdout.strip() == "deployment.apps/d1 unchanged"
    assert kc("rollout", "status", "deployment/d1", "--timeout=30s").stdout.strip() == \
        'deployment "d1" successfully rolled out'
    assert kc("wait", "--for=condition=Available", "deploy/d1", "--timeout=20s").stdout.strip() == \
        "deployment.apps/d1 condition met"
    f = write(tmp_path, "d.yaml", deployment("kubesim/echo:2"))
    assert kc("apply", "-f", f).stdout.strip() == "deployment.apps/d1 configured"
    out = kc("rollout", "status", "deployment/d1", "--timeout=30s").stdout
    assert out.strip().endswith('deployment "d1" successfully rolled out')
    images = kc("get", "deploy", "d1", "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert images == "kubesim/echo:2"
    live = json.loads(kc("get", "deploy", "d1", "-o", "json").stdout)
    last = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["template"]["spec"]["containers"][0]["image"] == "kubesim/echo:2"
    assert kc("scale", "deploy", "d1", "--replicas=3").stdout.strip() == "deployment.apps/d1 scaled"
    kc("rollout", "status", "deployment/d1", "--timeout=30s")
    pods = kc("get", "pods", "-l", "app=d1", "-o", "name").stdout.split()
    assert len(pods) == 3


def test_apply_server_side(kc, tmp_path):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s1"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    f = write(tmp_path, "s.yaml", svc)
    assert kc("apply", "--server-side", "-f", f).stdout.strip() == "service/s1 serverside-applied"
    svc["spec"]["ports"][0]["port"] = 81
    f = write(tmp_path, "s.yaml", svc)
    assert kc("apply", "--server-side", "-f", f).stdout.strip() == "service/s1 serverside-applied"
    assert kc("get", "svc", "s1", "-o", "jsonpath={.spec.ports[*].port}").stdout == "81", \
        "the port the manager no longer applies is removed"
    svc["metadata"]["labels"] = {"team": "a"}
    kc("apply", "--server-side", "-f", write(tmp_path, "s.yaml", svc))
    del svc["metadata"]["labels"]
    kc("apply", "--server-side", "-f", write(tmp_path, "s.yaml", svc))
    assert json.loads(kc("get", "svc", "s1", "-o", "json").stdout)["metadata"].get("labels") is None


def test_replace_with_stale_resource_version_conflicts(kc, tmp_path):
    kc("create", "-f", write(tmp_path, "p.yaml", POD))
    live = yaml.safe_load(kc("get", "pod", "p1", "-o", "yaml").stdout)
    live["metadata"]["labels"]["v"] = "1"
    f = write(tmp_path, "live.yaml", live)
    assert kc("replace", "-f", f).stdout.strip() == "pod/p1 replaced"
    r = kc("replace", "-f", f, check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == (f'Error from server (Conflict): error when replacing "{f}": Operation cannot be '
                                'fulfilled on pods "p1": the object has been modified; please apply your changes '
                                'to the latest version and try again')


def test_label_annotate_patch(kc, tmp_path):
    kc("create", "-f", write(tmp_path, "p.yaml", POD))
    assert kc("label", "pod", "p1", "env=dev").stdout.strip() == "pod/p1 labeled"
    assert kc("annotate", "pod", "p1", "note=hi").stdout.strip() == "pod/p1 annotated"
    assert kc("patch", "pod", "p1", "-p", '{"metadata":{"labels":{"s":"1"}}}').stdout.strip() == "pod/p1 patched"
    assert kc("patch", "pod", "p1", "--type=merge", "-p", '{"metadata":{"labels":{"m":"1"}}}').stdout.strip() == \
        "pod/p1 patched"
    assert kc("patch", "pod", "p1", "--type=json", "-p",
              '[{"op":"add","path":"/metadata/labels/j","value":"1"}]').stdout.strip() == "pod/p1 patched"
    assert kc("label", "pod", "p1", "env-").stdout.strip() == "pod/p1 unlabeled"
    meta = json.loads(kc("get", "pod", "p1", "-o", "json").stdout)["metadata"]
    assert meta["labels"] == {"app": "web", "s": "1", "m": "1", "j": "1"}
    assert meta["annotations"] == {"note": "hi"}
    r = kc("patch", "pod", "p1", "--type=json", "-p", '[{"op":"replace","path":"/metadata/labels/nope","value":"1"}]',
           check=False)
    assert r.returncode == 1 and "Error from server" in r.stderr
    r = kc("label", "pod", "p1", "app=other", check=False)
    assert r.returncode == 1 and "'app' already has a value (web)" in r.stderr


def test_graceful_delete_and_wait(kc, sim, tmp_path):
    sim.kubelet.hold_terminations = True
    kc("create", "-f", write(tmp_path, "p.yaml", POD))
    assert kc("wait", "--for=condition=Ready", "pod/p1", "--timeout=20s").stdout.strip() == "pod/p1 condition met"
    proc = kc.popen("delete", "pod", "p1")
    sim.wait_for(lambda: sim.kubelet.deletions, what="the kubelet is asked to stop the pod")
    assert sim.kubelet.deletions == [("default", "p1", 30)]
    shown = kc("get", "pod", "p1").stdout
    assert "Terminating" in shown, "kubectl get shows the pod as Terminating during its grace period"
    assert proc.poll() is None, "kubectl delete waits for the pod to go"
    sim.run(sim.kubelet.release)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out.strip() == 'pod "p1" deleted', err
    r = kc("get", "pod", "p1", check=False)
    assert r.returncode == 1 and "NotFound" in r.stderr


def test_wait_times_out_for_a_pod_that_never_gets_ready(kc, tmp_path):
    pod = dict(POD, spec={"containers": [{"name": "c", "image": NOT_READY_IMAGE}]})
    kc("create", "-f", write(tmp_path, "p.yaml", pod))
    r = kc("wait", "--for=condition=Ready", "pod/p1", "--timeout=2s", check=False)
    assert r.returncode == 1 and "timed out waiting for the condition on pods/p1" in r.stderr


def test_force_delete(kc, sim, tmp_path):
    sim.kubelet.hold_terminations = True
    kc("create", "-f", write(tmp_path, "p.yaml", POD))
    r = kc("delete", "pod", "p1", "--grace-period=0", "--force")
    assert 'pod "p1" force deleted' in r.stdout
    assert sim.kubelet.deletions == [("default", "p1", 0)]


def test_typed_create_commands_send_protobuf(kc, sim):
    """kubectl's generators use typed clients, which send protobuf bodies."""
    assert kc("create", "namespace", "team").stdout.strip() == "namespace/team created"
    assert kc("create", "configmap", "cm", "--from-literal=a=b", "-n", "team").stdout.strip() == "configmap/cm created"
    assert kc("create", "secret", "generic", "s", "--from-literal=a=b", "-n", "team").stdout.strip() == \
        "secret/s created"
    assert kc("create", "deployment", "web", "--image=kubesim/echo", "--replicas=2", "--port=8080",
              "-n", "team").stdout.strip() == "deployment.apps/web created"
    assert kc("create", "service", "clusterip", "web", "--tcp=80:8080", "-n", "team").stdout.strip() == \
        "service/web created"
    assert kc("create", "role", "r", "--verb=get,list", "--resource=pods", "-n", "team").stdout.strip() == \
        "role.rbac.authorization.k8s.io/r created"
    kc("create", "rolebinding", "rb", "--role=r", "--user=kubesim-restricted", "-n", "team")
    kc("rollout", "status", "deployment/web", "-n", "team", "--timeout=30s")
    secret = json.loads(kc("get", "secret", "s", "-n", "team", "-o", "json").stdout)
    assert secret["type"] == "Opaque" and secret["data"] == {"a": "Yg=="}
    svc = json.loads(kc("get", "svc", "web", "-n", "team", "-o", "json").stdout)
    assert svc["spec"]["ports"][0]["targetPort"] == 8080 and svc["spec"]["selector"] == {"app": "web"}
    ep = kc("get", "endpoints", "web", "-n", "team", "-o", "jsonpath={.subsets[0].addresses[*].ip}").stdout.split()
    assert len(ep) == 2
    listed = kc("--context", "kubesim-restricted", "auth", "can-i", "--list", "-n", "team").stdout
    assert any(line.split()[:1] == ["pods"] and "[get list]" in line for line in listed.splitlines())
    assert kc("--context", "kubesim-restricted", "auth", "can-i", "list", "pods", "-n", "team").stdout.strip() == "yes"
    r = kc("--context", "kubesim-restricted", "delete", "pod", "--all", "-n", "team", check=False)
    assert r.returncode == 1 and "Forbidden" in r.stderr
    assert kc("delete", "namespace", "team", "--timeout=30s").stdout.strip() == 'namespace "team" deleted'
    assert kc("get", "ns", "team", check=False).returncode == 1


def test_create_with_unknown_field_is_refused(kc, tmp_path):
    doc = dict(POD, spek={"x": 1})
    r = kc("create", "-f", write(tmp_path, "typo.yaml", doc), check=False)
    assert r.returncode == 1
    assert 'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spek"' in r.stderr


def test_rollout_status_fails_after_the_progress_deadline(kc, tmp_path):
    d = deployment(NOT_READY_IMAGE, replicas=1)
    d["spec"]["progressDeadlineSeconds"] = 2
    kc("apply", "-f", write(tmp_path, "stuck.yaml", d))
    r = kc("rollout", "status", "deployment/d1", "--timeout=30s", check=False)
    assert r.returncode == 1
    assert 'error: deployment "d1" exceeded its progress deadline' in r.stderr
