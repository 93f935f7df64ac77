#!/usr/bin/python3
"""kubesim node benchmark: pod create->Ready latency and port-forward throughput.

Why: every Tether session test creates pods and pushes its traffic through port-forward, so
these two numbers bound how fast those tests can be. Throughput is printed beside a direct
loopback download of the same bytes from the same pod in the same run, so the ratio says what
the API server + SPDY/WebSocket path costs, independent of the machine.

Usage: bench/kubesim/node_bench.py [--pods 50] [--megabytes 200]   (root; starts its own cluster)
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "tests" / "kubesim"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from conftest import Kubectl, echo_pod, readline, start_cluster, stop_cluster  # noqa: E402


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def ready_latencies(cluster, count: int) -> list[float]:
    """Creates pods one at a time over HTTPS and times each until a watch reports Ready."""
    import aiohttp
    base = cluster.server()
    ssl_ctx = cluster.ssl_context()
    latencies = []
    async with aiohttp.ClientSession() as s:
        await s.post(f"{base}/api/v1/namespaces", ssl=ssl_ctx,
                     json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        async with s.get(f"{base}/api/v1/namespaces/bench/pods", ssl=ssl_ctx) as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        watch = await s.get(f"{base}/api/v1/namespaces/bench/pods?watch=true&resourceVersion={rv}",
                            ssl=ssl_ctx, timeout=aiohttp.ClientTimeout(total=None))
        for i in range(count):
            pod = echo_pod(f"b{i}")
            started = time.perf_counter()
            async with s.post(f"{base}/api/v1/namespaces/bench/pods", ssl=ssl_ctx, json=pod) as r:
                assert r.status == 201, await r.text()
            while True:
                line = await asyncio.wait_for(watch.content.readline(), 30)
                ev = json.loads(line)
                obj = ev["object"]
                conds = {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions", [])}
                if obj["metadata"]["name"] == f"b{i}" and conds.get("Ready") == "True":
                    latencies.append(time.perf_counter() - started)
                    break
        watch.close()
        for i in range(count):
            await s.delete(f"{base}/api/v1/namespaces/bench/pods/b{i}?gracePeriodSeconds=0", ssl=ssl_ctx)
    return latencies


def timed_download(url: str, netns: str | None, nbytes: int) -> float:
    argv = (["ip", "netns", "exec", netns] if netns else []) + [
        "curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", url]
    started = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    assert res.returncode == 0 and int(res.stdout) == nbytes, res.stderr
    return nbytes / elapsed / 1e6


def forwarded(kubectl: Kubectl, env: dict | None, nbytes: int) -> float:
    proc = kubectl.popen("port-forward", "-n", "default", "pod/thru", ":8080", env=env)
    try:
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+)", readline(proc))
        assert m, proc.stderr.read()
        return timed_download(f"http://127.0.0.1:{m.group(1)}/bytes/{nbytes}", None, nbytes)
    finally:
        proc.kill()
        proc.wait()


async def v4_download(cluster, nbytes: int) -> float:
    """Downloads /bytes/N through WebSocket v4.channel.k8s.io, the protocol Tether's client uses."""
    import aiohttp
    url = (cluster.server().replace("https", "wss", 1)
           + "/api/v1/namespaces/default/pods/thru/portforward?ports=8080")
    async with aiohttp.ClientSession() as s:
        started = time.perf_counter()
        async with s.ws_connect(url, protocols=["v4.channel.k8s.io"], ssl=cluster.ssl_context(),
                                max_msg_size=0) as ws:
            await ws.receive_bytes()
            await ws.receive_bytes()
            await ws.send_bytes(b"\x00GET /bytes/%d HTTP/1.0\r\n\r\n" % nbytes)
            got = 0
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                got += len(msg.data) - 1
        elapsed = time.perf_counter() - started
    assert got > nbytes, got
    return nbytes / elapsed / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--megabytes", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kubesim-bench-"))
    cluster = start_cluster(work / "state")
    try:
        home = work / "home"
        home.mkdir()
        kubectl = Kubectl(cluster, home)
        lat = asyncio.run(ready_latencies(cluster, args.pods))
        print(f"pod create->Ready   p50 {percentile(lat, 50) * 1000:7.1f} ms   "
              f"p99 {percentile(lat, 99) * 1000:7.1f} ms   ({len(lat)} pods)")
        kubectl.apply(echo_pod("thru"), "default")
        kubectl.wait_ready("default", "thru")
        netns = kubectl.json("get", "pod", "thru")["metadata"]["annotations"]["kubesim.io/netns"]
        nbytes = args.megabytes * 1_000_000
        direct = timed_download(f"http://127.0.0.1:8080/bytes/{nbytes}", netns, nbytes)
        ws = forwarded(kubectl, None, nbytes)
        spdy = forwarded(kubectl, {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}, nbytes)
        v4 = asyncio.run(v4_download(cluster, nbytes))
        print(f"direct loopback in pod          {direct:8.1f} MB/s")
        print(f"port-forward (WS tunnel, SPDY)  {ws:8.1f} MB/s   {ws / direct:5.2f}x direct")
        print(f"port-forward (SPDY upgrade)     {spdy:8.1f} MB/s   {spdy / direct:5.2f}x direct")
        print(f"port-forward (WS v4, Python client) {v4:6.1f} MB/s   {v4 / direct:5.2f}x direct")
    finally:
        stop_cluster(cluster)
        os.system(f"rm -rf {work}")


if __name__ == "__main__":
    main()
