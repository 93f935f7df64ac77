"""The session model over JSON-RPC on kubesim: the two-phase start (prepared, then active once the local
process listens), one session for two starts with the same binding, a cancelled start undone at every step,
every mode over JSON-RPC, and errors whose category says whose they are."""
import json

import pytest

from exchange_support import LocalServer, assert_points_at_shadow, free_port
from tethertest.rpc import RpcError


def start_params(demo, port, **extra):
    return {"namespace": demo.ns, "mode": "exchange", "target": "orders", "expose": [{"local": port, "remote": 80}],
            **extra}


def test_prepared_comes_before_the_local_port_listens_and_traffic_moves_only_then(demo, launcher):
    before = demo.svc("orders")
    endpoints_before = demo.wait_endpoints("orders", lambda names: len(names) == 2, "the cluster's pods")
    port = free_port()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    session = rpc.request("tether/session/start", start_params(demo, port, awaitLocal=True,
                                                               baseEnv={"NO_PROXY": "corp.example"}))
    assert session["state"] == "prepared"
    env = session["launch"]["env"]
    assert "HTTP_PROXY" in env and "corp.example" in env["NO_PROXY"].split(",")
    # Nothing listens yet: the Service still selects the cluster's pods.
    assert demo.svc("orders")["spec"]["selector"] == before["spec"]["selector"]
    assert demo.wait_endpoints("orders", lambda names: len(names) == 2, "the cluster's pods") == endpoints_before
    assert demo.get_json("http://orders/still-cluster")["where"] == "cluster"
    assert [s["state"] for s in rpc.session_changes(session["id"])][-1] == "prepared"

    local = LocalServer(port)  # the debuggee starts listening
    rpc.wait_session_state(session["id"], "active")
    assert_points_at_shadow(demo, "orders", session)
    assert demo.get_json("http://orders/moved") == local.answer("/moved")
    stopped = rpc.request("tether/session/stop", {"id": session["id"]})
    assert stopped["state"] == "stopped"
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


