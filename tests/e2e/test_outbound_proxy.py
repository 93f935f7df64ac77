"""The session's local proxies on kubesim, used the way the debuggee uses them: every request on a reused
proxy connection reaches the Service it names (raw pipelined requests, curl, Python requests, the JVM), and only a
process holding the launch environment's credentials gets through. The checks run as the session's
`-- CMD`, so they see exactly the environment a debuggee gets."""
import json
import os
import socket
import subprocess
import threading
import urllib.parse

from exchange_support import LocalServer
from outbound_support import build_fetch

OUTBOUND_CHECK = r'''
import base64, json, os, socket, subprocess, sys, urllib.parse
import requests

proxy = urllib.parse.urlsplit(os.environ["HTTP_PROXY"])
results = {"user": proxy.username}


def responses(sock, count):
    """`count` responses read off one connection (the demo app always sends a Content-Length)."""
    data, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("the proxy closed the connection after %d responses" % len(out))
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        fields = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        length = int(fields.get("content-length", "0"))
        while len(data) < length:
            data += sock.recv(65536)
        body, data = data[:length], data[length:]
        out.append({"status": int(lines[0].split()[1]), "body": body.decode("latin-1")})
    return out


auth = ("Proxy-Authorization: Basic " +
        base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode() + "\r\n")
with socket.create_connection((proxy.hostname, proxy.port), timeout=30) as sock:
    sock.sendall((
        "GET http://inventory/a HTTP/1.1\r\nHost: inventory\r\n" + auth + "\r\n"
        "GET http://frontend/b HTTP/1.1\r\nHost: frontend\r\n" + auth + "\r\n"
        "POST http://inventory/c HTTP/1.1\r\nHost: inventory\r\nTransfer-Encoding: chunked\r\n" + auth + "\r\n"
        "4\r\nbody\r\n7\r\n chunks\r\n0\r\n\r\n").encode())
    results["pipelined"] = [json.loads(r["body"]) for r in responses(sock, 3)]

with socket.create_connection((proxy.hostname, proxy.port), timeout=30) as sock:
    sock.sendall(b"GET http://inventory/no-credentials HTTP/1.1\r\nHost: inventory\r\n\r\n")
    results["without_credentials"] = responses(sock, 1)[0]["status"]

curl = subprocess.run(["curl", "-sv", "--max-time", "20", "http://inventory/curl-1", "-o", "-",
                       "http://frontend/curl-2"], capture_output=True, text=True)
results["curl_reused"] = "Re-using existing connection" in curl.stderr
results["curl"] = [json.loads(part) for part in curl.stdout.replace("}{", "}\n{").splitlines()]

with requests.Session() as session:
    results["requests"] = [session.get(url, timeout=20).json()
                           for url in ("http://inventory/r-1", "http://frontend/r-2", "http://inventory/r-3")]

# The `java` launcher reads its proxy from JDK_JAVA_OPTIONS and answers the proxy's 407 with Tether's agent.
java = subprocess.run(["java", sys.argv[2]], capture_output=True, text=True, timeout=120)
results["java"] = [json.loads(line) for line in java.stdout.splitlines() if line.startswith("{")]
results["java_stderr"] = java.stderr

with open(sys.argv[1], "w") as out:
    json.dump(results, out)
'''


JAVA_CLIENT = """
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;

public class Fetch {
  public static void main(String[] args) throws Exception {
    for (String url : new String[] {"http://inventory/jvm-1", "http://frontend/jvm-2"}) {
      HttpURLConnection connection = (HttpURLConnection) new URL(url).openConnection();
      connection.setConnectTimeout(20000);
      connection.setReadTimeout(20000);
      try (InputStream in = connection.getInputStream()) {
        System.out.println(new String(in.readAllBytes()));
      }
    }
  }
}
"""


