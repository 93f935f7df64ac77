#!/usr/bin/python3
"""bench/session: how long an exchange takes to start and to stop, beside the same exchange done by hand
with kubectl, measured in one run on kubesim with the sample app (demo/sample-app.json).

Rows, each over CYCLES cycles, interleaved (one warm-up cycle each, not counted):
- tether: start = from launching `tether exchange orders --output json` until a request from the client
  pod to the orders Service is answered by the local process; stop = from SIGINT until the Service's
  selector is back and a request via orders is answered by a cluster pod; done = until tether exited.
- kubectl by hand (what a user does without Tether; roughly what kt-connect automates, without its tunnel):
  start = `kubectl run` an echo pod, `kubectl wait --for=condition=Ready`, `kubectl patch svc` its selector,
  until a request via orders is answered by that pod; stop = `kubectl patch svc` back until a request is
  answered by a cluster pod; done = after `kubectl delete pod`.
Requests come from a small prober in the client pod's network namespace (new connection each time);
the selector is read from the API server. Then tether's start split into the phases its session reports.
Prints; never fails the build (the Makefile ignores its status).
Then part 2 (modes.py): every mode over JSON-RPC (start to prepared and to active, stop) and 1, 10 and 50
concurrent sessions in one backend (start p50/p99, RSS, threads, fds, idle CPU).
Usage: bench/session/run.py [BUILD_DIR] [--cycles N]   (or TETHER_BENCH_CYCLES=N; default 20; root;
TETHER_BENCH_MODE_CYCLES=N for part 2, default min(N, 10))
BUILD_DIR defaults to build/bench when it holds a tether with `exchange`, else build/dev.
TETHER_BENCH_TRACE=1 prints every probe and session event with its time on stderr.
"""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import modes  # noqa: E402  (part 2: every mode over JSON-RPC, and many sessions in one backend)

ROOT = Path(__file__).resolve().parents[2]
KUBESIM = ROOT / "tests" / "kubesim" / "bin" / "kubesim"
NS = "demo"
ORIGINAL = {"app": "orders"}
TIMEOUT = 30          # seconds for any one condition
POLL = 0.005          # seconds between two probes while waiting for a condition (the measurement's grain)
AIM_START_MS, AIM_STOP_MS = 1000, 500
TRACE = os.environ.get("TETHER_BENCH_TRACE") == "1"
API_PHASES = ("ReadService", "CheckAccess", "Lock", "CreateShadow", "MoveTraffic")

# Runs in the client pod's network namespace: one GET per line of "host port", a JSON line per answer.
PROBER = r"""
import http.client, json, sys, time
for line in sys.stdin:
    host, port = line.split()
    start = time.monotonic()
    connected = None
    try:
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.connect()
        connected = time.monotonic()
        connection.request("GET", "/bench", headers={"Connection": "close"})
        body = connection.getresponse().read()
        connection.close()
        answer = json.loads(body)
        out = {"ok": True, "where": answer.get("where"), "host": answer.get("host") or answer.get("pod")}
    except Exception as error:
        out = {"ok": False, "error": str(error)}
    out["connect_ms"] = round((connected - start) * 1000, 1) if connected else None
    out["ms"] = round((time.monotonic() - start) * 1000, 1)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""


def percentile(values, p):
    values = sorted(values)
    return values[round(p * (len(values) - 1))] if values else float("nan")


def pick_build(argv):
    if argv:
        return Path(argv[0]).resolve()
    bench = ROOT / "build" / "bench"
    try:
        if (bench / "shadow" / "tether-shadow").exists() and "exchange" in subprocess.run(
                [str(bench / "server" / "tether"), "--help"], capture_output=True, text=True, timeout=10).stdout:
            return bench
    except OSError:
        pass
    return ROOT / "build" / "dev"


class Api:
    """GETs against kubesim's API server with its admin token (state dir files documented for tests)."""

    def __init__(self, state):
        self.port = int((state / "port").read_text())
        self.context = ssl.create_default_context(cafile=str(state / "ca.crt"))
        self.token = (state / "admin-token").read_text().strip()
        self.connection = None

    def get(self, path):
        for attempt in (1, 2):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                                                  timeout=10)
                self.connection.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
                response = self.connection.getresponse()
                body = response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
                return json.loads(body)
            except (OSError, http.client.HTTPException):
                self.connection = None
                if attempt == 2:
                    raise

    def selector(self):
        return self.get(f"/api/v1/namespaces/{NS}/services/orders")["spec"].get("selector")


