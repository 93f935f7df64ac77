"""Loopback integration tests of the tunnel: tether-tunnel (backend side) and tether-shadow as local
processes. Usage: tunnel_tests.py BUILD_DIR TEST_NAME. Each test bounds every wait and cleans up."""
import asyncio
import os
import random
import signal
import socket
import struct
import sys
import urllib.request

from harness import Bed, free_port, run
from netutil import (BigDns, EchoServer, Sink, dns_query, fake_dns, random_payload, roundtrip, sha, socks5_connect)
from wire import Tunnel

BUILD = sys.argv[1]


def reverse_bed(bed, echo_port, *extra, shadow_args=()):
    """Shadow + client with one reverse forward to `echo_port`; returns (shadow, client, remote_port)."""
    shadow = bed.shadow(*shadow_args)
    remote = free_port()
    client = bed.client(shadow.tunnel_port, "--reverse", f"{remote}:{echo_port}", *extra)
    client.wait_line(rf'listener port={remote} code="ok"')
    return shadow, client, remote


def hello_frame(nonce):
    hello = b"TTHR" + struct.pack(">H", 2) + struct.pack(">H", len(nonce)) + nonce + struct.pack(">II", 65536, 65536)
    hello += struct.pack(">H", 4) + b"test"
    return struct.pack(">BBII", 1, 0, 0, len(hello)) + hello


def read_frame(s):
    data = b""
    while len(data) < 10 or len(data) < 10 + struct.unpack(">I", data[6:10])[0]:
        chunk = s.recv(65536)
        assert chunk, "closed before a whole frame"
        data += chunk
    return data[0], data[10:10 + struct.unpack(">I", data[6:10])[0]]


def test_concurrent_1000():
    """1,000 concurrent connections through the reverse path, random payloads, each sha256-verified."""
    async def body():
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            _, _, remote = reverse_bed(bed, echo.port)
            rng = random.Random(5)
            payloads = [random_payload(rng.randint(1, 32 * 1024)) for _ in range(1000)]
            results = await asyncio.gather(*(roundtrip(remote, p) for p in payloads))
            bad = [i for i, (p, r) in enumerate(zip(payloads, results)) if sha(p) != sha(r)]
            assert not bad, f"{len(bad)} of 1000 streams corrupted, first {bad[:5]}"
    run(body())


def test_a_reverse_forward_can_name_the_real_client_with_the_proxy_protocol():
    """With --reverse-proxy-protocol the local app first reads a PROXY v1 line with the address of the
    client that connected to the agent's listener, then the client's bytes."""
    async def body():
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            shadow = bed.shadow()
            remote = free_port()
            client = bed.client(shadow.tunnel_port, "--reverse-proxy-protocol", f"{remote}:{echo.port}")
            client.wait_line(rf'listener port={remote} code="ok"')
            reader, writer = await asyncio.open_connection("127.0.0.1", remote)
            own_port = writer.get_extra_info("sockname")[1]
            writer.write(b"hello")
            line = await asyncio.wait_for(reader.readline(), 15)
            assert line == f"PROXY TCP4 127.0.0.1 127.0.0.1 {own_port} {remote}\r\n".encode(), line
            assert await asyncio.wait_for(reader.readexactly(5), 15) == b"hello"
            writer.close()
    run(body())


def test_half_close_and_large_transfer():
    """A 64 MiB request, half-closed, echoed back in full (reverse path), and 16 MiB through SOCKS5."""
    async def body():
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            socks = free_port()
            _, client, remote = reverse_bed(bed, echo.port, "--socks", str(socks))
            client.wait_line(rf"serving what=socks5 port={socks}")
            big = random_payload(64 * 1024 * 1024)
            assert sha(await roundtrip(remote, big)) == sha(big)
            mid = random_payload(16 * 1024 * 1024)
            got = await roundtrip(0, mid, connect=lambda: socks5_connect(socks, "localhost", echo.port))
            assert sha(got) == sha(mid)
    run(body())


