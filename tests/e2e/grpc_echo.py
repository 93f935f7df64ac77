"""A gRPC server that names itself (raw-bytes generic handlers, grpcio from Debian): /test.Echo/Say answers
"NAME:request". Run as a kubesim pod (image e2e/grpc-echo, NAME and PORT from the environment) or on the
developer's machine (imported by the mesh tests)."""
import os
import sys
import threading
from concurrent import futures

import grpc


def serve(name: str, host: str = "0.0.0.0", port: int = 0):
    def say(request, context):
        return f"{name}:{request.decode()}".encode()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)}),))
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server, bound


if __name__ == "__main__":
    server, _ = serve(os.environ.get("NAME", "cluster"), port=int(os.environ.get("PORT", "9090")))
    sys.stdout.write("serving\n")
    sys.stdout.flush()
    threading.Event().wait()
