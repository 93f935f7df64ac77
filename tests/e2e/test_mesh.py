"""mesh on kubesim (issue #16): two developers share `orders`, each with a header of their own, while requests
without a header keep reaching the cluster's pods. Real requests from a pod go through the router to the
processes on this machine; the last one out leaves the Service byte-for-byte as it was."""
import json
import re
import subprocess
import sys
from pathlib import Path

from exchange_support import LocalServer, tether_annotations

# Runs in the client pod: `count` requests of each kind, counted by who answered.
COUNT_ANSWERS = r'''
import json, sys, urllib.request
count = int(sys.argv[1])
kinds = {"alice": {"x-dev": "alice"}, "bob": {"tenant": "bob"}, "none": {}}
seen = {}
for i in range(count):
    for kind, headers in kinds.items():
        request = urllib.request.Request("http://orders/mesh", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                body = json.loads(answer.read())
                who = body.get("token") or body.get("where")
        except Exception as error:
            who = "error: " + str(error)
        seen.setdefault(kind, {}).setdefault(who, 0)
        seen[kind][who] += 1
print(json.dumps(seen))
'''


def count_answers(demo, count: int) -> dict:
    result = demo.kubectl("exec", "client", "--", "/usr/bin/python3", "-c", COUNT_ANSWERS, str(count),
                          timeout=300)
    return json.loads(result.stdout)


def start_mesh(launcher, demo, local, name: str, *header):
    session = launcher.cli(launcher.env(name, user=name), "orders", "--expose", f"{local.port}:80", *header,
                           "-n", demo.ns, command="mesh", output="text")
    session.wait_line(lambda line: line.startswith("Press Ctrl-C to stop and leave the mesh of orders"),
                      timeout=120)
    return session


def test_two_users_share_a_service_by_header_and_the_last_one_out_restores_it(demo, launcher):
    before = demo.svc("orders")
    alice_local, bob_local = LocalServer(), LocalServer()
    alice = start_mesh(launcher, demo, alice_local, "alice", "--header", "x-dev=alice")
    text = "\n".join(alice.lines)
    assert "curl -H 'x-dev: alice' http://orders:80/" in text, text
    alice_id = re.search(r"\(session ([0-9a-f]+)\)", text).group(1)

    meshed = demo.svc("orders")
    annotations = tether_annotations(meshed)
    router = annotations["tether.dev/mesh-router"]
    assert meshed["spec"]["selector"] == {"tether.dev/mesh-router": router}
    assert annotations["tether.dev/original-selector"] == "app=orders"
    assert annotations["tether.dev/mesh-sessions"] == f"{alice_id}=alice@" + annotations[
        "tether.dev/mesh-sessions"].split("@", 1)[1]
    stable = demo.svc("orders-tether-stable")
    assert stable["spec"]["selector"] == before["spec"]["selector"]
    assert stable["metadata"]["labels"]["tether.dev/role"] == "stable"

    bob = start_mesh(launcher, demo, bob_local, "bob", "--header", "tenant=bob")
    assert len(tether_annotations(demo.svc("orders"))["tether.dev/mesh-sessions"].split(",")) == 2
    listed = subprocess.run([launcher.tether, "services", "-n", demo.ns], capture_output=True, text=True,
                            env=launcher.env("alice", user="alice"), timeout=60).stdout
    orders_row = next(line for line in listed.splitlines() if line.startswith("orders "))
    assert "mesh by " in orders_row and "alice@" in orders_row and "bob@" in orders_row, listed
    assert "stable of orders's mesh" in listed, listed

    seen = count_answers(demo, 100)
    assert seen == {"alice": {alice_local.token: 100}, "bob": {bob_local.token: 100}, "none": {"cluster": 100}}, seen

    # Bob leaves; alice keeps her requests, and the Service stays meshed for her.
    assert bob.interrupt() == 0
    assert demo.svc("orders")["spec"]["selector"] == {"tether.dev/mesh-router": router}
    seen = count_answers(demo, 20)
    assert seen["alice"] == {alice_local.token: 20}, seen
    assert seen["bob"] == {"cluster": 20} and seen["none"] == {"cluster": 20}, seen

    # The last one out: selector and annotations back, router and stable Service gone.
    assert alice.interrupt() == 0
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    assert demo.kubectl("get", "svc", "orders-tether-stable", check=False).returncode != 0
    demo.wait_served_by_cluster("orders")
    assert demo.get_json("http://orders/after")["where"] == "cluster"
    alice_local.close()
    bob_local.close()


