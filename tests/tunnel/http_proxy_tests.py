"""Loopback tests of the local HTTP and SOCKS5 proxies: tether-tunnel and tether-shadow as local processes,
upstream HTTP servers on 127.0.0.1 that name themselves. Usage: http_proxy_tests.py BUILD_DIR TEST_NAME.

Each request on a keep-alive proxy connection must reach its own host, be framed so the next one is found,
and lose nothing the proxy should keep; whatever the proxy cannot frame it refuses and closes."""
import asyncio
import base64
import json
import subprocess
import sys

from harness import Bed, free_port, run
from httputil import Client, Upstream
from netutil import EchoServer, random_payload, sha, socks5_connect

BUILD = sys.argv[1]
USER, PASSWORD = "tether", "0123456789abcdef0123456789abcdef"
CREDENTIALS = {"TETHER_PROXY_CREDENTIALS": f"{USER}:{PASSWORD}"}
BASIC = "Proxy-Authorization: Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() + "\r\n"


def proxy_bed(bed, *flags, env=None):
    """Shadow and client with an HTTP proxy (and any extra flags); returns the proxy's port."""
    shadow = bed.shadow()
    http = free_port()
    client = bed.client(shadow.tunnel_port, "--http-proxy", str(http), *flags, env=env)
    client.wait_line(r"state=connected")
    return http, client


def answer_of(body):
    return json.loads(body)


def test_keep_alive_requests_each_reach_their_own_host():
    """GET A, GET B, POST A with a chunked body, pipelined on one connection: each answered by its own
    server, in order, in origin form, with Host from the URI and the proxy's hop-by-hop fields dropped."""
    async def body():
        a, b = await Upstream("A").start(), await Upstream("B").start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed)
            client = await Client().connect(http)
            client.send(f"GET http://127.0.0.1:{a.port}/one?x=1 HTTP/1.1\r\nHost: wrong\r\n"
                        "Proxy-Connection: keep-alive\r\nConnection: X-Private\r\nX-Private: secret\r\n"
                        "Authorization: Bearer for-a\r\n\r\n"
                        f"GET http://localhost:{b.port}/two HTTP/1.1\r\nHost: localhost:{b.port}\r\n\r\n"
                        f"POST http://127.0.0.1:{a.port}/three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trail: t\r\n\r\n")
            status, fields, first = await client.response()
            one = answer_of(first)
            assert (status, one["server"], one["target"]) == (200, "A", "/one?x=1"), one
            assert one["fields"]["host"] == [f"127.0.0.1:{a.port}"]
            assert "proxy-connection" not in one["fields"] and "x-private" not in one["fields"]
            assert one["fields"]["authorization"] == ["Bearer for-a"]  # end-to-end fields stay
            # The server's hop-by-hop fields stay on its side of the proxy.
            assert "x-hop" not in fields and "keep-alive" not in fields
            two = answer_of((await client.response())[2])
            assert (two["server"], two["target"]) == ("B", "/two")
            assert "authorization" not in two["fields"]  # one Service's credentials never reach another
            three = answer_of((await client.response())[2])
            assert (three["server"], three["method"], three["body"]) == ("A", "POST", "hello world")
            # The connection is still good for more.
            client.send(f"GET http://localhost:{b.port}/four HTTP/1.1\r\nHost: b\r\n\r\n")
            assert answer_of((await client.response())[2])["target"] == "/four"
            client.close()
            assert len(a.requests) == 2 and len(b.requests) == 2
    run(body())


def test_curl_reuses_its_proxy_connection_for_two_hosts():
    """curl sends both URLs over one proxy connection (it says so); each must come from its own server."""
    async def body():
        a, b = await Upstream("A").start(), await Upstream("B").start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed, env=CREDENTIALS)
            result = await asyncio.to_thread(
                subprocess.run, ["curl", "-sv", "--max-time", "15", "-x", f"http://{USER}:{PASSWORD}@127.0.0.1:{http}",
                                 f"http://127.0.0.1:{a.port}/from-curl", "-o", "-", f"http://localhost:{b.port}/again"],
                capture_output=True, text=True, timeout=30)
            assert result.returncode == 0, result.stderr
            assert "Re-using existing connection" in result.stderr, result.stderr
            answers = [json.loads(line) for line in result.stdout.replace("}{", "}\n{").splitlines()]
            assert [(x["server"], x["target"]) for x in answers] == [("A", "/from-curl"), ("B", "/again")]
    run(body())