def test_stalled_stream_does_not_slow_others():
    """A stream whose receiver never reads fills its window; another stream moves 32 MiB meanwhile."""
    async def body():
        echo = await EchoServer().start()
        sink = await Sink().start()
        with Bed(BUILD) as bed:
            shadow = bed.shadow()
            echo_remote, sink_remote = free_port(), free_port()
            client = bed.client(shadow.tunnel_port, "--reverse", f"{echo_remote}:{echo.port}",
                                "--reverse", f"{sink_remote}:{sink.port}")
            client.wait_line(rf'listener port={sink_remote} code="ok"')
            stalled_payload = random_payload(32 * 1024 * 1024)
            reader, writer = await asyncio.open_connection("127.0.0.1", sink_remote)

            async def stalled_send():
                writer.write(stalled_payload)
                await writer.drain()
                writer.write_eof()

            stalled = asyncio.create_task(stalled_send())
            other = random_payload(32 * 1024 * 1024)
            assert sha(await roundtrip(echo_remote, other)) == sha(other)
            # The stalled stream is still stuck behind its receiver while the other one finished.
            assert not stalled.done(), "the stalled stream should still be blocked"
            sink.release.set()
            await stalled
            await reader.read()
            writer.close()
            await asyncio.wait_for(_until(lambda: sink.digests), 20)
            assert sink.digests == [sha(stalled_payload)]
    run(body())


async def _until(predicate):
    while not predicate():
        await asyncio.sleep(0.01)  # polls a local variable of this process; no cross-process timing


def test_transport_killed_reconnects():
    """Kill the transport mid-transfer: the in-flight stream is reset, the client reconnects, the
    listener comes back and new connections work."""
    async def body():
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            shadow = bed.shadow()
            relay_port = free_port()
            relay = bed.relay(relay_port, shadow.tunnel_port)
            remote = free_port()
            client = bed.client(relay_port, "--reverse", f"{remote}:{echo.port}")
            client.wait_line(rf'listener port={remote} code="ok"')
            reader, writer = await asyncio.open_connection("127.0.0.1", remote)
            received = 0
            first_echo = asyncio.Event()

            async def pour():
                chunk = random_payload(65536)
                try:
                    while True:
                        writer.write(chunk)
                        await writer.drain()
                except (ConnectionError, OSError):
                    return

            async def drain():
                nonlocal received
                try:
                    while data := await reader.read(65536):
                        received += len(data)
                        first_echo.set()
                except (ConnectionError, OSError):
                    return "reset"
                return "eof"

            pourer = asyncio.create_task(pour())
            drainer = asyncio.create_task(drain())
            await asyncio.wait_for(first_echo.wait(), 15)
            mark = client.mark()
            relay.kill()
            # The in-flight stream ends (reset or EOF) instead of hanging.
            outcome = await asyncio.wait_for(drainer, 20)
            assert outcome in ("reset", "eof")
            writer.close()
            await asyncio.wait_for(pourer, 20)
            client.wait_line(r"event=tunnel_lost", start=mark)
            bed.relay(relay_port, shadow.tunnel_port)
            client.wait_line(rf'listener port={remote} code="ok"', start=mark, timeout=20)
            payload = random_payload(1024 * 1024)
            assert sha(await roundtrip(remote, payload)) == sha(payload)
    run(body())


def test_shadow_killed_is_reported():
    with Bed(BUILD) as bed:
        shadow = bed.shadow()
        client = bed.client(shadow.tunnel_port, "--max-attempts", "3")
        client.wait_line(r"state=connected")
        shadow.kill()
        # Hold the dead shadow's port, bound but not listening, so every reconnect is refused: a test running
        # beside this one could otherwise be given the port and answer the client's attempts itself.
        with socket.socket() as holder:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("127.0.0.1", shadow.tunnel_port))
            # SIGKILL closes the shadow's socket with a FIN, or with an RST when a byte of ours (a keepalive
            # ping) was still unread in it: either way the client must report the transport lost.
            client.wait_line(r'event=tunnel_lost code="transport lost" '
                             r'reason="(the peer closed the tunnel|tunnel read: Connection reset by peer)"')
            client.wait_line(r"state=reconnecting")
            client.wait_line(r'state=failed detail="gave up after 3 attempts: .*Connection refused"', timeout=20)
            assert client.wait_exit() == 3


def test_wrong_token_rejected_before_any_stream():
    """Different tokens on the two ends: the agent's proof does not match the client's token, the client
    gives up for good and tells the agent why, and no stream or listener ever exists."""
    with Bed(BUILD) as bed:
        shadow = bed.shadow()
        client = bed.client(shadow.tunnel_port, "--reverse", f"{free_port()}:1", token="not-the-token")
        client.wait_line(r'state=failed detail="the agent could not prove it holds this session.s token')
        assert client.wait_exit() == 3
        shadow.wait_line(r'event=tunnel_rejected .*code="bad token"')
        assert shadow.count(r"event=listening") == 0