def test_every_request_on_a_reused_proxy_connection_reaches_its_own_service(demo, launcher, tmp_path):
    before = demo.svc("orders")
    local = LocalServer()
    found = tmp_path / "outbound.json"
    java = tmp_path / "Fetch.java"
    java.write_text(JAVA_CLIENT)
    exchange = launcher.cli(launcher.env(), "orders", "--expose", f"{local.port}:80", "-n", demo.ns,
                            "--", "/usr/bin/python3", "-c", OUTBOUND_CHECK, found, java)
    assert exchange.wait(timeout=120) == 0, exchange.stderr_text()
    results = json.loads(found.read_text())
    assert results["user"] == "tether"  # the launch environment's proxy URL carries the credentials

    inventory_a, frontend_b, inventory_c = results["pipelined"]
    assert (inventory_a["service"], inventory_a["path"]) == ("inventory", "/a")
    assert (frontend_b["service"], frontend_b["path"]) == ("frontend", "/b")
    assert (inventory_c["service"], inventory_c["method"], inventory_c["body"]) == ("inventory", "POST", "body chunks")
    # frontend, reached through the cluster, calls orders, which this session sends to the local process.
    assert frontend_b["upstream"]["http://orders"] == local.answer("/")

    assert results["without_credentials"] == 407
    assert results["curl_reused"]
    assert [(r["service"], r["path"]) for r in results["curl"]] == [("inventory", "/curl-1"), ("frontend", "/curl-2")]
    assert [(r["service"], r["path"]) for r in results["requests"]] == [
        ("inventory", "/r-1"), ("frontend", "/r-2"), ("inventory", "/r-3")]

    assert [(r["service"], r["path"]) for r in results["java"]] == [("inventory", "/jvm-1"), ("frontend", "/jvm-2")], \
        results["java_stderr"]

    demo.assert_restored("orders", before)
    demo.wait_tether_objects_gone()
    local.close()


# Every runtime with only the launch environment, each fetching a Service by short name and by FQDN.
MATRIX = r'''
import json, os, subprocess, sys, urllib.request
work, ns = sys.argv[1], sys.argv[2]
urls = {"short": "http://inventory/{}", "fqdn": "http://inventory.%s.svc.cluster.local/{}" % ns}


def run(*command):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        return {"rc": done.returncode, "out": done.stdout, "err": done.stderr[-1500:]}
    except Exception as error:
        return {"rc": -1, "out": "", "err": repr(error)}


def python_fetch(kind, url):
    try:
        if kind == "urllib":
            with urllib.request.urlopen(url, timeout=20) as response:
                return {"rc": 0, "out": response.read().decode()}
        if kind == "requests":
            import requests
            return {"rc": 0, "out": requests.get(url, timeout=20).text}
        import httpx  # ALL_PROXY is set: without socksio a socks5h:// value would raise ImportError here
        with httpx.Client(timeout=20) as client:
            return {"rc": 0, "out": client.get(url).text}
    except Exception as error:
        return {"rc": 1, "out": "", "err": repr(error)}


results = {"env": {k: os.environ.get(k, "") for k in ("ALL_PROXY", "JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS")},
           "javac": run("javac", "-version")}
for which, template in urls.items():
    results[f"curl-{which}"] = run("curl", "-sS", "--max-time", "20", template.format(f"curl-{which}"))
    for kind in ("urllib", "requests", "httpx"):
        results[f"{kind}-{which}"] = python_fetch(kind, template.format(f"{kind}-{which}"))
    results[f"go-{which}"] = run(os.path.join(work, "fetch"), template.format(f"go-{which}"))
    results[f"java-{which}"] = run("java", os.path.join(work, "Get.java"), template.format(f"java-{which}"))
    results[f"node-{which}"] = run("node", "-e", "fetch(process.argv[1]).then(r => r.text()).then(console.log)"
                                   ".catch(e => { console.error(String(e.cause || e)); process.exit(1); })",
                                   template.format(f"node-{which}"))
with open(os.path.join(work, "matrix.json"), "w") as out:
    json.dump(results, out)
'''

GET_JAVA = """
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;

public class Get {
  public static void main(String[] args) throws Exception {
    HttpURLConnection connection = (HttpURLConnection) new URL(args[0]).openConnection();
    connection.setConnectTimeout(20000);
    connection.setReadTimeout(20000);
    try (InputStream in = connection.getInputStream()) {
      System.out.print(new String(in.readAllBytes()));
    }
  }
}
"""