def test_response_framings_keep_the_connection_in_step():
    """A streamed chunked answer (with trailers), HEAD, 204 and 100-continue on one connection; then an
    answer that ends when the server closes, after which the proxy closes the client's connection too."""
    async def body():
        a = await Upstream("A").start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed)
            client = await Client().connect(http)
            base = f"http://127.0.0.1:{a.port}"
            client.send(f"GET {base}/chunked HTTP/1.1\r\nHost: a\r\n\r\n")
            status, fields, chunked = await client.response()
            assert fields["transfer-encoding"] == ["chunked"] and answer_of(chunked)["target"] == "/chunked"
            client.send(f"HEAD {base}/head HTTP/1.1\r\nHost: a\r\n\r\n")
            status, fields, nothing = await client.response("HEAD")
            assert status == 200 and int(fields["content-length"][0]) > 0 and nothing == b""
            client.send(f"DELETE {base}/no-content HTTP/1.1\r\nHost: a\r\n\r\n")
            status, fields, _ = await client.response()
            assert status == 204 and fields["x-server"] == ["A"]
            client.send(f"PUT {base}/continue HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            assert (await client.response())[0] == 100
            client.send("data")
            assert answer_of((await client.response())[2])["body"] == "data"
            client.send(f"GET {base}/until-close HTTP/1.1\r\nHost: a\r\n\r\n")
            status, fields, last = await client.response()
            assert answer_of(last)["target"] == "/until-close" and fields["connection"] == ["close"]
            assert await client.closed()
    run(body())


def test_upgrade_turns_the_connection_into_a_tunnel():
    async def body():
        a = await Upstream("A").start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed)
            client = await Client().connect(http)
            client.send(f"GET http://127.0.0.1:{a.port}/upgrade HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                        "Upgrade: echo\r\n\r\n")
            status, fields, _ = await client.response()
            assert status == 101 and fields["upgrade"] == ["echo"]
            assert await asyncio.wait_for(client.reader.readexactly(5), 15) == b"hello"
            payload = random_payload(200000)
            client.send(payload)
            assert sha(await asyncio.wait_for(client.reader.readexactly(len(payload)), 15)) == sha(payload)
            client.close()
    run(body())


def test_bad_requests_are_refused_and_the_connection_closed():
    async def body():
        a = await Upstream("A").start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed)
            base = f"http://127.0.0.1:{a.port}"
            cases = [
                (f"POST {base}/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                 400, b"bad chunk size"),
                (f"POST {base}/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                 400, b"both Transfer-Encoding and Content-Length"),
                ("GET /origin-form HTTP/1.1\r\nHost: a\r\n\r\n", 400, b"send absolute-form requests"),
                (f"GET {base}/x HTTP/2.0\r\nHost: a\r\n\r\n", 505, b"HTTP/1.x"),
                (f"GET {base}/x HTTP/1.1\r\nHost : a\r\n\r\n", 400, b"malformed header field"),
                (f"GET {base}/x HTTP/1.1\r\nX-Big: {'y' * 70000}\r\n\r\n", 431, b"request head larger than"),
            ]
            for request, expected, reason in cases:
                client = await Client().connect(http)
                client.send(request)
                status, _, text = await client.response()
                assert (status, reason in text) == (expected, True), (request[:80], status, text)
                assert await client.closed(), request[:80]
            # A head cut short by the end of the connection.
            client = await Client().connect(http)
            client.send(f"GET {base}/x HTTP/1.1\r\nHost: a\r\n")
            client.writer.write_eof()
            status, _, text = await client.response()
            assert status == 400 and b"inside a request head" in text
            # Only the malformed chunked body ever reached the server, and not as a whole request.
            assert a.requests == [], a.requests
    run(body())


def test_an_answer_before_the_body_ends_the_client_connection():
    """The server answers 413 before it read the body. With the body still to come, the answer reaches the
    client and the proxy ends the connection (the rest of the body was never framed); with the whole body
    sent in one go, the answer reaches the client too, and the connection ends or stays usable."""
    async def body():
        a = await Upstream("A").start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed)
            head = f"POST http://127.0.0.1:{a.port}/early HTTP/1.1\r\nHost: a\r\nContent-Length: 400000\r\n\r\n"
            client = await Client().connect(http)
            client.send(head.encode() + random_payload(1000))  # the rest of the body never comes
            status, _, text = await client.response()
            assert (status, text) == (413, b"big!"), (status, text)
            assert await client.closed()
            client = await Client().connect(http)
            client.send(head.encode() + random_payload(400000))
            status, _, text = await client.response()
            assert (status, text) == (413, b"big!"), (status, text)
            client.send(f"GET http://127.0.0.1:{a.port}/after HTTP/1.1\r\nHost: a\r\n\r\n")
            try:
                status, _, text = await client.response()
                assert status == 200 and answer_of(text)["target"] == "/after"
            except (AssertionError, ConnectionError, asyncio.IncompleteReadError):
                assert await client.closed()  # ended instead, which is as good
    run(body())


def test_only_idempotent_requests_are_sent_again_when_a_reused_upstream_closed_unanswered():
    """A kept-alive upstream closes as the next request arrives, having answered nothing. A GET or DELETE is
    sent again on a fresh stream and answered; a POST is not (it may have run), so its client gets 502."""
    async def body():
        a = await Upstream("A").start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed)
            for method, expected in (("GET", 200), ("DELETE", 200), ("POST", 502)):
                before = (a.connections, a.dropped)
                client = await Client().connect(http)
                client.send(f"{method} http://127.0.0.1:{a.port}/first HTTP/1.1\r\nHost: a\r\n"
                            "Content-Length: 0\r\n\r\n")
                assert (await client.response())[0] == 200
                client.send(f"{method} http://127.0.0.1:{a.port}/dropped-on-reuse HTTP/1.1\r\nHost: a\r\n"
                            "Content-Length: 0\r\n\r\n")
                status, _, text = await client.response()
                assert status == expected, (method, status, text)
                # The second request went out on the reused upstream connection, which dropped it.
                assert a.dropped == before[1] + 1, method
                # Sent again means one more upstream connection, whose first request it was.
                assert a.connections == before[0] + (2 if expected == 200 else 1), method
                if expected == 200:
                    assert answer_of(text)["target"] == "/dropped-on-reuse"
                else:
                    assert text.startswith(b"tether: no response"), text
                # Nothing of the request is left unread, so the client connection carries on.
                client.send(f"GET http://127.0.0.1:{a.port}/after HTTP/1.1\r\nHost: a\r\n\r\n")
                status, _, text = await client.response()
                assert status == 200 and answer_of(text)["target"] == "/after", (method, status, text)
    run(body())