def test_two_starts_with_one_binding_share_one_session_until_the_last_stop(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    first, second = (rpc.send_request("tether/session/start", start_params(demo, local.port)) for _ in range(2))
    one, two = rpc.response(first), rpc.response(second)
    assert one["id"] == two["id"] and one["state"] == two["state"] == "active"
    shadow = f"tether-orders-{one['id']}"
    assert sorted(demo.tether_objects()) == [f"pod/{shadow}", f"secret/{shadow}-token"]

    assert rpc.request("tether/session/stop", {"id": one["id"]})["state"] == "active"
    assert [s["id"] for s in rpc.request("tether/session/list")["sessions"]] == [one["id"]]
    assert demo.get_json("http://orders/still-mine") == local.answer("/still-mine")

    assert rpc.request("tether/session/stop", {"id": one["id"]})["state"] == "stopped"
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/session/stop", {"id": one["id"]})
    assert refused.value.data["category"] == "user"

    # The user's explicit stop (force) ends a session whatever holds it.
    held = [rpc.request("tether/session/start", start_params(demo, local.port)) for _ in range(2)]
    assert held[0]["id"] == held[1]["id"]
    assert rpc.request("tether/session/stop", {"id": held[0]["id"], "force": True})["state"] == "stopped"
    assert rpc.request("tether/session/list")["sessions"] == []
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


STEPS = ["Reading Service", "Checking permissions", "Locking Service", "Creating the shadow pod",
         "Waiting for the shadow pod", "Opening the tunnel", "Waiting for your process"]


@pytest.mark.parametrize("step", STEPS)
def test_a_start_cancelled_at_any_step_leaves_the_cluster_as_it_was(demo, launcher, step):
    before = demo.svc("orders")
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    token = f"cancel-{STEPS.index(step)}"
    request_id = rpc.send_request("tether/session/start", start_params(demo, free_port(), awaitLocal=True,
                                                                       workDoneToken=token))
    rpc.wait_notification(lambda n: n.get("method") == "$/progress" and n["params"]["token"] == token and
                          step in n["params"]["value"].get("message", ""), what=f"progress '{step}'")
    rpc.notify("$/cancelRequest", {"id": request_id})
    try:
        answer = rpc.response(request_id)
        # The prepared answer can win the race with the cancel (the last step comes after it): stop it then.
        assert step == STEPS[-1] and answer["state"] == "prepared", answer
        rpc.request("tether/session/stop", {"id": answer["id"]})
    except RpcError as error:
        assert error.code == -32800, error
    started = [s for s in rpc.session_changes() if s["state"] == "starting"]
    assert len(started) == 1
    rpc.wait_notification(lambda n: n.get("method") == "tether/sessionChanged" and
                          n["params"]["session"]["id"] == started[0]["id"] and
                          n["params"]["session"]["state"] in ("stopped", "failed"), what="the session ending")
    assert rpc.request("tether/session/list")["sessions"] == []
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()


def test_every_mode_over_json_rpc(demo, launcher):
    before = demo.services()
    local = LocalServer()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    connect = rpc.request("tether/session/start", {"namespace": demo.ns, "mode": "connect"})
    assert connect["mode"] == "connect" and connect["state"] == "active" and "HTTP_PROXY" in connect["launch"]["env"]
    preview = rpc.request("tether/session/start", {"namespace": demo.ns, "mode": "preview", "target": "orders-v2",
                                                   "expose": [f"{local.port}:80"], "preview": {"type": "ClusterIP"}})
    assert demo.get_json("http://orders-v2/v2") == local.answer("/v2")
    held = {s["name"]: s.get("heldBy") for s in rpc.request("tether/services", {"namespace": demo.ns})["services"]}
    assert held["orders-v2"] == {"session": preview["id"], "mode": "preview", "owner": preview["owner"],
                                 "since": held["orders-v2"]["since"]}
    port = free_port()
    forward = rpc.request("tether/session/start", {"namespace": demo.ns, "mode": "forward", "target": "inventory",
                                                   "expose": [{"local": port, "remote": 80}]})
    assert forward["expose"][0]["local"] == port
    listed = {s["mode"] for s in rpc.request("tether/session/list")["sessions"]}
    assert listed == {"connect", "preview", "forward"}
    for session in (connect, preview, forward):
        assert rpc.request("tether/session/stop", {"id": session["id"]})["state"] == "stopped"
    demo.wait_tether_objects_gone()
    assert demo.services() == before
    local.close()


@pytest.mark.parametrize("params, field", [
    ({"mode": "teleport", "target": "orders", "expose": ["1"]}, "mode"),
    ({"mode": "connect", "target": "orders"}, "target"),
    ({"mode": "forward", "target": "orders", "expose": ["x:80"]}, "expose"),
    ({"mode": "preview", "target": "orders", "expose": ["1"], "preview": {"type": "Headless"}}, "preview.type"),
])
def test_bad_params_name_the_json_field_and_change_nothing(demo, launcher, params, field):
    before = demo.services()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/session/start", {"namespace": demo.ns, **params})
    error = refused.value
    assert error.data["category"] == "user"
    assert field in error.message + error.data["hint"], error
    assert (error.data.get("reason"), error.data.get("field")) == ("invalid-field", field), error
    assert "--expose" not in error.message
    assert demo.tether_objects() == [] and demo.services() == before


@pytest.mark.parametrize("namespace, target, reason, field", [
    (None, "no-such-service", "service-not-found", "target"),
    ("no-such-namespace", "orders", "namespace-not-found", "namespace"),
])
def test_a_missing_service_or_namespace_gives_the_ide_a_reason_not_a_command_line(
        demo, launcher, namespace, target, reason, field):
    before = demo.services()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/session/start", {"namespace": namespace or demo.ns, "mode": "exchange",
                                             "target": target, "expose": ["18080:80"]})
    error = refused.value
    assert (error.data["category"], error.data.get("reason"), error.data.get("field")) == ("user", reason, field), error
    assert (namespace or target) in error.message, error
    # The IDE names its own fix; nothing in the message or hint is for a terminal.
    for text in (error.message, error.data["hint"]):
        assert "`tether" not in text and "--" not in text and " -n " not in text, error
    assert demo.tether_objects() == [] and demo.services() == before


