"""One container of a pod: its process, its output and the state a kubelet reports for it.

A container is a local program started as `ip netns exec <pod netns> <argv>` in its own
session (so SIGTERM reaches its whole process group). `ip netns exec` also bind-mounts the
pod's /etc/netns/<netns>/resolv.conf and hosts over /etc, which gives the container the
cluster DNS settings without any container engine.
"""

import asyncio
import os
import secrets
import shutil
import subprocess

from .logs import LogBuffer, now_rfc3339nano

IP = shutil.which("ip") or "/usr/sbin/ip"


def rfc3339() -> str:
    return now_rfc3339nano()[:19] + "Z"


class Container:
    def __init__(self, spec: dict):
        self.spec = spec
        self.name = spec.get("name", "")
        self.image = spec.get("image", "")
        self.proc: asyncio.subprocess.Process | None = None
        self.log = LogBuffer()
        self.previous: LogBuffer | None = None
        self.restart_count = 0
        self.state: dict = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: dict = {}
        self.ready = False
        self.started = False
        self.ever_started = False
        self.done = False               # terminated and will not be restarted
        self.container_id = ""
        self.exit_code: int | None = None

    def status(self) -> dict:
        st = {
            "name": self.name,
            "image": self.image,
            "imageID": f"kubesim://{self.image}",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            st["containerID"] = self.container_id
        return st

    def set_waiting(self, reason: str, message: str = "") -> None:
        self.state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        self.started = False
        self.ready = False

    async def start(self, argv: list[str], netns: str, env: dict, prefix: list[str] = ()) -> None:
        """Starts the process (after `prefix`, which switches its user); raises FileNotFoundError if the
        program does not exist."""
        program = argv[0]
        if "/" not in program and shutil.which(program, path=env.get("PATH")) is None:
            raise FileNotFoundError(f'exec: "{program}": executable file not found in $PATH')
        if "/" in program and not os.access(program, os.X_OK):
            raise FileNotFoundError(f'exec: "{program}": no such file or executable')
        if self.ever_started:
            # The instance that ended was kept as "previous" when it was counted as restarted.
            self.log = LogBuffer()
        self.proc = await asyncio.create_subprocess_exec(
            IP, "netns", "exec", netns, *prefix, *argv, env=env, cwd=self.spec.get("workingDir") or "/",
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.container_id = "kubesim://" + secrets.token_hex(16)
        self.state = {"running": {"startedAt": rfc3339()}}
        self.started = True
        self.ever_started = True
        self.exit_code = None

    async def pump_until_exit(self) -> int:
        """Copies output into the log until the process ends; returns the exit code."""
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            data = await self.proc.stdout.read(65536)
            if not data:
                break
            await self.log.feed(data)
        rc = await self.proc.wait()
        await self.log.close()
        # A signal death is reported like a shell does: 128 + signal number.
        self.exit_code = 128 - rc if rc < 0 else rc
        return self.exit_code

    def count_restart(self) -> None:
        """The instance that just ended becomes lastState and its log "previous" in one step, before the
        new restartCount is published: a kubelet serves `logs --previous` from lastState's container, so
        a client that saw restartCount > 0 always finds that log."""
        self.last_state = self.state
        self.previous = self.log
        self.restart_count += 1

    def mark_terminated(self, message: str = "", reason: str | None = None) -> dict:
        started = self.state.get("running", {}).get("startedAt", rfc3339())
        code = self.exit_code if self.exit_code is not None else 128
        term = {
            "exitCode": code,
            "reason": reason or ("Completed" if code == 0 else "Error"),
            "startedAt": started,
            "finishedAt": rfc3339(),
        }
        if message:
            term["message"] = message
        if self.container_id:
            term["containerID"] = self.container_id
        self.state = {"terminated": term}
        self.started = False
        self.ready = False
        return term

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None
