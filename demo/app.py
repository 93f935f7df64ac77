"""The demo's sample service: an HTTP server that names itself and what it fetched from its upstreams.

Runs as `demo/app:*` pods in kubesim (through the image map) and, unchanged, as the developer's local
process. Environment: NAME (the service it plays), PORT (default 8080), UPSTREAM (comma-separated URLs it
calls on every request), WHERE (a label: "cluster" or "laptop"). Upstream calls go through urllib, which
honours HTTP_PROXY / NO_PROXY: that is how the local process reaches `http://inventory` in the cluster.
"""
import json
import os
import socket
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("NAME", "app")
WHERE = os.environ.get("WHERE", "cluster")
# In a pod, HOSTNAME is the pod's name (kubesim and Kubernetes set it); on the laptop, the machine's name.
HOST = os.environ.get("HOSTNAME") or socket.gethostname()
UPSTREAM = [url for url in os.environ.get("UPSTREAM", "").split(",") if url]


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except Exception as error:  # the demo shows the failure instead of hiding it
        return {"error": f"{url}: {error}"}


def read_body(handler) -> bytes:
    """The request body, whether it comes with a Content-Length or chunked."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        body = b""
        while size := int(handler.rfile.readline().split(b";")[0], 16):
            body += handler.rfile.read(size)
            handler.rfile.readline()
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return body
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.answer({"service": NAME, "where": WHERE, "host": HOST,
                     "path": self.path, "upstream": {url: fetch(url) for url in UPSTREAM}})

    def do_POST(self):
        """Says what it was sent, so a caller can tell which Service got its body."""
        self.answer({"service": NAME, "where": WHERE, "host": HOST, "path": self.path, "method": "POST",
                     "body": read_body(self).decode(errors="replace")})

    def answer(self, document):
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # http.server's default backlog is 5: a burst of connections (200 threads of a debuggee calling this
    # Service at once) would wait for SYN retries. A real service's backlog is far larger.
    request_queue_size = 1024
    daemon_threads = True


if __name__ == "__main__":
    server = Server(("0.0.0.0" if WHERE == "cluster" else "127.0.0.1", int(os.environ.get("PORT", "8080"))),
                    Handler)
    print(f"{NAME} ({WHERE}) listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C in a terminal: end quietly
        pass
