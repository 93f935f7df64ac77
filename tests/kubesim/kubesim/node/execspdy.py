"""pods/exec over SPDY/3.1 (`POST` + `Upgrade: SPDY/3.1`), for kubectl's fallback, kubectl 1.29
and clients built on client-go's SPDY executor.

The client opens one stream per role, named by the `streamtype` header: error, stdin, stdout,
stderr and (with a tty, v3+) resize. The command starts once every stream the query asked for
exists. With `v4.channel.k8s.io` the error stream carries the same JSON Status as the WebSocket
variant (NonZeroExitCode with the code); with older versions it carries the message as text.
"""

import asyncio
import json

from .execstream import apply_resize, exit_status, kill, prepare, spawn
from .spdyupgrade import serve_spdy_upgrade

VERSIONS = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
STREAM_WAIT = 30.0


async def serve_spdy_exec(node, request, rt, container, command, use_stdin, use_stdout, use_stderr, tty):
    streams = {}
    arrived = asyncio.Event()
    expected: set[str] = set()

    def on_stream(stream):
        streams[stream.headers.get("streamtype", "")] = stream
        if expected and expected <= streams.keys():
            arrived.set()

    async def run(session, version):
        expected.update({"error"} | ({"stdin"} if use_stdin else set())
                        | ({"stdout"} if use_stdout else set())
                        | ({"stderr"} if use_stderr and not tty else set())
                        | ({"resize"} if tty and version in VERSIONS[:2] else set()))
        if expected <= streams.keys():
            arrived.set()
        try:
            await asyncio.wait_for(arrived.wait(), STREAM_WAIT)
        except asyncio.TimeoutError:
            session.close()
            return
        err = streams["error"]
        env, failure = prepare(node, rt, container, command)
        if failure is not None:
            await err.write(json.dumps(failure).encode() if version == VERSIONS[0]
                            else failure["message"].encode())
            await err.close()
            session.close()
            return
        proc = await spawn(rt, container, command, env, use_stdin, tty)
        try:
            await _exchange(proc, streams, tty)
            code = await proc.wait()
            code = 128 - code if code < 0 else code
            if version == VERSIONS[0]:
                await err.write(json.dumps(exit_status(code)).encode())
            elif code != 0:
                await err.write(f"command terminated with non-zero exit code: exit status {code}".encode())
            for stream in streams.values():
                await stream.close()
        finally:
            kill(proc)
            session.close()

    return await serve_spdy_upgrade(request, VERSIONS, on_stream, run)


async def _exchange(proc, streams, tty) -> None:
    """Copies stdin from the client and stdout/stderr to it until the command's output ends."""

    async def stdin():
        stream = streams.get("stdin")
        if stream is None or proc.stdin is None:
            return
        while True:
            data = await stream.read()
            if data is None:
                break
            try:
                proc.stdin.write(data)
                await proc.stdin.drain()
            except (ConnectionError, BrokenPipeError):
                break
        proc.stdin.close()

    async def out(pipe, name):
        stream = streams.get(name)
        while True:
            data = await pipe.read(65536)
            if not data:
                break
            if stream is not None:
                await stream.write(data)

    async def resize():
        stream = streams.get("resize")
        while stream is not None:
            data = await stream.read()
            if data is None:
                return
            apply_resize(proc, data)

    feeder = asyncio.create_task(stdin())
    resizer = asyncio.create_task(resize())
    pumps = [out(proc.stdout, "stdout")]
    if not tty:
        pumps.append(out(proc.stderr, "stderr"))
    await asyncio.gather(*pumps)
    feeder.cancel()
    resizer.cancel()
