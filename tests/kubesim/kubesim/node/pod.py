"""A pod on the kubesim node: its network namespace, its containers and its status.

PodRuntime is the kubelet's view of one pod. It owns the pod's namespace and processes and is
the only writer of the pod's `status`: every change of a container is followed by a rewrite
of the whole status (phase, conditions, containerStatuses, IPs) through Store.update_status.
"""

import asyncio
import logging
import signal

from . import security
from .container import IP, Container, rfc3339
from .env import EnvError, container_env
from .network import GATEWAY
from .probes import run_probe

log = logging.getLogger("kubesim.kubelet")

# Until a container has been ready once, readiness is probed this often (seconds) whatever the
# probe's periodSeconds; a real kubelet waits a full period, which only makes tests slower.
FIRST_READY_POLL = 0.05
IMAGE_BACKOFF_DELAY = 1.0


def backoff_seconds(restarts: int) -> float:
    return min(0.5 * (2 ** max(restarts - 1, 0)), 10.0)


class PodRuntime:
    def __init__(self, kubelet, pod: dict):
        self.kubelet = kubelet
        meta = pod["metadata"]
        self.namespace = meta.get("namespace", "default")
        self.name = meta["name"]
        self.uid = meta.get("uid", "")
        self.pod = pod
        spec = pod.get("spec", {})
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.containers = [Container(c) for c in spec.get("containers") or []]
        self.init_containers = [Container(c) for c in spec.get("initContainers") or []]
        self.initialized = not self.init_containers
        self.init_failed = False
        if self.init_containers:
            for c in self.containers:
                c.set_waiting("PodInitializing")
        self.netns = ""
        self.pod_ip = ""
        self.start_time = rfc3339()
        self.sandbox_ready = False
        self.terminating = False
        self.tasks: list[asyncio.Task] = []
        self.conditions: dict[str, tuple[str, str]] = {}
        self.gone = asyncio.Event()
        self.setup_done = asyncio.Event()     # the namespace exists (or failed); see terminate()
        self.rejection: tuple[str, str] | None = None   # (reason, message) when the kubelet refused the pod

    # ----- lifecycle -----

    async def run(self) -> None:
        try:
            try:
                self.netns, self.pod_ip = await self.kubelet.network.add_pod(self.namespace, self.name)
            except Exception as exc:
                log.error("pod %s/%s: network setup failed: %s", self.namespace, self.name, exc)
                for c in self.containers:
                    c.set_waiting("CreateContainerError", f"network setup failed: {exc}")
                self.publish()
                return
        finally:
            self.setup_done.set()
        if self.terminating:
            # Deleted while its namespace was being made; terminate() removes it.
            return
        if not await self._apply_sysctls():
            return
        self.sandbox_ready = True
        self.publish()
        everything = self.init_containers + self.containers
        argvs = [self.kubelet.images.argv(c.spec) for c in everything]
        if any(a is None for a in argvs):
            await self._image_pull_failure(everything, argvs)
            return
        self.tasks.append(asyncio.create_task(self._start_all(argvs)))

    async def _apply_sysctls(self) -> bool:
        """Sets the pod's sysctls in its network namespace; a sysctl outside the safe set rejects the pod
        as a kubelet does (phase Failed, reason SysctlForbidden)."""
        allowed, forbidden = security.sysctls(self.pod.get("spec") or {})
        if forbidden:
            self.rejection = ("SysctlForbidden",
                              f'Pod forbidden sysctl: "{forbidden[0]}" not allowlisted')
            self.event("SysctlForbidden", self.rejection[1], True)
            self.publish()
            return False
        for name, value in allowed:
            if not name.startswith("net."):
                continue  # kernel.* would change the host's kernel: the one node here has no IPC namespaces
            proc = await asyncio.create_subprocess_exec(
                IP, "netns", "exec", self.netns, "sysctl", "-q", "-w", f"{name}={value}",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            if proc.returncode != 0:
                log.warning("pod %s/%s: sysctl %s=%s failed: %s", self.namespace, self.name, name, value,
                            err.decode(errors="replace").strip())
        return True

    async def _start_all(self, argvs) -> None:
        """Init containers one after another, each to success; then all containers at once."""
        n = len(self.init_containers)
        for c, argv in zip(self.init_containers, argvs[:n]):
            if not await self._container_loop(c, argv, init=True):
                return
        self.initialized = True
        self.publish()
        for c, argv in zip(self.containers, argvs[n:]):
            self.tasks.append(asyncio.create_task(self._container_loop(c, argv)))

    async def _image_pull_failure(self, containers, argvs) -> None:
        for reason in ("ErrImagePull", "ImagePullBackOff"):
            for c, argv in zip(containers, argvs):
                if argv is None:
                    why = (f'image "{c.image}" is not in the kubesim image map '
                           f'(pull access denied, repository does not exist)')
                    c.set_waiting(reason, why)
                    if reason == "ErrImagePull":
                        self.event("Pulling", f'Pulling image "{c.image}"', container=c.name)
                        self.event("Failed", f'Failed to pull image "{c.image}": {why}', True, c.name)
                    else:
                        self.event("BackOff", f'Back-off pulling image "{c.image}"', True, c.name)
                    self.event("Failed", f"Error: {reason}", True, c.name)
            self.publish()
            if reason == "ErrImagePull":
                await asyncio.sleep(IMAGE_BACKOFF_DELAY)

    async def _run_once(self, c: Container, argv: list[str], init: bool) -> bool:
        """Runs one instance of a container to its end; False if it could not be configured."""
        try:
            env = container_env(self.kubelet.store, self.pod, c.spec, self.pod_ip)
        except EnvError as exc:
            c.set_waiting("CreateContainerConfigError", str(exc))
            self.event("Failed", f"Error: {exc}", True, c.name)
            self.publish()
            return False
        if self.terminating:
            return False
        refusal = security.non_root_error(self.pod, c.spec)
        if refusal:
            c.set_waiting("CreateContainerConfigError", refusal)
            self.event("Failed", f"Error: {refusal}", True, c.name)
            self.publish()
            return False
        self.event("Pulled", f'Container image "{c.image}" already present on machine', container=c.name)
        user = security.user_of(self.pod.get("spec") or {}, c.spec)
        prefix = []
        if user is not None:
            # As the runtime would: the program is readable by the user, and the process runs as it.
            argv = security.stage(argv, self.kubelet.network.cluster_id)
            prefix = security.user_prefix(user, security.no_new_privileges(c.spec))
        try:
            await c.start(argv, self.netns, env, prefix)
        except FileNotFoundError as exc:
            c.exit_code = 128
            c.mark_terminated(str(exc), reason="StartError")
            self.event("Failed", f"Error: failed to start container {c.name}: {exc}", True, c.name)
            return True
        self.event("Created", f"Created container {c.name}", container=c.name)
        self.event("Started", f"Started container {c.name}", container=c.name)
        self.publish()
        probes = []
        readiness = None if init else c.spec.get("readinessProbe")
        liveness = None if init else c.spec.get("livenessProbe")
        if readiness:
            probes.append(asyncio.create_task(self._readiness(c, readiness, env)))
        elif not init:
            c.ready = True
            self.publish()
        if liveness:
            probes.append(asyncio.create_task(self._liveness(c, liveness, env)))
        try:
            await c.pump_until_exit()
        finally:
            for t in probes:
                t.cancel()
        term = c.mark_terminated()
        log.info("pod %s/%s container %s exited %s", self.namespace, self.name, c.name, term["exitCode"])
        return True

    async def _container_loop(self, c: Container, argv: list[str], init: bool = False) -> bool:
        """Runs a container under the pod's restartPolicy; for an init container, True on success."""
        while not self.terminating:
            if not await self._run_once(c, argv, init):
                await asyncio.sleep(1.0)
                continue
            if self.terminating:
                return False
            code = c.exit_code or 0
            if init and code == 0:
                c.done = True
                self.publish()
                return True
            # Init containers are retried under OnFailure and Always alike, as a kubelet does.
            restart = (self.restart_policy != "Never") if init else (
                self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and code != 0))
            if not restart:
                c.done = True
                if init:
                    self.init_failed = True
                self.publish()
                return False
            c.count_restart()
            c.set_waiting("CrashLoopBackOff",
                          f"back-off restarting failed container {c.name} in pod {self.name}")
            self.event("BackOff", f"Back-off restarting failed container {c.name} in pod "
                                  f"{self.name}_{self.namespace}({self.uid})", True, c.name)
            self.publish()
            await asyncio.sleep(backoff_seconds(c.restart_count))
        return False

    async def _liveness(self, c: Container, probe: dict, env: dict) -> None:
        """Kills the container after failureThreshold failed liveness probes in a row."""
        period = float(probe.get("periodSeconds") or 10)
        failure_needed = int(probe.get("failureThreshold") or 3)
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        failures = 0
        while c.running():
            ok = await run_probe(probe, c.spec, self.kubelet.network.node_ns, self.netns, self.pod_ip, env)
            failures = 0 if ok else failures + 1
            if failures >= failure_needed:
                log.info("pod %s/%s container %s failed liveness, killing", self.namespace, self.name, c.name)
                self.event("Unhealthy", "Liveness probe failed", True, c.name)
                self.event("Killing", f"Container {c.name} failed liveness probe, will be restarted",
                           container=c.name)
                c.signal(signal.SIGKILL)
                return
            await asyncio.sleep(period)

    async def _readiness(self, c: Container, probe: dict, env: dict) -> None:
        period = float(probe.get("periodSeconds") or 10)
        success_needed = int(probe.get("successThreshold") or 1)
        failure_needed = int(probe.get("failureThreshold") or 3)
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        successes = failures = 0
        ever_ready = False
        while c.running():
            ok = await run_probe(probe, c.spec, self.kubelet.network.node_ns, self.netns,
                                 self.pod_ip, env)
            if ok:
                successes, failures = successes + 1, 0
                if not c.ready and successes >= success_needed and c.running():
                    c.ready = ever_ready = True
                    self.publish()
            else:
                successes, failures = 0, failures + 1
                if c.ready and failures >= failure_needed:
                    self.event("Unhealthy", "Readiness probe failed", True, c.name)
                    c.ready = False
                    self.publish()
            await asyncio.sleep(period if ever_ready else min(period, FIRST_READY_POLL))

    async def terminate(self, grace: float) -> None:
        """SIGTERM every container, SIGKILL after `grace` seconds, then free the namespace."""
        if self.terminating:
            await self.gone.wait()
            return
        self.terminating = True
        try:
            # A pod deleted while its namespace is being made waits for it, so that it is
            # removed here and the store hears of the deletion only once nothing is left.
            try:
                await asyncio.wait_for(self.setup_done.wait(), 30)
            except asyncio.TimeoutError:
                log.error("pod %s/%s: namespace setup hung", self.namespace, self.name)
            everything = self.init_containers + self.containers
            for c in everything:
                if c.running():
                    self.event("Killing", f"Stopping container {c.name}", container=c.name)
                c.signal(signal.SIGTERM if grace > 0 else signal.SIGKILL)
            waits = [c.proc.wait() for c in everything if c.running()]
            if waits:
                done, pending = await asyncio.wait([asyncio.ensure_future(w) for w in waits],
                                                   timeout=max(grace, 0.01))
                if pending:
                    for c in everything:
                        c.signal(signal.SIGKILL)
                    await asyncio.wait(pending, timeout=5)
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            for c in everything:
                await c.log.close()
            if self.netns:
                await self.kubelet.network.remove_pod(self.netns, self.pod_ip)
        finally:
            self.gone.set()

    def event(self, reason: str, message: str, warning: bool = False, container: str | None = None,
              component: str = "kubelet") -> None:
        # "Scheduled" comes from the API side's event controller, which plays the scheduler.
        self.kubelet.events.record(self.pod, reason, message, warning, container, component)

    # ----- status -----

    def _condition(self, ctype: str, ok: bool, reason: str = "", message: str = "") -> dict:
        status = "True" if ok else "False"
        prev = self.conditions.get(ctype)
        when = prev[1] if prev and prev[0] == status else rfc3339()
        self.conditions[ctype] = (status, when)
        cond = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": when}
        if not ok and reason:
            cond["reason"] = reason
            if message:
                cond["message"] = message
        return cond

    def phase(self) -> str:
        if self.init_failed or self.rejection:
            return "Failed"
        if not self.initialized:
            return "Pending"
        if any(not c.ever_started and not c.done for c in self.containers):
            return "Pending"
        if self.containers and all(c.done for c in self.containers):
            ok = all((c.exit_code or 0) == 0 for c in self.containers)
            return "Succeeded" if ok else "Failed"
        return "Running"

    def build_status(self) -> dict:
        unready = [c.name for c in self.containers if not c.ready]
        all_ready = not unready and bool(self.containers)
        msg = f"containers with unready status: [{' '.join(unready)}]"
        phase = self.phase()
        terminal = phase in ("Succeeded", "Failed")
        status = {
            "phase": phase,
            "conditions": [
                self._condition("PodReadyToStartContainers", self.sandbox_ready),
                self._condition("Initialized", self.initialized, "ContainersNotInitialized",
                                f"containers with incomplete status: "
                                f"[{' '.join(c.name for c in self.init_containers if not c.done)}]"),
                self._condition("Ready", all_ready, "PodCompleted" if terminal else "ContainersNotReady", msg),
                self._condition("ContainersReady", all_ready, "PodCompleted" if terminal else "ContainersNotReady", msg),
                self._condition("PodScheduled", True),
            ],
            "hostIP": GATEWAY,
            "hostIPs": [{"ip": GATEWAY}],
            "startTime": self.start_time,
            "qosClass": "BestEffort",
            "containerStatuses": [c.status() for c in self.containers],
        }
        if self.init_containers:
            status["initContainerStatuses"] = [c.status() for c in self.init_containers]
        if self.pod_ip:
            status["podIP"] = self.pod_ip
            status["podIPs"] = [{"ip": self.pod_ip}]
        if self.rejection:
            status["reason"], status["message"] = self.rejection
        return status

    def publish(self) -> None:
        status = self.build_status()
        netns = self.netns
        uid = self.uid

        def mutate(obj: dict) -> None:
            if uid and obj.get("metadata", {}).get("uid") not in (None, uid):
                return
            obj["status"] = status
            if netns:
                annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
                if annotations is None:
                    obj["metadata"]["annotations"] = annotations = {}
                annotations["kubesim.io/netns"] = netns

        try:
            self.kubelet.store.update_status("pods", self.namespace, self.name, mutate)
        except Exception:
            log.exception("pod %s/%s: status update failed", self.namespace, self.name)
