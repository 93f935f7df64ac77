"""bench/session, part 2: every mode over JSON-RPC in one backend, and many sessions in one backend.

Per mode (CYCLES cycles each, interleaved): start -> prepared (the answer to tether/session/start with
awaitLocal), start -> active (tether/sessionChanged active), stop (tether/session/stop answered, the
cluster restored). The local port listens from the start, so prepared -> active is the local-listen check
plus moving the traffic.

Scale: N concurrent forward sessions (distinct local ports, so N sessions, each with its own shadow and
tunnel) started in one backend (N start requests pipelined), for N in 1, 10, 50: start p50/p99 under that concurrency, then the backend's RSS, threads and open fds with all N active,
and its CPU over an idle minute (60 s at the largest N, 30 s below, scaled to 60 s), then its threads again.
"""
import os
import socket
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
from tethertest.rpc import RpcBackend  # noqa: E402  (the tests' JSON-RPC client over LSP framing)

AIM_PREPARED_MS, AIM_STOP_MS = 300, 100
SCALE = (1, 10, 50)


def percentile(values, p):
    values = sorted(values)
    return values[round(p * (len(values) - 1))] if values else float("nan")


class Timed:
    """A backend whose notifications are time-stamped on arrival (the reader thread appends them)."""

    def __init__(self, tether, env, log):
        self.rpc = RpcBackend(str(tether), env, log, ("--log-level", "warn"))
        self.rpc.initialize()
        self.seen = {}  # (session id, state) -> first arrival time
        self._stop = False
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self):
        index = 0
        while not self._stop:
            with self.rpc._cond:
                while index >= len(self.rpc.notifications) and not self._stop:
                    self.rpc._cond.wait(1)
                fresh = self.rpc.notifications[index:]
                index = len(self.rpc.notifications)
            now = time.monotonic()
            for message in fresh:
                if message.get("method") == "tether/sessionChanged":
                    session = message["params"]["session"]
                    self.seen.setdefault((session["id"], session["state"]), now)

    def wait_state(self, session_id, state, timeout=60):
        deadline = time.monotonic() + timeout
        while (session_id, state) not in self.seen:
            if time.monotonic() > deadline:
                raise RuntimeError(f"session {session_id} never became {state}")
            time.sleep(0.002)
        return self.seen[(session_id, state)]

    def pid(self):
        return self.rpc.process.pid

    def close(self):
        self._stop = True
        with self.rpc._cond:
            self.rpc._cond.notify_all()
        try:
            self.rpc.request("shutdown", timeout=120)
            self.rpc.notify("exit")
            self.rpc.wait(timeout=60)
        finally:
            self.rpc.kill()


def low_ports(count, start=21000):
    """`count` ports free now and below the ephemeral range (32768+), where the backend's own outgoing
    connections (one port-forward per session) cannot take them between the choice and the bind."""
    ports, port = [], start
    while len(ports) < count:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                ports.append(port)
            except OSError:
                pass
        port += 1
    return ports


def mode_params(mode, namespace, local_port, forward_port):
    if mode == "exchange":
        return {"mode": "exchange", "target": "orders", "expose": [{"local": local_port, "remote": 8080}]}
    if mode == "preview":
        return {"mode": "preview", "target": "orders-preview", "expose": [{"local": local_port, "remote": 80}]}
    if mode == "forward":
        return {"mode": "forward", "target": "orders", "expose": [{"local": forward_port, "remote": 80}]}
    return {"mode": "connect"}


def mode_cycle(backend, namespace, mode, local_port):
    params = {"namespace": namespace, "awaitLocal": True,
              **mode_params(mode, namespace, local_port, low_ports(1, 20000)[0])}
    t0 = time.monotonic()
    session = backend.rpc.request("tether/session/start", params, timeout=120)
    prepared = time.monotonic()
    active = backend.wait_state(session["id"], "active") if session["state"] != "active" else prepared
    t1 = time.monotonic()
    stopped = backend.rpc.request("tether/session/stop", {"id": session["id"]}, timeout=120)
    t2 = time.monotonic()
    if stopped["state"] != "stopped":
        raise RuntimeError(f"{mode}: stop ended {stopped['state']}: {stopped.get('message')}")
    return {"prepared": (prepared - t0) * 1000, "active": (max(active, prepared) - t0) * 1000,
            "stop": (t2 - t1) * 1000}


