"""`tether` processes for the e2e tests: the CLI's session commands followed event by event, JSON-RPC
backends, short commands, and the environment each runs in (its own HOME and state dir, no host proxies)."""
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

from tethertest.rpc import RpcBackend

PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def tether_env(cluster, directory: Path, user: str = "pytest") -> dict:
    """The environment of one backend: its own HOME and state dir, no proxy settings from the host."""
    env = {key: value for key, value in cluster.env.items()
           if key.lower() not in PROXY_VARIABLES and key not in ("TETHER_SHADOW_IMAGE", "XDG_STATE_HOME",
                                                                  "XDG_CONFIG_HOME")}
    (directory / "home").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(directory / "home"), TETHER_STATE_DIR=str(directory / "state"), USER=user)
    return env


class CliSession:
    """`tether exchange|connect|preview|forward ...`, its stdout followed line by line (JSON events with
    --output json)."""

    def __init__(self, tether: str, env: dict, args: list, log: Path, output: str = "json", cluster_log=None,
                 command: str = "exchange"):
        self.log = log
        self.command = command
        self.cluster_log = cluster_log or (lambda: "")
        self._stderr = open(log, "wb")
        self.process = subprocess.Popen([tether, command, "--output", output, *map(str, args)],
                                        stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True)
        self.lines: list[str] = []
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                if line.startswith("{"):
                    try:
                        self.events.append(json.loads(line))
                    except ValueError:
                        pass
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _wait(self, items, predicate, start: int, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index in range(start, len(items)):
                    if predicate(items[index]):
                        return index, items[index]
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    raise AssertionError(f"tether {self.command}: no {what} within {timeout} s "
                                         f"({'exited' if self._eof else 'still running'}); stdout:\n"
                                         + "\n".join(self.lines[-30:]) + f"\nstderr:\n{self.stderr_text()}"
                                         + f"\ncluster log:\n{self.cluster_log()}")
                self._cond.wait(remaining)

    def wait_line(self, predicate, timeout: float = 60, what: str = "matching line") -> str:
        return self._wait(self.lines, predicate, 0, timeout, what)[1]

    def wait_event(self, predicate, start: int = 0, timeout: float = 60, what: str = "matching event"):
        """(index, event) of the first event from `start` on that satisfies predicate."""
        return self._wait(self.events, predicate, start, timeout, what)

    def wait_state(self, state: str, start: int = 0, timeout: float = 60, message_part: str | None = None):
        def matches(event):
            if event.get("event") != "session" or event["session"]["state"] != state:
                return False
            return message_part is None or message_part in event["session"].get("message", "")
        return self.wait_event(matches, start, timeout, f"session event with state {state}")

    def wait_started(self, timeout: float = 60) -> dict:
        """The active session, or fails with the error tether printed."""
        _, event = self.wait_event(lambda e: e.get("event") == "error" or (
            e.get("event") == "session" and e["session"]["state"] in ("active", "failed")), 0, timeout,
            "active session")
        assert event.get("event") == "session" and event["session"]["state"] == "active", \
            f"{event}\nstderr:\n{self.stderr_text()}\ncluster log:\n{self.cluster_log()}"
        return event["session"]

    def session_states(self) -> list[str]:
        with self._cond:
            return [e["session"]["state"] for e in self.events if e.get("event") == "session"]

    def error(self) -> dict:
        with self._cond:
            errors = [e for e in self.events if e.get("event") == "error"]
        assert errors, "no error event; stdout:\n" + "\n".join(self.lines) + f"\nstderr:\n{self.stderr_text()}"
        return errors[-1]

    def interrupt(self, timeout: float = 90) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 90) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stderr_text(self) -> str:
        self._stderr.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._stderr.close()


def run_tether(tether: str, env: dict, *args, timeout: float = 120):
    """A short tether command; returns (exit code, JSON events, stderr)."""
    result = subprocess.run([tether, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, events, result.stderr


class Launcher:
    """Starts tether processes for one test and kills whatever is still running at its end."""

    def __init__(self, tether: str, cluster, directory: Path):
        self.tether = tether
        self.cluster = cluster
        self.directory = directory
        self.processes = []
        self.count = 0

    def env(self, name: str = "me", user: str = "pytest") -> dict:
        return tether_env(self.cluster, self.directory / name, user)

    def cli(self, env: dict, *args, output: str = "json", command: str = "exchange") -> CliSession:
        self.count += 1
        process = CliSession(self.tether, env, list(args), self.directory / f"{command}-{self.count}.log", output,
                             self.cluster_log, command)
        self.processes.append(process)
        return process

    def rpc(self, env: dict, *args) -> RpcBackend:
        self.count += 1
        backend = RpcBackend(self.tether, env, self.directory / f"serve-{self.count}.log", args)
        self.processes.append(backend)
        return backend

    def cluster_log(self) -> str:
        """The end of kubesim's log (pods starting and exiting), for failure messages."""
        log = Path(self.cluster.kubeconfig).parent / "kubesim.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""

    def run(self, env: dict, *args):
        return run_tether(self.tether, env, *args)

    def close(self):
        for process in self.processes:
            process.kill()
