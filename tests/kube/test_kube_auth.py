"""The C++ client authenticates as kubectl does: every credential kind of the kubeconfig against kubesim's
real HTTPS API server, including exec plugins (caching, expiry, the re-run after a 401) and rotated
token files; TLS settings; proxy-url; errors that name what went wrong."""
import base64
import json
import os
import stat

import pytest

from conftest import rpc_session
from proxy import ConnectProxy


def ok_namespace_get(probe, kubeconfig, **kw):
    rc, out, err = probe(kubeconfig, "get", "namespaces", "", "default", **kw)
    assert rc == 0, (out, err)
    assert out[0]["metadata"]["name"] == "default"


def test_client_certificate_files_and_data(sim, kubeconfigs, probe):
    crt, key = sim.state_dir / "admin.crt", sim.state_dir / "admin.key"
    ok_namespace_get(probe, kubeconfigs.write({"client-certificate": str(crt), "client-key": str(key)}))
    ok_namespace_get(probe, kubeconfigs.write({
        "client-certificate-data": base64.b64encode(crt.read_bytes()).decode(),
        "client-key-data": base64.b64encode(key.read_bytes()).decode()}))


def test_token_and_basic_auth(sim, kubeconfigs, probe, admin_token):
    ok_namespace_get(probe, kubeconfigs.write({"token": admin_token}))
    user, password = (sim.state_dir / "basic-auth").read_text().strip().split(":", 1)
    ok_namespace_get(probe, kubeconfigs.write({"username": user, "password": password}))


def test_bad_token_is_unauthorized(kubeconfigs, probe):
    rc, out, _ = probe(kubeconfigs.write({"token": "not-a-token"}), "get", "namespaces", "", "default")
    assert rc == 3
    assert out[0]["error"]["reason"] == "Unauthorized" and out[0]["error"]["status"] == 401


