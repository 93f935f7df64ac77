"""Random churn against the controllers: deployments are created, scaled, re-templated and deleted
(every propagation policy), services re-pointed, pods killed, in a seeded random order. Afterwards the
cluster must converge: every deployment rolled out with exactly its replicas, every service's Endpoints
listing exactly the ready pods it selects, nothing orphaned, and no controller error logged."""
import logging
import random

import pytest

from kubesim.api.testing import NOT_READY_IMAGE, api, sim  # noqa: F401 - pytest fixtures

NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"
SMP = "application/strategic-merge-patch+json"
APPS_NAMES = ["a", "b", "c"]


def deployment(name, replicas, image):
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image,
                                                           "ports": [{"containerPort": 8080, "name": "http"}]}]}}}}


def converged(sim) -> bool:
    store = sim.store
    pods = [p for p in store.list("pods", "default") if not p["metadata"].get("deletionTimestamp")]
    for d in store.list("deployments", "default"):
        st = d.get("status") or {}
        if st.get("observedGeneration") != d["metadata"]["generation"]:
            return False
        owned_sets = [rs for rs in store.list("replicasets", "default")
                      if any(r["uid"] == d["metadata"]["uid"] for r in rs["metadata"].get("ownerReferences") or [])]
        if sum(rs["spec"]["replicas"] for rs in owned_sets) < d["spec"]["replicas"]:
            return False
        mine = [p for p in pods if p["metadata"]["labels"].get("app") == d["metadata"]["name"]]
        ready_image = d["spec"]["template"]["spec"]["containers"][0]["image"] != NOT_READY_IMAGE
        if ready_image and (st.get("updatedReplicas") != d["spec"]["replicas"] or len(mine) != d["spec"]["replicas"]
                            or st.get("availableReplicas") != d["spec"]["replicas"]):
            return False
    live_rs_uids = {rs["metadata"]["uid"] for rs in store.list("replicasets", "default")}
    for p in pods:
        refs = p["metadata"].get("ownerReferences") or []
        if refs and not any(r["uid"] in live_rs_uids for r in refs):
            return False        # an orphan the garbage collector should have removed
    for svc in store.list("services", "default"):
        selector = svc["spec"].get("selector") or {}
        want = sorted(p["status"]["podIP"] for p in pods
                      if all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())
                      and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])))
        ep = store.get("endpoints", "default", svc["metadata"]["name"]) or {}
        got = sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])
        if got != want:
            return False
    return True


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_controllers_converge_after_random_churn(api, sim, seed, caplog):
    rng = random.Random(seed)
    caplog.set_level(logging.ERROR, logger="kubesim")
    for name in APPS_NAMES:
        api.post(f"{NS}/services", {"metadata": {"name": name},
                                    "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]}})
    for step in range(120):
        name = rng.choice(APPS_NAMES)
        action = rng.choice([0, 0, 1, 1, 2, 2, 3, 4, 4, 5, 6])
        if action == 0:
            api.post(f"{APPS}/deployments", deployment(name, rng.randrange(4), rng.choice(["img:1", "img:2"])))
        elif action == 1:
            api.patch(f"{APPS}/deployments/{name}/scale", {"spec": {"replicas": rng.randrange(5)}},
                      "application/merge-patch+json")
        elif action == 2:
            image = rng.choice(["img:1", "img:2", "img:3", NOT_READY_IMAGE])
            api.patch(f"{APPS}/deployments/{name}",
                      {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}, SMP)
        elif action == 3:
            api.delete(f"{APPS}/deployments/{name}",
                       {"propagationPolicy": rng.choice(["Background", "Foreground", "Orphan"])})
        elif action == 4:
            victims = [p["metadata"]["name"] for p in sim.run(sim.store.list, "pods", "default")]
            if victims:
                api.delete(f"{NS}/pods/{rng.choice(victims)}",
                           {"gracePeriodSeconds": rng.choice([0, 30])} if rng.random() < 0.5 else None)
        elif action == 5:
            api.patch(f"{NS}/services/{name}", {"spec": {"selector": {"app": rng.choice(APPS_NAMES)}}},
                      "application/merge-patch+json")
        else:
            api.delete(f"{APPS}/replicasets?labelSelector=app%3D{name}")
    # Orphaned replicasets (from Orphan deletes) keep their pods, which the final check would count as
    # extra: delete them so that only deployment-owned pods remain.
    for rs in sim.run(sim.store.list, "replicasets", "default"):
        if not rs["metadata"].get("ownerReferences"):
            api.delete(f"{APPS}/replicasets/{rs['metadata']['name']}")
    # From whatever state the churn left, ask for a known one: every app deployed with two ready pods
    # behind its own service.
    for name in APPS_NAMES:
        if api.get(f"{APPS}/deployments/{name}").status == 404:
            api.post(f"{APPS}/deployments", deployment(name, 2, "img:final"))
        else:
            api.patch(f"{APPS}/deployments/{name}", {"spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "c", "image": "img:final"}]}}}}, SMP)
        api.patch(f"{NS}/services/{name}", {"spec": {"selector": {"app": name}}}, "application/merge-patch+json")
    sim.wait_for(lambda: converged(sim), timeout=30, what=f"convergence after churn (seed {seed})")
    for name in APPS_NAMES:
        ep = sim.run(sim.store.get, "endpoints", "default", name)
        assert len(ep["subsets"][0]["addresses"]) == 2, ep
    errors = [r for r in caplog.records if r.name.startswith("kubesim")]
    assert not errors, [r.getMessage() for r in errors]
