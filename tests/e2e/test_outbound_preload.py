"""`--outbound preload` on kubesim: the LD_PRELOAD shim in real programs. The host cannot reach pod or Service
IPs, so every success went through the session:

- a C program (shim_checks.c, built here) resolves a Service to its real ClusterIP, connects blocking (and
  getpeername says the ClusterIP), makes 200 non-blocking connects from one epoll loop, 200 threads at once,
  a forked child and a posix_spawn'd curl without proxy variables; a name nobody has answers at once; a
  closed port refuses a blocking connect (ECONNREFUSED) and resets a non-blocking one; loopback is untouched;
- redis-cli, psql and Node 20's fetch, which ignore proxy variables, reach Redis, PostgreSQL and a Service by
  name (and do not with the proxy variables alone);
- Node's dns.resolve4 (c-ares, its own UDP DNS) gets the cluster's answers for cluster names, and the
  nameserver's own answers for the rest: a nameserver of the test's, named by a private resolv.conf;
- a static binary is refused before anything starts, pointing to --outbound netns."""
import json
import os
import socket
import struct
import subprocess
import threading
from pathlib import Path

from outbound_support import build_fetch
from test_outbound_netns import add_servers
from tethertest.launch import CliSession
from tethertest.local import CuttableProxy
from test_outbound_netns import read_fifo

HERE = Path(__file__).resolve().parent


def lines_of(text: str) -> dict:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] if " " in line else "" for line in text.splitlines()}


def test_a_dynamically_linked_program_reaches_services_by_name(demo, launcher, tmp_path):
    binary = tmp_path / "shim_checks"
    subprocess.run(["gcc", "-O1", "-pthread", "-o", str(binary), str(HERE / "shim_checks.c")], check=True,
                   capture_output=True, timeout=120)
    out = tmp_path / "checks.txt"
    connect = launcher.cli(launcher.env(), "-n", demo.ns, "--outbound", "preload", "--", "/bin/sh", "-c",
                           '"$0" inventory 80 "$2" > "$1"', binary, out, demo.ns, command="connect")
    assert connect.wait(timeout=300) == 0, connect.stderr_text()
    checks = lines_of(out.read_text())
    cluster_ip = demo.svc("inventory")["spec"]["clusterIP"]
    assert checks["resolved"] == cluster_ip, checks
    assert checks["gethostbyname"] == cluster_ip
    # The cluster has no reverse records: the shim names an address by the name that resolved to it.
    assert checks["reverse"] == f"inventory.{demo.ns}.svc.cluster.local", checks
    assert checks["peer"] == f"{cluster_ip}:80"
    assert checks["fetch"] == "1"
    inprogress, connected, answered, issued, completed = checks["nonblocking"].split()
    assert (inprogress, connected, answered) == ("200", "200", "200"), checks["nonblocking"]
    assert checks["threads"] == "200 resolve=0 connect=0 answer=0"
    assert checks["fork"] == "1" and checks["spawn"] == "1"
    assert checks["nxdomain"] == str(socket.EAI_NONAME)
    # A blocking connect waits for the remote dial and fails as it would; a non-blocking one resets.
    assert checks["closed_port_blocking"] == "connect=-1 errno=ECONNREFUSED", checks
    assert checks["closed_port_nonblocking"] in ("connect=EINPROGRESS read=-1 errno=ECONNRESET",
                                                 "connect=0 read=-1 errno=ECONNRESET"), checks
    assert checks["loopback"] == "1 1"
    # Raw UDP DNS to resolv.conf's nameserver (as c-ares and Go's resolver send it): the cluster's answer,
    # from the nameserver's address, by sendto and by a connected socket.
    assert checks["udp_dns"] == f"{cluster_ip} from=1 peer=1", checks
    assert checks["udp_dns_connected"] == f"{cluster_ip} from=1 peer=1", checks

    # Without the shim: example.invalid fails the same way, and the cluster's name does not resolve at all.
    plain = subprocess.run([str(binary), "inventory", "80"], capture_output=True, text=True, timeout=120)
    assert lines_of(plain.stdout)["invalid"] == checks["invalid"]
    assert lines_of(plain.stdout)["resolved"] == "none"


