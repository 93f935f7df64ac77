"""Exchange sessions when something else happens (issue #6): two backends race for one Service, a backend is
killed (clean, recover, the next start), someone overwrites the selector, the shadow is deleted, the
port-forward is cut."""
import json
import signal

from exchange_support import CuttableProxy, LocalServer, TETHER_OBJECTS, assert_points_at_shadow, watch_until


# --- 4. two backends race for one Service -----------------------------------------------------------------

def test_two_backends_racing_for_one_service_exactly_one_wins(demo, launcher):
    before = demo.svc("orders")
    locals_ = {"alice": LocalServer(), "bob": LocalServer()}
    racers = {user: launcher.cli(launcher.env(user, user=user), "orders", "--expose", f"{server.port}:80",
                                 "-n", demo.ns) for user, server in locals_.items()}

    def outcome(exchange):
        _, event = exchange.wait_event(lambda e: e.get("event") == "error" or (
            e.get("event") == "session" and e["session"]["state"] == "active"), what="active or error")
        return event

    outcomes = {user: outcome(exchange) for user, exchange in racers.items()}
    winners = [user for user, event in outcomes.items() if event.get("event") == "session"]
    assert len(winners) == 1, outcomes
    winner = winners[0]
    loser = "bob" if winner == "alice" else "alice"
    session = outcomes[winner]["session"]

    assert racers[loser].wait() == 1
    message = racers[loser].error()["message"]
    assert session["id"] in message and session["owner"] in message and session["owner"].startswith(winner + "@")
    loser_id = next(e["session"]["id"] for e in racers[loser].events if e.get("event") == "session")
    assert demo.kubectl("get", "pods,secrets", "-l", f"{TETHER_OBJECTS}={loser_id}", "-o", "name").stdout == ""

    assert_points_at_shadow(demo, "orders", session)
    assert demo.get_json("http://orders/race") == locals_[winner].answer("/race")

    assert racers[winner].interrupt() == 0
    demo.assert_restored("orders", before)
    assert demo.svc("orders")["spec"]["selector"] == {"app": "orders"}
    demo.wait_tether_objects_gone()
    for server in locals_.values():
        server.close()


# --- 5. a killed backend ----------------------------------------------------------------------------------

def start_and_kill(demo, launcher, env, service="orders", *options):
    local = LocalServer()
    exchange = launcher.cli(env, service, "--expose", f"{local.port}:80", "-n", demo.ns, *options)
    session = exchange.wait_started()
    exchange.process.send_signal(signal.SIGKILL)
    assert exchange.wait() == -signal.SIGKILL
    local.close()
    # nobody restored anything: the Service still points at the shadow, which still runs
    if "scale" not in options:
        assert_points_at_shadow(demo, service, session)
    shadow = f"tether-{service}-{session['id']}"
    assert sorted(demo.tether_objects()) == [f"pod/{shadow}", f"secret/{shadow}-token"]
    return session


def clean_actions(events):
    return sorted((e["action"]["kind"], e["action"]["object"]) for e in events if e.get("event") == "clean")


def test_clean_restores_what_a_killed_backend_left(demo, launcher):
    before = demo.svc("orders")
    session = start_and_kill(demo, launcher, launcher.env("killed"))
    shadow = f"tether-orders-{session['id']}"
    expected = sorted([("restore", f"service/{demo.ns}/orders"), ("delete", f"pod/{demo.ns}/{shadow}"),
                       ("delete", f"secret/{demo.ns}/{shadow}-token")])
    other = launcher.env("other-machine")  # another state dir: it knows nothing of the killed session

    # Its heartbeat is fresh: the default threshold (2m) keeps it.
    code, events, _ = launcher.run(other, "clean", "-n", demo.ns, "--output", "json")
    assert code == 0 and clean_actions(events) == []
    kept = [e["session"] for e in events if e["event"] == "kept"]
    assert len(kept) == 1 and kept[0].startswith(session["id"]) and f"service/{demo.ns}/orders" in kept[0]

    code, events, _ = launcher.run(other, "clean", "--stale-after", "0s", "-n", demo.ns, "--dry-run",
                                   "--output", "json")
    assert code == 0 and clean_actions(events) == expected
    assert all(e["dryRun"] is True and e["action"]["session"] == session["id"] for e in events if e["event"] == "clean")
    assert_points_at_shadow(demo, "orders", session)  # a dry run changes nothing

    code, events, stderr = launcher.run(other, "clean", "--stale-after", "0s", "-n", demo.ns, "--output", "json")
    assert code == 0, stderr
    assert clean_actions(events) == expected
    assert all("error" not in e["action"] and e["dryRun"] is False for e in events if e["event"] == "clean")
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    demo.wait_served_by_cluster("orders")
    assert demo.get_json("http://orders/")["where"] == "cluster"