def test_broken_upstream_answers_are_502_never_passed_on():
    """A head that never ends, and a reason phrase hiding a bare LF (a second response behind it), are
    answered 502 and the connection closed; a response with both framings reaches the client without the
    Content-Length it must not trust."""
    async def body():
        a = await Upstream("A").start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed)
            for target in ("/partial", "/lf-reason"):
                client = await Client().connect(http)
                client.send(f"GET http://127.0.0.1:{a.port}{target} HTTP/1.1\r\nHost: a\r\n\r\n")
                status, _, text = await client.response()
                assert status == 502 and text.startswith(b"tether: "), (target, text)
                assert await client.closed(), target
            client = await Client().connect(http)
            client.send(f"GET http://127.0.0.1:{a.port}/te-and-cl HTTP/1.1\r\nHost: a\r\n\r\n")
            status, fields, text = await client.response()
            assert status == 200 and "content-length" not in fields and answer_of(text)["target"] == "/te-and-cl"
            client.close()
    run(body())


def test_a_slow_head_is_cut_at_a_bound_counted_from_its_first_byte():
    """A head trickling in a byte at a time is cut at the handshake bound counted from its first byte, not
    renewed by each byte (which would let any local user hold connections for ever)."""
    async def body():
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed, "--proxy-handshake-timeout", "1000")
            reader, writer = await asyncio.open_connection("127.0.0.1", http)
            sent = 0
            for byte in b"GET http://example.invalid/ HTTP/1.1\r\nHost: slowly-slowly-slowly\r\n":
                writer.write(bytes([byte]))
                sent += 1
                try:
                    if await asyncio.wait_for(reader.read(1), 0.3) == b"":
                        break  # closed by the proxy
                except asyncio.TimeoutError:
                    continue  # still open: the pacing of this slow client, not a wait for the proxy
                break
            assert sent < 20, f"the proxy still read a trickling head after {sent} bytes (0.3 s apart)"
            writer.close()
    run(body())


