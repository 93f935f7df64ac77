"""bench/outbound: the debuggee's way out, in ONE run so the rows are comparable. tether-shadow and
tether-tunnel run as local processes (the shadow dials 127.0.0.1, so the cluster side is loopback too), nginx
serves a small payload, and every row reaches that same nginx:

- connection set-up (connect -> first byte of the answer to one GET, a new connection each time), p50/p99
  over 1,000 connections: direct, the tunnel alone (`tether forward`'s fixed dial), the session's proxy port
  as an HTTP proxy (absolute-form and CONNECT), SOCKS5 and SOCKS4a;
- keep-alive req/s with wrk: direct, the tunnel alone, the HTTP proxy (absolute-form, one upstream stream
  per wrk connection), CONNECT and SOCKS4a through socat (socat forwarding directly is the peer that
  shows socat's own share), and SOCKS5 with wrk under proxychains4 (its connect hook does the handshake,
  then wrk's keep-alive requests flow through the stream);
- the DNS forwarder: queries/s and p50/p99, sequential, through the tunnel to a stand-in cluster resolver;
- the LD_PRELOAD shim (--outbound preload): set-up and wrk req/s with the shim loaded and 127.0.0.2 (where a
  second nginx listens) as "the cluster", and the shim's added cost on connects and getaddrinfo calls that are
  not the cluster's (a C loop with and without the shim);
- the network namespace (--outbound netns): set-up and wrk req/s from inside a namespace made by
  `tether netns-exec`, joined to tether-netns-host (the session's end, on its own shadow), towards a third
  nginx on 10.253.0.1, an address on a veth the bench adds (root only; removed at the end), which the
  namespace sends through the tunnel like any cluster address.

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


def start_nginx(work: Path, port: int, host: str = "127.0.0.1", name: str = "nginx"):
    """nginx serving work/www/small on host:port (until something accepts there, bounded)."""
    (work / "www").mkdir(exist_ok=True)
    (work / "www" / "small").write_bytes(b"x" * 64)
    (work / f"{name}.conf").write_text(f"""
