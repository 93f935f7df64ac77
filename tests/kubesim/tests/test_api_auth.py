"""Authentication (token, client certificate, basic, tokenFile via kubectl), 401, RBAC 403 and
SelfSubjectAccessReview."""
import ssl
import http.client

import yaml

from kubesim.api.testing import Client, Kubectl, api, kc, sim  # noqa: F401 - pytest fixtures

NS = "/api/v1/namespaces/default"


def grant(api, name, rules, subject=None, namespace="default"):
    subject = subject or {"kind": "User", "name": "kubesim-restricted"}
    base = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    assert api.post(f"{base}/roles", {"metadata": {"name": name}, "rules": rules}).status == 201
    assert api.post(f"{base}/rolebindings", {"metadata": {"name": name},
                                             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                         "name": name},
                                             "subjects": [subject]}).status == 201


def review(client, **attrs):
    r = client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                    {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                     "spec": {"resourceAttributes": attrs}})
    assert r.status == 201, r
    return r.json["status"]["allowed"]


def test_credentials(sim):
    state = sim.state_dir
    anonymous = sim.client("anonymous").get(f"{NS}/pods")
    assert anonymous.status == 401
    assert anonymous.json["reason"] == "Unauthorized" and anonymous.json["message"] == "Unauthorized"
    bad = Client(sim.port, state / "ca.crt", token="wrong").get(f"{NS}/pods")
    assert bad.status == 401
    assert sim.client("admin").get(f"{NS}/pods").status == 200
    basic = (state / "basic-auth").read_text()
    assert Client(sim.port, state / "ca.crt", basic=basic).get(f"{NS}/pods").status == 200
    assert Client(sim.port, state / "ca.crt", basic=basic + "x").get(f"{NS}/pods").status == 401
    cert = Client(sim.port, state / "ca.crt", cert=(str(state / "admin.crt"), str(state / "admin.key")))
    assert cert.get(f"{NS}/pods").status == 200


def test_client_certificate_user_and_groups(sim, api, tmp_path):
    pair = sim.server.ca.client_cert("alice", ["devs"])
    (tmp_path / "alice.crt").write_bytes(pair.cert_pem)
    (tmp_path / "alice.key").write_bytes(pair.key_pem)
    alice = Client(sim.port, sim.state_dir / "ca.crt", cert=(str(tmp_path / "alice.crt"), str(tmp_path / "alice.key")))
    r = alice.get(f"{NS}/configmaps")
    assert r.status == 403
    assert r.json["message"] == ('configmaps is forbidden: User "alice" cannot list resource "configmaps" in API '
                                 'group "" in the namespace "default"')
    grant(api, "devs-read", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
          {"kind": "Group", "name": "devs"})
    assert alice.get(f"{NS}/configmaps").status == 200


def test_tls_offers_only_http11(sim):
    ctx = ssl.create_default_context(cafile=str(sim.state_dir / "ca.crt"))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=ctx, timeout=10)
    conn.connect()
    assert conn.sock.selected_alpn_protocol() in (None, "http/1.1")
    conn.close()


def test_rbac_roles_verbs_resource_names_and_subresources(sim, api):
    restricted = sim.client("restricted")
    api.post(f"{NS}/pods", {"metadata": {"name": "p1"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    denied = restricted.delete(f"{NS}/pods/p1")
    assert denied.status == 403 and denied.json["reason"] == "Forbidden"
    assert denied.json["message"] == ('pods "p1" is forbidden: User "kubesim-restricted" cannot delete resource '
                                      '"pods" in API group "" in the namespace "default"')
    assert denied.json["details"] == {"name": "p1", "group": "", "kind": "pods"}
    grant(api, "pods", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                        {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"],
                         "resourceNames": ["p1"]},
                        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}])
    assert restricted.get(f"{NS}/pods/p1").status == 200
    assert restricted.get(f"{NS}/pods").status == 200
    assert restricted.delete(f"{NS}/pods/p1").status == 403
    assert restricted.get("/api/v1/namespaces/kube-system/pods").status == 403, "roles are namespaced"
    assert restricted.get("/api/v1/pods").status == 403, "no cluster-wide list"
    assert restricted.get("/api/v1/namespaces").json["message"].endswith("at the cluster scope")
    fwd = restricted.post(f"{NS}/pods/p2/portforward", None)
    assert fwd.status == 403 and 'cannot create resource "pods/portforward"' in fwd.json["message"]
    assert restricted.get("/apis/apps/v1/namespaces/default/deployments").status == 200
    assert restricted.get("/version").status == 200 and restricted.get("/apis").status == 200
    # SelfSubjectAccessReview tells the truth for the caller.
    assert review(restricted, namespace="default", verb="get", resource="pods") is True
    assert review(restricted, namespace="default", verb="delete", resource="pods", name="p1") is False
    assert review(restricted, namespace="default", verb="create", resource="pods", subresource="portforward",
                  name="p1") is True
    assert review(restricted, namespace="default", verb="create", resource="pods", subresource="portforward",
                  name="p9") is False
    assert review(restricted, namespace="default", verb="patch", group="apps", resource="deployments") is True
    assert review(restricted, namespace="other", verb="get", resource="pods") is False
    assert review(api, namespace="any", verb="delete", resource="namespaces") is True
    bad = restricted.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {"spec": {}})
    assert bad.status == 422