def test_clients_that_ignore_proxies_reach_redis_and_postgres(demo, launcher, tmp_path):
    add_servers(demo)
    out = tmp_path / "clients.json"
    script = ("import json, subprocess, sys\n"
              "run = lambda *c: subprocess.run(c, capture_output=True, text=True, timeout=60)\n"
              "r = run('redis-cli', '-h', 'redis', 'PING')\n"
              "p = run('psql', '-h', 'postgres', '-U', 'postgres', '-tAc', 'select 1')\n"
              "n = run('node', '-e', 'fetch(\\'http://inventory/node\\').then(r => r.text()).then(console.log)"
              ".catch(e => console.log(String(e.cause || e)))')\n"
              "json.dump({'redis': r.stdout + r.stderr, 'psql': p.stdout + p.stderr, 'node': n.stdout + n.stderr},"
              " open(sys.argv[1], 'w'))\n")
    connect = launcher.cli(launcher.env(), "-n", demo.ns, "--outbound", "preload", "--", "/usr/bin/python3", "-c",
                           script, out, command="connect")
    assert connect.wait(timeout=300) == 0, connect.stderr_text()
    results = json.loads(out.read_text())
    assert results["redis"].strip() == "PONG", results
    assert results["psql"].strip() == "1", results
    assert json.loads(results["node"])["path"] == "/node", results  # Node 20's fetch ignores proxy variables

    # The same clients with only the proxy variables (the default) cannot resolve the names.
    connect = launcher.cli(launcher.env(), "-n", demo.ns, "--", "/usr/bin/python3", "-c", script, out,
                           command="connect")
    assert connect.wait(timeout=300) == 0, connect.stderr_text()
    results = json.loads(out.read_text())
    assert "PONG" not in results["redis"] and "redis" in results["redis"], results
    assert results["psql"].strip() != "1", results
    assert "ENOTFOUND" in results["node"] or "EAI_AGAIN" in results["node"], results


def test_a_static_binary_is_refused_before_anything_starts(demo, launcher, tmp_path):
    build_fetch(tmp_path, static=True)
    connect = launcher.cli(launcher.env(), "-n", demo.ns, "--outbound", "preload", "--", tmp_path / "fetch",
                           "http://inventory/", command="connect")
    assert connect.wait(timeout=60) == 2
    stderr = connect.stderr_text()
    assert "is statically linked" in stderr and "--outbound netns" in stderr, stderr
    assert demo.tether_objects() == []


def test_auto_picks_the_strongest_tier_this_machine_allows(demo, launcher, tmp_path):
    """Unprivileged user namespaces work here (the netns e2e proves it), so auto runs CMD in one."""
    connect = launcher.cli(launcher.env(), "-n", demo.ns, "--outbound", "auto", "--", "/bin/sh", "-c",
                           'test -n "$TETHER_NETNS_CONTROL" && test -z "$LD_PRELOAD"', command="connect")
    assert connect.wait(timeout=120) == 0, connect.stderr_text()
    assert "--outbound auto: netns" in connect.stderr_text()


class Nameserver:
    """A nameserver on 127.0.0.77:53 that knows `*.example.test` (192.0.2.7) and nothing else (NXDOMAIN), and
    records every name it was asked."""

    ADDRESS = "127.0.0.77"

    def __init__(self):
        self.asked = []
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((self.ADDRESS, 53))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                query, peer = self.socket.recvfrom(1500)
            except OSError:
                return
            at, labels = 12, []
            while query[at]:
                labels.append(query[at + 1:at + 1 + query[at]].decode())
                at += 1 + query[at]
            question_end = at + 5
            name = ".".join(labels).lower()
            self.asked.append(name)
            known = name.endswith("example.test")
            header = query[:2] + bytes([0x81, 0x80 if known else 0x83]) + struct.pack(">HHHH", 1, int(known), 0, 0)
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.7") if known else b""
            self.socket.sendto(header + query[12:question_end] + answer, peer)

    def close(self):
        self.socket.close()


