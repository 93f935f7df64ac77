"""Unit tests of the API half's pure parts: selectors, the patch flavours, the store's deletion rules."""
import asyncio

import pytest

from kubesim.api import errors
from kubesim.api.patch import json_patch, merge_patch
from kubesim.api.selectors import parse_field_selector, parse_label_selector
from kubesim.api.store import Store
from kubesim.api.strategic import strategic_merge


# ----- label selectors -------------------------------------------------------------------------------
@pytest.mark.parametrize("selector,labels,expected", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("app!=web", {"app": "web"}, False),
    ("app in (web,x),!foo", {"app": "x"}, True),
    ("app in (web,x),!foo", {"app": "x", "foo": "1"}, False),
    ("app notin (web)", {}, True),
    ("app notin (web)", {"app": "web"}, False),
    ("tier", {"tier": ""}, True),
    ("tier", {}, False),
    ("x in (foo,,baz)", {"x": ""}, True),
    ("  app = web ,  tier in ( a , b )", {"app": "web", "tier": "b"}, True),
    ("replicas>2", {"replicas": "3"}, True),
    ("replicas<2", {"replicas": "3"}, False),
    ("example.com/role=front", {"example.com/role": "front"}, True),
])
def test_label_selector_grammar(selector, labels, expected):
    assert parse_label_selector(selector)(labels) is expected


@pytest.mark.parametrize("bad", ["app in web", "app in ()", "!app=x", "app=web,", "a b", "app in (x"])
def test_label_selector_syntax_errors_are_400(bad):
    with pytest.raises(errors.ApiError) as exc:
        parse_label_selector(bad)
    assert exc.value.code == 400


def test_field_selectors():
    pod = {"metadata": {"name": "p1", "namespace": "x"}, "spec": {"nodeName": "n"},
           "status": {"phase": "Pending"}}
    assert parse_field_selector("pods", "metadata.name=p1,status.phase=Pending")(pod)
    assert not parse_field_selector("pods", "status.phase!=Pending")(pod)
    assert parse_field_selector("pods", "spec.nodeName==n,metadata.namespace=x")(pod)
    with pytest.raises(errors.ApiError) as exc:
        parse_field_selector("pods", "spec.containers=x")
    assert exc.value.code == 400 and "field label not supported: spec.containers" in exc.value.message
    with pytest.raises(errors.ApiError):
        parse_field_selector("services", "status.phase=Running")


def test_field_selector_escapes():
    obj = {"metadata": {"name": "a,b=c", "namespace": ""}}
    assert parse_field_selector("configmaps", r"metadata.name=a\,b\=c")(obj)


# ----- patches ---------------------------------------------------------------------------------------------
def test_merge_patch_rfc7386():
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert merge_patch(doc, {"a": {"b": None, "d": 3}, "l": [3]}) == {"a": {"c": 2, "d": 3}, "l": [3]}


def test_json_patch_ops_and_escaping():
    doc = {"metadata": {"annotations": {"a/b": "1"}}, "list": [1, 2]}
    out = json_patch(doc, [{"op": "replace", "path": "/metadata/annotations/a~1b", "value": "2"},
                           {"op": "add", "path": "/list/-", "value": 3},
                           {"op": "add", "path": "/list/0", "value": 0},
                           {"op": "remove", "path": "/list/1"},
                           {"op": "copy", "from": "/list/0", "path": "/first"},
                           {"op": "move", "from": "/first", "path": "/moved"},
                           {"op": "test", "path": "/moved", "value": 0}])
    assert out == {"metadata": {"annotations": {"a/b": "2"}}, "list": [0, 2, 3], "moved": 0}
    assert doc["list"] == [1, 2], "the input must not be modified"


@pytest.mark.parametrize("ops", [
    [{"op": "replace", "path": "/missing", "value": 1}],
    [{"op": "remove", "path": "/a/b"}],
    [{"op": "test", "path": "/a", "value": 2}],
    [{"op": "add", "path": "/l/9", "value": 1}],
])
def test_json_patch_failures_are_422(ops):
    with pytest.raises(errors.ApiError) as exc:
        json_patch({"a": 1, "l": []}, ops)
    assert exc.value.code == 422


