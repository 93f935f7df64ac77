"""A minimal HTTP CONNECT proxy on 127.0.0.1 for the proxy-url tests: it records every CONNECT target
and relays bytes both ways. Only loopback targets are allowed."""
import select
import socket
import threading


class ConnectProxy:
    def __init__(self, answer: bytes | None = None):
        """`answer`: bytes sent back to every CONNECT instead of relaying (a misbehaving proxy)."""
        self.answer = answer
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.targets: list[str] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        with client:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            line = request.split(b"\r\n", 1)[0].decode()
            method, target, _ = line.split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host not in ("127.0.0.1", "localhost"):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            self.targets.append(target)
            if self.answer is not None:
                try:
                    client.sendall(self.answer)
                    client.recv(1)  # hold the connection until the client gives up on it
                except OSError:
                    pass
                return
            with socket.create_connection((host, int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                rest = request.split(b"\r\n\r\n", 1)[1]
                if rest:
                    upstream.sendall(rest)
                sockets = [client, upstream]
                while True:
                    readable, _, _ = select.select(sockets, [], [], 60)
                    if not readable:
                        return
                    for sock in readable:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (upstream if sock is client else client).sendall(data)

    def close(self):
        self.running = False
        self.server.close()
