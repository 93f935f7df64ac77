"""The cluster side of the e2e tests on kubesim: a namespace with the sample app (demo/sample-app.json), waits
by watch (never by sleeping), and the checks that the cluster is as it was."""
import codecs
import json
import os
import re
import secrets
import select
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = json.loads((ROOT / "demo" / "sample-app.json").read_text())
TETHER_OBJECTS = "tether.dev/session"  # the label on every object Tether creates


def watch_until(cluster, namespace: str, resource: str, name: str, predicate, timeout: float = 30) -> dict:
    """Follows `kubectl get RESOURCE NAME --watch -o json` until an object satisfies predicate."""
    process = subprocess.Popen(["kubectl", "-n", namespace, "get", resource, name, "-o", "json", "--watch"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=cluster.env)
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")()
    buffer, last = "", None
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{resource}/{name} in {namespace}: condition not met within {timeout} s; "
                                     f"last seen: {json.dumps(last)[:2000]}")
            readable, _, _ = select.select([process.stdout], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the watch on {resource}/{name} ended; last seen: {json.dumps(last)[:2000]}")
            buffer += text.decode(chunk)
            while True:
                buffer = buffer.lstrip()
                try:
                    obj, end = decoder.raw_decode(buffer)
                except ValueError:
                    break
                buffer = buffer[end:]
                last = obj
                if predicate(obj):
                    return obj
    finally:
        process.kill()
        process.wait()


def endpoint_names(endpoints: dict) -> list[str]:
    return sorted(address.get("targetRef", {}).get("name", "")
                  for subset in endpoints.get("subsets") or [] for address in subset.get("addresses") or [])


def tether_annotations(obj: dict) -> dict:
    return {k: v for k, v in (obj["metadata"].get("annotations") or {}).items() if k.startswith("tether.dev/")}


class Demo:
    """One namespace with the sample app."""

    def __init__(self, cluster, namespace: str):
        self.cluster = cluster
        self.ns = namespace

    def kubectl(self, *args, **kwargs):
        return self.cluster.kubectl("-n", self.ns, *args, **kwargs)

    def svc(self, name: str) -> dict:
        return json.loads(self.kubectl("get", "svc", name, "-o", "json").stdout)

    def services(self) -> dict:
        """Every Service of the namespace: name -> (resourceVersion, spec, annotations)."""
        items = json.loads(self.kubectl("get", "svc", "-o", "json").stdout)["items"]
        return {s["metadata"]["name"]: (s["metadata"]["resourceVersion"], json.dumps(s["spec"]),
                                        s["metadata"].get("annotations") or {}) for s in items}

    def deployment(self, name: str) -> dict:
        return json.loads(self.kubectl("get", "deployment", name, "-o", "json").stdout)

    def curl(self, url: str, max_time: int = 20):
        return self.kubectl("exec", "client", "--", "curl", "-sS", "--max-time", str(max_time), url, check=False)

    def get_json(self, url: str) -> dict:
        result = self.curl(url)
        assert result.returncode == 0, f"curl {url} from the client pod failed ({result.returncode}): {result.stderr}"
        return json.loads(result.stdout)

    def tether_objects(self) -> list[str]:
        """Pods (not yet terminating) and Secrets carrying Tether's session label."""
        pods = json.loads(self.kubectl("get", "pods", "-l", TETHER_OBJECTS, "-o", "json").stdout)["items"]
        secrets_ = self.kubectl("get", "secrets", "-l", TETHER_OBJECTS, "-o", "name").stdout.split()
        return [f"pod/{p['metadata']['name']}" for p in pods if not p["metadata"].get("deletionTimestamp")] + secrets_

    def wait_tether_objects_gone(self):
        self.kubectl("wait", "--for=delete", "pods,secrets", "-l", TETHER_OBJECTS, "--timeout=60s")
        assert self.kubectl("get", "pods,secrets", "-l", TETHER_OBJECTS, "-o", "name").stdout.split() == []

    def wait_endpoints(self, service: str, predicate, what: str, timeout: float = 30) -> list[str]:
        found = watch_until(self.cluster, self.ns, "endpoints", service,
                            lambda ep: predicate(endpoint_names(ep)), timeout)
        return endpoint_names(found)

    def wait_served_by_cluster(self, service: str):
        """Until the Service's endpoints are its own pods again (the endpoints controller is asynchronous)."""
        self.wait_endpoints(service, lambda names: names and all(n.startswith(service + "-") for n in names),
                            f"{service}'s own pods")

    def wait_served_by(self, service: str, pod: str):
        self.wait_endpoints(service, lambda names: names == [pod], pod)

    def assert_restored(self, name: str, before: dict):
        """The Service's spec is byte-for-byte what it was, and its metadata carries nothing of Tether's."""
        after = self.svc(name)
        assert json.dumps(after["spec"]) == json.dumps(before["spec"])
        assert tether_annotations(after) == {}
        assert (after["metadata"].get("annotations") or {}) == (before["metadata"].get("annotations") or {})
        assert (after["metadata"].get("labels") or {}) == (before["metadata"].get("labels") or {})


def make_demo(cluster, namespace: str) -> Demo:
    items = json.loads(json.dumps(SAMPLE["items"]))
    for item in items:
        if item["kind"] == "Namespace":
            item["metadata"]["name"] = namespace
        else:
            item["metadata"]["namespace"] = namespace
    cluster.kubectl("apply", "--validate=false", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                              "items": items}))
    demo = Demo(cluster, namespace)
    demo.kubectl("wait", "--for=condition=Available", "deployment", "--all", "--timeout=90s")
    demo.kubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=60s")
    for service, replicas in (("inventory", 1), ("orders", 2), ("frontend", 1)):
        demo.wait_endpoints(service, lambda names, s=service, r=replicas:
                            len(names) == r and all(n.startswith(s + "-") for n in names), "ready pods")
    return demo


def namespace_for(test_name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")).strip("-")[:40].strip("-")
    return f"{base}-{secrets.token_hex(2)}"




def assert_points_at_shadow(demo: Demo, service: str, session: dict):
    held = demo.svc(service)
    assert held["spec"]["selector"] == {"tether.dev/session": session["id"]}
    annotations = tether_annotations(held)
    assert annotations["tether.dev/locked-by"] == session["id"]
    assert annotations["tether.dev/owner"] == session["owner"]
    assert annotations["tether.dev/mode"] == "exchange"
    return held