def test_exchange_and_mesh_refuse_each_others_service_naming_the_holder(demo, launcher):
    local = LocalServer()
    alice = start_mesh(launcher, demo, local, "alice", "--header", "x-dev=alice")
    exchange = launcher.cli(launcher.env("carol", user="carol"), "orders", "--expose", f"{local.port}:80",
                            "-n", demo.ns)
    assert exchange.wait(timeout=120) != 0
    message = exchange.error()["message"]
    assert "shared in a mesh by" in message and "alice@" in message, message
    assert alice.interrupt() == 0
    demo.wait_tether_objects_gone()
    local.close()


# Runs in the client pod: alice's and bob's requests side by side until bob's header reaches the cluster
# (bounded), so the test sees the fall-back happen while alice's route keeps working.
UNTIL_BOB_FALLS_BACK = r'''
import json, sys, time, urllib.request
def ask(headers):
    request = urllib.request.Request("http://orders/killed", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            body = json.loads(answer.read())
            return body.get("token") or body.get("where")
    except Exception as error:
        return "error: " + str(error)
alice, bob = [], []
give_up = time.monotonic() + float(sys.argv[1])
while time.monotonic() < give_up:
    alice.append(ask({"x-dev": "alice"}))
    bob.append(ask({"tenant": "bob"}))
    if bob[-1] == "cluster":
        break
print(json.dumps({"alice": alice, "bob": bob}))
'''


def test_a_killed_backend_falls_back_to_stable_and_clean_takes_it_out_of_the_mesh(demo, launcher):
    before = demo.svc("orders")
    alice_local, bob_local = LocalServer(), LocalServer()
    alice = start_mesh(launcher, demo, alice_local, "alice", "--header", "x-dev=alice")
    bob = start_mesh(launcher, demo, bob_local, "bob", "--header", "tenant=bob")
    assert count_answers(demo, 5)["bob"] == {bob_local.token: 5}

    bob.kill()  # SIGKILL: nothing is undone, the lease stops being renewed
    result = demo.kubectl("exec", "client", "--", "/usr/bin/python3", "-c", UNTIL_BOB_FALLS_BACK, "60", timeout=120)
    seen = json.loads(result.stdout)
    assert seen["bob"][-1] == "cluster", seen
    assert set(seen["alice"]) == {alice_local.token}, seen  # alice's route never faltered

    # clean, from alice's machine: bob's member entry and shadow go, alice (held by a live tether) stays.
    code, events, stderr = launcher.run(launcher.env("alice", user="alice"), "clean", "-n", demo.ns,
                                        "--stale-after", "0s", "--output", "json")
    assert code == 0, json.dumps(events) + stderr
    members = tether_annotations(demo.svc("orders"))["tether.dev/mesh-sessions"]
    assert "bob@" not in members and "alice@" in members, members
    assert count_answers(demo, 5)["alice"] == {alice_local.token: 5}

    assert alice.interrupt() == 0  # now the last one out
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    assert demo.kubectl("get", "svc", "orders-tether-stable", check=False).returncode != 0
    alice_local.close()
    bob_local.close()


# Runs in the client pod: a WebSocket through the meshed Service with alice's header, 200 messages echoed.
WEBSOCKET_CLIENT = r'''
import asyncio, json, sys
import aiohttp
async def main():
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect("http://orders/ws", headers={"x-dev": "alice"}, timeout=20) as ws:
            echoed = []
            for i in range(200):
                await ws.send_str(f"message-{i}" + "x" * (i * 50))
                reply = await ws.receive(timeout=20)
                echoed.append(reply.data == f"message-{i}" + "x" * (i * 50))
            await ws.send_bytes(b"\0" * 1048576)
            big = await ws.receive(timeout=20)
            print(json.dumps({"echoed": sum(echoed), "big": len(big.data)}))
asyncio.run(main())
'''

# Runs in the client pod: requests without a header and with bob's, until the file the test names exists
# on this machine's side (the pod shares the host's file system in kubesim), counting failures.
LOAD_UNTIL_STOPPED = r'''
import json, os, sys, urllib.request
stop, seen = sys.argv[1], {"ok": 0, "failed": []}
while not os.path.exists(stop):
    for headers in ({}, {"tenant": "bob"}, {"x-dev": "alice"}):
        try:
            with urllib.request.urlopen(urllib.request.Request("http://orders/load", headers=headers),
                                        timeout=20) as answer:
                answer.read()
                seen["ok"] += 1
        except Exception as error:
            seen["failed"].append(str(error))
print(json.dumps(seen))
'''