def test_rotated_token_file_is_reread(kubeconfigs, tether_path, admin_token, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("stale-token\n")
    config = kubeconfigs.write({"tokenFile": str(token_file)})
    responses = rpc_session(tether_path, [
        {"jsonrpc": "2.0", "id": 1, "method": "tether/namespaces", "params": {"kubeconfig": str(config)}},
        lambda: token_file.write_text(admin_token + "\n"),
        {"jsonrpc": "2.0", "id": 2, "method": "tether/namespaces", "params": {"kubeconfig": str(config)}},
    ])
    assert responses[1]["error"]["data"]["category"] == "config"
    assert "not logged in" in responses[1]["error"]["message"]
    assert "default" in [ns["name"] for ns in responses[2]["result"]["namespaces"]]


def write_plugin(tmp_path, tokens: list[str], expiration: str | None, name="plugin.sh"):
    """An exec plugin that answers tokens[i] on its i-th run (the last one after that) and counts its runs."""
    counter = tmp_path / f"{name}.runs"
    info = tmp_path / f"{name}.info"
    lines = "\n".join(f'  {i}) token="{t}" ;;' for i, t in enumerate(tokens))
    expiry = f',"expirationTimestamp":"{expiration}"' if expiration else ""
    script = tmp_path / name
    script.write_text(f"""#!/bin/bash
runs=$(cat {counter} 2>/dev/null || echo 0)
echo $((runs + 1)) > {counter}
printf '%s' "$KUBERNETES_EXEC_INFO" > {info}
case $runs in
{lines}
  *) token="{tokens[-1]}" ;;
esac
echo '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"'$token'"{expiry}}}}}'
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, counter, info


def exec_user(script, **extra):
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
                     "interactiveMode": "Never", **extra}}


def namespaces_twice(tether_path, config):
    request = {"method": "tether/namespaces", "params": {"kubeconfig": str(config)}, "jsonrpc": "2.0"}
    responses = rpc_session(tether_path, [{**request, "id": 1}, {**request, "id": 2}])
    assert "result" in responses[1] and "result" in responses[2], responses


def test_exec_plugin_credentials_are_cached_until_expiry(kubeconfigs, tether_path, admin_token, tmp_path):
    script, counter, info = write_plugin(tmp_path, [admin_token], "2099-01-01T00:00:00Z")
    config = kubeconfigs.write(exec_user(script, provideClusterInfo=True))
    namespaces_twice(tether_path, config)
    assert counter.read_text().strip() == "1"
    exec_info = json.loads(info.read_text())
    assert exec_info["spec"]["cluster"]["server"] == kubeconfigs.server
    assert exec_info["spec"]["interactive"] is False


def test_expired_exec_credentials_run_the_plugin_again(kubeconfigs, tether_path, admin_token, tmp_path):
    script, counter, _ = write_plugin(tmp_path, [admin_token], "2000-01-01T00:00:00Z")
    namespaces_twice(tether_path, kubeconfigs.write(exec_user(script)))
    assert counter.read_text().strip() == "2"


def test_exec_plugin_reruns_after_401(kubeconfigs, probe, admin_token, tmp_path):
    script, counter, _ = write_plugin(tmp_path, ["revoked-token", admin_token], None)
    ok_namespace_get(probe, kubeconfigs.write(exec_user(script)))
    assert counter.read_text().strip() == "2"


def test_missing_exec_plugin_prints_its_install_hint(kubeconfigs, probe):
    config = kubeconfigs.write(exec_user("/nonexistent/gke-gcloud-auth-plugin",
                                         installHint="Install gke-gcloud-auth-plugin with the gcloud SDK."))
    rc, out, _ = probe(config, "get", "namespaces", "", "default")
    assert rc == 3
    message = out[0]["error"]["message"]
    assert "is not installed or not on PATH" in message
    assert "Install gke-gcloud-auth-plugin with the gcloud SDK." in message


def test_wrong_ca_is_reported(sim, kubeconfigs, probe):
    # The admin's client certificate is no CA: the server's certificate cannot be verified with it.
    config = kubeconfigs.write({"token": "x"}, {"certificate-authority": str(sim.state_dir / "admin.crt")})
    rc, out, _ = probe(config, "get", "namespaces", "", "default")
    assert rc == 3
    assert "could not be verified" in out[0]["error"]["message"]


def test_insecure_skip_tls_verify_is_honoured(kubeconfigs, probe, admin_token):
    config = kubeconfigs.write({"token": admin_token}, {"certificate-authority": None, "insecure-skip-tls-verify": True})
    ok_namespace_get(probe, config)


def test_tls_server_name(kubeconfigs, probe, admin_token):
    ok_namespace_get(probe, kubeconfigs.write({"token": admin_token}, {"tls-server-name": "localhost"}))
    rc, out, _ = probe(kubeconfigs.write({"token": admin_token}, {"tls-server-name": "wrong.example"}),
                       "get", "namespaces", "", "default")
    assert rc == 3 and "could not be verified" in out[0]["error"]["message"]


def test_proxy_url_carries_the_requests(sim, kubeconfigs, probe, admin_token):
    proxy = ConnectProxy()
    try:
        ok_namespace_get(probe, kubeconfigs.write({"token": admin_token}, {"proxy-url": proxy.url}))
        assert f"127.0.0.1:{sim.port}" in proxy.targets
    finally:
        proxy.close()


def test_unreachable_server_is_named(kubeconfigs, probe, admin_token, tmp_path):
    kubeconfigs.server = "https://127.0.0.1:1"
    rc, out, _ = probe(kubeconfigs.write({"token": admin_token}), "get", "namespaces", "", "default")
    assert rc == 3
    assert out[0]["error"]["reason"] == "Transport"
    assert "https://127.0.0.1:1" in out[0]["error"]["message"]


def test_restricted_identity_gets_forbidden_with_verb_and_resource(sim, kubeconfigs, probe):
    token = (sim.state_dir / "restricted-token").read_text().strip()
    rc, out, _ = probe(kubeconfigs.write({"token": token}), "list", "pods", "default")
    assert rc == 3
    error = out[0]["error"]
    assert error["reason"] == "Forbidden" and error["status"] == 403
    assert 'cannot list resource "pods"' in error["message"]


def test_kubeconfig_errors_name_file_and_field(kubeconfigs, probe):
    config = kubeconfigs.write({"client-certificate-data": "QUJD", "client-key-data": "***"})
    rc, out, _ = probe(config, "get", "namespaces", "", "default")
    assert rc == 3
    assert out[0]["error"]["message"] == f'{config}: user "u": client-key-data is not valid base64'