def test_each_runtime_with_only_the_launch_environment(demo, launcher, tmp_path):
    """curl, urllib, requests, httpx (ALL_PROXY set, no socksio: no ImportError), Go net/http and the JVM
    reach a Service by short name and FQDN through the proxy; Node 20's fetch does not honour proxy
    variables (NODE_USE_ENV_PROXY needs Node 22.21 or 24), the documented failure that --outbound netns
    answers."""
    (tmp_path / "Get.java").write_text(GET_JAVA)
    build_fetch(tmp_path, static=False)
    connect = launcher.cli(launcher.env(), "-n", demo.ns, "--", "/usr/bin/python3", "-c", MATRIX, tmp_path, demo.ns,
                           command="connect")
    assert connect.wait(timeout=300) == 0, connect.stderr_text()
    results = json.loads((tmp_path / "matrix.json").read_text())
    assert results["env"]["ALL_PROXY"].startswith("http://")
    assert results["env"]["JAVA_TOOL_OPTIONS"] == ""  # every JVM would print "Picked up ..." on stderr
    assert "-Dhttp.proxyHost=127.0.0.1" in results["env"]["JDK_JAVA_OPTIONS"]
    # Only the `java` launcher reads JDK_JAVA_OPTIONS: the JDK's other tools (and the JVMs they start) stay quiet.
    assert results["javac"]["rc"] == 0 and "Picked up" not in results["javac"]["err"], results["javac"]
    for which in ("short", "fqdn"):
        for runtime in ("curl", "urllib", "requests", "httpx", "go", "java"):
            result = results[f"{runtime}-{which}"]
            assert result["rc"] == 0, (runtime, which, result)
            answer = json.loads(result["out"])
            assert (answer["service"], answer["path"]) == ("inventory", f"/{runtime}-{which}"), (runtime, answer)
        node = results[f"node-{which}"]
        if subprocess.run(["node", "-e", "process.exit(+process.versions.node.split('.')[0] < 24)"]).returncode:
            assert node["rc"] == 1 and ("ENOTFOUND" in node["err"] or "EAI_AGAIN" in node["err"]), node
        else:
            assert node["rc"] == 0, node


class DeveloperProxy:
    """The developer's own (corporate) HTTP proxy on 127.0.0.1: it records each target, and answers a
    plain-http request in absolute form, or the request that follows a CONNECT, itself, naming the target."""

    def __init__(self):
        self.targets = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(client,), daemon=True).start()

    def _one(self, client):
        with client:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(4096)
                if not chunk:
                    return
                data += chunk
            head, rest = data.split(b"\r\n\r\n", 1)
            line = head.split(b"\r\n")[0].decode()
            method, target = line.split()[:2]
            self.targets.append(target)
            if method != "CONNECT":
                # Absolute form, as a proxy is asked for plain http (many allow CONNECT to 443 only).
                body = json.dumps({"via": "developer-proxy", "target": target,
                                   "path": urllib.parse.urlsplit(target).path}).encode()
                client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                               + body)
                return
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            while b"\r\n\r\n" not in rest:
                chunk = client.recv(4096)
                if not chunk:
                    return
                rest += chunk
            path = rest.split(b" ")[1].decode()
            body = json.dumps({"via": "developer-proxy", "target": target, "path": path}).encode()
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    def close(self):
        self.server.close()


ROUTES = r'''
import json, os, subprocess, sys, urllib.parse
direct, out = sys.argv[1], sys.argv[2]
proxy = urllib.parse.urlsplit(os.environ["HTTP_PROXY"])
socks = f"socks5h://{proxy.username}:{proxy.password}@127.0.0.1:{proxy.port}"


def curl(*args):
    done = subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, timeout=60)
    return {"rc": done.returncode, "out": done.stdout, "err": done.stderr}


results = {
    "direct": curl(f"http://{direct}/here"),
    "external": curl("http://external.example/absolute"),
    "external_connect": curl("--proxytunnel", "http://external.example/connect"),
    "external_socks": curl("--proxy", socks, "http://external.example/socks"),
    "bypassed": curl("http://bypass.example/x"),
    "cluster": curl("http://inventory/cluster"),
}
with open(out, "w") as f:
    json.dump(results, f)
'''


