"""The mesh router's HTTP/2 engine (h2c and gRPC) on loopback: the real `tether-shadow --role router` between
real clients and upstreams that name themselves. Each case sends real frames and checks who answered.
Run: python3 -m pytest tests/router --shadow build/dev/shadow/tether-shadow"""
import socket
import subprocess
import threading
import time

import grpc
import h2.config
import h2.connection
import h2.events
import pytest

READ_BOUND = 20  # seconds any one read may take before the test fails instead of hanging


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class H2Upstream:
    """An h2c server on loopback answering every stream with `NAME PATH x-dev=...`, counting connections."""

    def __init__(self, name: str, goaway_after: int = 0):
        self.name = name
        self.goaway_after = goaway_after  # > 0: GOAWAY after answering that many streams on a connection
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stopped:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        h2conn.initiate_connection()
        conn.sendall(h2conn.data_to_send())
        requests, answered = {}, 0
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            for event in h2conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    requests[event.stream_id] = dict((k.decode(), v.decode()) for k, v in event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    # /stall's handler never reads its body: its stream window fills and stays full (the
                    # connection's comes back, as servers that read streams separately do).
                    if requests.get(event.stream_id, {}).get(":path") != "/stall":
                        h2conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif event.flow_controlled_length:
                        h2conn.increment_flow_control_window(event.flow_controlled_length)
                elif isinstance(event, h2.events.StreamEnded):
                    headers = requests.pop(event.stream_id, {})
                    body = f"{self.name} {headers.get(':path')} x-dev={headers.get('x-dev', '-')}".encode()
                    h2conn.send_headers(event.stream_id, [(":status", "200"), ("x-served-by", self.name),
                                                          ("content-length", str(len(body)))])
                    h2conn.send_data(event.stream_id, body, end_stream=True)
                    answered += 1
                    if answered == self.goaway_after:
                        h2conn.close_connection(last_stream_id=event.stream_id)
                        conn.sendall(h2conn.data_to_send())
                        conn.close()
                        return
            conn.sendall(h2conn.data_to_send())

    def close(self):
        self.stopped = True
        self.listener.close()


class Router:
    def __init__(self, shadow: str, stable_port: int, protocol: str = "auto"):
        self.port, self.control_port = free_port(), free_port()
        self.process = subprocess.Popen([shadow, "--role", "router", "--listen-host", "127.0.0.1", "--route-port",
                                         f"{self.port}=127.0.0.1:{stable_port}/{protocol}", "--control-port",
                                         str(self.control_port), "--log-level", "warn", "--drain-timeout", "0s"])
        deadline = time.monotonic() + READ_BOUND
        while True:
            try:
                self.control = socket.create_connection(("127.0.0.1", self.control_port), timeout=READ_BOUND)
                break
            except OSError:
                assert time.monotonic() < deadline, "the router did not listen"
                time.sleep(0.01)
        self.replies = self.control.makefile("r")

    def put(self, lease: str, target_port: int, matcher: str) -> str:
        self.control.sendall(f"put {lease} 60000 * 127.0.0.1:{target_port} {lease}@test {matcher}\n".encode())
        return self.replies.readline().strip()

    def memory_kib(self, field: str) -> int:
        """VmRSS (now) or VmHWM (the peak so far) of the router process."""
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def close(self):
        self.control.close()
        self.process.terminate()
        self.process.wait(timeout=30)


class H2Client:
    """A raw h2c client: many streams on one connection, each with its own headers."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_BOUND)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def request(self, path: str, headers=()) -> int:
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, [(":method", "GET"), (":scheme", "http"), (":authority", "orders"),
                                        (":path", path), *headers], end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        return stream

    def post(self, path: str, body: bytes) -> int:
        """Sends the headers and as much of `body` as the windows allow now (the rest is dropped)."""
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":authority", "orders"),
                                        (":path", path)])
        allowed = min(len(body), self.conn.local_flow_control_window(stream))
        sent = 0
        while sent < allowed:
            size = min(allowed - sent, self.conn.max_outbound_frame_size)
            self.conn.send_data(stream, body[sent:sent + size], end_stream=sent + size == len(body))
            sent += size
        self.sock.sendall(self.conn.data_to_send())
        return stream

    def responses(self, count: int) -> dict:
        """stream id -> (headers, body) for `count` finished streams."""
        headers, bodies, done = {}, {}, {}
        while len(done) < count:
            data = self.sock.recv(65536)
            assert data, "the router closed the connection"
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    headers[event.stream_id] = dict((k.decode(), v.decode()) for k, v in event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done[event.stream_id] = (headers.get(event.stream_id, {}), bodies.get(event.stream_id, b""))
            self.sock.sendall(self.conn.data_to_send())
        return done


@pytest.fixture
def shadow(request):
    return request.config.getoption("--shadow")


def test_one_connection_carries_each_users_streams_to_their_target(shadow):
    stable, alice, bob = H2Upstream("stable"), H2Upstream("alice"), H2Upstream("bob")
    router = Router(shadow, stable.port)
    try:
        assert router.put("alice", alice.port, "exact:x-dev=alice") == "granted"
        assert router.put("bob", bob.port, "exact:tenant=bob").startswith("granted")
        client = H2Client(router.port)
        expected = {}
        for i in range(100):  # all open at once, alternating
            kind = ("alice", "bob", "stable")[i % 3]
            headers = {"alice": [("x-dev", "alice")], "bob": [("tenant", "bob")], "stable": []}[kind]
            expected[client.request(f"/s{i}", headers)] = (kind, f"/s{i}")
        answers = client.responses(100)
        for stream, (kind, path) in expected.items():
            headers, body = answers[stream]
            assert headers.get(":status") == "200" and headers.get("x-served-by") == kind, (stream, headers)
            assert body.decode().startswith(f"{kind} {path} "), body
        # Per target one upstream connection, shared by that target's streams.
        assert (stable.connections, alice.connections, bob.connections) == (1, 1, 1)
    finally:
        router.close()
        for upstream in (stable, alice, bob):
            upstream.close()


def test_windows_are_given_back_so_a_long_lived_connection_never_stalls(shadow):
    # Far more response bytes than one connection window (65,535) on one upstream connection: a router that
    # forgot to give back the bytes of streams already closed upstream would stall after ~2,000 of them.
    stable = H2Upstream("stable")
    router = Router(shadow, stable.port)
    try:
        client = H2Client(router.port)
        for batch in range(40):
            streams = [client.request(f"/w{batch}-{i}-" + "p" * 40) for i in range(100)]
            answers = client.responses(100)
            assert all(answers[s][0].get(":status") == "200" for s in streams), batch
        assert stable.connections == 1
    finally:
        router.close()
        stable.close()


def test_a_stalled_upload_does_not_hold_back_the_other_streams_of_its_connection(shadow):
    # /stall's upstream never reads: a window's worth fills its upstream stream, the next window's worth
    # waits in the router. Those must not use up the client connection's window, or no other stream of
    # the connection could send a body any more.
    stable = H2Upstream("stable")
    router = Router(shadow, stable.port)
    try:
        client = H2Client(router.port)
        stall = client.conn.get_next_available_stream_id()
        client.conn.send_headers(stall, [(":method", "POST"), (":scheme", "http"), (":authority", "orders"),
                                         (":path", "/stall")])
        sent, goal = 0, 2 * 65535  # one window up to the upstream, one waiting in the router
        deadline = time.monotonic() + READ_BOUND
        while sent < goal and time.monotonic() < deadline:
            window = min(client.conn.local_flow_control_window(stall), goal - sent)
            while window > 0:
                size = min(window, client.conn.max_outbound_frame_size)
                client.conn.send_data(stall, b"s" * size)
                sent, window = sent + size, window - size
            client.sock.sendall(client.conn.data_to_send())
            if sent < goal:
                client.conn.receive_data(client.sock.recv(65536))  # window updates, when the router gives any
                client.sock.sendall(client.conn.data_to_send())
        assert sent >= 2 * 65535, f"only {sent} bytes of /stall were taken"
        # The connection's window must come back although /stall's bytes still wait in the router.
        while client.conn.outbound_flow_control_window < 1000:
            client.conn.receive_data(client.sock.recv(65536))  # times out (fails) if it never comes back
            client.sock.sendall(client.conn.data_to_send())
        other = client.post("/ok", b"o" * 1000)
        headers, body = client.responses(1)[other]
        assert headers.get(":status") == "200" and body.startswith(b"stable /ok "), (headers, body)
    finally:
        router.close()
        stable.close()


def test_after_an_upstream_goaway_new_streams_use_a_new_connection(shadow):
    stable = H2Upstream("stable", goaway_after=5)
    router = Router(shadow, stable.port)
    try:
        client = H2Client(router.port)
        for i in range(12):
            stream = client.request(f"/g{i}")
            headers, body = client.responses(1)[stream]
            assert headers.get("x-served-by") == "stable" and body.decode().startswith(f"stable /g{i} "), (i, headers)
        assert stable.connections == 3  # 5 streams each, then GOAWAY
    finally:
        router.close()
        stable.close()


def test_a_refusing_target_sends_its_streams_to_stable_marked_fallback(shadow):
    stable = H2Upstream("stable")
    router = Router(shadow, stable.port)
    try:
        assert router.put("gone", free_port(), "exact:x-dev=gone") == "granted"
        client = H2Client(router.port)
        stream = client.request("/x", [("x-dev", "gone")])
        headers, body = client.responses(1)[stream]
        assert headers.get("x-served-by") == "stable" and headers.get("tether-route") == "fallback", headers
    finally:
        router.close()
        stable.close()


def test_a_protocol_violation_gets_goaway_and_other_connections_carry_on(shadow):
    stable = H2Upstream("stable")
    router = Router(shadow, stable.port)
    try:
        good = H2Client(router.port)
        bad = socket.create_connection(("127.0.0.1", router.port), timeout=READ_BOUND)
        # The preface, then a DATA frame on stream 0 (RFC 9113 §6.1: a connection error, PROTOCOL_ERROR).
        bad.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
                    + b"\x00\x00\x04\x00\x00\x00\x00\x00\x00" + b"data")
        received = b""
        while True:
            chunk = bad.recv(65536)
            if not chunk:
                break
            received += chunk
        goaway = [received[i:i + 17] for i in range(len(received) - 16) if received[i + 3] == 0x07]
        assert any(frame[13:17] == b"\x00\x00\x00\x01" for frame in goaway), received.hex()  # PROTOCOL_ERROR
        stream = good.request("/still")
        assert good.responses(1)[stream][0].get("x-served-by") == "stable"
    finally:
        router.close()
        stable.close()


# --- gRPC: a real channel through the router ------------------------------------------------------------

def grpc_server(name: str):
    """A gRPC server (generic handlers, raw bytes) naming itself; /test.Echo/Fail ends trailers-only."""
    cancelled = threading.Event()

    def echo(request, context):
        return f"{name}:{request.decode()}".encode()

    def fail(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, f"{name} has no {request.decode()}")

    def stream(request, context):
        context.add_callback(cancelled.set)
        for i in range(1000):
            if not context.is_active():
                return
            yield f"{name}:{i}".encode()
            time.sleep(0.01)

    handler = grpc.method_handlers_generic_handler("test.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(echo),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Stream": grpc.unary_stream_rpc_method_handler(stream)})
    from concurrent import futures
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    server.cancelled = cancelled
    return server, port


def test_one_grpc_channel_carries_alice_bob_and_stable_calls_with_trailers(shadow):
    (stable, stable_port), (alice, alice_port), (bob, bob_port) = (grpc_server(n) for n in ("stable", "alice", "bob"))
    router = Router(shadow, stable_port)
    try:
        assert router.put("alice", alice_port, "exact:x-dev=alice") == "granted"
        assert router.put("bob", bob_port, "exact:tenant=bob").startswith("granted")
        channel = grpc.insecure_channel(f"127.0.0.1:{router.port}")
        say = channel.unary_unary("/test.Echo/Say")
        answers = []
        for i in range(30):
            metadata = [(), (("x-dev", "alice"),), (("tenant", "bob"),)][i % 3]
            answers.append(say(f"m{i}".encode(), metadata=metadata, timeout=READ_BOUND).decode())
        assert answers == [f"{('stable', 'alice', 'bob')[i % 3]}:m{i}" for i in range(30)]

        # Trailers-only: the error status and message arrive as sent.
        with pytest.raises(grpc.RpcError) as failure:
            channel.unary_unary("/test.Echo/Fail")(b"thing", metadata=(("x-dev", "alice"),), timeout=READ_BOUND)
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
        assert failure.value.details() == "alice has no thing"

        # A streaming call the client cancels: the upstream hears the reset.
        call = channel.unary_stream("/test.Echo/Stream")(b"", metadata=(("x-dev", "alice"),), timeout=READ_BOUND)
        first = [next(call) for _ in range(3)]
        assert first == [b"alice:0", b"alice:1", b"alice:2"]
        call.cancel()
        assert alice.cancelled.wait(READ_BOUND), "the upstream never saw the cancellation"
        channel.close()
    finally:
        router.close()
        for server in (stable, alice, bob):
            server.stop(0)


def test_a_large_upload_to_a_slow_reader_is_held_back_not_buffered(shadow):
    received = []

    def upload(request_iterator, context):
        total = 0
        for chunk in request_iterator:
            total += len(chunk)
            if total == 4 << 20:
                # The slow reader of the scenario: it stops for a while; a router without end-to-end flow
                # control would take in the other 60 MiB meanwhile (loopback is fast).
                time.sleep(2)
        received.append(total)
        return str(total).encode()

    from concurrent import futures
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Up", {"Load": grpc.stream_unary_rpc_method_handler(upload)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    router = Router(shadow, port)
    try:
        before = router.memory_kib("VmRSS")
        channel = grpc.insecure_channel(f"127.0.0.1:{router.port}")
        chunks = (b"u" * (1 << 20) for _ in range(64))  # 64 MiB
        answer = channel.stream_unary("/test.Up/Load")(chunks, timeout=120)
        assert answer == str(64 << 20).encode()
        peak = router.memory_kib("VmHWM")  # the most the router ever held
        assert peak - before < 16 << 10, f"the router grew by {peak - before} KiB for a slow reader"
        channel.close()
    finally:
        router.close()
        server.stop(0)
