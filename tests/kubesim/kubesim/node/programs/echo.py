"""kubesim/echo: an HTTP server that says which pod answered and what it was asked.

A test (or Tether's exchange) sends a request through a Service or a tunnel and reads the
answer to learn where the request landed: the pod name and namespace, plus the request's
method, path and headers. `GET /bytes/N` streams N bytes, for throughput measurements;
`GET /delay/S` answers after S seconds, so a test can hold a request open across a change.
Listens on 0.0.0.0:$PORT (default 8080). On SIGTERM it stops accepting connections, finishes
the requests in flight and exits 0, like a well-behaved server, which lets tests watch a
terminating pod drain.

It speaks just enough HTTP/1.1 by hand (request line, headers, Content-Length bodies,
keep-alive) because importing http.server costs more than the rest of a pod start.
"""

import json
import os
import signal
import socketserver
import sys
import threading
import time

POD = os.environ.get("KUBESIM_POD_NAME") or os.environ.get("HOSTNAME", "")
NAMESPACE = os.environ.get("KUBESIM_POD_NAMESPACE", "")
CHUNK = b"x" * 65536
MAX_HEADER_LINES = 200


def log(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        # No TCP_NODELAY: with it, /bytes leaves in small segments and a port-forward of it
        # carries three times as many frames.
        while self._one_request():
            pass

    def _one_request(self) -> bool:
        """Serves one request; False when the connection should close."""
        line = self.rfile.readline(65537)
        if not line:
            return False
        parts = line.decode("latin-1").strip().split()
        if len(parts) != 3:
            self._send(400, b"bad request line\n", "text/plain", close=True)
            return False
        method, path, version = parts
        headers = {}
        for _ in range(MAX_HEADER_LINES):
            h = self.rfile.readline(65537).decode("latin-1")
            if h in ("\r\n", "\n", ""):
                break
            name, _, value = h.partition(":")
            headers[name.strip()] = value.strip()
        length = int(headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        keep = version == "HTTP/1.1" and headers.get("Connection", "").lower() != "close"
        status = 200
        if path.startswith("/bytes/"):
            self._bytes(int(path.split("/")[2]), method, keep)
        else:
            if path.startswith("/delay/"):
                log(f"echo: {path} in flight")
                time.sleep(float(path.split("/")[2]))
            doc = {"pod": POD, "namespace": NAMESPACE, "method": method, "path": path,
                   "headers": headers, "bodyLength": len(body)}
            # JSON answers close the connection, so an idle keep-alive never delays a drain.
            keep = False
            self._send(status, (json.dumps(doc) + "\n").encode(), "application/json",
                       close=True, head=method == "HEAD")
        log(f'{self.client_address[0]} "{method} {path} {version}" {status} -')
        return keep

    def _send(self, status, data, ctype, close=False, head=False):
        reason = {200: "OK", 400: "Bad Request"}.get(status, "OK")
        out = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
               f"Content-Length: {len(data)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n")
        self.wfile.write(out.encode() + (b"" if head else data))

    def _bytes(self, n: int, method: str, keep: bool):
        self.wfile.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         f"Content-Length: {n}\r\n{'' if keep else 'Connection: close' + chr(13) + chr(10)}\r\n".encode())
        if method == "HEAD":
            return
        while n > 0:
            part = CHUNK[:min(n, len(CHUNK))]
            self.wfile.write(part)
            n -= len(part)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    # Handler threads are joined at server_close(): requests in flight finish before exit.
    daemon_threads = False
    block_on_close = True


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = Server(("0.0.0.0", port), Handler)

    def on_term(*_):
        log("echo: SIGTERM, draining")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    log(f"echo: pod {POD} listening on :{port}")
    server.serve_forever(poll_interval=0.1)
    server.socket.close()
    server.server_close()


if __name__ == "__main__":
    main()
