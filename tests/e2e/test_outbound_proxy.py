"""The session's local proxies on kubesim, used the way the debuggee uses them: every request on a reused
proxy connection reaches the Service it names (raw pipelined requests, curl, Python requests, the JVM), and only a
process holding the launch environment's credentials gets through. The checks run as the session's
`-- CMD`, so they see exactly the environment a debuggee gets."""
import json

from exchange_support import LocalServer

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