def websocket_echo_server():
    """The developer's process: an aiohttp WebSocket echo server on 127.0.0.1, run on its own thread."""
    import asyncio
    import threading

    from aiohttp import web

    ready, holder = threading.Event(), {}

    async def echo(request):
        ws = web.WebSocketResponse(max_msg_size=4 << 20)
        await ws.prepare(request)
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == web.WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    def run():
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/ws", echo)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        holder["port"] = site._server.sockets[0].getsockname()[1]
        holder["loop"], holder["runner"] = loop, runner
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)

    class Server:
        port = holder["port"]

        @staticmethod
        def close():
            loop = holder["loop"]
            asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
    return Server


def test_a_websocket_with_the_header_reaches_the_local_process_through_the_router(demo, launcher):
    server = websocket_echo_server()
    alice = start_mesh(launcher, demo, server, "alice", "--header", "x-dev=alice")
    result = demo.kubectl("exec", "client", "--", "/usr/bin/python3", "-c", WEBSOCKET_CLIENT, timeout=120)
    assert json.loads(result.stdout) == {"echoed": 200, "big": 1048576}, result.stderr
    assert alice.interrupt() == 0
    demo.wait_tether_objects_gone()
    server.close()


def test_a_user_leaving_fails_no_request_of_a_running_load(demo, launcher, tmp_path):
    alice_local, bob_local = LocalServer(), LocalServer()
    alice = start_mesh(launcher, demo, alice_local, "alice", "--header", "x-dev=alice")
    bob = start_mesh(launcher, demo, bob_local, "bob", "--header", "tenant=bob")
    stop = tmp_path / "stop-load"
    load = subprocess.Popen(["kubectl", "-n", demo.ns, "exec", "client", "--", "/usr/bin/python3", "-c",
                             LOAD_UNTIL_STOPPED, str(stop)], stdout=subprocess.PIPE, text=True, env=demo.cluster.env)
    try:
        assert count_answers(demo, 3)["bob"] == {bob_local.token: 3}  # the load runs beside these
        assert bob.interrupt() == 0
        assert count_answers(demo, 3)["bob"] == {"cluster": 3}
    finally:
        stop.write_text("")
        out, _ = load.communicate(timeout=120)
    seen = json.loads(out)
    assert seen["failed"] == [] and seen["ok"] > 0, seen
    assert alice.interrupt() == 0
    demo.wait_tether_objects_gone()
    alice_local.close()
    bob_local.close()


def test_mesh_refuses_bad_input_by_name_and_changes_nothing(demo, launcher):
    demo.cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "orders-headless",
                                                                           "namespace": demo.ns},
                        "spec": {"clusterIP": "None", "selector": {"app": "orders"},
                                 "ports": [{"port": 80, "targetPort": 8080}]}})
    demo.cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "alias", "namespace": demo.ns},
                        "spec": {"type": "ExternalName", "externalName": "orders.example"}})
    demo.cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "unnamed", "namespace": demo.ns},
                        "spec": {"selector": {"app": "orders"}, "ports": [{"port": 80, "targetPort": "nope"}]}})
    before = demo.services()
    env = launcher.env("alice", user="alice")
    cases = [
        (("orders-headless", "--expose", "12001:80", "--header", "x-dev=a"), "is headless"),
        (("alias", "--expose", "12001:80", "--header", "x-dev=a"), "ExternalName"),
        (("orders", "--expose", "12001:80", "--header", "x dev=a"), "(--header)"),
        (("orders", "--expose", "12001:80", "--header-regex", "x-dev=a(b"), "(--header-regex)"),
        (("orders", "--expose", "12001:80", "--header", "x-dev=a", "--header", "X-Dev=a"), "given twice"),
        (("orders", "--expose", "12001:80", "--header", "novalue"), "write NAME=VALUE"),
        (("unnamed", "--expose", "12001:80", "--header", "x-dev=a"), 'targets the container port \\"nope\\"'),
        (("orders", "--expose", "12001:80", "--header", "x-dev=a", "--image",
          "registry.example/missing/shadow:1"), "registry.example/missing/shadow:1"),
    ]
    for args, expected in cases:
        code, events, stderr = launcher.run(env, "mesh", *args, "-n", demo.ns, "--output", "json")
        assert code != 0, args
        text = json.dumps(events) + stderr
        assert expected in text, (args, text)
    # Specs and annotations as they were (the image case joined and left, so resourceVersions moved).
    assert {k: v[1:] for k, v in demo.services().items()} == {k: v[1:] for k, v in before.items()}
    demo.wait_tether_objects_gone()  # the failed start's shadow is deleted as it undoes itself


