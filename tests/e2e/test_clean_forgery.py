"""`tether clean` against annotations someone forged: anyone who may patch a Service can write tether.dev/*
on it, so clean acts only where the annotations agree with each other and with the cluster, deletes only
what is labelled as Tether's with the role Tether gave it, and never touches a session that is alive on
some Service. Each case leaves the cluster exactly as it was and says why."""
import json

from exchange_support import LocalServer, assert_points_at_shadow

OLD = "2020-01-01T00:00:00Z"  # a heartbeat every threshold calls stale


def forge(demo, service, **annotations):
    """Writes tether.dev/<key> annotations on a Service, as anyone with patch rights could."""
    values = {"locked-by": "f0f0f0f0", "owner": "mallory@elsewhere", "since": OLD, "heartbeat": OLD,
              "mode": "exchange", **annotations}
    patch = {"metadata": {"annotations": {f"tether.dev/{k.replace('_', '-')}": v for k, v in values.items()}}}
    demo.kubectl("patch", "service", service, "--type=merge", "-p", json.dumps(patch))
    return demo.svc(service)


def clean(demo, launcher):
    code, events, stderr = launcher.run(launcher.env("cleaner"), "clean", "-n", demo.ns, "--output", "json")
    assert code in (0, 1), stderr
    return [e["action"] for e in events if e.get("event") == "clean"], stderr


def replicas(demo, deployment):
    return demo.deployment(deployment)["spec"]["replicas"]


def unchanged(demo, name, forged):
    after = demo.svc(name)
    assert json.dumps(after["spec"]) == json.dumps(forged["spec"])
    assert after["metadata"].get("annotations") == forged["metadata"].get("annotations")


def test_replica_counts_are_applied_only_with_strategy_scale_and_deployments_of_the_selector(demo, launcher):
    # strategy selector does not scale anything: a count there is forged.
    forged = forge(demo, "frontend", strategy="selector", original_selector="app=frontend",
                   original_replicas="inventory=0")
    actions, _ = clean(demo, launcher)
    assert [(a["kind"], a["object"]) for a in actions] == [("restore", f"service/{demo.ns}/frontend")]
    assert "strategy selector does not scale Deployments" in actions[0]["error"]
    assert replicas(demo, "inventory") == 1
    unchanged(demo, "frontend", forged)

    # strategy scale, but the Deployment named runs other pods than the saved selector.
    forged = forge(demo, "frontend", strategy="scale", original_selector="app=frontend",
                   original_replicas="inventory=0")
    actions, _ = clean(demo, launcher)
    assert "Deployment inventory does not run the pods of the saved selector app=frontend" in actions[0]["error"]
    assert replicas(demo, "inventory") == 1
    unchanged(demo, "frontend", forged)

    # strategy scale and the right Deployment, but a count no scale-down left behind.
    forged = forge(demo, "frontend", strategy="scale", original_selector="app=frontend",
                   original_replicas="frontend=999999")
    actions, _ = clean(demo, launcher)
    assert "asks for 999999 replicas of Deployment frontend" in actions[0]["error"]
    assert replicas(demo, "frontend") == 1
    unchanged(demo, "frontend", forged)

    # A plausible count, but the Deployment itself carries no record that this session scaled it: only
    # someone who may patch the Deployment could have written one.
    forged = forge(demo, "frontend", strategy="scale", original_selector="app=frontend",
                   original_replicas="frontend=3")
    actions, _ = clean(demo, launcher)
    assert "Deployment frontend carries no record that session f0f0f0f0 scaled it from 3" in actions[0]["error"]
    assert replicas(demo, "frontend") == 1
    unchanged(demo, "frontend", forged)

    # A record of another session, or of another count, is no record either.
    for scaled_by, count in (("0a0a0a0a", "3"), ("f0f0f0f0", "2")):
        demo.kubectl("annotate", "--overwrite", "deployment", "frontend", f"tether.dev/scaled-by={scaled_by}",
                     f"tether.dev/original-replicas={count}")
        actions, _ = clean(demo, launcher)
        assert "carries no record that session f0f0f0f0" in actions[0]["error"], (scaled_by, count, actions)
        assert replicas(demo, "frontend") == 1
        unchanged(demo, "frontend", forged)
    demo.kubectl("annotate", "deployment", "frontend", "tether.dev/scaled-by-", "tether.dev/original-replicas-")