def test_a_client_without_the_token_cannot_pass_the_handshake():
    """A client that answers WELCOME with a made-up proof (or a replayed one) gets GOAWAY bad token."""
    with Bed(BUILD) as bed:
        shadow = bed.shadow()
        with socket.create_connection(("127.0.0.1", shadow.tunnel_port), timeout=10) as s:
            s.sendall(hello_frame(os.urandom(32)))
            kind, _ = read_frame(s)
            assert kind == 0x02  # WELCOME: it reveals a nonce and a proof, never the token
            s.sendall(struct.pack(">BBII", 0x11, 0, 0, 34) + struct.pack(">H", 32) + os.urandom(32))
            kind, payload = read_frame(s)
            assert kind == 0x10 and struct.unpack(">I", payload[:4])[0] == 12, payload  # GOAWAY bad token
        shadow.wait_line(r'event=tunnel_rejected .*code="bad token" reason="wrong session token"')


def test_the_agent_announces_its_pod_and_proves_the_token():
    """The agent's identity (TETHER_POD_UID) comes inside its proof; a client holding the token verifies
    both and is served."""
    with Bed(BUILD) as bed:
        shadow = bed.shadow(env={"TETHER_POD_UID": "3f1c-uid"})
        tunnel = Tunnel(shadow.tunnel_port, bed.token, identity="3f1c-uid")
        shadow.wait_line(r"event=tunnel_established")
        tunnel.close()


def test_garbage_and_oversized_frames_close_only_that_connection():
    async def body():
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            shadow = bed.shadow()
            for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", struct.pack(">BBII", 1, 0, 0, 0x7FFFFFFF)):
                with socket.create_connection(("127.0.0.1", shadow.tunnel_port), timeout=10) as s:
                    s.sendall(junk)
                    assert s.recv(100) == b"", "the agent must close a connection that sent garbage"
            # "GET " read as a header announces a 1.2 GB frame: refused from the header, nothing buffered.
            shadow.wait_line(r'event=tunnel_rejected .*reason="frame of 1213486160 bytes exceeds the limit of 4096"')
            shadow.wait_line(r'event=tunnel_rejected .*reason="frame of 2147483647 bytes exceeds the limit of 4096"')
            # The agent keeps serving a real client.
            remote = free_port()
            client = bed.client(shadow.tunnel_port, "--reverse", f"{remote}:{echo.port}")
            client.wait_line(rf'listener port={remote} code="ok"')
            payload = random_payload(1000)
            assert await roundtrip(remote, payload) == payload
    run(body())


def test_version_mismatch_is_reported_on_both_sides():
    """A client of protocol version 3 gets a GOAWAY naming both versions; the agent logs the same."""
    with Bed(BUILD) as bed:
        shadow = bed.shadow()
        token = bed.token.encode()
        hello = (b"TTHR" + struct.pack(">H", 3) + struct.pack(">H", len(token)) + token +
                 struct.pack(">II", 65536, 65536) + struct.pack(">H", 6) + b"future")
        with socket.create_connection(("127.0.0.1", shadow.tunnel_port), timeout=10) as s:
            s.sendall(struct.pack(">BBII", 1, 0, 0, len(hello)) + hello)
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        ftype, _, _, length = struct.unpack(">BBII", reply[:10])
        code, mlen = struct.unpack(">IH", reply[10:16])
        assert ftype == 0x10 and code == 11, reply
        assert reply[16:16 + mlen] == b"agent speaks tunnel protocol 2, client sent 3"
        shadow.wait_line(r'event=tunnel_rejected .*code="version mismatch" reason="agent speaks tunnel protocol 2, client sent 3"')


def test_bind_failure_is_reported_with_the_port():
    with Bed(BUILD) as bed, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        shadow = bed.shadow()
        client = bed.client(shadow.tunnel_port, "--reverse", f"{port}:1")
        client.wait_line(rf'listener port={port} code="bind failed" detail="127.0.0.1:{port}: Address already in use"')


def test_dns_forwarder_udp_and_tcp():
    async def body():
        transport, dns_port = await fake_dns()
        with Bed(BUILD) as bed:
            shadow = bed.shadow("--dns-server", f"127.0.0.1:{dns_port}")
            fwd = free_port()
            client = bed.client(shadow.tunnel_port, "--dns", str(fwd))
            client.wait_line(r"state=connected")
            loop = asyncio.get_running_loop()
            query = dns_query("orders.ns.svc.cluster.local", qid=0x4242)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.setblocking(False)
                await loop.sock_connect(u, ("127.0.0.1", fwd))
                await loop.sock_sendall(u, query)
                answer = await asyncio.wait_for(loop.sock_recv(u, 4096), 15)
            assert answer[:2] == b"\x42\x42" and answer.endswith(bytes([10, 1, 2, 3])), answer
            reader, writer = await asyncio.open_connection("127.0.0.1", fwd)
            writer.write(struct.pack(">H", len(query)) + query)
            length = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), 15))[0]
            answer = await reader.readexactly(length)
            writer.close()
            assert answer.endswith(bytes([10, 1, 2, 3]))
        transport.close()
    run(body())


