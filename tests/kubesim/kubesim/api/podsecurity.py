"""Pod Security admission: a namespace labelled `pod-security.kubernetes.io/enforce: baseline|restricted`
refuses pods that break its profile, with the apiserver's message ("violates PodSecurity ..."), so that a
tool's pod spec is tested against what a restricted cluster really accepts.

The checks follow the Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards):
baseline forbids host namespaces, privileged containers, hostPath volumes, host ports, capabilities beyond
the default set and unsafe sysctls; restricted also requires allowPrivilegeEscalation=false, runAsNonRoot,
a non-zero runAsUser, a RuntimeDefault or Localhost seccomp profile, capabilities dropped to ALL (only
NET_BIND_SERVICE may be added back) and only the restricted volume types. Only pods created through the API
are checked (as the real admission plugin does for pods; workload controllers here create their pods
directly).
"""

from . import errors

LEVEL_LABEL = "pod-security.kubernetes.io/enforce"
VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}


def _containers(spec: dict) -> list[dict]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict)]


def _names(containers: list[dict]) -> str:
    quoted = ", ".join(f'"{c.get("name", "")}"' for c in containers)
    return ("container " if len(containers) == 1 else "containers ") + quoted


def _baseline(spec: dict) -> list[str]:
    problems = []
    hosts = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    if hosts:
        problems.append(f"host namespaces ({', '.join(hosts)})")
    containers = _containers(spec)
    privileged = [c for c in containers if (c.get("securityContext") or {}).get("privileged")]
    if privileged:
        problems.append(f"privileged ({_names(privileged)} must not set securityContext.privileged=true)")
    added = []
    for c in containers:
        for cap in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []:
            if cap not in BASELINE_CAPABILITIES:
                added.append(f'container "{c.get("name", "")}" must not include "{cap}" in '
                             "securityContext.capabilities.add")
    if added:
        problems.append(f"non-default capabilities ({'; '.join(added)})")
    host_path = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    if host_path:
        problems.append("hostPath volumes (" + ", ".join(f'volume "{n}"' for n in host_path) + ")")
    ports = [(c.get("name", ""), p.get("hostPort")) for c in containers for p in c.get("ports") or []
             if isinstance(p, dict) and p.get("hostPort")]
    if ports:
        problems.append("hostPort (" + ", ".join(f'container "{n}" uses hostPort {p}' for n, p in ports) + ")")
    sysctls = [s.get("name", "") for s in (spec.get("securityContext") or {}).get("sysctls") or []
               if isinstance(s, dict) and s.get("name") not in SAFE_SYSCTLS]
    if sysctls:
        problems.append(f"forbidden sysctls ({', '.join(sysctls)})")
    return problems


def _restricted(spec: dict) -> list[str]:
    problems = []
    pod_security = spec.get("securityContext") or {}
    containers = _containers(spec)
    volumes = [(v.get("name", ""), next((k for k in v if k != "name"), "")) for v in spec.get("volumes") or []
               if isinstance(v, dict)]
    restricted_volumes = [(n, kind) for n, kind in volumes if kind not in RESTRICTED_VOLUMES]
    if restricted_volumes:
        problems.append("restricted volume types (" + ", ".join(
            f'volume "{n}" uses restricted volume type "{kind}"' for n, kind in restricted_volumes) + ")")

    def context(c):
        return c.get("securityContext") or {}

    escalating = [c for c in containers if context(c).get("allowPrivilegeEscalation") is not False]
    if escalating:
        problems.append(f"allowPrivilegeEscalation != false ({_names(escalating)} must set "
                        "securityContext.allowPrivilegeEscalation=false)")
    caps = []
    for c in containers:
        capabilities = context(c).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            caps.append(f'container "{c.get("name", "")}" must set securityContext.capabilities.drop=["ALL"]')
        for cap in capabilities.get("add") or []:
            if cap != "NET_BIND_SERVICE":
                caps.append(f'container "{c.get("name", "")}" must not include "{cap}" in '
                            "securityContext.capabilities.add")
    if caps:
        problems.append(f"unrestricted capabilities ({'; '.join(caps)})")
    pod_non_root = pod_security.get("runAsNonRoot") is True
    not_non_root = [c for c in containers if context(c).get("runAsNonRoot") is False or
                    (context(c).get("runAsNonRoot") is not True and not pod_non_root)]
    if not_non_root:
        problems.append(f"runAsNonRoot != true (pod or {_names(not_non_root)} must set "
                        "securityContext.runAsNonRoot=true)")
    as_root = [c for c in containers if context(c).get("runAsUser") == 0]
    if pod_security.get("runAsUser") == 0:
        problems.append("runAsUser=0 (pod must not set runAsUser=0)")
    if as_root:
        problems.append(f"runAsUser=0 ({_names(as_root)} must not set runAsUser=0)")
    allowed_seccomp = ("RuntimeDefault", "Localhost")
    pod_seccomp = (pod_security.get("seccompProfile") or {}).get("type")
    unconfined = [c for c in containers if ((context(c).get("seccompProfile") or {}).get("type") or pod_seccomp)
                  not in allowed_seccomp]
    if unconfined:
        problems.append(f'seccompProfile (pod or {_names(unconfined)} must set securityContext.seccompProfile.type '
                        'to "RuntimeDefault" or "Localhost")')
    return problems


def check(store, pod: dict) -> None:
    """Raises 403 Forbidden when the pod's namespace enforces a level the pod breaks."""
    meta = pod.get("metadata") or {}
    namespace = store.get("namespaces", None, meta.get("namespace", "default")) or {}
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    level = labels.get(LEVEL_LABEL, "privileged")
    if level not in ("baseline", "restricted"):
        return
    spec = pod.get("spec") or {}
    problems = _baseline(spec) + (_restricted(spec) if level == "restricted" else [])
    if problems:
        version = labels.get(VERSION_LABEL, "latest")
        raise errors.ApiError(403, "Forbidden",
                              f'pods "{meta.get("name", "")}" is forbidden: violates PodSecurity '
                              f'"{level}:{version}": {", ".join(problems)}',
                              {"name": meta.get("name", ""), "kind": "pods"})
