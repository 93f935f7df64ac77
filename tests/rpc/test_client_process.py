"""initialize's processId: when the IDE process dies without closing our pipes (a crash, kill -9, and
its children inheriting the pipe), the backend must notice and exit in order instead of living on."""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from tethertest.framing import frame, read_frame  # noqa: E402


def test_backend_exits_when_the_ide_process_dies(tether):
    ide = subprocess.Popen(["sleep", "300"])  # stands in for the IDE; tether's stdin stays open meanwhile
    backend = subprocess.Popen([tether, "serve", "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        backend.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                   "params": {"processId": ide.pid}}))
        backend.stdin.flush()
        assert read_frame(backend.stdout)["id"] == 1
        ide.kill()
        ide.wait()
        # No shutdown was sent, so the exit code is 1, as for `exit` without `shutdown`.
        assert backend.wait(timeout=30) == 1
        assert b"the IDE process is gone; exiting" in backend.stderr.read()
    finally:
        ide.kill()
        backend.kill()


def test_a_process_id_that_does_not_exist_is_only_logged(tether):
    backend = subprocess.Popen([tether, "serve", "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    backend.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": 2**22 + 7}}))
    backend.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    backend.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    backend.stdin.close()
    assert read_frame(backend.stdout)["result"]["serverInfo"]["name"] == "tether"
    assert backend.wait(timeout=30) == 0
    assert b"cannot watch the client process" in backend.stderr.read()
