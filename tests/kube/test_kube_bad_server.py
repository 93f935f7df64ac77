"""A misbehaving API server: garbage, truncated and oversized-declared answers, and a watch stream cut in
the middle of a watch. The client must answer with an error (or resume), never crash or hang."""
import json
import socket
import threading

import pytest
import yaml


class BadServer:
    """Plain-HTTP server on 127.0.0.1 whose answer is chosen per test."""

    def __init__(self, answer: bytes | list[bytes]):
        # A list is answered in order, one entry per request, the last one repeating.
        self.answers = answer if isinstance(answer, list) else [answer]
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests += 1
                conn.sendall(self.answers[min(self.requests, len(self.answers)) - 1])

    def close(self):
        self.sock.close()


@pytest.fixture
def bad(tmp_path):
    servers = []

    def make(answer, keep=None):
        server = BadServer(answer)
        if keep is not None:
            keep.append(server)
        servers.append(server)
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "bad",
                  "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.port}"}}],
                  "users": [{"name": "u", "user": {}}],
                  "contexts": [{"name": "bad", "context": {"cluster": "c", "user": "u"}}]}
        path = tmp_path / f"kubeconfig-{server.port}"
        path.write_text(yaml.safe_dump(config))
        return path

    yield make
    for server in servers:
        server.close()


def test_garbage_json_is_an_error(bad, probe):
    body = b"{this is not json"
    config = bad(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    rc, out, _ = probe(config, "get", "configmaps", "default", "x")
    assert rc == 3
    assert "not JSON" in out[0]["error"]["message"]


def test_truncated_answer_is_an_error(bad, probe):
    config = bad(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"kind\":")
    rc, out, _ = probe(config, "get", "configmaps", "default", "x", timeout=120)
    assert rc == 3
    assert out[0]["error"]["reason"] == "Transport"


def test_non_status_error_page_keeps_http_code(bad, probe):
    body = b"<html>502 Bad Gateway</html>"
    config = bad(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    rc, out, _ = probe(config, "get", "configmaps", "default", "x")
    assert rc == 3
    assert out[0]["error"]["status"] == 502
    assert "HTTP 502" in out[0]["error"]["message"]


def test_watch_answered_with_no_event_stream_keeps_resuming(bad, probe):
    # Every request, the watches included, gets a list body and the connection closes: no event ever
    # arrives, so the watch must resume (bounded backoff) until its deadline, without crashing.
    list_body = json.dumps({"kind": "ConfigMapList", "metadata": {"resourceVersion": "5"}, "items": []}).encode()
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (len(list_body), list_body))
    config = bad(answer)
    rc, out, _ = probe(config, "watch", "configmaps", "default", 1, 3, timeout=60)
    # No event can arrive from this server: the watch gives up at its deadline, resuming meanwhile.
    assert rc == 4
    summary = out[-1]
    assert summary["events"] == 0
    assert summary["resumes"] + summary["relists"] >= 1


def ok_answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_throttled_gets_are_retried_honouring_retry_after(bad, probe):
    busy = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
    unavailable = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    servers = []
    config = bad([busy, unavailable, ok_answer(b'{"kind":"ConfigMap","metadata":{"name":"x"}}')], servers)
    rc, out, err = probe(config, "get", "configmaps", "default", "x")
    assert rc == 0, (out, err)
    assert servers[0].requests == 3


def test_writes_are_not_retried(bad, probe):
    unavailable = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    servers = []
    config = bad([unavailable, ok_answer(b"{}")], servers)
    rc, out, _ = probe(config, "create", "configmaps", "default", json.dumps({"metadata": {"name": "x"}}))
    assert rc == 3 and out[0]["error"]["status"] == 503
    assert servers[0].requests == 1