def test_clients_past_the_proxys_bound_are_turned_away():
    async def body():
        with Bed(BUILD) as bed:
            http, proxy = proxy_bed(bed, "--proxy-max-clients", "3")
            held = [await asyncio.open_connection("127.0.0.1", http) for _ in range(3)]
            extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", http)
            assert await asyncio.wait_for(extra_reader.read(), 15) == b""  # turned away at once
            proxy.wait_line(r"event=proxy_full proxy=http clients=3")
            for _, w in held:
                w.close()
            extra_writer.close()
    run(body())


def test_credentials_are_required_by_both_proxies():
    async def body():
        a = await Upstream("A").start()
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            socks = free_port()
            http, proxy = proxy_bed(bed, "--socks", str(socks), env=CREDENTIALS)
            request = f"GET http://127.0.0.1:{a.port}/secret HTTP/1.1\r\nHost: a\r\n"
            # Refused, with a challenge; the connection stays open for the retry a challenged client makes.
            client = await Client().connect(http)
            for extra in ("", "Proxy-Authorization: Basic " + base64.b64encode(b"tether:wrong").decode() + "\r\n"):
                client.send(request + extra + "\r\n")
                status, fields, _ = await client.response()
                assert status == 407 and fields["proxy-authenticate"] == ['Basic realm="tether"']
            # A refused request with a body closes the connection: the body is not read to skip it.
            client.send(f"POST http://127.0.0.1:{a.port}/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
            assert (await client.response())[0] == 407
            assert await client.closed()
            assert a.requests == []
            client = await Client().connect(http)
            client.send(request + BASIC + "\r\n")
            status, _, text = await client.response()
            assert status == 200 and answer_of(text)["target"] == "/secret"
            assert "proxy-authorization" not in a.requests[0]["fields"]  # the credentials stop at the proxy
            client.close()

            # SOCKS5: a client without credentials is offered no method; a wrong password fails RFC 1929.
            reader, writer = await asyncio.open_connection("127.0.0.1", socks)
            writer.write(b"\x05\x01\x00")
            assert await asyncio.wait_for(reader.readexactly(2), 15) == b"\x05\xff"
            writer.close()
            for password, status in ((b"wrong", 1), (PASSWORD.encode(), 0)):
                reader, writer = await asyncio.open_connection("127.0.0.1", socks)
                writer.write(b"\x05\x02\x00\x02")
                assert await asyncio.wait_for(reader.readexactly(2), 15) == b"\x05\x02"
                writer.write(bytes([1, len(USER)]) + USER.encode() + bytes([len(password)]) + password)
                assert await asyncio.wait_for(reader.readexactly(2), 15) == bytes([1, status])
                writer.close()
            reader, writer = await socks5_connect(socks, "127.0.0.1", echo.port, credentials=(USER, PASSWORD))
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), 15) == b"ping"
            writer.close()
            # Six refusals, one warning: a client retrying in a loop does not flood the log.
            assert proxy.count(r"level=warning event=proxy_client_refused") == 1
    run(body())


