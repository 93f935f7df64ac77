"""`--outbound netns` on kubesim, run by an unprivileged user the test creates (CI runs as root, so the
session drops to that user to prove no root is needed). The host cannot reach pod or Service IPs, so every
success below went through the session's tunnel:

- a static Go binary (CGO_ENABLED=0, built here) fetches a Service by short name and by FQDN;
- nc, redis-cli and psql, which ignore proxy variables, reach Redis and PostgreSQL pods by name;
- a name that does not exist fails as a resolver says NXDOMAIN, not with a hang;
- the Service's traffic reaches the process inside the namespace, and a JDWP debugger attaches through the
  port carried in with --debug-port;
- where user namespaces are disabled the command is not run, and the message says why and what to use."""
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from outbound_support import build_fetch
from tethertest.launch import CliSession, tether_env
from tethertest.ports import free_port

USER = "tether-e2e"

IDLE_JAVA = """public class Idle {
  public static void main(String[] args) {
    System.out.println("resumed");
  }
}
"""

# Runs inside the namespace as the session's CMD: starts a JVM waiting for a debugger, runs every client,
# hands the results over a FIFO, then serves the exchanged Service's traffic and waits for the test's word.
CHECKS = r'''
import http.server, json, os, socket, subprocess, sys, threading
work, local, jdwp, ns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"served_by": "inside-netns", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


java = subprocess.Popen(["java", f"-agentlib:jdwp=transport=dt_socket,server=y,suspend=y,address=127.0.0.1:{jdwp}",
                         os.path.join(work, "Idle.java")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
listening = java.stdout.readline()  # "Listening for transport dt_socket at address: PORT"


def run(*command, stdin=None):
    try:
        done = subprocess.run(command, capture_output=True, text=True, input=stdin, timeout=60,
                              env={**os.environ, "PGCONNECT_TIMEOUT": "20"})
        return {"rc": done.returncode, "out": done.stdout, "err": done.stderr[-2000:]}
    except Exception as error:
        return {"rc": -1, "out": "", "err": repr(error)}


results = {
    "uid": os.getuid(),
    "jdwp_listening": listening,
    "go_short": run(os.path.join(work, "fetch"), "http://inventory/go-short"),
    "go_fqdn": run(os.path.join(work, "fetch"), f"http://inventory.{ns}.svc.cluster.local/go-fqdn"),
    "nc": run("nc", "-w", "20", "redis", "6379", stdin="PING\r\nQUIT\r\n"),
    "redis": run("redis-cli", "-h", "redis", "PING"),
    "psql": run("psql", "-h", "postgres", "-U", "postgres", "-tAc", "select 1"),
    "curl": run("curl", "-sS", "--max-time", "20", "http://frontend/curl"),
    # Node 20's fetch ignores proxy variables; here it needs none.
    "node": run("node", "-e", "fetch('http://inventory/node').then(r => r.text()).then(console.log)"),
    "proxy_variables": sorted(k for k in os.environ if k.lower().endswith("_proxy")),
}
try:
    socket.getaddrinfo("no-such-service", 80)
    results["nxdomain"] = "resolved"
except socket.gaierror as error:
    results["nxdomain"] = error.errno
with open(os.path.join(work, "results.fifo"), "w") as out:
    json.dump(results, out)
# Only now does the program listen: the session must have waited for it inside the namespace.
server = http.server.ThreadingHTTPServer(("127.0.0.1", local), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
with open(os.path.join(work, "finish.fifo")) as finish:
    finish.read()
java.kill()
java.wait()
'''


@pytest.fixture
def user(demo, tether, unprivileged):
    workspace = UserWorkspace(demo.cluster, tether, *unprivileged)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def unprivileged():
    """(uid, gid) of a system user without a login, made once."""
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


