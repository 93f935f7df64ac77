"""Exchange sessions that work (issue #6): by the CLI and by JSON-RPC, two Services at once, `-- CMD` with the
session's environment, strategy scale. Real traffic from pods of kubesim reaches processes on this machine, and
every test checks that the cluster is exactly as it was afterwards."""
import json
import re

from exchange_support import LocalServer, assert_points_at_shadow, tether_annotations


# --- 1. the CLI --------------------------------------------------------------------------------------------

def test_cli_exchange_sends_cluster_traffic_to_the_local_process_and_ctrl_c_restores(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns, output="text")
    exchange.wait_line(lambda line: line == "Press Ctrl-C to stop and restore orders.")
    session_id = re.search(r"\(session ([0-9a-f]+)\)", "\n".join(exchange.lines)).group(1)

    held = demo.svc("orders")
    assert held["spec"]["selector"] == {"tether.dev/session": session_id}
    annotations = tether_annotations(held)
    assert annotations["tether.dev/locked-by"] == session_id
    assert annotations["tether.dev/original-selector"] == "app=orders"
    assert annotations["tether.dev/owner"].startswith("pytest@")
    assert annotations["tether.dev/strategy"] == "selector"
    assert {"tether.dev/since", "tether.dev/heartbeat", "tether.dev/mode"} <= annotations.keys()
    shadow = f"tether-orders-{session_id}"
    assert sorted(demo.tether_objects()) == [f"pod/{shadow}", f"secret/{shadow}-token"]

    # By Service name, from a pod of the cluster, and through a caller (frontend -> orders).
    assert demo.get_json("http://orders/direct?x=1") == local.answer("/direct?x=1")
    assert demo.get_json("http://frontend/")["upstream"]["http://orders"] == local.answer("/")

    assert exchange.interrupt() == 0
    assert exchange.lines[-1] == "tether: orders restored."
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    demo.wait_served_by_cluster("orders")
    answer = demo.get_json("http://orders/")
    assert (answer["service"], answer["where"]) == ("orders", "cluster")
    local.close()


# --- 2. JSON-RPC -------------------------------------------------------------------------------------------