class Prober:
    def __init__(self, netns, env):
        self.process = subprocess.Popen(["ip", "netns", "exec", netns, "/usr/bin/python3", "-u", "-c", PROBER],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def probe(self, host, port):
        self.process.stdin.write(f"{host} {port}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


def until(condition, what):
    """Polls condition() (a probe or an API read, each a few ms) until true; returns the time it held."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {TIMEOUT} s waiting for {what}")
        time.sleep(POLL)


class LocalOrders(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"service": "orders", "where": "laptop", "host": "bench"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Bench:
    def __init__(self, tether, state, env):
        self.tether = tether
        self.env, self.state = env, state
        self.api = Api(state)
        client = self.api.get(f"/api/v1/namespaces/{NS}/pods/client")
        self.prober = Prober(client["metadata"]["annotations"]["kubesim.io/netns"], env)
        self.cluster_ip = self.api.get(f"/api/v1/namespaces/{NS}/services/orders")["spec"]["clusterIP"]
        self.local = ThreadingHTTPServer(("127.0.0.1", 0), LocalOrders)
        threading.Thread(target=self.local.serve_forever, daemon=True).start()
        self.running = None

    def answered(self, test):
        answer = self.prober.probe(self.cluster_ip, 80)
        if TRACE:
            print(f"  {time.monotonic():.3f} probe {answer}", file=sys.stderr)
        return answer["ok"] and test(answer)

    def cluster_answers(self):
        return self.api.selector() == ORIGINAL and self.answered(lambda a: a["where"] == "cluster")

    def tether_cycle(self):
        port = self.local.server_address[1]
        events, active = [], threading.Event()
        t0 = time.monotonic()
        process = subprocess.Popen([str(self.tether), "exchange", "orders", "-n", NS, "--expose", f"{port}:8080",
                                    "--output", "json", "--log-level", "warn"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, env=self.env, start_new_session=True)
        self.running = process

        def read():
            for line in process.stdout:
                event = json.loads(line)
                if TRACE:
                    print(f"  {time.monotonic():.3f} event {event.get('event')} {event.get('step') or event.get('session', {}).get('state')} {event.get('session', {}).get('message', '')}", file=sys.stderr)
                events.append((time.monotonic(), event))
                state = event.get("session", {}).get("state")
                if state == "active" or state == "failed" or event.get("event") == "error":
                    active.set()
            active.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            flowing = until(lambda: process.poll() is None and self.answered(lambda a: a["where"] == "laptop")
                            or process.poll() is not None, "the local process to answer via orders")
            if process.poll() is not None:
                raise RuntimeError(f"tether exited ({process.returncode}) before traffic flowed: {events[-1:]}")
            active.wait(TIMEOUT)
            announced, session = next((t, e["session"]) for t, e in events
                                      if e.get("session", {}).get("state") == "active")
            t1 = time.monotonic()
            process.send_signal(signal.SIGINT)
            restored = until(self.cluster_answers, "the selector back and a cluster pod answering")
            code = process.wait(timeout=TIMEOUT)
            done = time.monotonic()
            reader.join(TIMEOUT)
            if code != 0:
                raise RuntimeError(f"tether exited with {code} after SIGINT")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            self.running = None
        phases = {p["step"]: p["ms"] for p in session["phases"]}
        return {"start": (flowing - t0) * 1000, "stop": (restored - t1) * 1000, "done": (done - t1) * 1000,
                "phases": phases, "active": (announced - t0) * 1000, "flowing": (flowing - announced) * 1000}

    def kubectl(self, *args):
        subprocess.run(["kubectl", "-n", NS, *args], check=True, capture_output=True, env=self.env, timeout=TIMEOUT)

    def kubectl_cycle(self, number):
        pod = f"peer-{number}"
        t0 = time.monotonic()
        self.kubectl("run", pod, "--image=kubesim/echo", f"--labels=bench-peer={pod}")
        self.kubectl("wait", "--for=condition=Ready", f"pod/{pod}", f"--timeout={TIMEOUT}s")
        self.kubectl("patch", "svc", "orders", "--type=json",
                     "-p", json.dumps([{"op": "replace", "path": "/spec/selector", "value": {"bench-peer": pod}}]))
        flowing = until(lambda: self.answered(lambda a: a["host"] == pod), f"{pod} to answer via orders")
        t1 = time.monotonic()
        self.kubectl("patch", "svc", "orders", "--type=json",
                     "-p", json.dumps([{"op": "replace", "path": "/spec/selector", "value": ORIGINAL}]))
        restored = until(self.cluster_answers, "the selector back and a cluster pod answering")
        self.kubectl("delete", "pod", pod, f"--timeout={TIMEOUT}s")
        done = time.monotonic()
        return {"start": (flowing - t0) * 1000, "stop": (restored - t1) * 1000, "done": (done - t1) * 1000}

    def close(self):
        if self.running is not None and self.running.poll() is None:
            self.running.send_signal(signal.SIGINT)
            self.running.wait(timeout=TIMEOUT)
        self.prober.close()
        self.local.shutdown()


def print_table(cycles, build, ours, peer):
    print(f"bench/session (kubesim, sample app, {cycles} exchange cycles per row, interleaved, one run; "
          f"binaries: {build.relative_to(ROOT) if build.is_relative_to(ROOT) else build})")
    print(f"{'path':44} {'start p50':>9} {'start p99':>9} {'stop p50':>9} {'stop p99':>9} {'done p50':>9}  (ms)")
    for name, rows in (("tether exchange (shadow + tunnel)", ours),
                       ("kubectl by hand (run, wait, patch; delete)", peer)):
        column = lambda key, p: percentile([r[key] for r in rows], p)
        print(f"{name:44} {column('start', .5):9.0f} {column('start', .99):9.0f} {column('stop', .5):9.0f} "
              f"{column('stop', .99):9.0f} {column('done', .5):9.0f}")
    start50, stop50 = percentile([r["start"] for r in ours], .5), percentile([r["stop"] for r in ours], .5)
    print(f"{'aims (issue)':44} {'<= ' + str(AIM_START_MS):>9} {'':9} {'<= ' + str(AIM_STOP_MS):>9}")
    print(f"tether against the aims: start p50 {start50:.0f} ms {'meets' if start50 <= AIM_START_MS else 'MISSES'} "
          f"<= {AIM_START_MS} ms; stop p50 {stop50:.0f} ms {'meets' if stop50 <= AIM_STOP_MS else 'MISSES'} "
          f"<= {AIM_STOP_MS} ms")
    print("reference (not run here): kt-connect polls the shadow pod's phase every 6 s, so its exchange start "
          "takes >= 6 s.")
    print("start: launch -> a request via the orders Service answered by the local process (tether) / the new "
          "pod (kubectl);\nstop: SIGINT / the restoring patch -> selector back and a request answered by a "
          "cluster pod;\ndone: tether exited (it deletes the shadow) / `kubectl delete pod` returned. The "
          "kubectl row has no tunnel\nto this machine: its pod answers in the cluster.")

    print(f"\n{'tether start, split (ms)':44} {'p50':>9} {'p99':>9}")
    splits = []
    for row in ours:
        phases = row["phases"]
        splits.append({"api": sum(phases.get(step, 0) for step in API_PHASES),
                       "ready": phases.get("AwaitShadowReady", 0), "tunnel": phases.get("OpenTunnel", 0),
                       "before": row["active"] - sum(phases.values()), "after": row["flowing"]})
    for key, name in (("api", "API calls (5 requests, see below)"), ("ready", "AwaitShadowReady"),
                      ("tunnel", "OpenTunnel"), ("before", "rest until active (process, config, clean)"),
                      ("after", "active -> first answer from the local process")):
        values = [split[key] for split in splits]
        print(f"{name:44} {percentile(values, .5):9.1f} {percentile(values, .99):9.1f}")
    print(f"(session phases; API calls = {' + '.join(API_PHASES)})")


def main():
    args = sys.argv[1:]
    cycles = int(os.environ.get("TETHER_BENCH_CYCLES", "20"))
    if "--cycles" in args:
        index = args.index("--cycles")
        cycles = int(args[index + 1])
        del args[index:index + 2]
    if os.geteuid() != 0:
        print("bench/session: needs root (kubesim's network namespaces); skipped")
        return 1
    build = pick_build(args)
    work = Path(tempfile.mkdtemp(prefix="tether-bench-session-"))
    # Copies: a rebuild during the run must not change (or briefly remove) the binaries under measurement.
    tether, shadow = work / "tether", work / "tether-shadow"
    shutil.copy2(build / "server" / "tether", tether)
    shutil.copy2(build / "shadow" / "tether-shadow", shadow)
    state, home = work / "kubesim", work / "home"
    env = {key: value for key, value in os.environ.items() if key.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(HOME=str(home), KUBECACHEDIR=str(home / "cache"), KUBECONFIG=str(state / "kubeconfig"))
    image_map = work / "images.json"
    image_map.write_text(json.dumps({"ghcr.io/tether-dev/tether-shadow": {"command": [str(shadow)]},
                                     "demo/app": {"command": ["/usr/bin/python3", str(ROOT / "demo" / "app.py")]}}))
    subprocess.run([str(KUBESIM), "up", "--detach", "--state", str(state), "--image-map", str(image_map)],
                   check=True, capture_output=True, timeout=120)
    bench = None
    try:
        kubectl = lambda *a: subprocess.run(["kubectl", *a], check=True, capture_output=True, env=env, timeout=120)
        kubectl("apply", "--validate=false", "-f", str(ROOT / "demo" / "sample-app.json"))
        for deployment in ("inventory", "orders", "frontend"):
            kubectl("-n", NS, "rollout", "status", f"deployment/{deployment}", "--timeout=60s")
        kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/client", "--timeout=60s")
        bench = Bench(tether, state, env)
        until(bench.cluster_answers, "the cluster's orders to answer")
        ours, peer = [], []
        for number in range(cycles + 1):  # cycle 0 warms both paths up (kubectl's discovery cache, page cache)
            result_ours, result_peer = bench.tether_cycle(), bench.kubectl_cycle(number)
            if number:
                ours.append(result_ours)
                peer.append(result_peer)
        print_table(cycles, build, ours, peer)
        bench.close()
        bench = None
        modes.run(tether, env, work, NS, int(os.environ.get("TETHER_BENCH_MODE_CYCLES", min(cycles, 10))))
        return 0
    except Exception as error:
        print(f"bench/session: failed: {error}")
        return 1
    finally:
        if bench is not None:
            bench.close()
        subprocess.run([str(KUBESIM), "down", "--state", str(state)], capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
