"""WATCH semantics: resume from a list's resourceVersion, initial ADDED events, selector enter/leave,
410 Expired, bookmarks and timeoutSeconds."""
from kubesim.api.testing import api, sim  # noqa: F401 - pytest fixtures

NS = "/api/v1/namespaces/default"


def cm(name, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}}}


def test_watch_resumes_from_list_resource_version(api):
    api.post(f"{NS}/configmaps", cm("before"))
    rv = api.get(f"{NS}/configmaps").json["metadata"]["resourceVersion"]
    api.post(f"{NS}/configmaps", cm("after"))
    w = api.watch(f"{NS}/configmaps?watch=true&resourceVersion={rv}")
    assert w.status == 200 and w.response.getheader("Content-Type") == "application/json"
    first = w.next_event()
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "after"
    assert first["object"]["kind"] == "ConfigMap" and first["object"]["apiVersion"] == "v1"
    api.patch(f"{NS}/configmaps/after", {"data": {"k": "v"}}, "application/merge-patch+json")
    assert w.next_event()["type"] == "MODIFIED"
    api.delete(f"{NS}/configmaps/after")
    gone = w.next_event()
    assert gone["type"] == "DELETED" and int(gone["object"]["metadata"]["resourceVersion"]) > int(rv)
    w.close()


def test_watch_without_rv_starts_with_current_objects(api):
    api.post(f"{NS}/configmaps", cm("a"))
    api.post(f"{NS}/configmaps", cm("b"))
    w = api.watch(f"{NS}/configmaps?watch=1")
    names = {w.next_event()["object"]["metadata"]["name"] for _ in range(2)}
    assert names == {"a", "b"}
    w.close()


def test_watch_selector_enter_and_leave(api):
    w = api.watch(f"{NS}/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion=0")
    api.post(f"{NS}/configmaps", cm("x", {"app": "db"}))
    api.patch(f"{NS}/configmaps/x", {"metadata": {"labels": {"app": "web"}}}, "application/merge-patch+json")
    entered = w.next_event()
    assert entered["type"] == "ADDED" and entered["object"]["metadata"]["name"] == "x"
    api.patch(f"{NS}/configmaps/x", {"metadata": {"labels": {"app": "db"}}}, "application/merge-patch+json")
    left = w.next_event()
    assert left["type"] == "DELETED" and left["object"]["metadata"]["labels"] == {"app": "db"}
    w.close()


def test_watch_by_name_field_selector_sees_graceful_delete(api, sim):
    sim.kubelet.hold_terminations = True
    api.post(f"{NS}/pods", {"metadata": {"name": "p1"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    api.post(f"{NS}/pods", {"metadata": {"name": "p2"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    rv = api.get(f"{NS}/pods?fieldSelector=metadata.name%3Dp1").json["metadata"]["resourceVersion"]
    w = api.watch(f"{NS}/pods?fieldSelector=metadata.name%3Dp1&resourceVersion={rv}&watch=true")
    deleted = api.delete(f"{NS}/pods/p1", {"propagationPolicy": "Background"})
    assert deleted.status == 200 and deleted.json["metadata"]["deletionTimestamp"]
    terminating = w.until(lambda e: e["object"]["metadata"].get("deletionTimestamp"))
    assert terminating["type"] == "MODIFIED"
    assert api.get(f"{NS}/pods/p1").status == 200, "still there during the grace period"
    assert sim.kubelet.deletions == [("default", "p1", 30)]
    sim.run(sim.kubelet.release)
    final = w.next_event()
    assert final["type"] == "DELETED" and final["object"]["metadata"]["name"] == "p1"
    assert api.get(f"{NS}/pods/p1").status == 404
    w.close()


def test_watch_too_old_resource_version_is_410(api, sim):
    api.post(f"{NS}/configmaps", cm("c"))
    old = api.get(f"{NS}/configmaps").json["metadata"]["resourceVersion"]
    api.post(f"{NS}/configmaps", cm("d"))
    sim.run(sim.store.compact)
    r = api.get(f"{NS}/configmaps?watch=true&resourceVersion={old}")
    assert r.status == 410 and r.json["reason"] == "Expired"
    assert r.json["message"].startswith(f"too old resource version: {old} (")


def test_watch_timeout_and_bookmarks(api, sim):
    sim.server.context.bookmark_interval = 0.2
    w = api.watch(f"{NS}/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=1")
    events = []
    while True:
        e = w.next_event()
        if e is None:
            break       # the server closed the stream after timeoutSeconds
        events.append(e)
    assert any(e["type"] == "BOOKMARK" and e["object"]["kind"] == "ConfigMap" for e in events)
    w.close()


def test_watch_table_events(api):
    w = api.watch(f"{NS}/configmaps?watch=true&resourceVersion=0",
                  headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    api.post(f"{NS}/configmaps", cm("t1"))
    api.post(f"{NS}/configmaps", cm("t2"))
    e1, e2 = w.next_event(), w.next_event()
    assert e1["object"]["kind"] == "Table" and e1["object"]["columnDefinitions"]
    assert e1["object"]["rows"][0]["cells"][0] == "t1"
    assert e2["object"]["columnDefinitions"] == [] and e2["object"]["rows"][0]["cells"][0] == "t2"
    w.close()


def test_watch_from_a_future_resource_version_skips_older_changes(api):
    future = int(api.get(f"{NS}/configmaps").json["metadata"]["resourceVersion"]) + 2
    w = api.watch(f"{NS}/configmaps?watch=true&resourceVersion={future}")
    for name in ("f1", "f2", "f3"):
        api.post(f"{NS}/configmaps", cm(name))
    event = w.next_event()
    assert event["object"]["metadata"]["name"] == "f3" and int(event["object"]["metadata"]["resourceVersion"]) > future
    w.close()