def test_connect_tunnels_bytes_both_ways():
    async def body():
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            http, _ = proxy_bed(bed)
            reader, writer = await asyncio.open_connection("127.0.0.1", http)
            writer.write(f"CONNECT localhost:{echo.port} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            payload = random_payload(100000)
            writer.write(payload)
            writer.write_eof()
            assert sha(await asyncio.wait_for(reader.read(), 15)) == sha(payload)
            writer.close()
    run(body())


def test_an_unresolvable_host_is_answered_with_the_dns_error():
    async def body():
        with Bed(BUILD) as bed:
            socks = free_port()
            http, _ = proxy_bed(bed, "--socks", str(socks))
            try:
                await socks5_connect(socks, "nosuchhost.invalid", 80)
                raise AssertionError("socks connect to an unresolvable host succeeded")
            except ConnectionError as e:
                assert "socks reply 4" in str(e)
            client = await Client().connect(http)
            client.send("GET http://nosuchhost.invalid/ HTTP/1.1\r\nHost: nosuchhost.invalid\r\n\r\n")
            status, _, text = await client.response()
            assert status == 502 and b"dns failure: nosuchhost.invalid:" in text, text
            client.close()
    run(body())


async def socks4_connect(proxy_port, host, port, userid):
    """SOCKS4a CONNECT (the proxy resolves `host`); returns (reply code, reader, writer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(b"\x04\x01" + port.to_bytes(2, "big") + b"\x00\x00\x00\x01" + userid.encode() + b"\x00"
                 + host.encode() + b"\x00")
    reply = await asyncio.wait_for(reader.readexactly(8), 15)
    assert reply[0] == 0
    return reply[1], reader, writer


def test_one_port_speaks_http_socks5_and_socks4a():
    """The session's one proxy port: the first byte picks the protocol, and each asks for the credentials."""
    async def body():
        a = await Upstream("A").start()
        echo = await EchoServer().start()
        with Bed(BUILD) as bed:
            shadow = bed.shadow()
            port = free_port()
            client = bed.client(shadow.tunnel_port, "--proxy", str(port), env=CREDENTIALS)
            client.wait_line(r"state=connected")

            http = await Client().connect(port)
            http.send(f"GET http://127.0.0.1:{a.port}/mixed HTTP/1.1\r\nHost: a\r\n" + BASIC + "\r\n")
            status, _, text = await http.response()
            assert status == 200 and answer_of(text)["target"] == "/mixed"
            http.close()

            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"CONNECT localhost:{echo.port} HTTP/1.1\r\nHost: localhost\r\n{BASIC}\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.write(b"over connect")
            assert await asyncio.wait_for(reader.readexactly(12), 15) == b"over connect"
            writer.close()

            reader, writer = await socks5_connect(port, "localhost", echo.port, credentials=(USER, PASSWORD))
            writer.write(b"over socks5")
            assert await asyncio.wait_for(reader.readexactly(11), 15) == b"over socks5"
            writer.close()

            # SOCKS4 has no password field: the user id carries user:password whole.
            code, reader, writer = await socks4_connect(port, "localhost", echo.port, f"{USER}:{PASSWORD}")
            assert code == 0x5A
            writer.write(b"over socks4a")
            assert await asyncio.wait_for(reader.readexactly(12), 15) == b"over socks4a"
            writer.close()
            for userid in (USER, f"{USER}:wrong", ""):
                code, reader, writer = await socks4_connect(port, "localhost", echo.port, userid)
                assert code == 0x5B, userid
                assert await asyncio.wait_for(reader.read(), 15) == b""
                writer.close()
            # A name the agent cannot resolve is rejected, not left hanging.
            code, _, writer = await socks4_connect(port, "nosuchhost.invalid", 80, f"{USER}:{PASSWORD}")
            assert code == 0x5B
            writer.close()
    run(body())


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    TESTS[sys.argv[2]]()
    print(f"PASS {sys.argv[2]}")