def test_truncated_dns_answer_is_asked_again_over_tcp():
    async def body():
        dns = await BigDns().start()
        with Bed(BUILD) as bed:
            shadow = bed.shadow("--dns-server", f"127.0.0.1:{dns.port}")
            fwd = free_port()
            client = bed.client(shadow.tunnel_port, "--dns", str(fwd))
            client.wait_line(r"state=connected")
            query = dns_query("big.ns.svc.cluster.local", qid=0x5151)
            reader, writer = await asyncio.open_connection("127.0.0.1", fwd)
            writer.write(struct.pack(">H", len(query)) + query)
            length = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), 15))[0]
            answer = await reader.readexactly(length)
            writer.close()
            # The whole answer, not the truncated datagram: every record arrived, through the agent's TCP retry.
            assert answer[:2] == b"\x51\x51"
            assert struct.unpack(">H", answer[6:8])[0] == BigDns.RECORDS
            assert answer.endswith(bytes([10, 9, 0, BigDns.RECORDS - 1]))
            assert dns.tcp_queries == 1
        dns.close()
    run(body())


def test_sigterm_goaway_drains_in_flight_stream():
    async def body():
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            shadow, client, remote = reverse_bed(bed, echo.port, shadow_args=("--drain-timeout", "10s"))
            reader, writer = await asyncio.open_connection("127.0.0.1", remote)
            first, second = random_payload(300000), random_payload(300000)
            writer.write(first)
            await writer.drain()
            assert await reader.readexactly(len(first)) == first
            shadow.signal(signal.SIGTERM)
            client.wait_line(r'event=tunnel_goaway code="shutting down" reason="the agent is stopping: SIGTERM"')
            # The in-flight stream still finishes within the drain bound.
            writer.write(second)
            writer.write_eof()
            assert sha(await asyncio.wait_for(reader.read(), 15)) == sha(second)
            writer.close()
            assert shadow.wait_exit(15) == 0
            shadow.wait_line(r"event=stopped")
    run(body())


def test_idle_ttl_exits_without_client():
    with Bed(BUILD) as bed:
        shadow = bed.shadow("--idle-ttl", "300ms")
        with urllib.request.urlopen(f"http://127.0.0.1:{shadow.ready_port}/ready", timeout=10) as r:
            assert r.status == 200
        assert shadow.wait_exit(15) == 0
        shadow.wait_line(r"event=idle_exit")


def test_an_end_pings_only_after_an_interval_without_a_frame():
    """The agent (keepalive timeout 4 s, so it checks every 1 s and pings after 0.75 s of silence) pings a
    peer it has not heard from, about once a second, and never pings a peer that sends a frame every
    0.1 s. The peer here is wire.py, which answers PINGs and sends its own as the test says."""
    import time
    from wire import PING, PONG
    with Bed(BUILD) as bed:
        shadow = bed.shadow("--keepalive-timeout", "4s")
        tunnel = Tunnel(shadow.tunnel_port, bed.token)
        tunnel.sock.settimeout(0.1)

        def pings_from_agent(seconds, ping_every=None):
            """Answers the agent's PINGs for `seconds`, PINGing it every `ping_every` s; how many it sent."""
            count, end, next_ping = 0, time.monotonic() + seconds, time.monotonic()
            while (now := time.monotonic()) < end:
                if ping_every is not None and now >= next_ping:
                    tunnel.send(PING, 0, struct.pack(">Q", 1))
                    next_ping = now + ping_every
                try:
                    kind, _, payload = tunnel.read()
                except (socket.timeout, TimeoutError):
                    continue
                if kind == PING:
                    count += 1
                    tunnel.send(PONG, 0, payload)
            return count

        # Silent peer: the agent pings at every check (about 3 in 3.5 s) and the tunnel stays up on our PONGs.
        assert pings_from_agent(3.5) >= 2
        # A peer that sends a frame every 0.1 s: the agent is never 0.75 s without one, so it never asks.
        assert pings_from_agent(3.5, ping_every=0.1) == 0
        # Silent again: the agent asks again; the tunnel outlived the 4 s timeout twice over.
        assert pings_from_agent(3.5) >= 2
        tunnel.close()


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    TESTS[sys.argv[2]]()
    print(f"PASS {sys.argv[2]}")
