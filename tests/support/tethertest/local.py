"""The developer's machine in the e2e tests: a local HTTP server standing in for the debuggee, and a CONNECT
proxy the test can cut (a dropped VPN, a sleeping laptop)."""
import http.server
import json
import secrets
import select
import socket
import threading
from pathlib import Path

import yaml


class LocalServer:
    """The developer's process: an HTTP server on 127.0.0.1 that answers with its own token."""

    def __init__(self, port: int = 0):
        self.token = secrets.token_hex(6)
        token = self.token

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"served_by": "laptop", "token": token, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> dict:
        return {"served_by": "laptop", "token": self.token, "path": path}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CuttableProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 (loopback targets only) that can cut every connection it relays,
    as a dropped VPN or a sleeping laptop would."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.targets: list[str] = []
        self.live: set = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        upstream = None
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            method, target, _ = request.split(b"\r\n", 1)[0].decode().split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host not in ("127.0.0.1", "localhost"):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            upstream = socket.create_connection((host, int(port)))
            with self.lock:
                self.targets.append(target)
                self.live.add((client, upstream))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = request.split(b"\r\n\r\n", 1)[1]
            if rest:
                upstream.sendall(rest)
            sockets = [client, upstream]
            while True:
                readable, _, _ = select.select(sockets, [], [])
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            with self.lock:
                self.live.discard((client, upstream))
            for sock in (client, upstream):
                if sock is not None:
                    sock.close()

    def kubeconfig(self, source: str, target: Path) -> Path:
        """`target`: the kubeconfig `source` with every cluster reached through this proxy (`proxy-url`)."""
        config = yaml.safe_load(Path(source).read_text())
        for entry in config["clusters"]:
            entry["cluster"]["proxy-url"] = self.url
        target.write_text(yaml.safe_dump(config))
        return target

    def cut(self) -> int:
        """Resets every relayed connection; returns how many there were."""
        with self.lock:
            pairs = list(self.live)
        for pair in pairs:
            for sock in pair:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return len(pairs)

    def close(self):
        self.server.close()
        self.cut()
