"""The parts of a pod's security context the kubelet (and the container runtime) act on, so that a pod
spec that works here works on a real node: the user a container runs as (runAsUser/runAsGroup, with
runAsNonRoot checked), no_new_privs when privilege escalation is off, and the pod's sysctls (only the
Kubernetes "safe" set; the network ones are set in the pod's own network namespace).

Images here are programs on the host. A container that runs as a non-root user must be able to read its
program as the runtime's copy of an image would be readable, whatever the permissions of the directory the
program was built in: such programs are staged (copied once, mode 0755) under STAGE_ROOT/<cluster id>.
"""

import hashlib
import os
import shutil
from pathlib import Path

STAGE_ROOT = Path("/run/kubesim-rootfs")
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SYSTEM_DIRS = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/")


def _context(pod_spec: dict, container: dict) -> dict:
    """The container's effective security context: its own fields over the pod's."""
    merged = {k: v for k, v in (pod_spec.get("securityContext") or {}).items()
              if k in ("runAsUser", "runAsGroup", "runAsNonRoot")}
    merged.update(container.get("securityContext") or {})
    return merged


def user_of(pod_spec: dict, container: dict) -> tuple[int, int] | None:
    """(uid, gid) the container runs as, or None for the image's default user (root here)."""
    context = _context(pod_spec, container)
    uid = context.get("runAsUser")
    if not isinstance(uid, int) or uid == 0:
        return None
    gid = context.get("runAsGroup")
    return uid, gid if isinstance(gid, int) else uid


def non_root_error(pod: dict, container: dict) -> str | None:
    """The kubelet's refusal when runAsNonRoot is set but the container would run as root."""
    spec = pod.get("spec") or {}
    if _context(spec, container).get("runAsNonRoot") is not True or user_of(spec, container) is not None:
        return None
    meta = pod.get("metadata") or {}
    return (f'container has runAsNonRoot and image will run as root (pod: "{meta.get("name", "")}_'
            f'{meta.get("namespace", "")}({meta.get("uid", "")})", container: {container.get("name", "")})')


def no_new_privileges(container: dict) -> bool:
    return (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is False


def sysctls(pod_spec: dict) -> tuple[list[tuple[str, str]], list[str]]:
    """(allowed (name, value) pairs, forbidden names) of the pod's sysctls."""
    allowed, forbidden = [], []
    for item in (pod_spec.get("securityContext") or {}).get("sysctls") or []:
        if not isinstance(item, dict):
            continue
        name, value = str(item.get("name", "")), str(item.get("value", ""))
        if name in SAFE_SYSCTLS:
            allowed.append((name, value))
        else:
            forbidden.append(name)
    return allowed, forbidden


def user_prefix(user: tuple[int, int], no_new_privs: bool) -> list[str]:
    """The command that switches to `user` before exec'ing the container's program."""
    uid, gid = user
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    if no_new_privs:
        prefix.append("--no-new-privs")
    return prefix + ["--"]


def stage(argv: list[str], cluster_id: str) -> list[str]:
    """argv with a program outside the system directories replaced by a world-readable copy."""
    program = argv[0] if argv else ""
    if not os.path.isabs(program) or program.startswith(SYSTEM_DIRS) or not os.path.isfile(program):
        return argv
    stat = os.stat(program)
    digest = hashlib.sha1(f"{program}:{stat.st_mtime_ns}:{stat.st_size}".encode()).hexdigest()[:16]
    target_dir = STAGE_ROOT / cluster_id / digest
    target = target_dir / os.path.basename(program)
    if not target.exists():
        for directory in (STAGE_ROOT, STAGE_ROOT / cluster_id, target_dir):
            directory.mkdir(exist_ok=True)
            directory.chmod(0o755)
        partial = target.with_suffix(".partial")
        shutil.copyfile(program, partial)
        partial.chmod(0o755)
        partial.rename(target)
    return [str(target)] + argv[1:]


def remove_staged(cluster_id: str) -> None:
    shutil.rmtree(STAGE_ROOT / cluster_id, ignore_errors=True)