class UserWorkspace:
    """A directory of the unprivileged user's holding its HOME, kubeconfig and files, and a `tether` that
    drops to that user (setpriv keeps the environment; only the ids change)."""

    def __init__(self, cluster, tether: str, uid: int, gid: int):
        # Not under pytest's tmp_path, whose parents are root's alone (mode 0700).
        self.dir = Path(tempfile.mkdtemp(prefix="tether-e2e-user-"))
        kubeconfig = self.dir / "kubeconfig"
        shutil.copy(cluster.kubeconfig, kubeconfig)
        self.tether_binary = tether
        self.tether = self.dir / "tether-as-user"
        self.tether.write_text(f"#!/bin/sh\nexec setpriv --reuid={uid} --regid={gid} --clear-groups -- {tether} \"$@\"\n")
        self.tether.chmod(0o755)
        self.env = tether_env(cluster, self.dir / "tether", USER)
        self.env.update(KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(self.dir / "tether" / "cache"))
        self.env.pop("XDG_RUNTIME_DIR", None)  # root's; the user's sockets go to /tmp/tether-<uid>
        for path in [*self.dir.rglob("*"), self.dir]:
            os.chown(path, uid, gid)
        self.dir.chmod(0o755)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def fifo(self, name: str) -> Path:
        path = self.dir / name
        os.mkfifo(path)
        os.chown(path, *self.owner())
        return path

    def owner(self):
        info = self.dir.stat()
        return info.st_uid, info.st_gid


def read_fifo(path: Path, timeout: float) -> str:
    """The whole text written to a FIFO, or an AssertionError when no writer finished within `timeout`."""
    box = {}

    def reader():
        with open(path) as fifo:
            box["text"] = fifo.read()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    if "text" not in box:
        with open(path, "w"):  # release the reader
            pass
        raise AssertionError(f"nothing came through {path.name} within {timeout} s")
    return box["text"]