def test_rpc_exchange_reports_progress_and_changes_and_shutdown_restores(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    rpc = launcher.rpc(launcher.env())
    assert "tether/session/start" in rpc.initialize()["capabilities"]["tether"]["methods"]

    session = rpc.request("tether/session/start", {
        "namespace": demo.ns, "mode": "exchange", "target": "orders",
        "expose": [{"local": local.port, "remote": 80}], "exchange": {"strategy": "selector"},
        "workDoneToken": "t1"})
    assert session["state"] == "active"
    assert session["target"] == "orders" and session["namespace"] == demo.ns and session["mode"] == "exchange"
    assert session["expose"] == [{"local": local.port, "servicePort": 80, "targetPort": 8080}]
    # The proxy URL carries the session's credentials: only processes given this environment can use it.
    assert re.fullmatch(r"http://tether:[0-9a-f]{32}@127\.0\.0\.1:\d+", session["launch"]["env"]["HTTP_PROXY"])
    session_id = session["id"]

    rpc.wait_notification(lambda n: n.get("method") == "$/progress" and n["params"]["value"]["kind"] == "end",
                          what="$/progress end")
    progress = [n["params"] for n in rpc.notifications if n.get("method") == "$/progress"]
    assert all(p["token"] == "t1" for p in progress)
    kinds = [p["value"]["kind"] for p in progress]
    assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("report") >= 3
    percentages = [p["value"]["percentage"] for p in progress if "percentage" in p["value"]]
    assert percentages == sorted(percentages)

    rpc.wait_session_state(session_id, "active")
    assert rpc.session_changes(session_id)[0]["state"] == "starting"
    listed = rpc.request("tether/session/list")["sessions"]
    assert [(s["id"], s["state"]) for s in listed] == [(session_id, "active")]

    assert_points_at_shadow(demo, "orders", session)
    assert demo.get_json("http://orders/rpc") == local.answer("/rpc")
    assert demo.get_json("http://frontend/")["upstream"]["http://orders"] == local.answer("/")

    assert rpc.request("shutdown") is None
    # shutdown answers once the cluster is restored
    demo.assert_restored("orders", before)
    rpc.wait_session_state(session_id, "stopped")
    rpc.notify("exit")
    assert rpc.wait() == 0
    demo.wait_tether_objects_gone()
    demo.wait_served_by_cluster("orders")
    assert demo.get_json("http://orders/")["where"] == "cluster"
    local.close()


# --- 3. two Services, one backend -------------------------------------------------------------------------

def test_one_backend_exchanges_two_services_at_once(demo, launcher):
    before = {name: demo.svc(name) for name in ("orders", "inventory")}
    orders_local, inventory_local = LocalServer(), LocalServer()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    orders = rpc.request("tether/session/start", {"namespace": demo.ns, "mode": "exchange", "target": "orders",
                                                  "expose": [{"local": orders_local.port, "remote": 80}]})
    # inventory's port is named ("http") and targets a named container port: "remote" by name
    inventory = rpc.request("tether/session/start", {"namespace": demo.ns, "mode": "exchange",
                                                     "target": "inventory",
                                                     "expose": [{"local": inventory_local.port, "remote": "http"}]})
    assert orders["state"] == inventory["state"] == "active"
    assert inventory["expose"] == [{"local": inventory_local.port, "servicePort": 80, "targetPort": 8080}]
    assert sorted(s["target"] for s in rpc.request("tether/session/list")["sessions"]) == ["inventory", "orders"]
    assert_points_at_shadow(demo, "orders", orders)
    assert_points_at_shadow(demo, "inventory", inventory)

    assert demo.get_json("http://orders/a") == orders_local.answer("/a")
    assert demo.get_json("http://inventory/b") == inventory_local.answer("/b")

    stopped = rpc.request("tether/session/stop", {"id": orders["id"]})
    assert stopped["state"] == "stopped"
    demo.assert_restored("orders", before["orders"])
    assert_points_at_shadow(demo, "inventory", inventory)  # the other session is untouched
    assert demo.get_json("http://inventory/c") == inventory_local.answer("/c")
    demo.wait_served_by_cluster("orders")
    assert demo.get_json("http://orders/")["where"] == "cluster"

    rpc.close_stdin()  # end of input: stop everything, restore, exit 1 (no shutdown came)
    assert rpc.wait() == 1
    demo.assert_restored("inventory", before["inventory"])
    demo.wait_tether_objects_gone()
    orders_local.close()
    inventory_local.close()

# --- 10. -- CMD -------------------------------------------------------------------------------------------

def test_a_command_runs_with_the_session_environment_and_its_exit_ends_the_session(demo, launcher, tmp_path):
    before = demo.svc("orders")
    local = LocalServer()
    fetched = tmp_path / "fetched.json"
    script = ("import sys, urllib.request\n"
              "body = urllib.request.urlopen('http://inventory/from-laptop', timeout=30).read()\n"
              "open(sys.argv[1], 'wb').write(body)\n"
              "sys.exit(7)\n")
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns,
                            "--", "/usr/bin/python3", "-c", script, fetched)
    assert exchange.wait(timeout=120) == 7
    answer = json.loads(fetched.read_text())
    assert (answer["service"], answer["where"], answer["path"]) == ("inventory", "cluster", "/from-laptop")
    states = exchange.session_states()
    assert "active" in states and states[-1] == "stopped"
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()

# --- 12. strategy scale -----------------------------------------------------------------------------------

def test_strategy_scale_scales_the_workload_to_zero_and_back(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns,
                            "--strategy", "scale")
    session = exchange.wait_started()
    assert session["strategy"] == "scale"
    shadow = f"tether-orders-{session['id']}"

    held = demo.svc("orders")
    assert held["spec"]["selector"] == {"app": "orders"}  # scale leaves the selector alone
    annotations = tether_annotations(held)
    assert annotations["tether.dev/strategy"] == "scale"
    assert annotations["tether.dev/original-replicas"] == "orders=2"
    scaled = demo.deployment("orders")
    assert scaled["spec"]["replicas"] == 0
    # The Deployment records who scaled it and from what, for a clean that cannot trust the Service.
    assert tether_annotations(scaled) == {"tether.dev/scaled-by": session["id"],
                                          "tether.dev/original-replicas": "2"}
    demo.wait_served_by("orders", shadow)
    assert demo.get_json("http://frontend/")["upstream"]["http://orders"] == local.answer("/")

    assert exchange.interrupt() == 0
    deployment = demo.deployment("orders")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["status"].get("readyReplicas") == 2  # the stop waits for the pods to be Ready
    assert tether_annotations(deployment) == {}
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    demo.wait_served_by_cluster("orders")
    answer = demo.get_json("http://frontend/")["upstream"]["http://orders"]
    assert (answer["service"], answer["where"]) == ("orders", "cluster")
    local.close()
