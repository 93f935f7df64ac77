"""kubesim/echo: an HTTP server that says which pod answered and what it was asked.

A test (or Tether's exchange) sends a request through a Service or a tunnel and reads the
answer to learn where the request landed: the pod name and namespace, plus the request's
method, path and headers. `GET /bytes/N` streams N bytes, for throughput measurements;
`GET /delay/S` answers after S seconds, so a test can hold a request open across a change.
Listens on 0.0.0.0:$PORT (default 8080). On SIGTERM it stops accepting connections, finishes
the requests in flight and exits 0, like a well-behaved server, which lets tests watch a
terminating pod drain.
"""

import json
import os
import signal
import sys
import threading
import time
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
        if self.path.startswith("/delay/"):
            print(f"echo: {self.path} in flight", flush=True)
            time.sleep(float(self.path.split("/")[2]))
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
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

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
    # Handler threads are joined at server_close(): requests in flight finish before exit.
    server.daemon_threads = False
    server.block_on_close = True

    def on_term(*_):
        print("echo: SIGTERM, draining", flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    print(f"echo: pod {POD} listening on :{port}", flush=True)
    server.serve_forever()
    server.socket.close()
    server.server_close()


if __name__ == "__main__":
    main()
