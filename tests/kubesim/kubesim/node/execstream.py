"""pods/exec over WebSocket (`v5.channel.k8s.io` down to `channel.k8s.io`), plus the parts
the SPDY variant (execspdy.py) shares.

The command runs as `ip netns exec <pod netns> <command...>` with the container's environment,
so it sees the pod's network and DNS settings. Channels: 0 stdin, 1 stdout, 2 stderr, 3 status,
4 resize. In v5 the client half-closes a channel with [255, ch] (kubectl does so for stdin at
EOF). The exit status goes out on channel 3 as a Status (NonZeroExitCode carries the code), then
the socket closes normally. With tty=true the command runs on a pseudo-terminal (ptyproc.py),
channel 4 resizes it, and there is no stderr channel.
"""

import asyncio
import json
import os
import signal
import shutil
import subprocess

from aiohttp import web

from .container import IP
from .ptyproc import spawn_on_pty
from .env import EnvError, container_env
from .streaming import bad_request, status_response
from .wschannel import ChannelSocket, is_websocket, offered_protocols

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
             "channel.k8s.io", "v4.base64.channel.k8s.io", "base64.channel.k8s.io")
CLOSE_CHANNEL = 255


def _flag(request, key, default=False) -> bool:
    value = request.query.get(key)
    if value is None:
        return default
    return value.lower() in ("true", "1")


def exit_status(code: int) -> dict:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[...], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def start_failure(message: str) -> dict:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
            "code": 500}


def prepare(node, rt, container, command: list[str]):
    """Returns (env, None) when the command can start, or (None, failure Status)."""
    try:
        env = container_env(node.store, rt.pod, container.spec, rt.pod_ip)
    except EnvError as exc:
        return None, start_failure(str(exc))
    program = command[0]
    if "/" not in program and shutil.which(program, path=env.get("PATH")) is None:
        return None, start_failure(
            f"Internal error occurred: error executing command in container: failed to exec in "
            f'container: exec: "{program}": executable file not found in $PATH')
    return env, None


async def spawn(rt, container, command: list[str], env: dict, use_stdin: bool, tty: bool):
    """Starts the command in the pod's namespace; with tty, on a pseudo-terminal."""
    if tty:
        return await spawn_on_pty([IP, "netns", "exec", rt.netns, *command], env,
                                  container.spec.get("workingDir") or "/")
    return await asyncio.create_subprocess_exec(
        IP, "netns", "exec", rt.netns, *command, env=env, cwd=container.spec.get("workingDir") or "/",
        stdin=subprocess.PIPE if use_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT if tty else subprocess.PIPE,
        start_new_session=True)


def kill(proc) -> None:
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if hasattr(proc, "release"):
        proc.release()


def apply_resize(proc, data: bytes) -> None:
    """Applies each {"Width":w,"Height":h} in data (several may arrive in one chunk)."""
    if not hasattr(proc, "resize"):
        return
    text, decoder, pos = data.decode(errors="replace"), json.JSONDecoder(), 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            size, pos = decoder.raw_decode(text, pos)
            proc.resize(int(size.get("Width", 80)), int(size.get("Height", 24)))
        except (ValueError, AttributeError, TypeError, OSError):
            return


async def serve_exec(node, request: web.Request, pod: dict, rt, container) -> web.StreamResponse:
    command = request.query.getall("command", [])
    if not command:
        return bad_request("you must specify at least 1 command")
    use_stdin = _flag(request, "stdin")
    tty = _flag(request, "tty")
    if not is_websocket(request):
        if request.headers.get("Upgrade", "").lower().startswith("spdy/3.1"):
            from .execspdy import serve_spdy_exec
            return await serve_spdy_exec(node, request, rt, container, command,
                                         use_stdin, _flag(request, "stdout", True),
                                         _flag(request, "stderr", True), tty)
        return status_response(400, "BadRequest", "exec needs a WebSocket or SPDY/3.1 upgrade")
    offered = offered_protocols(request)
    if offered and not any(p in PROTOCOLS for p in offered):
        return bad_request(f"none of the offered subprotocols {offered} is supported")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, heartbeat=None, max_msg_size=0)
    await ws.prepare(request)
    chan = ChannelSocket(ws)
    v5 = ws.ws_protocol == "v5.channel.k8s.io"
    env, failure = prepare(node, rt, container, command)
    if failure is not None:
        await chan.send(3, json.dumps(failure).encode())
        await ws.close()
        return ws
    proc = await spawn(rt, container, command, env, use_stdin, tty)

    async def pump(stream, channel):
        while True:
            data = await stream.read(65536)
            if not data:
                return
            try:
                await chan.send(channel, data)
            except (ConnectionError, RuntimeError):
                return

    async def from_client():
        async for channel, data in chan.messages():
            if channel == 0 and proc.stdin is not None:
                try:
                    proc.stdin.write(data)
                    await proc.stdin.drain()
                except (ConnectionError, BrokenPipeError):
                    pass
            elif channel == 4:
                apply_resize(proc, data)
            elif v5 and channel == CLOSE_CHANNEL and data[:1] == b"\x00" and proc.stdin is not None:
                proc.stdin.close()
        # The client went away: nothing can read the command's output any more, so it is
        # stopped rather than left running in the pod.
        kill(proc)

    reader = asyncio.create_task(from_client())
    pumps = [pump(proc.stdout, 1)]
    if not tty:
        pumps.append(pump(proc.stderr, 2))
    await asyncio.gather(*pumps)
    code = await proc.wait()
    code = 128 - code if code < 0 else code
    try:
        await chan.send(3, json.dumps(exit_status(code)).encode())
        await ws.close()
    except (ConnectionError, RuntimeError):
        pass
    reader.cancel()
    kill(proc)
    return ws