def test_a_missing_or_garbled_saved_selector_changes_nothing(demo, launcher):
    for saved in ("", "app", "app=frontend,,tier=x"):
        forged = forge(demo, "frontend", strategy="selector", original_selector=saved)
        actions, _ = clean(demo, launcher)
        assert "is missing or not a selector" in actions[0]["error"], actions
        unchanged(demo, "frontend", forged)  # the selector was not replaced by an empty one
        assert demo.svc("frontend")["spec"]["selector"] == {"app": "frontend"}


def test_only_objects_named_and_labelled_as_tethers_with_their_role_are_deleted(demo, launcher):
    # Somebody's own pod and Secret that carry every label Tether gives its own, with the session of a forged
    # stale lock: labels can be written by whoever may patch an object, names are the owner's choice.
    for kind, extra in (("Pod", {"spec": {"containers": [{"name": "c", "image": "kubesim/toolbox"}]}}),
                        ("Secret", {"stringData": {"k": "v"}})):
        demo.cluster.apply({"apiVersion": "v1", "kind": kind,
                            "metadata": {"name": "mine", "namespace": demo.ns,
                                         "labels": {"tether.dev/session": "f0f0f0f0",
                                                    "app.kubernetes.io/managed-by": "tether",
                                                    "tether.dev/role": "shadow" if kind == "Pod" else "token"}},
                            **extra})
    forge(demo, "frontend", strategy="selector", original_selector="app=frontend")
    actions, _ = clean(demo, launcher)
    assert [(a["kind"], a["object"], a.get("error")) for a in actions] == [
        ("restore", f"service/{demo.ns}/frontend", None)]  # the lock goes; nothing is deleted
    assert demo.kubectl("get", "pod/mine", "secret/mine", "-o", "name").stdout.split() == ["pod/mine", "secret/mine"]


def test_a_session_alive_on_one_service_is_left_alone_whatever_another_claims(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    # A forged stale lock on another Service, naming the live session: cleaning it would delete the shadow
    # the live session's Service points at.
    forged = forge(demo, "frontend", locked_by=session["id"], strategy="selector", original_selector="app=frontend")
    code, events, stderr = launcher.run(launcher.env("cleaner"), "clean", "-n", demo.ns, "--output", "json")
    assert code == 0, stderr
    assert [e for e in events if e.get("event") == "clean"] == []
    kept = [e["session"] for e in events if e.get("event") == "kept"]
    assert any(f"alive on service/{demo.ns}/orders) on service/{demo.ns}/frontend" in k for k in kept), kept
    unchanged(demo, "frontend", forged)
    assert_points_at_shadow(demo, "orders", session)
    assert demo.get_json("http://orders/still") == local.answer("/still")
    assert exchange.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.kubectl("annotate", "service", "frontend", *[f"tether.dev/{k}-" for k in (
        "locked-by", "owner", "since", "heartbeat", "mode", "strategy", "original-selector")])
    local.close()


def test_a_service_labelled_as_a_preview_but_selecting_other_pods_is_not_deleted(demo, launcher):
    # The labels and annotation of a preview, on the real `inventory` Service (patch rights suffice).
    patch = {"metadata": {"labels": {"app.kubernetes.io/managed-by": "tether", "tether.dev/role": "preview",
                                     "tether.dev/session": "f0f0f0f0"},
                          "annotations": {"tether.dev/mode": "preview", "tether.dev/heartbeat": OLD}}}
    demo.kubectl("patch", "service", "inventory", "--type=merge", "-p", json.dumps(patch))
    before = demo.svc("inventory")
    actions, _ = clean(demo, launcher)
    assert actions == []
    assert demo.svc("inventory")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
