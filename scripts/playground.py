#!/usr/bin/python3
"""`make playground`: a local cluster (kubesim) with the sample app that stays up, to try tether by hand.

Starts kubesim with the demo's image map (demo/app.py for `demo/app:*`, this build's shadow for
`ghcr.io/tether-dev/tether-shadow`, any tag), applies demo/sample-app.json, waits until it is ready and prints how to use it.
A playground already running is replaced. `make playground-down` removes it.
Usage: scripts/playground.py [BUILD_DIR]   (default build/dev; needs root: kubesim's network namespaces)
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build" / "dev").resolve()
KUBESIM = ROOT / "tests" / "kubesim" / "bin" / "kubesim"
WORK = ROOT / "build" / "playground"
STATE = WORK / "kubesim"
KUBECONFIG = STATE / "kubeconfig"
TIMEOUT = 60
ENV = {key: value for key, value in os.environ.items() if key.lower() not in
       ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
ENV.update(HOME=str(WORK / "home"), KUBECACHEDIR=str(WORK / "home" / "cache"), KUBECONFIG=str(KUBECONFIG))


def run(*argv):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=ENV, timeout=TIMEOUT)
    if result.returncode != 0:
        raise SystemExit(f"playground: `{' '.join(map(str, argv))}` failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def main():
    if os.geteuid() != 0:
        raise SystemExit("playground: kubesim needs root (network namespaces): run `sudo make playground`")
    tether, shadow = BUILD / "server" / "tether", BUILD / "shadow" / "tether-shadow"
    for binary in (tether, shadow):
        if not binary.exists():
            raise SystemExit(f"playground: {binary} is missing: build first (`make build`)")
    (WORK / "home").mkdir(parents=True, exist_ok=True)
    image_map = WORK / "images.json"
    image_map.write_text(json.dumps({"ghcr.io/tether-dev/tether-shadow": {"command": [str(shadow)]},
                                     "demo/app": {"command": ["/usr/bin/python3", str(ROOT / "demo" / "app.py")]}},
                                    indent=1))
    subprocess.run([str(KUBESIM), "down", "--state", str(STATE)], capture_output=True, timeout=TIMEOUT)
    print("Starting kubesim with the sample app (namespace demo: frontend -> orders -> inventory, a client pod)...")
    run(KUBESIM, "up", "--detach", "--state", STATE, "--image-map", image_map)
    try:
        run("kubectl", "apply", "--validate=false", "-f", ROOT / "demo" / "sample-app.json")
        for deployment in ("inventory", "orders", "frontend"):
            run("kubectl", "-n", "demo", "rollout", "status", f"deployment/{deployment}", f"--timeout={TIMEOUT}s")
        run("kubectl", "-n", "demo", "wait", "--for=condition=Ready", "pod/client", f"--timeout={TIMEOUT}s")
    except BaseException:
        subprocess.run([str(KUBESIM), "down", "--state", str(STATE)], capture_output=True, timeout=TIMEOUT)
        raise
    print(run("kubectl", "-n", "demo", "get", "pods").rstrip())
    print(f"""
Playground ready; it keeps running until you stop it. Its kubeconfig: {KUBECONFIG}

  export KUBECONFIG={KUBECONFIG}
  export PATH={tether.parent}:$PATH
  tether services -n demo
  kubectl -n demo exec client -- curl -s http://frontend/

  # hand the orders Service to a local orders (Ctrl-C stops and restores it):
  cd {ROOT}
  NAME=orders WHERE=laptop PORT=12001 UPSTREAM=http://inventory \\
    tether exchange orders -n demo --expose 12001:8080 -- /usr/bin/python3 demo/app.py
  # in another terminal (same KUBECONFIG): the answer now comes from "where": "laptop"
  kubectl -n demo exec client -- curl -s http://frontend/

Stop the playground: make playground-down
  (or: {KUBESIM} down --state {STATE})""")


if __name__ == "__main__":
    main()
