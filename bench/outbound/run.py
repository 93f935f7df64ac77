"""bench/outbound: the debuggee's way out, in ONE run so the rows are comparable. tether-shadow and
tether-tunnel run as local processes (the shadow dials 127.0.0.1, so the cluster side is loopback too), nginx
serves a small payload, and every row reaches that same nginx:

- connection set-up (connect -> first byte of the answer to one GET, a new connection each time), p50/p99
  over 1,000 connections: direct, the tunnel alone (`tether forward`'s fixed dial), the session's proxy port
  as an HTTP proxy (absolute-form and CONNECT), SOCKS5 and SOCKS4a;
- keep-alive req/s with wrk: direct, the tunnel alone, the HTTP proxy (absolute-form, one upstream stream
  per wrk connection), and CONNECT and SOCKS4a through socat (socat forwarding directly is the peer that
  shows socat's own share);
- the DNS forwarder: queries/s and p50/p99, sequential, through the tunnel to a stand-in cluster resolver.

Aim: every proxy row within 10 % of the tunnel alone for req/s. Rows not measured here say why. Prints;
never fails a build. Usage: run.py BUILD_DIR [seconds-per-wrk-row]"""
import asyncio
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tunnel"))
from harness import Bed, free_port  # noqa: E402
from netutil import FakeDns, dns_query  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build" / "bench")
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
CONNECTIONS = 1000


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start_nginx(work: Path, port: int):
    (work / "www").mkdir()
    (work / "www" / "small").write_bytes(b"x" * 64)
    (work / "nginx.conf").write_text(f"""
daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{port}; root {work}/www; }} }}
""")
    process = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return process


def wait_port(port: int, tries: int = 200):
    """Until something accepts on 127.0.0.1:port (bounded)."""
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def request(host: str) -> bytes:
    return f"GET http://{host}/small HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def first_byte(sock: socket.socket, payload: bytes):
    sock.sendall(payload)
    if not sock.recv(1):
        raise ConnectionError("closed before the first byte")


