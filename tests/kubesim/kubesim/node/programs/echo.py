"""kubesim/echo: an HTTP server that says which pod answered and what it was asked.

A test (or Tether's exchange) sends a request through a Service or a tunnel and reads the
answer to learn where the request landed: the pod name and namespace, plus the request's
method, path and headers. `GET /bytes/N` streams N bytes, for throughput measurements.
Listens on 0.0.0.0:$PORT (default 8080).
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POD = os.environ.get("KUBESIM_POD_NAME") or os.environ.get("HOSTNAME", "")
NAMESPACE = os.environ.get("KUBESIM_POD_NAMESPACE", "")
CHUNK = b"x" * 65536


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/bytes/"):
            return self._bytes(int(self.path.split("/")[2]))
        doc = {
            "pod": POD,
            "namespace": NAMESPACE,
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "bodyLength": len(body),
        }
        data = (json.dumps(doc) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _bytes(self, n: int):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        while n > 0:
            part = CHUNK[:min(n, len(CHUNK))]
            self.wfile.write(part)
            n -= len(part)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.address_string(), fmt % args))
        sys.stdout.flush()


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"echo: pod {POD} listening on :{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