daemon off; worker_processes 1; pid {work}/{name}.pid; error_log {work}/{name}.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen {host}:{port}; root {work}/www; }} }}
""")
    process = subprocess.Popen(["nginx", "-c", str(work / f"{name}.conf"), "-p", str(work)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, host=host)
    return process


def wait_port(port: int, tries: int = 200, host: str = "127.0.0.1"):
    """Until something accepts on host:port (bounded)."""
    for _ in range(tries):
        try:
            socket.create_connection((host, port), timeout=1).close()
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


def wrk_at(url, env):
    done = subprocess.run(["wrk", "-t", "2", "-c", "8", "-d", f"{SECONDS}s", url], capture_output=True, text=True,
                          timeout=SECONDS + 60, env=env)
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", done.stdout)
    return float(found.group(1)) if found else float("nan"), (errors.group(0) if errors else "")


def socat(listen, target):
    process = subprocess.Popen(["socat", f"TCP-LISTEN:{listen},fork,reuseaddr,bind=127.0.0.1", target],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(listen)
    return process


def dns_rows(dns_port):
    """Sequential queries through tether-tunnel's forwarder to the shadow's resolver (a stand-in)."""
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


SHIM_COST = r"""
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
int main(int argc, char **argv) {
  int port = atoi(argv[1]), count = atoi(argv[2]);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7F000001)};
  double start = now();
  for (int i = 0; i < count; ++i) { int fd = socket(AF_INET, SOCK_STREAM, 0); connect(fd, (void *)&to, sizeof to); close(fd); }
  double connects = (now() - start) / count;
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
  start = now();
  for (int i = 0; i < count; ++i) { if (getaddrinfo("127.0.0.1", "80", &hints, &res) == 0) freeaddrinfo(res); }
  double literal = (now() - start) / count;
  start = now();
  for (int i = 0; i < count; ++i) { if (getaddrinfo("localhost", "80", &hints, &res) == 0) freeaddrinfo(res); }
  double name = (now() - start) / count;
  printf("%.2f %.2f %.2f\n", connects, literal, name);
  return 0;
}
"""


# Connection set-up from a separate Python process (so LD_PRELOAD applies to it alone).
SETUP_PROBE = """
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.2"
samples = []
for _ in range(count):
    start = time.perf_counter()
    sock = socket.create_connection((host, port))
    sock.sendall(b"GET /small HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    sock.recv(1)
    sock.close()
    samples.append((time.perf_counter() - start) * 1000)
samples.sort()
print(samples[len(samples) // 2], samples[int(len(samples) * 0.99)])
"""


NETNS_ADDRESS = "10.253.0.1"
NETNS_DEVICE = "tether-bench0"


def netns_rows(bed, work, nginx3_port, results):
    """Starts tether-netns-host on its own shadow and measures set-up from inside a namespace; returns the
    command prefix that runs a program there (for the wrk row), or None with the reason printed."""
    host = Path(BUILD) / "server" / "netns" / "tether-netns-host"
    tether = Path(BUILD) / "server" / "tether"
    if not host.exists() or not tether.exists():
        print("netns (--outbound netns)           not measured: tether-netns-host or tether missing")
        return None
    private = work / "netns"
    private.mkdir(mode=0o700)
    control = private / "control.sock"
    shadow = bed.shadow()
    bed.start("netns-host", [str(host), "--connect", f"127.0.0.1:{shadow.tunnel_port}", "--control", str(control)],
              {"TETHER_TOKEN": bed.token}).wait_line(r"state=connected")
    prefix = [str(tether), "netns-exec", "--control", str(control), "--"]
    probe = work / "setup_probe.py"
    for name, wrapper in ((f"{NETNS_ADDRESS} direct, Python (peer)", []), ("netns, Python client", prefix)):
        done = subprocess.run([*wrapper, "/usr/bin/python3", str(probe), str(nginx3_port), str(CONNECTIONS),
                               NETNS_ADDRESS], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            print(f"{name:<34} failed: {done.stderr[-300:]}")
            return None
        p50, p99 = (float(v) for v in done.stdout.split()[-2:])
        print(f"{name:<34} {p50:>8.3f} {p99:>8.3f}")
    return prefix


def add_netns_address():
    """10.253.0.1 on a veth of this machine (root only): a non-loopback address the namespace sends through
    the tunnel and the local shadow can dial. False when it cannot be added."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    made = subprocess.run(["ip", "link", "add", NETNS_DEVICE, "type", "veth", "peer", "name", NETNS_DEVICE + "p"],
                          capture_output=True)
    if made.returncode != 0:
        return False
    for command in (["ip", "addr", "add", f"{NETNS_ADDRESS}/32", "dev", NETNS_DEVICE],
                    ["ip", "link", "set", NETNS_DEVICE, "up"], ["ip", "link", "set", NETNS_DEVICE + "p", "up"]):
        subprocess.run(command, capture_output=True)
    return True


def remove_netns_address():
    subprocess.run(["ip", "link", "del", NETNS_DEVICE], capture_output=True)


def shim_env(library, socket_path, port):
    return {**os.environ, "LD_PRELOAD": library, "TETHER_PRELOAD": socket_path, "TETHER_PRELOAD_PORT": str(port),
            "TETHER_PRELOAD_RANGES": "127.0.0.2/32", "TETHER_PRELOAD_DOMAINS": "svc.cluster.local"}


def shim_rows(work, port, nginx2_port, results):
    library = Path(BUILD) / "server" / "libtether-preload.so"
    if not library.exists() or not shutil.which("gcc"):
        print("shim (--outbound preload)          not measured: libtether-preload.so or gcc missing")
        return
    env = shim_env(str(library), str(work / "preload.sock"), port)
    probe = work / "setup_probe.py"
    probe.write_text(SETUP_PROBE)
    for name, environment in (("127.0.0.2 direct, Python client (peer)", os.environ),
                              ("shim, Python client", env)):
        done = subprocess.run(["/usr/bin/python3", str(probe), str(nginx2_port), str(CONNECTIONS)], capture_output=True,
                              text=True, env=environment, timeout=300)
        if done.returncode != 0:
            print(f"{name:<34} failed: {done.stderr[-300:]}")
            continue
        p50, p99 = (float(v) for v in done.stdout.split())
        print(f"{name:<34} {p50:>8.3f} {p99:>8.3f}")
    cost = work / "shim_cost"
    (work / "shim_cost.c").write_text(SHIM_COST)
    subprocess.run(["gcc", "-O2", "-o", str(cost), str(work / "shim_cost.c")], check=True, capture_output=True)
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    threading.Thread(target=lambda: [listener.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()
    lport = str(listener.getsockname()[1])
    plain = subprocess.run([str(cost), lport, "2000"], capture_output=True, text=True).stdout.split()
    shimmed = subprocess.run([str(cost), lport, "2000"], capture_output=True, text=True, env=env).stdout.split()
    results["shim_cost"] = (plain, shimmed)
    return env


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
    added_address = False
    try:
        with Bed(BUILD) as bed:
            shadow = bed.shadow("--dns-server", f"127.0.0.1:{fake_dns_port}")
            proxy, forward, dns_port = free_port(), free_port(), free_port()
            # One client serves every row: the shadow keeps one tunnel connection, as a session's does.
            client = bed.client(shadow.tunnel_port, "--proxy", str(proxy), "--forward",
                                f"{forward}=127.0.0.1:{nginx_port}", "--dns", str(dns_port), "--preload",
                                str(work / "preload.sock"))
            preload_port = int(client.wait_line(r"serving what=preload port=(\d+)").group(1))
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
            nginx2_port = free_port()
            nginx2 = start_nginx(work, nginx2_port, host="127.0.0.2", name="nginx2")  # "the cluster" of the shim rows
            peers.append(nginx2)
            extra = {}
            env = shim_rows(work, preload_port, nginx2_port, extra)
            netns_prefix, nginx3_port = None, free_port()
            if add_netns_address():
                added_address = True
                peers.append(start_nginx(work, nginx3_port, host=NETNS_ADDRESS, name="nginx3"))
                netns_prefix = netns_rows(bed, work, nginx3_port, extra)
            else:
                print("netns (--outbound netns)           not measured: adding an address needs root and veth")

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
            print("(CPU columns: microseconds of CPU per request spent by the session's side, tether-tunnel, and by the "
                  "agent, tether-shadow; the rest of the 2 cores goes to wrk, nginx and socat)")
            print(f"{'row':<38} {'req/s':>10} {'vs tunnel':>10} {'tether us':>10} {'agent us':>9}")
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
                before = (client.cpu_seconds(), shadow.cpu_seconds())
                rate, errors = wrk(port, script)
                spent = (client.cpu_seconds() - before[0], shadow.cpu_seconds() - before[1])
                requests = rate * SECONDS if rate == rate and rate > 0 else float("nan")
                results[name] = rate
                base = results.get(compared) if compared else None
                versus = f"{rate / base * 100:>9.0f}%" if base else ""
                print(f"{name:<38} {rate:>10.0f} {versus:>10} {spent[0] / requests * 1e6:>10.1f} "
                      f"{spent[1] / requests * 1e6:>9.1f} {errors}")
            if shutil.which("proxychains4"):
                chains = work / "proxychains.conf"
                chains.write_text(f"strict_chain\nquiet_mode\n[ProxyList]\nsocks5 127.0.0.1 {proxy}\n")
                done = subprocess.run(["proxychains4", "-q", "-f", str(chains), "wrk", "-t", "2", "-c", "8", "-d",
                                       f"{SECONDS}s", f"http://127.0.0.2:{nginx2_port}/small"], capture_output=True,
                                      text=True, timeout=SECONDS + 60)
                found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
                rate = float(found.group(1)) if found else float("nan")
                base = results.get("tunnel alone (forward)")
                print(f"{'SOCKS5 (wrk under proxychains4)':<38} {rate:>10.0f} {rate / base * 100:>9.0f}% "
                      f"{'' if found else done.stderr[-200:]}")
            else:
                print("SOCKS5 req/s                           not measured: proxychains4 is not installed")
            if env:
                rate, errors = wrk_at(f"http://127.0.0.2:{nginx2_port}/small", os.environ)
                print(f"{'127.0.0.2 direct (peer of the next)':<38} {rate:>10.0f} {'':>10} {errors}")
                base = results.get("tunnel alone (forward)")
                rate, errors = wrk_at(f"http://127.0.0.2:{nginx2_port}/small", env)
                print(f"{'shim (wrk with LD_PRELOAD)':<38} {rate:>10.0f} {rate / base * 100:>9.0f}% {errors}")
            if netns_prefix:
                url = f"http://{NETNS_ADDRESS}:{nginx3_port}/small"
                rate, errors = wrk_at(url, os.environ)
                print(f"{'10.253.0.1 direct (peer of the next)':<38} {rate:>10.0f} {'':>10} {errors}")
                base = results.get("tunnel alone (forward)")
                done = subprocess.run([*netns_prefix, "wrk", "-t", "2", "-c", "8", "-d", f"{SECONDS}s", url],
                                      capture_output=True, text=True, timeout=SECONDS + 60)
                found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
                rate = float(found.group(1)) if found else float("nan")
                print(f"{'netns (wrk inside the namespace)':<38} {rate:>10.0f} {rate / base * 100:>9.0f}% "
                      f"{'' if found else done.stderr[-200:]}")
            if "shim_cost" in extra:
                plain, shimmed = extra["shim_cost"]
                print("\nbench/outbound: the shim's cost on what is not the cluster's (microseconds per call, "
                      "2,000 calls)")
                print(f"{'call':<34} {'without':>8} {'with':>8}")
                for index, call in enumerate(("connect to 127.0.0.1", "getaddrinfo(\"127.0.0.1\")",
                                              "getaddrinfo(\"localhost\")")):
                    print(f"{call:<34} {float(plain[index]):>8.2f} {float(shimmed[index]):>8.2f}")

            rate, p50, p99 = dns_rows(dns_port)
            print(f"\nbench/outbound: DNS forwarder, {CONNECTIONS} sequential queries through the tunnel: "
                  f"{rate:.0f} queries/s, p50 {p50:.3f} ms, p99 {p99:.3f} ms")
            cores = os.cpu_count()
            print(f"(machine: {cores} cores; wrk, nginx, socat, the proxy and the shadow share them)")
    finally:
        # SIGTERM, not SIGKILL: nginx's master then ends its workers, which would otherwise outlive the bench.
        for peer in [*peers, nginx]:
            peer.terminate()
            try:
                peer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                peer.kill()
        if added_address:
            remove_netns_address()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a benchmark never fails the build
        print(f"bench/outbound: stopped early: {error!r}")
