"""Controllers: deployment -> replicaset -> pods, rollout status fields, scale, endpoints and
endpointslices, ownerReference garbage collection (background, foreground, orphan), namespace cascade."""
from kubesim.api.testing import NOT_READY_IMAGE, api, sim  # noqa: F401 - pytest fixtures

NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"
MERGE = "application/merge-patch+json"


def deployment(name, replicas=2, image="kubesim/echo", labels=None):
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image,
                                                           "ports": [{"containerPort": 8080, "name": "http"}]}]}}}}


def pods_of(sim, label_value, ns="default"):
    return [p for p in sim.store.list("pods", ns) if (p["metadata"].get("labels") or {}).get("app") == label_value]


def rollout_complete(sim, name):
    d = sim.store.get("deployments", "default", name)
    if d is None:
        return False
    st = d.get("status") or {}
    want = d["spec"]["replicas"]
    return (st.get("observedGeneration", 0) >= d["metadata"]["generation"] and st.get("updatedReplicas", 0) >= want
            and st.get("replicas", 0) <= st.get("updatedReplicas", 0)
            and st.get("availableReplicas", 0) >= st.get("updatedReplicas", 0))


def test_deployment_creates_replicaset_and_pods(api, sim):
    assert api.post(f"{APPS}/deployments", deployment("web", 3)).status == 201
    sim.wait_for(lambda: rollout_complete(sim, "web"), what="rollout")
    d = api.get(f"{APPS}/deployments/web").json
    assert d["status"]["readyReplicas"] == 3 and d["status"]["availableReplicas"] == 3
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert conds["Available"]["status"] == "True" and conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    rs = api.get(f"{APPS}/replicasets").json["items"]
    assert len(rs) == 1
    owner = rs[0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Deployment" and owner["uid"] == d["metadata"]["uid"] and owner["controller"] is True
    h = rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs[0]["metadata"]["name"] == f"web-{h}"
    pods = api.get(f"{NS}/pods?labelSelector=app%3Dweb").json["items"]
    assert len(pods) == 3
    assert all(p["metadata"]["ownerReferences"][0]["name"] == rs[0]["metadata"]["name"] for p in pods)
    assert all(p["metadata"]["name"].startswith(f"web-{h}-") for p in pods)


def test_rollout_replaces_pods_and_scale_subresource(api, sim):
    api.post(f"{APPS}/deployments", deployment("web", 2))
    sim.wait_for(lambda: rollout_complete(sim, "web"))
    old_pods = {p["metadata"]["name"] for p in pods_of(sim, "web")}
    r = api.patch(f"{APPS}/deployments/web", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "kubesim/echo:v2"}]}}}}, "application/strategic-merge-patch+json")
    assert r.json["metadata"]["generation"] == 2
    sim.wait_for(lambda: rollout_complete(sim, "web") and
                 not old_pods & {p["metadata"]["name"] for p in pods_of(sim, "web")}, what="new pods")
    sets = api.get(f"{APPS}/replicasets").json["items"]
    assert sorted(s["spec"]["replicas"] for s in sets) == [0, 2]
    revisions = sorted(s["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for s in sets)
    assert revisions == ["1", "2"]
    scale = api.get(f"{APPS}/deployments/web/scale").json
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1" and scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    r = api.patch(f"{APPS}/deployments/web/scale", {"spec": {"replicas": 4}}, MERGE)
    assert r.status == 200 and r.json["spec"]["replicas"] == 4
    sim.wait_for(lambda: len(pods_of(sim, "web")) == 4 and rollout_complete(sim, "web"))
    api.patch(f"{APPS}/deployments/web/scale", {"spec": {"replicas": 1}}, MERGE)
    sim.wait_for(lambda: len(pods_of(sim, "web")) == 1, what="scale down")
    assert api.patch(f"{APPS}/deployments/web/scale", {"spec": {"replicas": -1}}, MERGE).status == 422


def test_replicaset_replaces_deleted_pods(api, sim):
    api.post(f"{APPS}/deployments", deployment("rs", 2))
    sim.wait_for(lambda: len(pods_of(sim, "rs")) == 2)
    victim = pods_of(sim, "rs")[0]["metadata"]["name"]
    api.delete(f"{NS}/pods/{victim}")
    sim.wait_for(lambda: len(pods_of(sim, "rs")) == 2 and victim not in {p["metadata"]["name"] for p in pods_of(sim, "rs")})


def test_endpoints_and_slices_follow_pods(api, sim):
    api.post(f"{APPS}/deployments", deployment("web", 2))
    api.post(f"{APPS}/deployments", deployment("slow", 1, image=NOT_READY_IMAGE))
    api.post(f"{NS}/services", {"metadata": {"name": "web"},
                                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http",
                                                                               "name": "web"}]}})
    sim.wait_for(lambda: len((sim.store.get("endpoints", "default", "web") or {}).get("subsets", [{}])[0]
                             .get("addresses", [])) == 2, what="two ready addresses")
    ep = api.get(f"{NS}/endpoints/web").json
    subset = ep["subsets"][0]
    assert subset["ports"] == [{"port": 8080, "protocol": "TCP", "name": "web"}], "named targetPort resolved"
    assert {a["targetRef"]["name"] for a in subset["addresses"]} == {p["metadata"]["name"] for p in pods_of(sim, "web")}
    slices = api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                     "?labelSelector=kubernetes.io%2Fservice-name%3Dweb").json["items"]
    assert len(slices) == 1 and slices[0]["addressType"] == "IPv4"
    assert slices[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslice-controller.k8s.io"
    assert all(e["conditions"]["ready"] for e in slices[0]["endpoints"]) and len(slices[0]["endpoints"]) == 2
    # Moving the selector to the never-ready pods moves them to notReadyAddresses.
    api.patch(f"{NS}/services/web", {"spec": {"selector": {"app": "slow"}}}, MERGE)
    sim.wait_for(lambda: "notReadyAddresses" in (sim.store.get("endpoints", "default", "web").get("subsets") or [{}])[0],
                 what="not ready addresses")
    ep = api.get(f"{NS}/endpoints/web").json
    assert "addresses" not in ep["subsets"][0]
    sl = api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices").json["items"][0]
    assert [e["conditions"]["ready"] for e in sl["endpoints"]] == [False]
    api.delete(f"{NS}/services/web")
    sim.wait_for(lambda: sim.store.get("endpoints", "default", "web") is None and
                 not sim.store.list("endpointslices", "default"), what="endpoints cleanup")


def test_gc_background_and_orphan(api, sim):
    api.post(f"{APPS}/deployments", deployment("bg", 2))
    sim.wait_for(lambda: len(pods_of(sim, "bg")) == 2)
    r = api.delete(f"{APPS}/deployments/bg", {"propagationPolicy": "Background"})
    assert r.status == 200 and r.json["status"] == "Success"
    sim.wait_for(lambda: not pods_of(sim, "bg") and not sim.store.list("replicasets", "default"), what="gc")
    api.post(f"{APPS}/deployments", deployment("orph", 1))
    sim.wait_for(lambda: len(pods_of(sim, "orph")) == 1)
    api.delete(f"{APPS}/deployments/orph", {"propagationPolicy": "Orphan"})
    sim.wait_for(lambda: sim.store.get("deployments", "default", "orph") is None)
    sets = sim.run(sim.store.list, "replicasets", "default")
    assert len(sets) == 1 and not sets[0]["metadata"].get("ownerReferences"), "the replicaset is orphaned"
    assert len(pods_of(sim, "orph")) == 1


def test_gc_foreground_waits_for_dependents(api, sim):
    sim.kubelet.hold_terminations = True
    api.post(f"{APPS}/deployments", deployment("fg", 2))
    sim.wait_for(lambda: len(pods_of(sim, "fg")) == 2 and rollout_complete(sim, "fg"))
    r = api.delete(f"{APPS}/deployments/fg", {"propagationPolicy": "Foreground"})
    assert r.status == 200 and "foregroundDeletion" in r.json["metadata"]["finalizers"]
    sim.wait_for(lambda: all(p["metadata"].get("deletionTimestamp") for p in pods_of(sim, "fg")), what="pods terminating")
    assert sim.run(sim.store.get, "deployments", "default", "fg") is not None, "the owner waits for its pods"
    sim.run(sim.kubelet.release)
    sim.wait_for(lambda: sim.store.get("deployments", "default", "fg") is None, what="owner removed")
    assert not pods_of(sim, "fg")


def test_namespace_deletion_cascades(api, sim):
    sim.kubelet.hold_terminations = True
    assert api.post("/api/v1/namespaces", {"metadata": {"name": "doomed"}}).status == 201
    sim.wait_for(lambda: sim.store.get("serviceaccounts", "doomed", "default"), what="default serviceaccount")
    api.post("/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "c"}})
    api.post("/api/v1/namespaces/doomed/pods", {"metadata": {"name": "p"},
                                               "spec": {"containers": [{"name": "c", "image": "i"}]}})
    r = api.delete("/api/v1/namespaces/doomed")
    assert r.status == 200 and r.json["status"]["phase"] == "Terminating"
    refused = api.post("/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "late"}})
    assert refused.status == 403 and "because it is being terminated" in refused.json["message"]
    sim.wait_for(lambda: sim.store.get("configmaps", "doomed", "c") is None, what="configmap deleted")
    assert sim.run(sim.store.get, "namespaces", None, "doomed") is not None, "the pod is still terminating"
    sim.run(sim.kubelet.release)
    sim.wait_for(lambda: sim.store.get("namespaces", None, "doomed") is None, what="namespace gone")
    assert api.get("/api/v1/namespaces/doomed").status == 404


def test_events_and_paused_rollout(api, sim):
    api.post(f"{APPS}/deployments", deployment("ev", 1))
    sim.wait_for(lambda: rollout_complete(sim, "ev"))
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in api.get(f"{NS}/events").json["items"]}
    assert {("Deployment", "ScalingReplicaSet"), ("ReplicaSet", "SuccessfulCreate"), ("Pod", "Scheduled")} <= reasons
    pod = pods_of(sim, "ev")[0]
    sel = f"involvedObject.name%3D{pod['metadata']['name']},involvedObject.uid%3D{pod['metadata']['uid']}"
    mine = api.get(f"{NS}/events?fieldSelector={sel}").json["items"]
    assert [e["message"] for e in mine] == [f"Successfully assigned default/{pod['metadata']['name']} to kubesim-node"]
    api.patch(f"{APPS}/deployments/ev", {"spec": {"paused": True}}, MERGE)
    api.patch(f"{APPS}/deployments/ev", {"spec": {"template": {"metadata": {"labels": {"app": "ev", "v": "2"}}}}},
              MERGE)
    sim.wait_for(lambda: sim.store.get("deployments", "default", "ev")["status"]["observedGeneration"] == 3)
    assert len(sim.run(sim.store.list, "replicasets", "default")) == 1, "no new replicaset while paused"
    api.patch(f"{APPS}/deployments/ev", {"spec": {"paused": None}}, MERGE)
    sim.wait_for(lambda: len(sim.store.list("replicasets", "default")) == 2 and rollout_complete(sim, "ev"),
                 what="rollout after resume")


def test_available_condition_allows_max_unavailable(api, sim):
    d = deployment("avail", 3)
    d["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    api.post(f"{APPS}/deployments", d)
    sim.wait_for(lambda: rollout_complete(sim, "avail"))
    # Four replicas of a template that never gets ready: the three old pods stay available.
    api.patch(f"{APPS}/deployments/avail", {"spec": {"replicas": 4, "template": {"spec": {"containers": [
        {"name": "c", "image": NOT_READY_IMAGE}]}}}}, "application/strategic-merge-patch+json")

    def available():
        dep = sim.store.get("deployments", "default", "avail")
        st = dep.get("status") or {}
        if st.get("observedGeneration") != dep["metadata"]["generation"] or st.get("updatedReplicas", 0) < 1:
            return None
        assert st["availableReplicas"] == 3, "the old pods stay while the new ones are not ready"
        return next(c["status"] for c in st["conditions"] if c["type"] == "Available")

    assert sim.wait_for(lambda: available() == "False", what="3 of 4 is not enough with maxUnavailable 0")
    api.patch(f"{APPS}/deployments/avail", {"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": "25%"}}}},
              "application/strategic-merge-patch+json")
    sim.wait_for(lambda: available() == "True", what="3 of 4 is enough with maxUnavailable 25%")


def test_headless_and_publish_not_ready(api, sim):
    api.post(f"{APPS}/deployments", deployment("slow", 2, image=NOT_READY_IMAGE))
    api.post(f"{NS}/services", {"metadata": {"name": "h"},
                                "spec": {"clusterIP": "None", "selector": {"app": "slow"},
                                         "publishNotReadyAddresses": True, "ports": [{"port": 80}]}})
    sim.wait_for(lambda: len(((sim.store.get("endpoints", "default", "h") or {}).get("subsets") or [{}])[0]
                             .get("addresses", [])) == 2, what="not-ready pods published")
    ep = api.get(f"{NS}/endpoints/h").json
    assert ep["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
    sl = api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices").json["items"][0]
    assert [e["conditions"]["ready"] for e in sl["endpoints"]] == [True, True]
