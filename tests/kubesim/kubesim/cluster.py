"""One kubesim cluster: the store, the node and the API server, plus their state directory.

The state directory belongs to kubesim. It holds the cluster id (which names every network
namespace), the pid of the process running the cluster, a `ready` marker, and whatever the API
server writes (kubeconfig, CA, credentials). Because everything is named by the cluster id,
`up` can remove the leftovers of a crashed run with the same state directory, and `down` can
remove everything even if the running process is gone.
"""

import asyncio
import logging
import os
import secrets
import shutil
import signal
import time
from pathlib import Path

import yaml

from .node.images import ImageMap
from .node.network import cleanup_cluster
from .node.netns import list_netns

log = logging.getLogger("kubesim")

DEFAULT_STATE = Path(os.environ.get("KUBESIM_STATE", "/tmp/kubesim"))
RUN_DIR = Path("/run/kubesim")
MARKER = "cluster-id"


class ClusterError(Exception):
    pass


def require_root() -> None:
    if os.geteuid() != 0:
        raise ClusterError("kubesim needs root: it creates network namespaces, veth pairs and routes. "
                           "Run it with sudo (or as root).")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def running_pid(state_dir: Path) -> int | None:
    pid = _read(state_dir / "pid")
    if pid and pid.isdigit() and _alive(int(pid)):
        return int(pid)
    return None


def collect_dead_clusters() -> list[str]:
    """Removes the namespaces of clusters whose process died without cleaning up.

    Every running cluster registers itself in RUN_DIR/<id> (its pid). A record whose process is
    gone (a killed test run, a crash whose state dir was deleted since) is garbage: its
    namespaces go, so a machine heals on the next `up` whatever happened before.
    """
    removed = []
    if not RUN_DIR.is_dir():
        return removed
    for record in RUN_DIR.iterdir():
        pid = _read(record)
        if pid and pid.isdigit() and _alive(int(pid)):
            continue
        cleanup_cluster(record.name)
        record.unlink(missing_ok=True)
        removed.append(record.name)
    return removed


def remove_leftovers(state_dir: Path) -> None:
    """Removes what an earlier cluster with this state dir left: namespaces and files."""
    old_id = _read(state_dir / MARKER)
    if old_id:
        cleanup_cluster(old_id)
        (RUN_DIR / old_id).unlink(missing_ok=True)
        shutil.rmtree(state_dir, ignore_errors=True)


class Cluster:
    def __init__(self, state_dir: Path, image_map: str | None = None):
        self.state_dir = Path(state_dir).resolve()
        self.image_map = image_map
        self.cluster_id = ""
        self.store = None
        self.node = None
        self.api = None

    async def start(self) -> Path:
        """Brings the cluster up; returns the kubeconfig path."""
        require_root()
        from .api.server import start_api_server
        from .api.store import Store
        from .node.node import Node

        pid = running_pid(self.state_dir)
        if pid is not None and pid != os.getpid():
            raise ClusterError(f"a kubesim cluster already runs with state dir {self.state_dir} "
                               f"(pid {pid}); run `kubesim down --state {self.state_dir}` first")
        remove_leftovers(self.state_dir)
        for dead in collect_dead_clusters():
            log.info("removed the namespaces of dead cluster %s", dead)
        try:
            images = ImageMap.load(self.image_map)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ClusterError(f"cannot use the image map: {exc}") from exc
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.cluster_id = secrets.token_hex(3)
        while any(n.startswith(f"ks-{self.cluster_id}-") for n in list_netns()):
            self.cluster_id = secrets.token_hex(3)
        (self.state_dir / MARKER).write_text(self.cluster_id + "\n")
        (self.state_dir / "pid").write_text(f"{os.getpid()}\n")
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        (RUN_DIR / self.cluster_id).write_text(f"{os.getpid()}\n")
        self.store = Store()
        self.node = Node(self.store, self.cluster_id, images)
        try:
            await self.node.start()
            self.api = await start_api_server(self.state_dir, self.store, self.node)
        except BaseException:
            # Keep the log, so `up --detach` can show why; `down` removes it later.
            await self.stop(keep=("kubesim.log",))
            raise
        (self.state_dir / "ready").write_text(f"{self.cluster_id}\n")
        return Path(self.api.kubeconfig)

    async def stop(self, keep: tuple[str, ...] = ()) -> None:
        """Stops the API server and the node and removes the state directory (but `keep`)."""
        if self.api is not None:
            try:
                await self.api.stop()
            except Exception:
                log.exception("stopping the API server failed")
        if self.node is not None:
            await self.node.stop()
        if self.cluster_id:
            await asyncio.to_thread(cleanup_cluster, self.cluster_id)
            (RUN_DIR / self.cluster_id).unlink(missing_ok=True)
        if not keep:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            return
        for entry in self.state_dir.iterdir() if self.state_dir.exists() else []:
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
        if self.state_dir.exists() and not any(self.state_dir.iterdir()):
            self.state_dir.rmdir()


async def run_foreground(state_dir: Path, image_map: str | None, announce) -> None:
    """Runs a cluster until SIGINT or SIGTERM, then cleans up."""
    cluster = Cluster(state_dir, image_map)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    # A failed start has cleaned up after itself (keeping only its log for `up --detach`).
    kubeconfig = await cluster.start()
    try:
        announce(kubeconfig)
        await stop.wait()
    finally:
        await cluster.stop()


def down(state_dir: Path, timeout: float = 30.0) -> bool:
    """Stops the cluster of state_dir and removes all it left; True if there was one."""
    require_root()
    state_dir = Path(state_dir).resolve()
    found = (state_dir / MARKER).exists()
    pid = running_pid(state_dir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    remove_leftovers(state_dir)
    # A start that failed leaves only its log behind.
    if (state_dir / "kubesim.log").exists():
        shutil.rmtree(state_dir, ignore_errors=True)
    return found or pid is not None
