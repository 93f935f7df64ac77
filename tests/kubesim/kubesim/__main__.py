"""Command line: `kubesim up [--state DIR] [--image-map FILE] [--detach]` and `kubesim down`.

`up` prints the kubeconfig path once the API serves and the node is ready. Without --detach it
keeps running until SIGINT/SIGTERM and then removes everything it created. With --detach it
starts the same command in the background (log in STATE/kubesim.log, removed by down) and returns once that
cluster is ready.
"""

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from .cluster import (DEFAULT_STATE, ClusterError, down, remove_leftovers, require_root,
                      run_foreground, running_pid)

READY_TIMEOUT = 60.0


def _up_detached(args) -> int:
    state = Path(args.state).resolve()
    pid = running_pid(state)
    if pid is not None:
        raise ClusterError(f"a kubesim cluster already runs with state dir {state} (pid {pid}); "
                           f"run `kubesim down --state {state}` first")
    # Clear a crashed run's leftovers here, so the log below is not removed with them.
    remove_leftovers(state)
    state.mkdir(parents=True, exist_ok=True)
    log_path = state / "kubesim.log"
    cmd = [sys.executable, "-m", "kubesim", "up", "--state", str(state)]
    if args.image_map:
        cmd += ["--image-map", args.image_map]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    with open(log_path, "ab") as logf:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                                 start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT
    # The child writes STATE/ready after the API serves; a child that dies early is an error.
    while time.monotonic() < deadline:
        if child.poll() is not None:
            sys.stderr.write(f"kubesim: cluster failed to start (exit {child.returncode}); log:\n")
            sys.stderr.write(log_path.read_text()[-4000:] if log_path.exists() else "(no log)\n")
            return 1
        ready = state / "ready"
        if ready.exists() and (state / "kubeconfig").exists():
            print(state / "kubeconfig", flush=True)
            return 0
        time.sleep(0.02)
    child.terminate()
    sys.stderr.write(f"kubesim: cluster not ready after {READY_TIMEOUT:.0f}s; see {log_path}\n")
    return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="kubesim", description="A simulated Kubernetes cluster.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a cluster and print its kubeconfig path")
    up.add_argument("--state", default=str(DEFAULT_STATE), help="state directory (default %(default)s)")
    up.add_argument("--image-map", default=None, help="YAML/JSON file mapping images to commands")
    up.add_argument("--detach", action="store_true", help="run in the background once ready")
    dn = sub.add_parser("down", help="stop a cluster and remove everything it created")
    dn.add_argument("--state", default=str(DEFAULT_STATE))
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("KUBESIM_LOG", "INFO"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        require_root()
        if args.cmd == "down":
            found = down(Path(args.state))
            print(f"kubesim: {'cluster removed' if found else 'no cluster found'} ({args.state})")
            return 0
        if args.detach:
            return _up_detached(args)
        asyncio.run(run_foreground(Path(args.state), args.image_map,
                                   lambda kubeconfig: print(kubeconfig, flush=True)))
        return 0
    except ClusterError as exc:
        sys.stderr.write(f"kubesim: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