def test_strategic_merge_by_merge_keys():
    pod = {"spec": {"containers": [{"name": "a", "image": "1", "ports": [{"containerPort": 80, "name": "http"}],
                                    "env": [{"name": "X", "value": "1"}]},
                                   {"name": "b", "image": "2"}],
                    "tolerations": [{"key": "t"}]},
           "metadata": {"finalizers": ["f1"]}}
    patch = {"spec": {"containers": [{"name": "a", "image": "9", "ports": [{"containerPort": 81}],
                                      "env": [{"name": "Y", "value": "2"}]},
                                     {"name": "b", "$patch": "delete"}],
                      "tolerations": [{"key": "u"}]},
             "metadata": {"finalizers": ["f2"]}}
    out = strategic_merge(pod, patch)
    c = out["spec"]["containers"]
    assert [x["name"] for x in c] == ["a"]
    assert c[0]["image"] == "9"
    assert c[0]["ports"] == [{"containerPort": 80, "name": "http"}, {"containerPort": 81}]
    assert c[0]["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert out["spec"]["tolerations"] == [{"key": "u"}], "lists without a merge key are replaced"
    assert out["metadata"]["finalizers"] == ["f1", "f2"]


def test_strategic_merge_directives():
    obj = {"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 90, "name": "b"}], "selector": {"x": "1", "y": "2"},
                    "containers": [{"name": "a"}, {"name": "b"}]},
           "metadata": {"finalizers": ["f1", "f2"]}}
    out = strategic_merge(obj, {"spec": {"selector": {"$patch": "replace", "z": "3"},
                                         "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                                         "containers": [{"name": "a", "image": "i"}],
                                         "ports": [{"port": 90, "targetPort": 9090}]},
                                "metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}})
    assert out["spec"]["selector"] == {"z": "3"}
    assert [c["name"] for c in out["spec"]["containers"]] == ["b", "a"]
    assert out["spec"]["containers"][1]["image"] == "i"
    assert out["spec"]["ports"][1] == {"port": 90, "name": "b", "targetPort": 9090}
    assert out["metadata"]["finalizers"] == ["f2"]
    assert strategic_merge({"a": {"b": 1}}, {"a": {"$patch": "delete"}}) == {}
    assert strategic_merge({"v": {"x": 1, "y": 2}}, {"v": {"$retainKeys": ["y", "z"], "z": 3}}) == {"v": {"y": 2, "z": 3}}
    replaced = strategic_merge({"spec": {"containers": [{"name": "a"}]}},
                               {"spec": {"containers": [{"name": "b"}, {"$patch": "replace"}]}})
    assert replaced["spec"]["containers"] == [{"name": "b"}]


# ----- store -----------------------------------------------------------------------------------------------
def _store() -> Store:
    asyncio.set_event_loop(asyncio.new_event_loop())
    return Store(history_limit=5)


def _pod(name: str, **spec) -> dict:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "kubesim-node", "containers": [{"name": "c", "image": "i"}], **spec},
            "status": {"phase": "Running"}}


class Hooks:
    def __init__(self):
        self.calls = []

    def pod_deletion_requested(self, pod, grace):
        self.calls.append((pod["metadata"]["name"], grace, pod["metadata"].get("deletionTimestamp")))


def test_store_resource_version_is_global_and_events_are_ordered():
    s = _store()
    q = s.subscribe()
    a = s.create("configmaps", {"metadata": {"name": "a", "namespace": "default"}})
    b = s.create("secrets", {"metadata": {"name": "b", "namespace": "default"}})
    assert int(b["metadata"]["resourceVersion"]) == int(a["metadata"]["resourceVersion"]) + 1
    s.update_status("configmaps", "default", "a", lambda o: o.setdefault("metadata", {}).setdefault(
        "labels", {}).update(x="1"))
    events = [q.get_nowait() for _ in range(3)]
    assert [(e.type, e.resource) for e in events] == [("ADDED", "configmaps"), ("ADDED", "secrets"),
                                                       ("MODIFIED", "configmaps")]
    assert events[2].object["metadata"]["labels"] == {"x": "1"}
    events[2].object["metadata"]["name"] = "changed"
    assert s.get("configmaps", "default", "a")["metadata"]["name"] == "a", "events are copies"


def test_store_history_compaction_gives_410():
    s = _store()
    first = s.resource_version
    for i in range(10):
        s.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "default"}})
    with pytest.raises(errors.ApiError) as exc:
        s.watch_from(first)
    assert exc.value.code == 410 and exc.value.reason == "Expired"
    backlog, q = s.watch_from(s.resource_version - 2)
    assert len(backlog) == 2
    s.unsubscribe(q)


def test_graceful_pod_delete_waits_for_the_kubelet():
    s = _store()
    s.hooks = Hooks()
    s.create("pods", _pod("p1", terminationGracePeriodSeconds=7))
    obj, removed = s.delete("pods", "default", "p1")
    assert not removed and obj["metadata"]["deletionGracePeriodSeconds"] == 7
    assert s.hooks.calls[0][:2] == ("p1", 7) and s.hooks.calls[0][2]
    s.delete("pods", "default", "p1")
    assert len(s.hooks.calls) == 1, "the hook is called once per pod"
    assert s.get("pods", "default", "p1") is not None
    s.finish_pod_termination("default", "p1")
    assert s.get("pods", "default", "p1") is None


def test_force_delete_and_finalizers():
    s = _store()
    s.hooks = Hooks()
    s.create("pods", _pod("p2"))
    _, removed = s.delete("pods", "default", "p2", grace=0)
    assert removed and s.hooks.calls == [("p2", 0, s.hooks.calls[0][2])]
    s.create("configmaps", {"metadata": {"name": "f", "namespace": "default", "finalizers": ["x/y"]}})
    _, removed = s.delete("configmaps", "default", "f")
    assert not removed and s.get("configmaps", "default", "f")["metadata"]["deletionTimestamp"]
    s.mutate("configmaps", "default", "f", lambda o: o["metadata"].__setitem__("finalizers", []))
    assert s.get("configmaps", "default", "f") is None