def test_a_resolver_of_its_own_gets_the_clusters_names_and_the_nameservers_answers(demo, launcher, tmp_path):
    nameserver = Nameserver()
    resolv = tmp_path / "resolv.conf"
    # The first nameserver is down (nothing on 127.0.0.79:53): outside names must still reach the second, as
    # they do without Tether, although the shim sends every question to one session port.
    resolv.write_text(f"nameserver 127.0.0.79\nnameserver {nameserver.ADDRESS}\n")
    # tether runs in a mount namespace of its own where /etc/resolv.conf names the test's nameserver: the
    # session and the debuggee both see it, this machine's file is untouched.
    wrapper = tmp_path / "tether-private-resolv"
    wrapper.write_text("#!/bin/sh\nexec unshare --mount --propagation private -- /bin/sh -c "
                       "'mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"' "
                       f"{resolv} {launcher.tether} \"$@\"\n")
    wrapper.chmod(0o755)
    fqdn = f"inventory.{demo.ns}.svc.cluster.local"
    script = ("const dns = require('dns'); const r = new dns.promises.Resolver({timeout: 3000, tries: 1});"
              "const ask = n => r.resolve4(n).then(a => a.join(','), e => e.code);"
              f"Promise.all(['inventory', '{fqdn}', 'www.example.test', 'nothing-here'].map(ask))"
              ".then(a => console.log(JSON.stringify(a)))")
    results, asked = {}, {}
    try:
        for outbound in ("preload", "proxy"):
            out = tmp_path / f"dns-{outbound}.json"
            session = CliSession(str(wrapper), launcher.env(), ["-n", demo.ns, "--outbound", outbound, "--",
                                                                 "/bin/sh", "-c", 'node -e "$0" > "$1"', script, out],
                                 tmp_path / f"connect-{outbound}.log", "json", launcher.cluster_log, "connect")
            launcher.processes.append(session)
            assert session.wait(timeout=300) == 0, session.stderr_text()
            results[outbound] = json.loads(out.read_text())
            asked[outbound] = list(nameserver.asked)
            nameserver.asked.clear()
    finally:
        nameserver.close()
    cluster_ip = demo.svc("inventory")["spec"]["clusterIP"]
    # With the shim: cluster names from the cluster, the rest from the nameserver as it answered.
    assert results["preload"] == [cluster_ip, cluster_ip, "192.0.2.7", "ENOTFOUND"], results
    # Without it, c-ares asks the nameserver, which has no cluster names.
    assert results["proxy"] == ["ENOTFOUND", "ENOTFOUND", "192.0.2.7", "ENOTFOUND"], results
    # The cluster's names never reached the nameserver while the shim ran; the outside ones (and the single
    # label the cluster lacks) did, as they did without it.
    assert "inventory" not in asked["preload"] and fqdn not in asked["preload"], asked
    assert {"www.example.test", "nothing-here"} <= set(asked["preload"]), asked
    assert {"inventory", fqdn, "www.example.test", "nothing-here"} <= set(asked["proxy"]), asked


