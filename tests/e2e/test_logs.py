"""What a trace log of a whole session keeps out: the debuggee's environment, the session's proxy
credentials and the shadow's token, even at the most verbose level; and who may read the log file."""
import base64
import json
import os
import stat

from exchange_support import LocalServer

PLANTED = "planted-secret-6c1f2e"


def test_a_trace_log_of_a_session_holds_no_secret(demo, launcher, tmp_path):
    log = tmp_path / "tether-trace.log"
    local = LocalServer()
    rpc = launcher.rpc(launcher.env(), "--log-level", "trace", "--log-file", str(log))
    rpc.initialize()
    session = rpc.request("tether/session/start", {
        "namespace": demo.ns, "mode": "exchange", "target": "orders",
        "expose": [{"local": local.port, "remote": 80}],
        "baseEnv": {"DB_PASSWORD": PLANTED, "JAVA_TOOL_OPTIONS": f"-Dsecret={PLANTED}"}})
    proxy_password = session["launch"]["env"]["HTTP_PROXY"].split("@")[0].rsplit(":", 1)[1]
    shadow = f"tether-orders-{session['id']}"
    token = base64.b64decode(json.loads(demo.kubectl("get", "secret", f"{shadow}-token", "-o", "json").stdout)
                             ["data"]["token"]).decode()
    rpc.request("tether/session/stop", {"id": session["id"]})
    assert rpc.request("shutdown") is None
    rpc.notify("exit")
    assert rpc.wait() == 0

    text = log.read_text()
    assert ">>> " in text and "<<< " in text and "<redacted>" in text  # bodies were traced, then redacted
    for secret in (PLANTED, proxy_password, token):
        assert secret not in text, f"{secret[:6]}... reached the log"
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    local.close()
