"""Exchange sessions that cannot work (issue #6): nothing listens locally, missing permissions, bad input.
Each gives an error naming the object and what to do, and leaves the cluster as it was."""
import socket

import pytest

from exchange_support import LocalServer, free_port, tether_annotations
from tethertest.rpc import RpcError


# --- 7. nothing listens locally ---------------------------------------------------------------------------

def test_nothing_listening_locally_resets_cluster_clients_and_says_so(demo, launcher):
    before = demo.svc("orders")
    port = free_port()
    # Held bound but not listening, so connections to it are refused and no other socket (the session's own
    # proxy port, which the kernel picks from the same range) can be given it meanwhile.
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{port}:80", "-n", demo.ns)
    exchange.wait_started()

    failed = demo.curl("http://orders/", max_time=30)
    # 52: empty reply, 56: connection reset; never 28 (a hang until --max-time)
    assert failed.returncode in (52, 56), (failed.returncode, failed.stderr)
    index, _ = exchange.wait_state("active", message_part=f"nothing answers on 127.0.0.1:{port}")
    start = index + 1
    assert exchange.process.poll() is None

    # The developer starts the process: traffic flows and the warning goes away.
    holder.close()
    local = LocalServer(port)
    assert demo.get_json("http://orders/late") == local.answer("/late")
    exchange.wait_event(lambda e: e.get("event") == "session" and e["session"]["state"] == "active"
                        and "message" not in e["session"], start, what="active session without message")

    assert exchange.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


# --- 8. missing permissions ------------------------------------------------------------------------------

@pytest.mark.parametrize("rights", ["none", "view"])
def test_the_restricted_identity_gets_an_error_naming_missing_permissions(demo, launcher, rights):
    if rights == "view":
        demo.kubectl("create", "rolebinding", "restricted-view", "--clusterrole=view", "--user=kubesim-restricted")
    before = demo.services()
    code, events, stderr = launcher.run(launcher.env(), "exchange", "orders", "--expose", f"{free_port()}:80",
                                        "-n", demo.ns, "--context", "kubesim-restricted", "--output", "json")
    assert code == 1
    message = next(e for e in events if e["event"] == "error")["message"]
    assert message in stderr
    if rights == "none":
        # Everything that is missing, at once: not only the first refused call.
        assert "kubesim-restricted" in message
        for missing in ("get services", "patch services", "create pods", "create pods/portforward",
                        "create secrets"):
            assert missing in message
    else:
        assert "kubesim-restricted" in message
        for missing in ("patch services", "create pods", "delete pods", "create pods/portforward",
                        "create secrets", "delete secrets"):
            assert missing in message
        assert "get services" not in message and "watch pods" not in message
    assert demo.services() == before  # not even a write that was undone: same resourceVersions
    assert demo.tether_objects() == []

# --- 11. bad input -----------------------------------------------------------------------------------------

BAD_INPUT = {
    # case: (service, expose remote, namespace override, words the error must contain)
    # The command line is told which command lists the right names (an IDE gets a reason instead).
    "unknown namespace": ("orders", "80", "no-such-namespace", ["no-such-namespace", "`tether namespaces`"]),
    "unknown service": ("nosuch", "80", None, ['"nosuch"', "not found", "`tether services -n "]),
    "bad port": ("orders", "9999", None, ["9999", "80 (http)"]),
    "no selector": ("manual", "80", None, ['"manual"', "no selector"]),
    "ExternalName": ("alias", "80", None, ['"alias"', "ExternalName"]),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_refused_naming_the_object_and_changes_nothing(fixed_demo, launcher, case):
    service, remote, namespace, words = BAD_INPUT[case]
    before = fixed_demo.services()
    code, events, stderr = launcher.run(launcher.env(), "exchange", service, "--expose", f"{free_port()}:{remote}",
                                        "-n", namespace or fixed_demo.ns, "--output", "json")
    assert code == 1
    message = next(e for e in events if e["event"] == "error")["message"]
    for word in words:
        assert word in message
    assert fixed_demo.services() == before
    assert fixed_demo.tether_objects() == []


def test_an_image_that_cannot_be_pulled_fails_and_removes_what_was_created(fixed_demo, launcher):
    before = fixed_demo.svc("inventory")
    code, events, stderr = launcher.run(launcher.env(), "exchange", "inventory", "--expose", f"{free_port()}:80",
                                        "-n", fixed_demo.ns, "--image", "does-not-exist:1", "--output", "json")
    assert code == 1
    message = next(e for e in events if e["event"] == "error")["message"]
    assert "does-not-exist:1" in message and "ErrImagePull" in message
    assert next(e for e in events if e.get("event") == "session" and e["session"]["state"] == "failed")
    fixed_demo.assert_restored("inventory", before)
    fixed_demo.wait_tether_objects_gone()


def test_a_malformed_image_reference_is_refused_before_anything_is_created(fixed_demo, launcher):
    before = fixed_demo.services()
    code, events, stderr = launcher.run(launcher.env(), "exchange", "inventory", "--expose", f"{free_port()}:80",
                                        "-n", fixed_demo.ns, "--image", "Registry.Corp/Shadow:latest!",
                                        "--output", "json")
    assert code != 0
    message = next(e for e in events if e["event"] == "error")["message"]
    assert 'shadow image "Registry.Corp/Shadow:latest!"' in message and "--image" in message, message
    assert fixed_demo.services() == before
    assert fixed_demo.tether_objects() == []


def test_a_local_port_already_used_by_another_session_is_refused(fixed_demo, launcher):
    local = LocalServer()
    rpc = launcher.rpc(launcher.env())
    rpc.initialize()
    first = rpc.request("tether/session/start", {"namespace": fixed_demo.ns, "mode": "exchange", "target": "frontend",
                                                 "expose": [{"local": local.port, "remote": 80}]})
    before = fixed_demo.services()
    with pytest.raises(RpcError) as refused:
        rpc.request("tether/session/start", {"namespace": fixed_demo.ns, "mode": "exchange", "target": "inventory",
                                             "expose": [{"local": local.port, "remote": 80}]})
    assert refused.value.code == -32803
    assert refused.value.data["category"] == "user"
    for word in (str(local.port), "frontend", first["id"]):
        assert word in refused.value.message
    assert fixed_demo.services() == before  # inventory untouched, frontend still held as it was
    assert [s["id"] for s in rpc.request("tether/session/list")["sessions"]] == [first["id"]]
    assert fixed_demo.get_json("http://frontend/p") == local.answer("/p")

    assert rpc.request("shutdown") is None
    rpc.notify("exit")
    assert rpc.wait() == 0
    assert tether_annotations(fixed_demo.svc("frontend")) == {}
    fixed_demo.wait_tether_objects_gone()
    local.close()