def test_a_cluster_range_inside_a_local_route_leaves_that_networks_hosts_alone(demo, launcher, tmp_path):
    """A VPN route over the Service range (10.96.0.0/12 on a veth the test makes): the session names the
    overlap, the namespace's own addresses still go to the cluster, and a host of that network (a server of the
    test's on 10.96.254.x) is reached on this machine, by a raw socket under the shim and through the proxy."""
    taken = {json.loads(spec).get("clusterIP") for _, spec, _ in demo.services().values()}
    local = next(f"10.96.254.{n}" for n in range(1, 250) if f"10.96.254.{n}" not in taken)
    subprocess.run(["ip", "link", "add", "tether-ovl0", "type", "veth", "peer", "name", "tether-ovl1"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{local}/12", "dev", "tether-ovl0"], check=True)
        for device in ("tether-ovl0", "tether-ovl1"):
            subprocess.run(["ip", "link", "set", device, "up"], check=True)
        server = socket.create_server((local, 0))
        threading.Thread(target=lambda: [serve_once(server) for _ in range(2)], daemon=True).start()
        out = tmp_path / "overlap.json"
        script = ("import json, socket, sys, urllib.request\n"
                  "host, port = sys.argv[2], int(sys.argv[3])\n"
                  "raw = socket.create_connection((host, port), timeout=20)\n"
                  "raw.sendall(b'raw'); raw_answer = raw.recv(100).decode()\n"
                  "proxied = urllib.request.urlopen(f'http://{host}:{port}/', timeout=20).read().decode()\n"
                  "cluster = json.loads(urllib.request.urlopen('http://inventory/', timeout=20).read())['service']\n"
                  "json.dump({'raw': raw_answer, 'proxied': proxied, 'cluster': cluster}, open(sys.argv[1], 'w'))\n")
        connect = launcher.cli(launcher.env(), "-n", demo.ns, "--outbound", "preload", "--", "/usr/bin/python3",
                               "-c", script, out, local, server.getsockname()[1], command="connect")
        assert connect.wait(timeout=300) == 0, connect.stderr_text()
        server.close()
    finally:
        subprocess.run(["ip", "link", "del", "tether-ovl0"], check=False)
    steps = [e["step"] for e in connect.events if e.get("event") == "progress"]
    warnings = [step for step in steps if "overlaps your route" in step]
    # Only the VPN's route: kubesim's own unreachable routes for pod and Service IPs are no network.
    assert len(warnings) == 1 and "10.96.0.0/16 overlaps your route 10.96.0.0/12 on tether-ovl0" in warnings[0], steps
    assert "other addresses stay on your network" in warnings[0], warnings
    results = json.loads(out.read_text())
    assert results["raw"].startswith("local server"), results
    assert "local server" in results["proxied"], results
    assert results["cluster"] == "inventory", results


def serve_once(server: socket.socket):
    """One connection: 'local server' back (an HTTP answer when the request was one)."""
    connection, _ = server.accept()
    with connection:
        request = connection.recv(4096)
        body = b"local server"
        if request.startswith(b"GET"):
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        else:
            connection.sendall(body)


def test_the_tunnel_cut_mid_connection_resets_the_programs_connection(demo, launcher, cluster, tmp_path):
    """A redis connection made through the shim is open when the tunnel's port-forward is cut (a dropped VPN):
    the program's blocked read ends with a reset, not a hang, and once the session has reconnected a new
    connection works."""
    add_servers(demo)
    proxy = CuttableProxy()
    kubeconfig = proxy.kubeconfig(cluster.kubeconfig, tmp_path / "kubeconfig-via-proxy")
    ready, go = tmp_path / "ready.fifo", tmp_path / "go.fifo"
    os.mkfifo(ready)
    os.mkfifo(go)
    out = tmp_path / "cut.json"
    script = ("import json, socket, sys\n"
              "out, ready, go = sys.argv[1:4]\n"
              "s = socket.create_connection(('redis', 6379), timeout=120)\n"
              "s.sendall(b'PING\\r\\n'); first = s.recv(100).decode()\n"
              "open(ready, 'w').write('ready')\n"
              "try:\n"
              "    outcome = 'eof' if s.recv(100) == b'' else 'data'\n"
              "except ConnectionResetError:\n"
              "    outcome = 'reset'\n"
              "except socket.timeout:\n"
              "    outcome = 'hang'\n"
              "open(go).read()\n"
              "again = socket.create_connection(('redis', 6379), timeout=60)\n"
              "again.sendall(b'PING\\r\\n')\n"
              "json.dump({'first': first, 'outcome': outcome, 'again': again.recv(100).decode()}, open(out, 'w'))\n")
    session = launcher.cli(launcher.env(), "-n", demo.ns, "--kubeconfig", kubeconfig, "--outbound", "preload", "--",
                           "/usr/bin/python3", "-c", script, out, ready, go, command="connect")
    try:
        session.wait_started(timeout=120)
        assert read_fifo(ready, timeout=120) == "ready"
        start = len(session.events)
        assert proxy.cut() >= 1
        index, _ = session.wait_state("reconnecting", start)
        session.wait_state("active", index + 1, timeout=90)
        with open(go, "w") as release:
            release.write("go")
        assert session.wait(timeout=120) == 0, session.stderr_text()
    finally:
        session.kill()
        proxy.close()
    results = json.loads(out.read_text())
    assert results["first"].strip() == "+PONG", results
    assert results["outcome"] == "reset", results
    assert results["again"].strip() == "+PONG", results
