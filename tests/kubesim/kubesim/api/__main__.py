"""`python3 -m kubesim.api`: the API server alone, with the fake kubelet, no root needed.

Why: client tests that only talk to the API (auth, RBAC, watches, patches) do not need pods that run
or traffic that flows, and `kubesim up` needs root for network namespaces. This mode prints the
kubeconfig path, serves until SIGINT/SIGTERM, then removes its state directory.

Usage: /usr/bin/python3 -m kubesim.api [--state DIR]     (run from tests/kubesim)
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from .server import start_api_server
from .store import Store
from .testing import FakeKubelet


async def serve(state_dir: Path) -> None:
    store = Store()
    kubelet = FakeKubelet(store)
    server = await start_api_server(state_dir, store, kubelet)
    kubelet.start()
    print(server.kubeconfig, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await kubelet.stop()
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m kubesim.api", description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, help="state directory (default: a new temporary one)")
    args = parser.parse_args(argv)
    state_dir = args.state or Path(tempfile.mkdtemp(prefix="kubesim-api-"))
    if state_dir.exists() and any(state_dir.iterdir()):
        print(f"state directory {state_dir} is not empty", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(state_dir))
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
