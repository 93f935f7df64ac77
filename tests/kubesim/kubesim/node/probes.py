"""Readiness probes: tcpSocket, httpGet and exec, run the way a kubelet runs them.

TCP and HTTP probes connect from the node namespace to the pod IP (so a server that only
listens on the pod's 127.0.0.1 is not ready, as on a real node). Exec probes run the command
inside the pod's namespace. Each attempt is bounded by timeoutSeconds.
"""

import asyncio
import subprocess

from .netns import connect_in_netns


def resolve_port(port, container: dict) -> int:
    """A probe or Service port may be a number or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} not found in container {container.get('name')}")


async def _tcp(node_ns: str, host: str, port: int) -> bool:
    reader, writer = await connect_in_netns(node_ns, host, port)
    writer.close()
    return True


async def _http(node_ns: str, host: str, port: int, spec: dict) -> bool:
    reader, writer = await connect_in_netns(node_ns, host, port)
    try:
        path = spec.get("path") or "/"
        headers = "".join(f"{h['name']}: {h['value']}\r\n" for h in spec.get("httpHeaders") or [])
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.32\r\n"
                     f"{headers}Connection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
        parts = status_line.split()
        return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
    finally:
        writer.close()


async def _exec(pod_ns: str, command: list[str], env: dict) -> bool:
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", pod_ns, *command, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        return await proc.wait() == 0
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise


async def run_probe(probe: dict, container: dict, node_ns: str, pod_ns: str, pod_ip: str,
                    env: dict) -> bool:
    """One probe attempt; True when it succeeds within timeoutSeconds."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            coro = _tcp(node_ns, spec.get("host") or pod_ip, resolve_port(spec.get("port"), container))
        elif "httpGet" in probe:
            spec = probe["httpGet"]
            coro = _http(node_ns, spec.get("host") or pod_ip, resolve_port(spec.get("port"), container), spec)
        elif "exec" in probe:
            coro = _exec(pod_ns, list(probe["exec"].get("command") or []), env)
        else:
            return True
        return await asyncio.wait_for(coro, timeout)
    except (OSError, ValueError, asyncio.TimeoutError):
        return False