# Runs in the client pod: one gRPC channel to the meshed Service carrying alice's, bob's and header-less
# calls, interleaved; prints who answered each.
GRPC_CLIENT = r'''
import json, grpc
channel = grpc.insecure_channel("greeter:9090")
say = channel.unary_unary("/test.Echo/Say")
answers = []
for i in range(30):
    metadata = [(), (("x-dev", "alice"),), (("tenant", "bob"),)][i % 3]
    answers.append(say(f"m{i}".encode(), metadata=metadata, timeout=20).decode())
print(json.dumps(answers))
'''


def test_one_grpc_channel_from_a_pod_carries_each_users_calls_to_them(demo, launcher):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import grpc_echo
    demo.cluster.apply({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "greeter", "namespace": demo.ns, "labels": {"app": "greeter"}},
                        "spec": {"containers": [{"name": "grpc", "image": "e2e/grpc-echo",
                                                 "env": [{"name": "NAME", "value": "cluster"}],
                                                 "ports": [{"name": "grpc", "containerPort": 9090}]}]}})
    demo.cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "greeter", "namespace": demo.ns},
                        "spec": {"selector": {"app": "greeter"},
                                 "ports": [{"name": "grpc", "port": 9090, "targetPort": 9090}]}})
    demo.kubectl("wait", "--for=condition=Ready", "pod/greeter", "--timeout=60s")
    demo.wait_endpoints("greeter", lambda names: names == ["greeter"], "the greeter pod")
    before = demo.svc("greeter")
    (alice_server, alice_port), (bob_server, bob_port) = grpc_echo.serve("alice", "127.0.0.1"), grpc_echo.serve(
        "bob", "127.0.0.1")
    sessions = []
    for name, port, header in (("alice", alice_port, "x-dev=alice"), ("bob", bob_port, "tenant=bob")):
        session = launcher.cli(launcher.env(name, user=name), "greeter", "--expose", f"{port}:9090", "--header",
                               header, "-n", demo.ns, command="mesh", output="text")
        session.wait_line(lambda line: line.startswith("Press Ctrl-C to stop and leave the mesh of greeter"),
                          timeout=120)
        sessions.append(session)
    result = demo.kubectl("exec", "client", "--", "/usr/bin/python3", "-c", GRPC_CLIENT, timeout=120)
    assert json.loads(result.stdout) == [f"{('cluster', 'alice', 'bob')[i % 3]}:m{i}" for i in range(30)], \
        result.stderr
    for session in reversed(sessions):
        assert session.interrupt() == 0
    demo.assert_restored("greeter", before)
    alice_server.stop(0)
    bob_server.stop(0)


def test_a_deleted_router_comes_back_with_the_next_renewal_and_routes_again(demo, launcher):
    local = LocalServer()
    alice = start_mesh(launcher, demo, local, "alice", "--header", "x-dev=alice")
    router = tether_annotations(demo.svc("orders"))["tether.dev/mesh-router"]
    demo.kubectl("delete", "pod", router, "--wait=true", "--timeout=60s")
    # Its table starts empty and is refilled by the lease renewal that restarted it: the first answers may
    # come from stable until then; alice's header reaches her again within a bounded wait.
    result = demo.kubectl("exec", "client", "--", "/usr/bin/python3", "-c", UNTIL_ROUTED, local.token, "60",
                          timeout=120)
    assert json.loads(result.stdout)[-1] == local.token, result.stdout
    assert alice.interrupt() == 0
    demo.wait_tether_objects_gone()
    local.close()


# Runs in the client pod: alice's requests until her local process answers (bounded).
UNTIL_ROUTED = r'''
import json, sys, time, urllib.request
token, give_up, seen = sys.argv[1], time.monotonic() + float(sys.argv[2]), []
while time.monotonic() < give_up:
    try:
        with urllib.request.urlopen(urllib.request.Request("http://orders/back", headers={"x-dev": "alice"}),
                                    timeout=20) as answer:
            body = json.loads(answer.read())
            seen.append(body.get("token") or body.get("where"))
    except Exception as error:
        seen.append("error: " + str(error))
    if seen[-1] == token:
        break
    time.sleep(0.2)
print(json.dumps(seen))
'''