def test_a_port_the_service_lacks_and_a_service_this_backend_holds_are_reasons_too(demo, launcher):
    before = demo.services()
    orders = demo.svc("orders")
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/session/start", {**start_params(demo, free_port()), "expose": [f"{free_port()}:9999"]})
    error = refused.value
    assert (error.data.get("reason"), error.data.get("field")) == ("invalid-field", "expose"), error
    assert "9999" in error.message and "--expose" not in error.message, error
    assert demo.services() == before

    local = LocalServer()
    first = rpc.request("tether/session/start", start_params(demo, local.port))
    with pytest.raises(RpcError) as refused:
        # Another binding (other ports) for the same Service: a second session, which the first one blocks.
        rpc.request("tether/session/start", start_params(demo, free_port()))
    error = refused.value
    assert error.data.get("reason") == "held-by-running-session", error
    assert first["id"] in error.message and "stop that session first" in error.message, error
    assert rpc.request("tether/session/stop", {"id": first["id"]})["state"] == "stopped"
    demo.assert_restored("orders", orders)
    local.close()


def test_the_services_of_a_namespace_that_does_not_exist_are_an_error_not_an_empty_list(demo, launcher, cluster):
    empty = f"{demo.ns}-empty"
    cluster.kubectl("create", "namespace", empty)
    try:
        rpc = launcher.rpc(launcher.env())
        rpc.initialize()
        assert rpc.request("tether/services", {"namespace": empty})["services"] == []
        with pytest.raises(RpcError) as refused:
            rpc.request("tether/services", {"namespace": f"{demo.ns}-typo"})
        error = refused.value
        assert (error.data["category"], error.data.get("reason"), error.data.get("field")) == \
            ("user", "namespace-not-found", "namespace"), error
        assert f'"{demo.ns}-typo" does not exist' in error.message, error
    finally:
        cluster.kubectl("delete", "namespace", empty, "--wait=false", check=False)


def test_a_missing_permission_is_a_forbidden_reason_for_the_ide(demo, launcher):
    demo.kubectl("create", "rolebinding", "restricted-view", "--clusterrole=view", "--user=kubesim-restricted")
    before = demo.services()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/namespaces", {"context": "kubesim-restricted"})
    assert (refused.value.data["category"], refused.value.data.get("reason")) == ("user", "forbidden"), refused.value
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/session/start", {"context": "kubesim-restricted", "namespace": demo.ns, "mode": "exchange",
                                             "target": "orders", "expose": ["18080:80"]})
    error = refused.value
    assert (error.data["category"], error.data.get("reason")) == ("user", "forbidden"), error
    assert "patch services" in error.message, error
    assert demo.tether_objects() == [] and demo.services() == before


def test_a_cluster_that_does_not_answer_is_the_clusters_fault(demo, launcher, tmp_path):
    kubeconfig = json.loads(launcher.cluster.kubectl("config", "view", "--raw", "-o", "json").stdout)
    for cluster in kubeconfig["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    broken = tmp_path / "broken-kubeconfig"
    broken.write_text(json.dumps(kubeconfig))
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/session/start", {"kubeconfig": str(broken), "namespace": demo.ns, "mode": "connect"})
    assert refused.value.data["category"] == "cluster", refused.value


def test_a_session_that_failed_by_itself_gives_its_binding_and_ports_back(demo, launcher):
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    port = free_port()
    params = {"namespace": demo.ns, "mode": "forward", "target": "orders", "expose": [{"local": port, "remote": 80}]}
    first = rpc.request("tether/session/start", params)
    demo.kubectl("delete", "pod", first["shadowPod"], "--wait=false")  # evicted, say
    rpc.wait_session_state(first["id"], "failed", timeout=90)
    second = rpc.request("tether/session/start", params)  # the same binding and local port, afresh
    assert second["id"] != first["id"] and second["state"] == "active"
    assert rpc.request("tether/session/stop", {"id": second["id"]})["state"] == "stopped"
    demo.wait_tether_objects_gone()
