#!/usr/bin/python3
"""kubesim API benchmark: get / list / patch latency (p50, p99) over HTTPS with a kept-alive connection.

Why: every Tether session test and every kubectl call goes through these requests, and the issue's
aim is get p99 under 20 ms. `/version` (no store access) is printed beside them as the floor that
TLS + aiohttp + the client cost on this machine, so the difference is what kubesim itself adds.
The cluster runs in-process with the API tests' fake kubelet, so no root is needed.

Usage: bench/kubesim/api_bench.py [--pods 50] [--requests 500]
"""

import argparse
import http.client
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "tests" / "kubesim"
sys.path.insert(0, str(ROOT))

from kubesim.api.testing import Cluster  # noqa: E402


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class KeepAlive:
    """One TLS connection reused for every request, as client-go does."""

    def __init__(self, cluster: Cluster):
        ctx = ssl.create_default_context(cafile=str(cluster.state_dir / "ca.crt"))
        self.conn = http.client.HTTPSConnection("127.0.0.1", cluster.port, context=ctx, timeout=30)
        self.headers = {"Authorization": "Bearer " + (cluster.state_dir / "admin-token").read_text()}

    def request(self, method, path, body=None, headers=None):
        hdrs = {**self.headers, **(headers or {})}
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path} -> {resp.status} {data[:200]!r}")
        return data


def timed(fn, count):
    samples = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(Path(tmp) / "state")
        try:
            client = KeepAlive(cluster)
            base = "/api/v1/namespaces/default/pods"
            for i in range(args.pods):
                pod = {"metadata": {"name": f"p{i}", "labels": {"app": "web" if i % 2 else "db", "i": str(i)}},
                       "spec": {"containers": [{"name": "c", "image": "kubesim/echo",
                                                "ports": [{"containerPort": 8080}]}]}}
                client.request("POST", base, json.dumps(pod), {"Content-Type": "application/json"})
            table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
            n = args.requests
            cases = [
                ("GET /version (floor)", lambda i: client.request("GET", "/version")),
                ("get pod", lambda i: client.request("GET", f"{base}/p{i % args.pods}")),
                ("get pod as Table", lambda i: client.request("GET", f"{base}/p{i % args.pods}", headers=table)),
                (f"list {args.pods} pods", lambda i: client.request("GET", f"{base}?limit=500")),
                ("list -l app=web", lambda i: client.request("GET", f"{base}?labelSelector=app%3Dweb")),
                ("patch pod (merge)", lambda i: client.request(
                    "PATCH", f"{base}/p{i % args.pods}", json.dumps({"metadata": {"labels": {"n": str(i)}}}),
                    {"Content-Type": "application/merge-patch+json"})),
                ("patch pod (strategic)", lambda i: client.request(
                    "PATCH", f"{base}/p{i % args.pods}", json.dumps({"metadata": {"annotations": {"n": str(i)}}}),
                    {"Content-Type": "application/strategic-merge-patch+json"})),
            ]
            print(f"kubesim API latency, {n} requests each, {args.pods} pods, one kept-alive HTTPS connection")
            print(f"{'request':28} {'p50 ms':>8} {'p99 ms':>8}")
            for name, fn in cases:
                fn(0)   # warm up
                samples = timed(fn, n)
                print(f"{name:28} {percentile(samples, 50):8.2f} {percentile(samples, 99):8.2f}")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