def test_kubeconfig_contexts_and_kubectl_auth(sim, api, kc, tmp_path):
    config = yaml.safe_load(sim.server.kubeconfig.read_text())
    assert config["current-context"] == "kubesim-admin"
    assert {c["name"] for c in config["contexts"]} == {"kubesim-admin", "kubesim-restricted"}
    assert kc("auth", "can-i", "delete", "pods").stdout.strip() == "yes"
    r = kc("--context", "kubesim-restricted", "auth", "can-i", "delete", "pods", check=False)
    assert r.stdout.strip() == "no" and r.returncode == 1
    r = kc("--context", "kubesim-restricted", "get", "pods", check=False)
    assert r.returncode == 1
    assert 'Error from server (Forbidden): pods is forbidden: User "kubesim-restricted" cannot list resource ' \
           '"pods" in API group "" in the namespace "default"' in r.stderr
    grant(api, "lister", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
    r = kc("--context", "kubesim-restricted", "get", "pods")
    assert "No resources found in default namespace." in r.stderr
    # A kubeconfig with tokenFile and one with a wrong token.
    token_file = tmp_path / "token"
    token_file.write_text((sim.state_dir / "admin-token").read_text())
    config["users"] = [{"name": "tf", "user": {"tokenFile": str(token_file)}},
                       {"name": "bad", "user": {"token": "nope"}}]
    config["contexts"] = [{"name": "tf", "context": {"cluster": "kubesim", "user": "tf"}},
                          {"name": "bad", "context": {"cluster": "kubesim", "user": "bad"}}]
    config["current-context"] = "tf"
    alt = tmp_path / "alt.kubeconfig"
    alt.write_text(yaml.safe_dump(config))
    k2 = Kubectl(sim, tmp_path / "home2")
    k2.env["KUBECONFIG"] = str(alt)
    assert "default" in k2("get", "ns").stdout
    r = k2("--context", "bad", "get", "pods", check=False)
    assert r.returncode == 1 and "You must be logged in to the server" in r.stderr


def test_impersonation(sim, api, kc):
    r = api.get(f"{NS}/pods", headers={"Impersonate-User": "kubesim-restricted"})
    assert r.status == 403 and 'User "kubesim-restricted" cannot list' in r.json["message"]
    r = sim.client("restricted").get(f"{NS}/pods", headers={"Impersonate-User": "kubesim-admin",
                                                               "Impersonate-Group": "system:masters"})
    assert r.status == 403
    assert r.json["message"] == ('users "kubesim-admin" is forbidden: User "kubesim-restricted" cannot impersonate '
                                 'resource "users" in API group "" at the cluster scope')
    out = kc("--as", "someone", "--as-group", "system:masters", "get", "pods")
    assert out.returncode == 0
    r = kc("--as", "kubesim-restricted", "auth", "can-i", "get", "pods", check=False)
    assert r.stdout.strip() == "no"


def test_service_account_tokens_and_subjects(sim, api, kc):
    api.post(f"{NS}/serviceaccounts", {"metadata": {"name": "bot"}})
    grant(api, "bot-read", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
          {"kind": "ServiceAccount", "name": "bot", "namespace": "default"})
    token = kc("create", "token", "bot").stdout.strip()
    bot = Client(sim.port, sim.state_dir / "ca.crt", token=token)
    assert bot.get(f"{NS}/configmaps").status == 200
    denied = bot.get(f"{NS}/secrets")
    assert denied.status == 403
    assert 'User "system:serviceaccount:default:bot" cannot list resource "secrets"' in denied.json["message"]
    assert kc("create", "token", "ghost", check=False).returncode == 1
    api.delete(f"{NS}/serviceaccounts/bot")
    assert bot.get(f"{NS}/configmaps").status == 401, "the token dies with its ServiceAccount"


def test_whoami(kc):
    out = kc("--context", "kubesim-restricted", "auth", "whoami").stdout.splitlines()
    assert out[1].split() == ["Username", "kubesim-restricted"]
    assert out[2].split() == ["Groups", "[system:authenticated]"]
