"""Port-forward over WebSocket `v4.channel.k8s.io` (the protocol Tether's own client uses) and
exec over `v5.channel.k8s.io`, spoken directly, byte by byte, against the real API server."""

import asyncio
import base64
import json

import aiohttp
import pytest

from conftest import echo_pod, toolbox_pod


@pytest.fixture
def pods(kubectl, ns):
    kubectl.apply([echo_pod("ws-echo"), toolbox_pod("ws-tb")], ns)
    kubectl.wait_ready(ns, "ws-echo", "ws-tb")
    return ns


def ws_url(cluster, ns, pod, sub, query):
    return f"{cluster.server().replace('https', 'wss', 1)}/api/v1/namespaces/{ns}/pods/{pod}/{sub}?{query}"


async def _session(cluster, url, protocols):
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(url, protocols=protocols, ssl=cluster.ssl_context(), timeout=10)
    return session, ws


async def _receive(ws, timeout=10):
    msg = await asyncio.wait_for(ws.receive(), timeout)
    return msg


def test_v4_port_prefix_data_and_close(cluster, pods):
    async def run():
        session, ws = await _session(cluster, ws_url(cluster, pods, "ws-echo", "portforward", "ports=8080"),
                                     ["v4.channel.k8s.io"])
        try:
            assert ws.protocol == "v4.channel.k8s.io"
            first = [(await _receive(ws)).data for _ in range(2)]
            assert sorted(first) == [b"\x00\x90\x1f", b"\x01\x90\x1f"]
            await ws.send_bytes(b"\x00GET /through-v4 HTTP/1.0\r\n\r\n")
            body = b""
            while True:
                msg = await _receive(ws)
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                assert msg.data[0] == 0
                body += msg.data[1:]
            head, _, payload = body.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
            assert json.loads(payload)["path"] == "/through-v4"
        finally:
            await ws.close()
            await session.close()
    asyncio.run(run())


def test_v4_error_channel_when_nothing_listens(cluster, pods):
    async def run():
        session, ws = await _session(cluster, ws_url(cluster, pods, "ws-echo", "portforward", "ports=9999"),
                                     ["v4.channel.k8s.io"])
        try:
            messages = []
            while True:
                msg = await _receive(ws)
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                messages.append(msg.data)
            assert messages[:2] == [b"\x00\x0f\x27", b"\x01\x0f\x27"]
            errors = b"".join(m[1:] for m in messages[2:] if m[0] == 1).decode()
            assert "error forwarding port 9999" in errors and "connection refused" in errors
        finally:
            await session.close()
    asyncio.run(run())


def test_v4_base64_variant(cluster, pods):
    async def run():
        session, ws = await _session(cluster, ws_url(cluster, pods, "ws-echo", "portforward", "ports=8080"),
                                     ["v4.base64.channel.k8s.io"])
        try:
            assert ws.protocol == "v4.base64.channel.k8s.io"
            first = sorted([(await _receive(ws)).data for _ in range(2)])
            assert first == ["0" + base64.b64encode(b"\x90\x1f").decode(),
                             "1" + base64.b64encode(b"\x90\x1f").decode()]
            await ws.send_str("0" + base64.b64encode(b"GET /b64 HTTP/1.0\r\n\r\n").decode())
            body = b""
            while True:
                msg = await _receive(ws)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                assert msg.data[0] == "0"
                body += base64.b64decode(msg.data[1:])
            assert json.loads(body.partition(b"\r\n\r\n")[2])["path"] == "/b64"
        finally:
            await session.close()
    asyncio.run(run())


def test_v5_exec_channels_and_status(cluster, pods):
    async def run():
        query = "command=sh&command=-c&command=cat;echo+bye+>%262;exit+4&stdin=true&stdout=true&stderr=true"
        session, ws = await _session(cluster, ws_url(cluster, pods, "ws-tb", "exec", query),
                                     ["v5.channel.k8s.io"])
        try:
            assert ws.protocol == "v5.channel.k8s.io"
            await ws.send_bytes(b"\x00typed")
            await ws.send_bytes(b"\xff\x00")
            got = {1: b"", 2: b"", 3: b""}
            while True:
                msg = await _receive(ws)
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                got[msg.data[0]] += msg.data[1:]
            # The server ends with a normal close frame once the status is out.
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1000)
            assert got[1] == b"typed" and got[2] == b"bye\n"
            status = json.loads(got[3])
            assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
            assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "4"}]
        finally:
            await session.close()
    asyncio.run(run())


def test_v4_two_ports_one_open_one_closed(cluster, pods):
    async def run():
        session, ws = await _session(cluster, ws_url(cluster, pods, "ws-echo", "portforward",
                                                     "ports=8080,9999"), ["v4.channel.k8s.io"])
        try:
            prefixes = sorted([(await _receive(ws)).data for _ in range(4)])
            assert prefixes == sorted([b"\x00\x90\x1f", b"\x01\x90\x1f", b"\x02\x0f\x27", b"\x03\x0f\x27"])
            await ws.send_bytes(b"\x00GET /two HTTP/1.0\r\n\r\n")
            got = {0: b"", 3: b""}
            while True:
                msg = await _receive(ws)
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
            assert b"error forwarding port 9999" in got[3]
            assert json.loads(got[0].partition(b"\r\n\r\n")[2])["path"] == "/two"
        finally:
            await session.close()
    asyncio.run(run())


def test_v5_exec_with_a_tty_and_resize(cluster, pods):
    async def run():
        query = "command=sh&stdin=true&stdout=true&tty=true"
        session, ws = await _session(cluster, ws_url(cluster, pods, "ws-tb", "exec", query),
                                     ["v5.channel.k8s.io"])
        try:
            await ws.send_bytes(b'\x04{"Width":100,"Height":30}')
            await ws.send_bytes(b"\x00[ -t 0 ] && echo is-a-tty; stty size; exit 5\n")
            out = b""
            while True:
                msg = await _receive(ws)
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                assert msg.data[0] in (1, 3), "no stderr channel with a tty"
                if msg.data[0] == 1:
                    out += msg.data[1:]
                else:
                    status = json.loads(msg.data[1:])
            text = out.decode()
            assert "is-a-tty" in text and "30 100" in text, text
            assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "5"}]
        finally:
            await session.close()
    asyncio.run(run())