def proc_numbers(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss_kb / 1024, threads, fds


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scale_row(tether, env, work, namespace, count):
    backend = Timed(tether, env, work / f"scale-{count}.log")
    try:
        before = proc_numbers(backend.pid())
        sent = {}
        # Distinct bindings (each its own local port), or the backend would rightly make them one session.
        for port in low_ports(count):
            params = {"namespace": namespace, "mode": "forward", "target": "orders",
                      "expose": [{"local": port, "remote": 80}]}
            sent[backend.rpc.send_request("tether/session/start", params)] = time.monotonic()
        starts, ids = [], []
        for request_id, t0 in sent.items():
            session = backend.rpc.response(request_id, timeout=300)
            ids.append(session["id"])
            starts.append((backend.wait_state(session["id"], "active", timeout=300) - t0) * 1000)
        rss, threads, fds = proc_numbers(backend.pid())
        idle = 60 if count == max(SCALE) else 30
        cpu0 = cpu_seconds(backend.pid())
        time.sleep(idle)  # measuring idle CPU: nothing to wait for but the clock
        cpu = (cpu_seconds(backend.pid()) - cpu0) * 60 / idle
        # After the idle time the pools have let their idle threads go: what N parked sessions cost.
        _, idle_threads, _ = proc_numbers(backend.pid())
        for session_id in ids:
            backend.rpc.request("tether/session/stop", {"id": session_id}, timeout=120)
        return {"count": count, "p50": percentile(starts, .5), "p99": percentile(starts, .99), "rss": rss,
                "threads": threads, "idle_threads": idle_threads, "fds": fds, "idle_cpu": cpu, "base": before}
    finally:
        backend.close()


def run(tether, env, work, namespace, cycles):
    local = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)  # listening is all it must do
    threading.Thread(target=local.serve_forever, daemon=True).start()
    local_port = local.server_address[1]
    modes = ("exchange", "connect", "preview", "forward")
    results = {mode: [] for mode in modes}
    backend = Timed(tether, env, work / "modes.log")
    try:
        for number in range(cycles + 1):  # cycle 0 warms up
            for mode in modes:
                row = mode_cycle(backend, namespace, mode, local_port)
                if number:
                    results[mode].append(row)
    finally:
        backend.close()
    print(f"\nbench/session, every mode over JSON-RPC in one backend ({cycles} cycles each, interleaved; "
          "awaitLocal, the local port already listening)")
    print(f"{'mode':12} {'prepared p50':>12} {'prepared p99':>12} {'active p50':>11} {'active p99':>11} "
          f"{'stop p50':>9} {'stop p99':>9}  (ms)")
    for mode in modes:
        rows = results[mode]
        col = lambda key, p: percentile([r[key] for r in rows], p)
        print(f"{mode:12} {col('prepared', .5):12.0f} {col('prepared', .99):12.0f} {col('active', .5):11.0f} "
              f"{col('active', .99):11.0f} {col('stop', .5):9.0f} {col('stop', .99):9.0f}")
    print(f"aims (issue): prepared p50 <= {AIM_PREPARED_MS} ms, stop p50 <= {AIM_STOP_MS} ms for every mode; "
          + "; ".join(f"{mode} {'meets' if percentile([r['prepared'] for r in results[mode]], .5) <= AIM_PREPARED_MS and percentile([r['stop'] for r in results[mode]], .5) <= AIM_STOP_MS else 'MISSES'}"
                      for mode in modes))
    local.shutdown()

    print("\nbench/session, concurrent forward sessions in one backend (each its own shadow and tunnel; starts "
          "pipelined over JSON-RPC)")
    print(f"{'sessions':>8} {'start p50':>10} {'start p99':>10} {'RSS MB':>8} {'threads':>8} {'idle thr':>8} "
          f"{'fds':>6} {'idle CPU s/60s':>15}")
    base = None
    for count in SCALE:
        row = scale_row(tether, env, work, namespace, count)
        base = base or row["base"]
        print(f"{count:8} {row['p50']:10.0f} {row['p99']:10.0f} {row['rss']:8.1f} {row['threads']:8} "
              f"{row['idle_threads']:8} {row['fds']:6} {row['idle_cpu']:15.2f}")
    print(f"(an idle backend before any session: RSS {base[0]:.1f} MB, {base[1]} threads, {base[2]} fds; "
          "threads: right after the starts, while the pools still hold the threads the starts took; idle thr: "
          "after the idle time, once idle pool threads have ended; "
          "aims: memory and fds linear, threads bounded by a pool, idle CPU < 0.1 s per 60 s at 50)")