def test_the_rest_leaves_this_machine_directly_or_through_the_developers_proxy(demo, launcher, tmp_path):
    """The proxy decides what is the cluster's: a host-only address is dialled from this machine (the shadow
    pod could not reach it), an outside name goes through the developer's own proxy (absolute-form, CONNECT
    and SOCKS5 alike), their NO_PROXY keeps a name away from it, and cluster names never go there."""
    here = socket.create_server(("127.0.0.2", 0))
    direct = f"127.0.0.2:{here.getsockname()[1]}"

    def answer_here():
        with here:
            client, _ = here.accept()
            with client:
                request = client.recv(65536)
                body = json.dumps({"via": "this-machine", "path": request.split(b" ")[1].decode()}).encode()
                client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    threading.Thread(target=answer_here, daemon=True).start()
    developer = DeveloperProxy()
    env = launcher.env()
    env.update(HTTP_PROXY=f"http://127.0.0.1:{developer.port}", NO_PROXY="bypass.example")
    out = tmp_path / "routes.json"
    connect = launcher.cli(env, "-n", demo.ns, "--", "/usr/bin/python3", "-c", ROUTES, direct, out, command="connect")
    assert connect.wait(timeout=180) == 0, connect.stderr_text()
    developer.close()
    results = json.loads(out.read_text())
    assert json.loads(results["direct"]["out"]) == {"via": "this-machine", "path": "/here"}, results["direct"]
    for check, target, path in (("external", "http://external.example:80/absolute", "/absolute"),
                                ("external_connect", "external.example:80", "/connect"),
                                ("external_socks", "external.example:80", "/socks")):
        assert results[check]["rc"] == 0, results[check]
        assert json.loads(results[check]["out"]) == {"via": "developer-proxy", "target": target, "path": path}
    assert results["bypassed"]["rc"] != 0  # no such name anywhere; above all, not sent to the developer's proxy
    assert json.loads(results["cluster"]["out"])["service"] == "inventory"
    assert developer.targets == ["http://external.example:80/absolute", "external.example:80", "external.example:80"]


def test_doctor_outbound_says_what_reaches_the_cluster_and_what_would(demo, launcher, tmp_path):
    """Real probes with a real session's launch environment; the program after `--` judged from its file."""
    build_fetch(tmp_path, static=True)
    result = subprocess.run([launcher.tether, "doctor", "outbound", "-n", demo.ns, "--service", "inventory", "--",
                             str(tmp_path / "fetch")], capture_output=True, text=True, timeout=300,
                            # Debian's python3 first: it has requests and httpx (the image's own python3 may not).
                            env={**launcher.env(), "PATH": "/usr/bin:" + os.environ.get("PATH", "")})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()

    def verdict(prefix):
        found = [line for line in lines if line.strip().startswith(prefix)]
        assert found, f"no line for {prefix}:\n{result.stdout}"
        return found[0]

    assert "Fetching http://inventory:80/" in result.stdout
    assert "reaches the cluster" in verdict("curl")
    for kind in ("urllib", "requests", "httpx"):
        assert f"{kind}: reaches the cluster" in result.stdout, result.stdout
    assert "reaches the cluster" in verdict("openjdk") or "reaches the cluster" in verdict("java")
    node = verdict("node ")
    if int(node.split()[1].lstrip("v").split(".")[0]) < 24:
        assert "does not reach the cluster" in node and "--outbound netns" in node
    assert "statically linked" in verdict("Your program") and "the only way for a static binary" in result.stdout
    assert "--outbound netns" in verdict("--outbound netns") and ": available" in verdict("--outbound netns")
    demo.wait_tether_objects_gone()
