#!/usr/bin/python3
"""`make demo`: starts `tether serve --stdio` the way an IDE does and walks through a JSON-RPC session,
printing each message as it goes over the pipe. (The exchange issue turns this into the kubesim demo.)"""
import json
import subprocess
import sys

BINARY = sys.argv[1] if len(sys.argv) > 1 else "build/dev/server/tether"


def frame(message):
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_frame(stream):
    length = None
    while True:
        line = stream.readline()
        if not line:
            raise SystemExit("demo: the backend closed its output unexpectedly")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length))


def main():
    print(f"Starting the backend as an IDE would: {BINARY} serve --stdio\n")
    backend = subprocess.Popen([BINARY, "serve", "--stdio", "--log-level=warn"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
    steps = [
        ("The IDE introduces itself", {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                       "params": {"processId": None, "clientInfo": {"name": "make demo"}}}),
        ("It confirms", {"jsonrpc": "2.0", "method": "initialized", "params": {}}),
        ("It asks for the backend's version", {"jsonrpc": "2.0", "id": 2, "method": "tether/version"}),
        ("A malformed parameter gets an error that names it",
         {"jsonrpc": "2.0", "id": 3, "method": "tether/version", "params": ["not", "an", "object"]}),
        ("A method that is not there yet", {"jsonrpc": "2.0", "id": 4, "method": "tether/session/start",
                                             "params": {"namespace": "demo"}}),
        ("The IDE shuts the backend down", {"jsonrpc": "2.0", "id": 5, "method": "shutdown"}),
    ]
    for title, message in steps:
        print(f"## {title}\n  IDE -> tether  {json.dumps(message)}")
        backend.stdin.write(frame(message))
        backend.stdin.flush()
        if "id" in message:
            print(f"  tether -> IDE  {json.dumps(read_frame(backend.stdout))}\n")
        else:
            print("  (a notification: no answer)\n")
    backend.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    backend.stdin.close()
    code = backend.wait(timeout=10)
    print(f"## exit after shutdown -> the backend ended with exit code {code}")
    if code != 0:
        raise SystemExit(f"demo: expected exit code 0, got {code}")
    print("\nDemo finished. The exchange session (issue #6) will turn this into a live cluster demo.")


if __name__ == "__main__":
    main()