def setup_direct(port):
    def one():
        with socket.create_connection(("127.0.0.1", port)) as sock:
            first_byte(sock, b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return one


def setup_absolute(proxy, target):
    def one():
        with socket.create_connection(("127.0.0.1", proxy)) as sock:
            first_byte(sock, request(target))
    return one


def read_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def setup_connect(proxy, target):
    def one():
        with socket.create_connection(("127.0.0.1", proxy)) as sock:
            sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            read_until(sock, b"\r\n\r\n")
            first_byte(sock, b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return one


def setup_socks5(proxy, port):
    def one():
        with socket.create_connection(("127.0.0.1", proxy)) as sock:
            sock.sendall(b"\x05\x01\x00")
            sock.recv(2)
            name = b"localhost"
            sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
            reply = b""
            while len(reply) < 10:
                reply += sock.recv(10 - len(reply))
            first_byte(sock, b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return one


def setup_socks4a(proxy, port):
    def one():
        with socket.create_connection(("127.0.0.1", proxy)) as sock:
            sock.sendall(b"\x04\x01" + struct.pack(">H", port) + b"\x00\x00\x00\x01\x00localhost\x00")
            reply = b""
            while len(reply) < 8:
                reply += sock.recv(8 - len(reply))
            first_byte(sock, b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return one


def measure_setup(one):
    samples = []
    for _ in range(CONNECTIONS):
        start = time.perf_counter()
        one()
        samples.append((time.perf_counter() - start) * 1000)
    return percentile(samples, 50), percentile(samples, 99)


def wrk(port, script=None):
    args = ["wrk", "-t", "2", "-c", "8", "-d", f"{SECONDS}s"]
    if script:
        args += ["-s", script]
    done = subprocess.run(args + [f"http://127.0.0.1:{port}/small"], capture_output=True, text=True,
                          timeout=SECONDS + 60)
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", done.stdout)
    return float(found.group(1)) if found else float("nan"), (errors.group(0) if errors else "")


def socat(listen, target):
    process = subprocess.Popen(["socat", f"TCP-LISTEN:{listen},fork,reuseaddr,bind=127.0.0.1", target],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(listen)
    return process


def dns_rows(bed, shadow_dns_port):
    """Sequential queries through tether-tunnel's forwarder to the shadow's resolver (a stand-in)."""
    dns_port = free_port()
    bed.client(bed.shadow_port, "--dns", str(dns_port)).wait_line(r"state=connected")
    samples = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        start_all = time.perf_counter()
        for i in range(CONNECTIONS):
            start = time.perf_counter()
            sock.sendto(dns_query("orders.shop.svc.cluster.local", qid=i & 0xFFFF), ("127.0.0.1", dns_port))
            sock.recvfrom(4096)
            samples.append((time.perf_counter() - start) * 1000)
        total = time.perf_counter() - start_all
    return CONNECTIONS / total, percentile(samples, 50), percentile(samples, 99)


def run_fake_dns(port):
    loop = asyncio.new_event_loop()

    async def serve():
        await loop.create_datagram_endpoint(FakeDns, local_addr=("127.0.0.1", port))
        await asyncio.Event().wait()

    threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True).start()


def main():
    for tool in ("nginx", "wrk", "socat"):
        if not shutil.which(tool):
            print(f"bench/outbound: {tool} is not installed (scripts/bootstrap installs it); skipped")
            return
    work = Path(tempfile.mkdtemp(prefix="tether-bench-outbound-"))
    work.chmod(0o755)  # nginx workers run as another user and must read the payload
    nginx_port, fake_dns_port = free_port(), free_port()
    nginx = start_nginx(work, nginx_port)
    run_fake_dns(fake_dns_port)
    peers = []
    try:
        with Bed(BUILD) as bed:
            shadow = bed.shadow("--dns-server", f"127.0.0.1:{fake_dns_port}")
            bed.shadow_port = shadow.tunnel_port
            proxy, forward = free_port(), free_port()
            client = bed.client(shadow.tunnel_port, "--proxy", str(proxy), "--forward",
                                f"{forward}=127.0.0.1:{nginx_port}")
            client.wait_line(r"state=connected")
            target = f"127.0.0.1:{nginx_port}"

            print(f"bench/outbound: connection set-up, connect -> first byte, {CONNECTIONS} connections each "
                  "(ms; lower is better)")
            print(f"{'row':<34} {'p50':>8} {'p99':>8}")
            for name, one in (("direct (peer)", setup_direct(nginx_port)),
                              ("tunnel alone (forward)", setup_direct(forward)),
                              ("HTTP proxy, absolute-form", setup_absolute(proxy, target)),
                              ("HTTP proxy, CONNECT", setup_connect(proxy, target)),
                              ("SOCKS5", setup_socks5(proxy, nginx_port)),
                              ("SOCKS4a", setup_socks4a(proxy, nginx_port))):
                p50, p99 = measure_setup(one)
                print(f"{name:<34} {p50:>8.3f} {p99:>8.3f}")
            print("shim (--outbound preload)          not built yet")
            print("netns (--outbound netns)           measured on kubesim only (its addresses are the cluster's)")

            absolute = work / "absolute.lua"
            absolute.write_text(f'wrk.path = "http://{target}/small"\n')
            socat_direct, socat_tunnel = free_port(), free_port()
            socat_connect, socat_socks4a = free_port(), free_port()
            peers.append(socat(socat_direct, f"TCP:{target}"))
            peers.append(socat(socat_tunnel, f"TCP:127.0.0.1:{forward}"))
            peers.append(socat(socat_connect, f"PROXY:127.0.0.1:{target},proxyport={proxy}"))
            peers.append(socat(socat_socks4a, f"SOCKS4A:127.0.0.1:localhost:{nginx_port},socksport={proxy}"))
            print(f"\nbench/outbound: keep-alive req/s, wrk -t2 -c8 -d{SECONDS}s, one run (higher is better)")
            print("(socat rows: wrk cannot speak CONNECT or SOCKS, so socat does, and they compare with the tunnel "
                  "alone through the same socat)")
            print(f"{'row':<38} {'req/s':>10} {'vs tunnel':>10}")
            # (name, port, wrk script, the row it is compared with)
            rows = [("direct (peer)", nginx_port, None, None),
                    ("tunnel alone (forward)", forward, None, None),
                    ("HTTP proxy, absolute-form", proxy, str(absolute), "tunnel alone (forward)"),
                    ("socat direct (peer)", socat_direct, None, None),
                    ("tunnel alone through socat", socat_tunnel, None, None),
                    ("CONNECT through socat", socat_connect, None, "tunnel alone through socat"),
                    ("SOCKS4a through socat", socat_socks4a, None, "tunnel alone through socat")]
            results = {}
            for name, port, script, compared in rows:
                rate, errors = wrk(port, script)
                results[name] = rate
                base = results.get(compared) if compared else None
                versus = f"{rate / base * 100:>9.0f}%" if base else ""
                print(f"{name:<38} {rate:>10.0f} {versus:>10} {errors}")

            rate, p50, p99 = dns_rows(bed, fake_dns_port)
            print(f"\nbench/outbound: DNS forwarder, {CONNECTIONS} sequential queries through the tunnel: "
                  f"{rate:.0f} queries/s, p50 {p50:.3f} ms, p99 {p99:.3f} ms")
            cores = os.cpu_count()
            print(f"(machine: {cores} cores; wrk, nginx, socat, the proxy and the shadow share them)")
    finally:
        for peer in peers:
            peer.kill()
        nginx.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a benchmark never fails the build
        print(f"bench/outbound: stopped early: {error!r}")
