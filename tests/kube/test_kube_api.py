"""CRUD, optimistic concurrency, every patch type, deletes with preconditions, watch resume and 410
recovery, and informer waits, through the C++ client against kubesim's API server."""
import json
import subprocess

import pytest


@pytest.fixture
def admin(kubeconfigs, admin_token):
    return kubeconfigs.write({"token": admin_token})


def ok(result):
    rc, out, err = result
    assert rc == 0, (out, err)
    return out[0]


def error(result):
    rc, out, _ = result
    assert rc == 3, out
    return out[0]["error"]


def test_create_get_replace_conflict_and_unknown_fields(probe, admin):
    created = ok(probe(admin, "create", "configmaps", "default",
                       json.dumps({"metadata": {"name": "crud"}, "data": {"a": "1"}, "futureField": {"kept": True}})))
    assert created["metadata"]["resourceVersion"]
    assert error(probe(admin, "create", "configmaps", "default", json.dumps({"metadata": {"name": "crud"}})))[
        "reason"] == "AlreadyExists"
    current = ok(probe(admin, "get", "configmaps", "default", "crud"))
    assert current["futureField"] == {"kept": True}
    # A read-modify-write keeps the field this client does not know.
    current["data"]["a"] = "2"
    replaced = ok(probe(admin, "replace", "configmaps", "default", "crud", json.dumps(current)))
    assert replaced["data"]["a"] == "2" and replaced["futureField"] == {"kept": True}
    # The stale resourceVersion loses: no lost update.
    current["data"]["a"] = "3"
    conflict = error(probe(admin, "replace", "configmaps", "default", "crud", json.dumps(current)))
    assert conflict["reason"] == "Conflict" and conflict["status"] == 409
    assert error(probe(admin, "get", "configmaps", "default", "missing"))["reason"] == "NotFound"


def test_every_patch_type(probe, admin):
    service = {"metadata": {"name": "patched"},
               "spec": {"selector": {"app": "a"}, "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}}
    ok(probe(admin, "create", "services", "default", json.dumps(service)))
    merged = ok(probe(admin, "patch", "services", "default", "patched", "merge",
                      json.dumps({"metadata": {"labels": {"team": "x"}}})))
    assert merged["metadata"]["labels"] == {"team": "x"}
    # Strategic merge: Service ports merge by port, so port 80 survives.
    strategic = ok(probe(admin, "patch", "services", "default", "patched", "strategic",
                         json.dumps({"spec": {"ports": [{"name": "b", "port": 81, "targetPort": 9090}]}})))
    assert sorted(p["port"] for p in strategic["spec"]["ports"]) == [80, 81]
    assert [p["targetPort"] for p in strategic["spec"]["ports"] if p["port"] == 81] == [9090]
    jsonpatch = ok(probe(admin, "patch", "services", "default", "patched", "json",
                         json.dumps([{"op": "replace", "path": "/spec/selector/app", "value": "b"}])))
    assert jsonpatch["spec"]["selector"] == {"app": "b"}
    assert error(probe(admin, "patch", "services", "default", "patched", "json",
                       json.dumps([{"op": "replace", "path": "/spec/nothing/here", "value": 1}])))["status"] == 422
    applied = ok(probe(admin, "patch", "configmaps", "default", "applied", "apply",
                       json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},
                                   "data": {"k": "v"}})))
    assert applied["data"] == {"k": "v"}


def test_delete_with_preconditions(probe, admin):
    created = ok(probe(admin, "create", "configmaps", "default", json.dumps({"metadata": {"name": "gone"}})))
    assert error(probe(admin, "delete", "configmaps", "default", "gone", "Background", "1"))["reason"] == "Conflict"
    ok(probe(admin, "delete", "configmaps", "default", "gone", "Background", created["metadata"]["resourceVersion"]))
    assert error(probe(admin, "get", "configmaps", "default", "gone"))["reason"] == "NotFound"


class WatchProcess:
    """The probe's watch command, read line by line as events arrive."""

    def __init__(self, probe, kubeconfig, *args):
        self.process = subprocess.Popen([probe.path, "--kubeconfig", str(kubeconfig), "watch", *map(str, args)],
                                        stdout=subprocess.PIPE, text=True)

    def until(self, predicate, limit=100):
        for _ in range(limit):
            line = self.process.stdout.readline()
            assert line, "the watch ended early"
            event = json.loads(line)
            if predicate(event):
                return event
        raise AssertionError("no matching line")

    def finish(self):
        # Read through the same buffered reader as until(): communicate() would bypass its buffer.
        out = self.process.stdout.read()
        self.process.wait(timeout=60)
        assert self.process.returncode == 0, f"the watch exited with {self.process.returncode}: {out!r}"
        return json.loads(out.strip().splitlines()[-1])


def test_watch_sees_changes_and_resumes_after_the_server_closes_the_stream(probe, admin):
    # timeoutSeconds=1: the server ends every watch stream after a second, and the client resumes.
    watch = WatchProcess(probe, admin, "configmaps", "default", 2, 30, 1)
    watch.until(lambda e: "sync" in e)
    ok(probe(admin, "create", "configmaps", "default", json.dumps({"metadata": {"name": "w-before"}})))
    watch.until(lambda e: e.get("name") == "w-before")
    watch.until(lambda e: "resumed" in e)
    ok(probe(admin, "create", "configmaps", "default", json.dumps({"metadata": {"name": "w-after"}})))
    watch.until(lambda e: e.get("name") == "w-after")
    summary = watch.finish()
    assert summary["events"] == 2 and summary["resumes"] >= 1


def test_watch_relists_after_410_expired(sim, probe, admin):
    old = ok(probe(admin, "create", "configmaps", "default", json.dumps({"metadata": {"name": "w-old"}})))
    ok(probe(admin, "create", "configmaps", "default", json.dumps({"metadata": {"name": "w-older"}})))
    sim.run(sim.store.compact)  # the history now starts after w-older: w-old's version is gone
    # Resuming from a resourceVersion the server no longer has: 410, then a relist that sees w-old.
    watch = WatchProcess(probe, admin, "configmaps", "default", 1, 30, 300, old["metadata"]["resourceVersion"])
    sync = watch.until(lambda e: "sync" in e)
    assert sync["sync"] >= 2
    ok(probe(admin, "create", "configmaps", "default", json.dumps({"metadata": {"name": "w-new"}})))
    watch.until(lambda e: e.get("name") == "w-new")
    assert watch.finish()["relists"] == 1


def test_informer_waits_for_ready_and_times_out(probe, admin):
    pod = {"metadata": {"name": "ready-pod"}, "spec": {"containers": [{"name": "c", "image": "kubesim/echo"}]}}
    ok(probe(admin, "create", "pods", "default", json.dumps(pod)))
    assert ok(probe(admin, "wait-ready", "default", "ready-pod", 20000)) == {"ready": "ready-pod"}
    stuck = {"metadata": {"name": "stuck-pod"}, "spec": {"containers": [{"name": "c", "image": "kubesim/never-ready"}]}}
    ok(probe(admin, "create", "pods", "default", json.dumps(stuck)))
    timeout = error(probe(admin, "wait-ready", "default", "stuck-pod", 300))
    assert timeout["reason"] == "Timeout"
    assert "did not reach the awaited state" in timeout["message"]
