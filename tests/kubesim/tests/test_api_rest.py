"""The REST surface over HTTPS: discovery, CRUD, status codes and Status bodies, list options, patches."""
import json

from kubesim.api.testing import api, sim  # noqa: F401 - pytest fixtures

NS = "/api/v1/namespaces/default"
JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def pod(name, labels=None, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "kubesim/echo"}], **spec}}


def test_version_and_discovery(api):
    assert api.get("/version").json["minor"] == "32"
    agg = api.get("/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                                              "application/json"})
    assert agg.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    groups = {g["metadata"]["name"]: g for g in agg.json["items"]}
    assert set(groups) == {"apps", "discovery.k8s.io", "rbac.authorization.k8s.io", "authorization.k8s.io",
                           "authentication.k8s.io"}
    deploy = next(r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["shortNames"] == ["deploy"] and deploy["categories"] == ["all"]
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    legacy = api.get("/api")
    assert legacy.headers["Content-Type"] == "application/json" and legacy.json["versions"] == ["v1"]
    core = api.get("/api/v1").json
    names = {r["name"] for r in core["resources"]}
    assert {"pods", "pods/portforward", "pods/exec", "pods/log", "services", "namespaces"} <= names
    assert api.get("/apis/apps/v1").json["groupVersion"] == "apps/v1"
    assert api.get("/apis/nope/v1").status == 404


def test_openapi_v3_advertises_field_validation(api):
    root = api.get("/openapi/v3").json
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    doc = api.get(url).json
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert any(p["name"] == "fieldValidation" for p in op["parameters"])
    assert api.get("/openapi/v2").status == 404


def test_create_get_conflict_and_server_fields(api):
    r = api.post(f"{NS}/pods", pod("p1"))
    assert r.status == 201
    m = r.json["metadata"]
    assert m["uid"] and m["creationTimestamp"].endswith("Z") and m["resourceVersion"].isdigit()
    assert r.json["spec"]["nodeName"] == "kubesim-node" and r.json["status"]["phase"] == "Pending"
    dup = api.post(f"{NS}/pods", pod("p1"))
    assert dup.status == 409 and dup.json["reason"] == "AlreadyExists"
    assert dup.json["message"] == 'pods "p1" already exists'
    missing = api.get(f"{NS}/pods/nope")
    assert missing.status == 404
    assert missing.json == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": 'pods "nope" not found', "reason": "NotFound",
                            "details": {"name": "nope", "group": "", "kind": "pods"}, "code": 404}
    nons = api.post("/api/v1/namespaces/ghost/configmaps", {"metadata": {"name": "c"}})
    assert nons.status == 404 and nons.json["message"] == 'namespaces "ghost" not found'
    gen = api.post(f"{NS}/configmaps", {"metadata": {"generateName": "cfg-"}, "data": {"k": "v"}})
    assert gen.status == 201 and gen.json["metadata"]["name"].startswith("cfg-")
    d = api.get("/apis/apps/v1/namespaces/default/deployments/x")
    assert d.json["message"] == 'deployments.apps "x" not found'


def test_invalid_objects_get_422_with_causes(api):
    r = api.post(f"{NS}/pods", {"metadata": {"name": "p1"}, "spec": {"containers": [{"name": "c"}]}})
    assert r.status == 422 and r.json["reason"] == "Invalid"
    assert r.json["message"] == 'Pod "p1" is invalid: spec.containers[0].image: Required value'
    assert r.json["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value",
                                           "field": "spec.containers[0].image"}]
    r = api.post(f"{NS}/services", {"metadata": {"name": "Bad_Name"}, "spec": {"ports": [{"port": 99999}]}})
    fields = {c["field"] for c in r.json["details"]["causes"]}
    assert r.status == 422 and {"metadata.name", "spec.ports[0].port"} <= fields
    r = api.post(f"{NS}/configmaps", {"metadata": {}})
    assert r.status == 422 and "name or generateName is required" in r.json["message"]
    r = api.post("/apis/apps/v1/namespaces/default/deployments", {
        "metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
                                            "template": {"metadata": {"labels": {"app": "b"}},
                                                         "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    assert r.status == 422 and "`selector` does not match template `labels`" in r.json["message"]


def test_malformed_bodies_are_400_and_unknown_resources_404(api):
    r = api.post(f"{NS}/pods", b"{not json")
    assert r.status == 400 and r.json["reason"] == "BadRequest"
    r = api.post(f"{NS}/pods", b"a: [b", content_type="application/yaml")
    assert r.status == 400
    r = api.post(f"{NS}/pods", b"[1,2]")
    assert r.status == 400
    r = api.post(f"{NS}/pods", {"metadata": {"name": "p"}, "spec": {"containers": "nope"}})
    assert r.status == 400 and "cannot unmarshal string" in r.json["message"]
    r = api.post(f"{NS}/pods", {"apiVersion": "apps/v1", "kind": "Pod", "metadata": {"name": "p"}})
    assert r.status == 400 and "does not match the expected API version" in r.json["message"]
    r = api.post(f"{NS}/pods", {"metadata": {"name": "p", "namespace": "other"}})
    assert r.status == 400
    assert api.get(f"{NS}/widgets").status == 404
    assert api.get("/api/v2/pods").status == 404
    assert api.get(f"{NS}/pods/p/bogus").status == 404
    assert api.post(f"{NS}/pods", "x", content_type="text/plain").status == 415


def test_yaml_create(api):
    r = api.post(f"{NS}/configmaps", b"metadata:\n  name: y\ndata:\n  k: v\n", content_type="application/yaml")
    assert r.status == 201 and r.json["data"] == {"k": "v"}


def test_put_optimistic_concurrency(api):
    created = api.post(f"{NS}/configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}}).json
    created["data"]["a"] = "2"
    r1 = api.put(f"{NS}/configmaps/c", created)
    assert r1.status == 200 and r1.json["data"]["a"] == "2"
    r2 = api.put(f"{NS}/configmaps/c", created)
    assert r2.status == 409 and r2.json["reason"] == "Conflict"
    assert r2.json["message"].startswith('Operation cannot be fulfilled on configmaps "c": the object has been modified')
    unconditional = dict(created, metadata={"name": "c"}, data={"a": "3"})
    assert api.put(f"{NS}/configmaps/c", unconditional).json["data"]["a"] == "3"
    assert api.put(f"{NS}/configmaps/zzz", {"metadata": {"name": "zzz"}}).status == 404
    assert api.put(f"{NS}/configmaps/c", {"metadata": {"name": "other"}}).status == 400


def test_service_defaults_and_cluster_ip(api):
    r = api.post(f"{NS}/services", {"metadata": {"name": "s1"},
                                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    spec = r.json["spec"]
    assert r.status == 201 and spec["clusterIP"].startswith("10.96.") and spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    taken = api.post(f"{NS}/services", {"metadata": {"name": "s2"}, "spec": {"clusterIP": spec["clusterIP"],
                                                                             "ports": [{"port": 80}]}})
    assert taken.status == 422 and "already allocated" in taken.json["message"]
    headless = api.post(f"{NS}/services", {"metadata": {"name": "h"}, "spec": {"clusterIP": "None",
                                                                               "selector": {"a": "b"}}})
    assert headless.status == 201 and headless.json["spec"]["clusterIP"] == "None"
    # A PATCH that does not mention the clusterIP keeps it.
    p = api.patch(f"{NS}/services/s1", {"spec": {"selector": {"app": "db"}}}, MERGE)
    assert p.json["spec"]["clusterIP"] == spec["clusterIP"] and p.json["spec"]["selector"] == {"app": "db"}


def test_list_selectors_limit_continue_and_table(api):
    for i, (app, tier) in enumerate([("web", "a"), ("web", "b"), ("db", "a"), ("x", "c")]):
        api.post(f"{NS}/pods", pod(f"p{i}", {"app": app, "tier": tier}))
    sel = api.get(f"{NS}/pods?labelSelector=app+in+%28web%2Cx%29%2C%21foo%2Ctier%21%3Db").json
    assert [p["metadata"]["name"] for p in sel["items"]] == ["p0", "p3"]
    assert sel["kind"] == "PodList" and "kind" not in sel["items"][0]
    assert api.get(f"{NS}/pods?fieldSelector=metadata.name%3Dp2").json["items"][0]["metadata"]["name"] == "p2"
    assert api.get(f"{NS}/pods?fieldSelector=spec.foo%3Dx").status == 400
    assert api.get(f"{NS}/pods?labelSelector=app+in+web").status == 400
    page1 = api.get(f"{NS}/pods?limit=3").json
    assert len(page1["items"]) == 3 and page1["metadata"]["remainingItemCount"] == 1
    page2 = api.get(f"{NS}/pods?limit=3&continue={page1['metadata']['continue']}").json
    assert [p["metadata"]["name"] for p in page2["items"]] == ["p3"] and "continue" not in page2["metadata"]
    assert api.get(f"{NS}/pods?continue=garbage").status == 400
    all_ns = api.get("/api/v1/pods").json
    assert len(all_ns["items"]) == 4
    table = api.get(f"{NS}/pods?labelSelector=app%3Ddb",
                    headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}).json
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][0] == "p2"
    assert table["rows"][0]["object"]["metadata"]["namespace"] == "default"


def test_patch_types(api):
    api.post(f"{NS}/pods", pod("p", {"app": "web"}))
    r = api.patch(f"{NS}/pods/p", {"metadata": {"labels": {"env": "dev", "app": None}}}, MERGE)
    assert r.status == 200 and r.json["metadata"]["labels"] == {"env": "dev"}
    r = api.patch(f"{NS}/pods/p", [{"op": "add", "path": "/metadata/annotations", "value": {"a": "1"}}], JSON_PATCH)
    assert r.json["metadata"]["annotations"] == {"a": "1"}
    r = api.patch(f"{NS}/pods/p", [{"op": "replace", "path": "/metadata/annotations/missing", "value": "x"}],
                  JSON_PATCH)
    assert r.status == 422
    r = api.patch(f"{NS}/pods/p", {"spec": {"containers": [{"name": "c", "image": "kubesim/echo:2"}]}}, SMP)
    assert r.json["spec"]["containers"][0]["image"] == "kubesim/echo:2"
    assert r.json["spec"]["containers"][0]["terminationMessagePolicy"] == "File", "merged, not replaced"
    r = api.patch(f"{NS}/pods/p", {"metadata": {"labels": {"x": "y"}}}, "application/xml")
    assert r.status == 415 and r.json["reason"] == "UnsupportedMediaType"
    r = api.patch(f"{NS}/pods/p", b"{bad", MERGE)
    assert r.status == 400
    stale = api.patch(f"{NS}/pods/p", {"metadata": {"resourceVersion": "1", "labels": {"q": "1"}}}, MERGE)
    assert stale.status == 409
    assert api.patch(f"{NS}/pods/ghost", {"metadata": {}}, MERGE).status == 404


def test_server_side_apply_creates_then_merges(api):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}}
    r = api.patch(f"{NS}/configmaps/ssa?fieldManager=kubectl&force=false", body, APPLY)
    assert r.status == 201
    r = api.patch(f"{NS}/configmaps/ssa?fieldManager=other", b"apiVersion: v1\nkind: ConfigMap\n"
                  b"metadata:\n  name: ssa\ndata:\n  b: '2'\n", APPLY)
    assert r.status == 200 and r.json["data"] == {"a": "1", "b": "2"}, "another manager's fields stay"
    r = api.patch(f"{NS}/configmaps/ssa?fieldManager=kubectl", dict(body, data={"c": "3"}), APPLY)
    assert r.json["data"] == {"b": "2", "c": "3"}, "a manager's own dropped field goes"
    assert api.patch(f"{NS}/configmaps/ssa", body, APPLY).status == 400, "fieldManager is required"


def test_status_subresource_is_separate(api):
    api.post(f"{NS}/pods", pod("s"))
    r = api.patch(f"{NS}/pods/s", {"status": {"phase": "Failed"}}, MERGE)
    assert r.json["status"]["phase"] != "Failed", "the main resource ignores status"
    r = api.patch(f"{NS}/pods/s/status", {"status": {"message": "hello"}}, MERGE)
    assert r.status == 200 and r.json["status"]["message"] == "hello"
    assert api.get(f"{NS}/pods/s/status").json["status"]["message"] == "hello"


def test_delete_responses(api):
    api.post(f"{NS}/configmaps", {"metadata": {"name": "c"}})
    r = api.delete(f"{NS}/configmaps/c", {"propagationPolicy": "Background"})
    assert r.status == 200 and r.json["status"] == "Success" and r.json["details"]["name"] == "c"
    assert api.delete(f"{NS}/configmaps/c").status == 404
    api.post(f"{NS}/configmaps", {"metadata": {"name": "d", "labels": {"x": "1"}}})
    api.post(f"{NS}/configmaps", {"metadata": {"name": "e", "labels": {"x": "2"}}})
    r = api.delete(f"{NS}/configmaps?labelSelector=x%3D1")
    assert r.status == 200 and [i["metadata"]["name"] for i in r.json["items"]] == ["d"]
    left = [i["metadata"]["name"] for i in api.get(f"{NS}/configmaps").json["items"]]
    assert "e" in left and "d" not in left
    assert api.delete(f"{NS}/configmaps/e", b"{oops").status == 400
    pre = api.delete(f"{NS}/configmaps/e", {"preconditions": {"uid": "not-it"}})
    assert pre.status == 409


def test_dry_run_does_not_store(api):
    r = api.post(f"{NS}/configmaps?dryRun=All", {"metadata": {"name": "dry"}})
    assert r.status == 201
    assert api.get(f"{NS}/configmaps/dry").status == 404


def test_secret_string_data_and_validation(api):
    r = api.post(f"{NS}/secrets", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert r.status == 201 and r.json["data"] == {"k": "dg=="} and r.json["type"] == "Opaque"
    assert api.post(f"{NS}/secrets", {"metadata": {"name": "t"}, "data": {"k": "%%%"}}).status == 422


def test_pods_log_goes_to_the_node_and_exec_needs_running(api, sim):
    api.post(f"{NS}/pods", pod("lg", image="x"))
    sim.wait_for(lambda: (sim.store.get("pods", "default", "lg")["status"].get("phase") == "Running"))
    r = api.get(f"{NS}/pods/lg/log")
    assert r.status == 200 and r.body == b"log line from lg\n"
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pend"},
           "spec": {"containers": [{"name": "c", "image": "unmapped/thing"}]}}
    api.post(f"{NS}/pods", bad)
    r = api.post(f"{NS}/pods/pend/exec?command=true", None)
    assert r.status == 400 and "not running" in r.json["message"]
    assert api.get(f"{NS}/pods/ghost/portforward").status == 404
    assert json.loads(api.get(f"{NS}/pods/pend").body)["status"]["phase"] == "Pending"


def test_strict_field_validation_and_immutable_fields(api):
    typo = {"metadata": {"name": "t", "lables": {"a": "b"}}, "data": {}, "extra": 1}
    r = api.post(f"{NS}/configmaps?fieldValidation=Strict", typo)
    assert r.status == 400
    assert r.json["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                                 'unknown field "extra", unknown field "metadata.lables"')
    assert api.post(f"{NS}/configmaps?fieldValidation=Ignore", typo).status == 201
    api.post(f"{NS}/pods", pod("imm"))
    r = api.patch(f"{NS}/pods/imm", {"spec": {"containers": [{"name": "c", "command": ["sleep"]}]}}, SMP)
    assert r.status == 422 and "pod updates may not change fields other than" in r.json["message"]
    d = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
                                             "template": {"metadata": {"labels": {"app": "a", "b": "c"}},
                                                          "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    assert api.post("/apis/apps/v1/namespaces/default/deployments", d).status == 201
    r = api.patch("/apis/apps/v1/namespaces/default/deployments/d",
                  {"spec": {"selector": {"matchLabels": {"b": "c"}}}}, MERGE)
    assert r.status == 422 and "field is immutable" in r.json["message"]


def test_node_object(api):
    nodes = api.get("/api/v1/nodes").json["items"]
    assert [n["metadata"]["name"] for n in nodes] == ["kubesim-node"]
    assert nodes[0]["status"]["conditions"][0] == {**nodes[0]["status"]["conditions"][0], "type": "Ready",
                                                   "status": "True"}


def test_container_details_are_type_checked(api):
    """The node side reads env sources and probes; malformed ones must be refused before they get there."""
    def with_container(**fields):
        return {"metadata": {"name": "bad"}, "spec": {"containers": [{"name": "c", "image": "i", **fields}]}}

    for fields in ({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": "x"}}]},
                   {"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": 3}}}]},
                   {"envFrom": [{"configMapRef": ["x"]}]},
                   {"readinessProbe": {"httpGet": {"port": 80, "httpHeaders": [{"name": 1}]}}},
                   {"readinessProbe": {"tcpSocket": "80"}},
                   {"readinessProbe": {"exec": {"command": "true"}}},
                   {"workingDir": ["/"]}):
        r = api.post(f"{NS}/pods", with_container(**fields))
        assert r.status == 400 and r.json["reason"] == "BadRequest", (fields, r)
    r = api.post(f"{NS}/pods", with_container(readinessProbe={"periodSeconds": 1}))
    assert r.status == 422 and "must specify a handler type" in r.json["message"]
    r = api.post(f"{NS}/pods", with_container(readinessProbe={"tcpSocket": {"port": 0}}))
    assert r.status == 422 and "readinessProbe.tcpSocket.port" in r.json["message"]
    ok = with_container(readinessProbe={"httpGet": {"port": "http", "path": "/"}},
                        env=[{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                        ports=[{"containerPort": 80, "name": "http"}])
    assert api.post(f"{NS}/pods", ok).status == 201


def test_unknown_fields_warn_by_default(api):
    r = api.post(f"{NS}/configmaps", {"metadata": {"name": "w"}, "dta": {"a": "b"}})
    assert r.status == 201
    assert r.headers.get_all("Warning") == ['299 - "unknown field \\"dta\\""']
    r = api.patch(f"{NS}/configmaps/w?fieldValidation=Strict", {"metadata": {"lables": {}}}, SMP)
    assert r.status == 400 and 'unknown field "metadata.lables"' in r.json["message"]
    r = api.patch(f"{NS}/configmaps/w?fieldValidation=Strict",
                  {"metadata": {"$setElementOrder/finalizers": []}, "data": {"x": "1"}}, SMP)
    assert r.status == 200 and not r.headers.get_all("Warning"), "directives are not unknown fields"
    assert api.post(f"{NS}/configmaps?fieldValidation=Loose", {"metadata": {"name": "x"}}).status == 400


def test_finalizers_hold_deletion_until_removed(api):
    api.post(f"{NS}/configmaps", {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}})
    rv = api.get(f"{NS}/configmaps").json["metadata"]["resourceVersion"]
    w = api.watch(f"{NS}/configmaps?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Dheld")
    r = api.delete(f"{NS}/configmaps/held")
    assert r.status == 200 and r.json["metadata"]["deletionTimestamp"]
    assert w.next_event()["type"] == "MODIFIED"
    assert api.get(f"{NS}/configmaps/held").status == 200
    r = api.patch(f"{NS}/configmaps/held", {"metadata": {"finalizers": ["example.com/keep", "new/one"]}}, MERGE)
    assert r.json["metadata"]["finalizers"] == ["example.com/keep"], "no new finalizers once deletion started"
    r = api.patch(f"{NS}/configmaps/held", {"metadata": {"finalizers": None}}, MERGE)
    assert r.status == 200
    gone = w.until(lambda e: e["type"] == "DELETED")
    assert gone["object"]["metadata"]["name"] == "held"
    assert api.get(f"{NS}/configmaps/held").status == 404
    w.close()
