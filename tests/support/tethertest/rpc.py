"""A small JSON-RPC 2.0 client for `tether serve --stdio` (LSP Content-Length framing), for the e2e tests.

A reader thread collects responses (by id) and notifications (in arrival order); tests wait on them with a
deadline through one condition variable, never by sleeping."""
import subprocess
import threading
import time

from tethertest.framing import frame, read_frame


class RpcError(Exception):
    def __init__(self, error: dict):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = error.get("message", "")
        self.data = error.get("data") or {}


class RpcBackend:
    def __init__(self, tether: str, env: dict, stderr_path, args=()):
        self._stderr = open(stderr_path, "wb")
        self.process = subprocess.Popen([tether, "serve", "--stdio", *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        self.stderr_path = stderr_path
        self._next_id = 0
        self._cond = threading.Condition()
        self._responses: dict = {}
        self.notifications: list[dict] = []
        self._eof = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # --- wire ---

    def _read_loop(self):
        try:
            while True:
                message = read_frame(self.process.stdout)
                if message is None:
                    return
                with self._cond:
                    if "id" in message and ("result" in message or "error" in message):
                        self._responses[message["id"]] = message
                    else:
                        self.notifications.append(message)
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def _send(self, message: dict):
        self.process.stdin.write(frame(message))
        self.process.stdin.flush()

    # --- requests and notifications ---

    def send_request(self, method: str, params=None) -> int:
        with self._cond:
            self._next_id += 1
            request_id = self._next_id
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)
        return request_id

    def response(self, request_id: int, timeout: float = 90):
        """The result of a request sent earlier; raises RpcError for an error answer."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while request_id not in self._responses:
                remaining = deadline - time.monotonic()
                if self._eof:
                    raise AssertionError(f"the backend closed stdout before answering request {request_id}; "
                                         f"stderr: {self.stderr_text()}")
                if remaining <= 0:
                    raise AssertionError(f"no answer to request {request_id} within {timeout} s")
                self._cond.wait(remaining)
            message = self._responses.pop(request_id)
        if "error" in message:
            raise RpcError(message["error"])
        return message["result"]

    def request(self, method: str, params=None, timeout: float = 90):
        return self.response(self.send_request(method, params), timeout)

    def notify(self, method: str, params=None):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    def initialize(self):
        result = self.request("initialize", {"processId": None, "clientInfo": {"name": "pytest"}})
        self.notify("initialized", {})
        return result

    def wait_notification(self, predicate, timeout: float = 60, what: str = "a notification") -> dict:
        """The first notification (in arrival order, from the beginning) that satisfies predicate."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.notifications:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    raise AssertionError(f"no {what} within {timeout} s; seen: "
                                         f"{[n.get('method') for n in self.notifications]}")
                self._cond.wait(remaining)

    def session_changes(self, session_id: str | None = None) -> list[dict]:
        with self._cond:
            return [n["params"]["session"] for n in self.notifications
                    if n.get("method") == "tether/sessionChanged"
                    and (session_id is None or n["params"]["session"]["id"] == session_id)]

    def wait_session_state(self, session_id: str, state: str, timeout: float = 60, message_part: str | None = None):
        def matches(n):
            if n.get("method") != "tether/sessionChanged":
                return False
            session = n["params"]["session"]
            return (session["id"] == session_id and session["state"] == state
                    and (message_part is None or message_part in session.get("message", "")))
        return self.wait_notification(matches, timeout, f"sessionChanged {session_id} -> {state}")["params"]["session"]

    # --- the process ---

    def close_stdin(self):
        self.process.stdin.close()

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)

    def stderr_text(self) -> str:
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._stderr.close()