def test_clean_scales_back_what_a_killed_scale_session_scaled_to_zero(demo, launcher):
    before = demo.svc("orders")
    session = start_and_kill(demo, launcher, launcher.env("killed"), "orders", "--strategy", "scale")
    assert demo.deployment("orders")["spec"]["replicas"] == 0
    code, events, stderr = launcher.run(launcher.env("other-machine"), "clean", "--stale-after", "0s", "-n",
                                        demo.ns, "--output", "json")
    assert code == 0, stderr
    assert ("scale", f"deployment/{demo.ns}/orders to 2") in clean_actions(events), events
    assert all("error" not in e["action"] for e in events if e["event"] == "clean"), events
    deployment = demo.deployment("orders")
    assert deployment["spec"]["replicas"] == 2
    assert not any(k.startswith("tether.dev/") for k in deployment["metadata"].get("annotations", {}))
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()


def test_recover_restores_one_service_whatever_its_heartbeat(demo, launcher):
    before = demo.svc("orders")
    session = start_and_kill(demo, launcher, launcher.env("killed"))
    code, events, stderr = launcher.run(launcher.env("other"), "recover", "orders", "-n", demo.ns, "--output", "json")
    assert code == 0, stderr
    assert ("restore", f"service/{demo.ns}/orders") in clean_actions(events)
    assert all(e["action"]["session"] == session["id"] for e in events if e["event"] == "clean")
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()

    code, events, stderr = launcher.run(launcher.env("other"), "recover", "orders", "-n", demo.ns, "--output", "json")
    assert code == 1 and "not held by any session" in next(e for e in events if e["event"] == "error")["message"]


def test_a_new_start_cleans_the_stale_session_of_its_own_state_dir(demo, launcher):
    before = demo.svc("orders")
    env = launcher.env("same-machine")
    stale = start_and_kill(demo, launcher, env)
    inventory_before = demo.svc("inventory")

    local = LocalServer()
    exchange = launcher.cli(env, "inventory", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    cleaned = [e["action"] for e in exchange.events if e.get("event") == "clean"]
    assert ("restore", f"service/{demo.ns}/orders", stale["id"]) in [(a["kind"], a["object"], a["session"])
                                                                     for a in cleaned]
    demo.assert_restored("orders", before)
    demo.kubectl("wait", "--for=delete", "pods,secrets", "-l", f"{TETHER_OBJECTS}={stale['id']}", "--timeout=60s")
    assert demo.get_json("http://inventory/x") == local.answer("/x")

    assert exchange.interrupt() == 0
    assert session["id"] != stale["id"]
    demo.assert_restored("inventory", inventory_before)
    demo.wait_tether_objects_gone()
    local.close()


# --- 6. someone overwrites the selector --------------------------------------------------------------------

def test_an_overwritten_selector_is_reasserted_and_reported(demo, launcher):
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    shadow = f"tether-orders-{session['id']}"
    start = len(exchange.events)

    demo.kubectl("patch", "svc", "orders", "--type=json",
                 "-p", json.dumps([{"op": "replace", "path": "/spec/selector", "value": {"app": "orders"}}]))
    _, event = exchange.wait_event(
        lambda e: e.get("event") == "session" and "selector" in e["session"].get("message", ""),
        start, what="session event about the selector")
    assert event["session"]["state"] == "active"
    assert "changed by someone else" in event["session"]["message"]
    watch_until(demo.cluster, demo.ns, "svc", "orders",
                lambda svc: svc["spec"]["selector"] == {"tether.dev/session": session["id"]})
    demo.wait_served_by("orders", shadow)
    assert demo.get_json("http://orders/again") == local.answer("/again")
    assert exchange.session_states()[-1] == "active"

    assert exchange.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


def test_a_deleted_shadow_ends_the_session_and_restores_the_service(demo, launcher):
    """The shadow can die under a session (evicted, deleted, its idle TTL after a laptop slept): the session
    must not keep the Service pointing at nothing while it tries to reconnect for ever."""
    before = demo.svc("orders")
    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns)
    session = exchange.wait_started()
    shadow = f"tether-orders-{session['id']}"
    start = len(exchange.events)

    demo.kubectl("delete", "pod", shadow, "--wait=false")
    _, event = exchange.wait_state("failed", start, timeout=90)
    assert "is gone" in event["session"]["message"], event
    assert exchange.process.wait(timeout=60) == 1  # the session ended by itself, and says so by its exit code
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()

# --- 9. the port-forward is cut --------------------------------------------------------------------------

def test_a_cut_port_forward_reconnects_and_traffic_resumes(demo, launcher, cluster, tmp_path):
    before = demo.svc("orders")
    proxy = CuttableProxy()
    kubeconfig = proxy.kubeconfig(cluster.kubeconfig, tmp_path / "kubeconfig-via-proxy")

    local = LocalServer()
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns,
                            "--kubeconfig", kubeconfig)
    exchange.wait_started()
    assert demo.get_json("http://orders/before") == local.answer("/before")
    start = len(exchange.events)

    assert proxy.cut() >= 1
    index, _ = exchange.wait_state("reconnecting", start)
    exchange.wait_state("active", index + 1, timeout=90)
    assert demo.get_json("http://orders/after") == local.answer("/after")
    assert all(target.startswith("127.0.0.1:") for target in proxy.targets)

    assert exchange.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    proxy.close()
    local.close()
