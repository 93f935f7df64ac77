"""Helpers for Linux network namespaces.

kubesim puts the node and every pod into their own network namespace. Python 3.11 has no
os.setns, so this module calls libc's setns through ctypes. A socket keeps the namespace it
was created in, so the trick used throughout kubesim is: a short-lived thread enters the
namespace, creates the socket and returns it; the event loop then uses it like any other.
"""

import asyncio
import concurrent.futures
import ctypes
import os
import socket
import subprocess
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def netns_path(name: str) -> str:
    return f"/run/netns/{name}"


def _enter(name: str) -> None:
    """Moves the calling thread into the named network namespace."""
    fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def run_in_netns(name: str, fn, *args):
    """Runs fn(*args) on a fresh thread that lives in netns `name` and returns its result.

    The thread ends right after, so the namespace switch never leaks into a thread that
    anything else uses.
    """
    box: dict = {}

    def target():
        try:
            _enter(name)
            box["value"] = fn(*args)
        except BaseException as exc:  # handed back to the caller below
            box["error"] = exc

    t = threading.Thread(target=target, name=f"netns-{name}")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


_resident: dict[str, concurrent.futures.ThreadPoolExecutor] = {}


def keep_thread_in(name: str) -> None:
    """Keeps one thread parked in netns `name`, so sockets there cost no thread start.

    Used for the node namespace, where the proxy opens a socket for every connection.
    """
    if name not in _resident:
        _resident[name] = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"netns-{name}", initializer=_enter, initargs=(name,))


def release_thread_in(name: str) -> None:
    ex = _resident.pop(name, None)
    if ex is not None:
        ex.shutdown(wait=False)


def socket_in_netns(name: str, family=socket.AF_INET, type_=socket.SOCK_STREAM) -> socket.socket:
    """Creates a non-blocking socket that belongs to netns `name`."""

    def make():
        s = socket.socket(family, type_)
        s.setblocking(False)
        return s

    ex = _resident.get(name)
    if ex is not None:
        return ex.submit(make).result()
    return run_in_netns(name, make)


async def connect_in_netns(name: str, host: str, port: int, timeout: float = 5.0):
    """Opens an asyncio stream to host:port from inside netns `name`."""
    sock = socket_in_netns(name)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout)
    except BaseException:
        sock.close()
        raise
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return await asyncio.open_connection(sock=sock, limit=1 << 20)


def ip(*args: str, check: bool = True, netns: str | None = None) -> subprocess.CompletedProcess:
    """Runs one `ip` command (optionally with -n NETNS) and returns the finished process."""
    cmd = ["ip"] + (["-n", netns] if netns else []) + list(args)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
    return res


async def ip_batch(lines: list[str], netns: str | None = None) -> None:
    """Runs several `ip` commands in one process (`ip -batch -`); much faster than one each."""
    cmd = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate("\n".join(lines).encode() + b"\n")
    if proc.returncode != 0:
        raise RuntimeError(f"ip batch in {netns or 'host'} failed: {err.decode().strip()}")


def list_netns() -> list[str]:
    """Names of all named network namespaces (those in /run/netns)."""
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def netns_pids(name: str) -> list[int]:
    """Pids of processes whose network namespace is `name`."""
    res = ip("netns", "pids", name, check=False)
    return [int(p) for p in res.stdout.split() if p.strip().isdigit()]
