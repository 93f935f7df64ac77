"""`--outbound preload` on kubesim: the LD_PRELOAD shim in real programs. The host cannot reach pod or Service
IPs, so every success went through the session:

- a C program (shim_checks.c, built here) resolves a Service to its real ClusterIP, connects blocking (and
  getpeername says the ClusterIP), makes 200 non-blocking connects from one epoll loop, 200 threads at once,
  a forked child and a posix_spawn'd curl without proxy variables; a name nobody has answers at once; a
  closed port refuses a blocking connect (ECONNREFUSED) and resets a non-blocking one; loopback is untouched;
- redis-cli, psql and Node 20's fetch, which ignore proxy variables, reach Redis, PostgreSQL and a Service by
  name (and do not with the proxy variables alone);
- a static binary is refused before anything starts, pointing to --outbound netns."""
import json
import socket
import subprocess
from pathlib import Path

from outbound_support import build_fetch
from test_outbound_netns import add_servers

HERE = Path(__file__).resolve().parent


def lines_of(text: str) -> dict:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] if " " in line else "" for line in text.splitlines()}


def test_a_dynamically_linked_program_reaches_services_by_name(demo, launcher, tmp_path):
    binary = tmp_path / "shim_checks"
    subprocess.run(["gcc", "-O1", "-pthread", "-o", str(binary), str(HERE / "shim_checks.c")], check=True,
                   capture_output=True, timeout=120)
    out = tmp_path / "checks.txt"
    connect = launcher.cli(launcher.env(), "-n", demo.ns, "--outbound", "preload", "--", "/bin/sh", "-c",
                           '"$0" inventory 80 > "$1"', binary, out, command="connect")
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