def add_servers(demo):
    for name, image, port in (("redis", "e2e/redis", 6379), ("postgres", "e2e/postgres", 5432)):
        demo.cluster.apply({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": demo.ns, "labels": {"app": name}},
            "spec": {"containers": [{"name": name, "image": image,
                                     "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}]}})
        demo.cluster.apply({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": demo.ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": port}]}})
    demo.kubectl("wait", "--for=condition=Ready", "pod/redis", "pod/postgres", "--timeout=90s")


def build_static_fetch(directory: Path) -> Path:
    binary = build_fetch(directory, static=True)
    headers = subprocess.run(["readelf", "-l", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "INTERP" not in headers, "the Go binary is not static, so this test would prove nothing"
    return binary


def test_any_program_reaches_the_namespace_and_the_namespace_reaches_it(demo, user, tmp_path, unprivileged):
    add_servers(demo)
    build_static_fetch(user.dir)
    (user.dir / "Idle.java").write_text(IDLE_JAVA)
    (user.dir / "checks.py").write_text(CHECKS)
    for path in user.dir.iterdir():
        os.chown(path, *unprivileged)
    results_fifo = user.fifo("results.fifo")
    finish_fifo = user.fifo("finish.fifo")
    local, jdwp = free_port(), free_port()
    before = demo.svc("orders")

    session = CliSession(str(user.tether), user.env,
                         ["orders", "--expose", f"{local}:80", "-n", demo.ns, "--outbound", "netns",
                          "--debug-port", jdwp, "--", "/usr/bin/python3", user.dir / "checks.py", user.dir, local,
                          jdwp, demo.ns], tmp_path / "exchange.log")
    try:
        session.wait_state("prepared", timeout=120)
        results = json.loads(read_fifo(results_fifo, timeout=240))
        # Nothing listened inside the namespace yet, so the Service's traffic has not moved (this machine's
        # 127.0.0.1:LOCAL, where the carried-in listener is, must not count as the program listening).
        assert "active" not in session.session_states(), session.session_states()
        active = session.wait_started(timeout=120)
        assert active["outbound"] == "netns"
        (tmp_path / "results.json").write_text(json.dumps(results, indent=1))  # for a failure's reader
        assert results["uid"] == unprivileged[0]  # the command kept the user's own uid: no root anywhere
        assert results["proxy_variables"] == []  # nothing to honour: every connection is caught

        for check in ("go_short", "go_fqdn"):
            assert results[check]["rc"] == 0, results[check]
        assert (json.loads(results["go_short"]["out"])["service"], json.loads(results["go_short"]["out"])["path"]) == \
            ("inventory", "/go-short")
        assert json.loads(results["go_fqdn"]["out"])["path"] == "/go-fqdn"
        assert results["nc"]["out"].startswith("+PONG"), results["nc"]
        assert results["redis"]["out"].strip() == "PONG", results["redis"]
        assert results["psql"]["out"].strip() == "1", results["psql"]
        assert json.loads(results["curl"]["out"])["service"] == "frontend", results["curl"]
        assert json.loads(results["node"]["out"])["path"] == "/node", results["node"]
        assert results["nxdomain"] == socket.EAI_NONAME

        # The cluster's traffic for orders reaches the server inside the namespace.
        answer = demo.get_json("http://orders/from-the-cluster")
        assert answer == {"served_by": "inside-netns", "path": "/from-the-cluster"}

        # A debugger on this machine attaches to the JVM inside through the carried-in port.
        assert str(jdwp) in results["jdwp_listening"]
        with socket.create_connection(("127.0.0.1", jdwp), timeout=30) as debugger:
            debugger.sendall(b"JDWP-Handshake")
            reply = b""
            while len(reply) < 14:
                chunk = debugger.recv(14 - len(reply))
                assert chunk, "the JVM closed the debugger's connection"
                reply += chunk
        assert reply == b"JDWP-Handshake"

        with open(finish_fifo, "w") as finish:
            finish.write("done")
        assert session.wait(timeout=120) == 0, session.stderr_text()
    finally:
        session.kill()
    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()


def test_where_user_namespaces_are_disabled_the_command_is_not_run_and_the_reason_is_named(demo, user, tmp_path,
                                                                                        unprivileged):
    # The host's own limit cannot be changed from here, so the session runs in a user namespace of its own
    # whose limit on further user namespaces is 0: what such a host looks like (restricted_userns.py).
    uid, gid = unprivileged
    restricted = user.dir / "tether-restricted"
    restricted.write_text(f"#!/bin/sh\nexec /usr/bin/python3 {Path(__file__).resolve().parent / 'restricted_userns.py'} "
                          f"setpriv --reuid={uid} --regid={gid} --clear-groups -- {user.tether_binary} \"$@\"\n")
    restricted.chmod(0o755)
    marker = user.dir / "ran"
    session = CliSession(str(restricted), user.env,
                         ["-n", demo.ns, "--outbound", "netns", "--", "/bin/sh", "-c", f"touch {marker}"],
                         tmp_path / "connect.log", command="connect")
    code = session.wait(timeout=120)
    stderr = session.stderr_text()
    session.kill()
    assert code == 125, stderr
    assert not marker.exists()
    assert "cannot create a user namespace as an unprivileged user" in stderr
    assert "user.max_user_namespaces" in stderr and "--outbound proxy" in stderr
    demo.wait_tether_objects_gone()


def test_a_command_that_ignores_sigterm_is_killed_once_its_session_has_ended(demo, launcher, tmp_path):
    """The session ends (Ctrl-C) while CMD ignores SIGTERM and SIGINT: the wrapper asks it to end, then,
    after its grace period, kills it, so nothing of the session outlives it."""
    pid_fifo = tmp_path / "pid.fifo"
    os.mkfifo(pid_fifo)
    session = launcher.cli(launcher.env(), "-n", demo.ns, "--outbound", "netns", "--", "/bin/sh", "-c",
                           f'trap "" TERM INT; echo $$ > {pid_fifo}; while :; do sleep 1; done', command="connect")
    try:
        session.wait_started(timeout=120)
        pid = int(read_fifo(pid_fifo, timeout=120))
        try:
            command = os.pidfd_open(pid)  # readable once the command has ended
        except ProcessLookupError:
            command = None
        session.process.send_signal(signal.SIGINT)
        session.wait(timeout=120)
        # Killed by the wrapper after its grace period, or with the wrapper when the CLI killed that first.
        if command is not None:
            ended, _, _ = select.select([command], [], [], 60)
            os.close(command)
            assert ended, f"the command (pid {pid}) outlived its session\n{session.stderr_text()}"
    finally:
        session.kill()
    demo.wait_tether_objects_gone()