def test_unscheduled_or_finished_pods_are_deleted_at_once():
    s = _store()
    s.hooks = Hooks()
    done = _pod("done")
    done["status"]["phase"] = "Succeeded"
    s.create("pods", done)
    _, removed = s.delete("pods", "default", "done")
    assert removed and s.get("pods", "default", "done") is None


def test_create_requires_an_existing_namespace_and_unique_name():
    s = _store()
    with pytest.raises(errors.ApiError) as exc:
        s.create("configmaps", {"metadata": {"name": "a", "namespace": "nope"}})
    assert exc.value.code == 404 and exc.value.message == 'namespaces "nope" not found'
    s.create("configmaps", {"metadata": {"name": "a", "namespace": "default"}})
    with pytest.raises(errors.ApiError) as exc:
        s.create("configmaps", {"metadata": {"name": "a", "namespace": "default"}})
    assert exc.value.code == 409 and exc.value.reason == "AlreadyExists"
    g = s.create("configmaps", {"metadata": {"generateName": "gen-", "namespace": "default"}})
    assert g["metadata"]["name"].startswith("gen-") and len(g["metadata"]["name"]) == 9


def test_update_conflict_and_generation():
    s = _store()
    d = s.create("deployments", {"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 1}})
    assert d["metadata"]["generation"] == 1
    d["spec"]["replicas"] = 2
    d2 = s.update("deployments", d)
    assert d2["metadata"]["generation"] == 2
    with pytest.raises(errors.ApiError) as exc:
        s.update("deployments", d)
    assert exc.value.code == 409 and exc.value.reason == "Conflict"
    same = s.update("deployments", d2)
    assert same["metadata"]["resourceVersion"] == d2["metadata"]["resourceVersion"], "no-op writes keep the RV"


def test_protobuf_envelope_decoding():
    from kubesim.api import protobuf

    def field(number, payload):
        if isinstance(payload, int):
            return bytes([number << 3]) + bytes([payload])
        return bytes([(number << 3) | 2, len(payload)]) + payload

    type_meta = field(1, b"v1") + field(2, b"DeleteOptions")
    body = field(1, 0) + field(4, b"Foreground") + field(2, field(1, b"uid-1"))
    raw = b"k8s\x00" + field(1, type_meta) + field(2, body)
    assert protobuf.decode(raw) == {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                    "propagationPolicy": "Foreground", "preconditions": {"uid": "uid-1"}}
    with pytest.raises(errors.ApiError) as exc:
        protobuf.decode(b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"Widget")))
    assert exc.value.code == 415
    with pytest.raises(errors.ApiError) as exc:
        protobuf.decode(b"k8s\x00\x0a\xff")
    assert exc.value.code == 400


# ----- rollout planning ------------------------------------------------------------------------------------
def test_rolling_update_steps_within_surge_and_unavailable():
    from kubesim.api.controllers.rollout import SetState, plan
    spec = {"replicas": 4, "strategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}}
    new, old = SetState("new", 0, 0), [SetState("old", 4, 4, 4)]
    steps = []
    for _ in range(10):
        new_replicas, targets = plan(spec, new, old)
        steps.append((new_replicas, targets["old"]))
        assert new_replicas + targets["old"] <= 5, "never more than replicas + maxSurge"
        # Pods of the new set become available at once; the old set's remaining pods stay available.
        new = SetState("new", new_replicas, new_replicas)
        old = [SetState("old", targets["old"], targets["old"], targets["old"])]
        assert new.available + old[0].available >= 3, "never below replicas - maxUnavailable"
        if (new_replicas, targets["old"]) == (4, 0):
            break
    assert steps[0] == (1, 3) and steps[-1] == (4, 0)


def test_rollout_with_a_new_template_that_never_gets_ready_keeps_old_pods():
    from kubesim.api.controllers.rollout import SetState, plan
    spec = {"replicas": 4}                     # default 25% / 25%: surge 1, unavailable 1
    new, old = SetState("new", 1, 0), [SetState("old", 3, 3, 3)]
    assert plan(spec, new, old) == (2, {"old": 3}), "grows to replicas + surge, keeps 3 available"
    new = SetState("new", 2, 0)
    assert plan(spec, new, old) == (2, {"old": 3}), "and stays there while nothing new gets ready"


def test_recreate_and_percentages():
    from kubesim.api.controllers.rollout import SetState, plan, surge_and_unavailable
    recreate = {"replicas": 2, "strategy": {"type": "Recreate"}}
    assert plan(recreate, SetState("n", 0, 0), [SetState("o", 2, 2, 2)]) == (0, {"o": 0})
    assert plan(recreate, SetState("n", 0, 0), [SetState("o", 0, 0, 1)]) == (0, {"o": 0}), "old pods still going"
    assert plan(recreate, SetState("n", 0, 0), [SetState("o", 0, 0, 0)]) == (2, {"o": 0})
    assert surge_and_unavailable({"replicas": 10}) == (3, 2)
    assert surge_and_unavailable({"replicas": 1, "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}) \
        == (0, 1)
