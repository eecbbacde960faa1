"""The kubelets' sync loop: for each pod bound to one of the simulated nodes, converge its
status and containers (through ``ContainerRuntime``) on what its spec asks.

A pod bound to a node that is not one of kubesim's nodes is left alone, as on a cluster where no
kubelet serves that node: it stays Pending with no status.

Why this module is over 500 lines: it is one sync loop (start, image pulls, probes' verdicts,
kills and crash-loop restarts, termination) whose steps share the pod's memory and one status
write per sync; split, each part would need the others' state passed back and forth.
"""

from __future__ import annotations

import copy

from .. import errors
from ..controllers.base import Context, Controller, Obj, key_of, parse_time
from ..nodes import BY_NAME, PodNetwork
from ..registry import R, now
from ..store import Change
from .prober import Prober
from .runtime import ContainerRuntime, NullRuntime
from .status import (
    ImagePull,
    PodMemory,
    Restarts,
    Timing,
    creating_status,
    go_duration,
    image_ref,
    killed_state,
    pod_ref,
    running_status,
    terminated_status,
    waiting_status,
)

PODS, CM, SECRETS = R["pods"], R["configmaps"], R["secrets"]


def _soonest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


class Kubelet(Controller):
    name = "kubelet"
    watches = (PODS, CM, SECRETS)

    def __init__(self, ctx: Context, timing: Timing | None = None,
                 runtime: ContainerRuntime | None = None) -> None:
        super().__init__(ctx)
        self.timing = timing or Timing.from_env()
        self.runtime: ContainerRuntime = runtime or NullRuntime()
        self.runtime.use_recorder(ctx.event)   # Events for restarts the runtime makes
        self.pods: dict[str, PodMemory] = {}   # the kubelet's memory, by pod uid
        self.prober = Prober(self.timing, lambda k: self.store.find(PODS, k[0], k[1]),
                             self.runtime.probe, self._probe_result)
        self.net = PodNetwork(self.store)
        # node -> pod key -> pod IP: the addresses in use, for IPAM
        self.ips: dict[str, dict[tuple[str, str], str]] = {}
        # (namespace, kind, name) of a missing ConfigMap/Secret -> the pods waiting for it
        self.waiting_for: dict[tuple[str, str, str], set[tuple[str, str]]] = {}

    @staticmethod
    def serves(pod: Obj) -> bool:
        """Is the pod bound to one of the simulated nodes (whose kubelet this is)?"""
        return pod["spec"].get("nodeName") in BY_NAME

    def _track(self, p: Obj, deleted: bool) -> None:
        node = p["spec"].get("nodeName")
        if not node:
            return
        if deleted:
            self.ips.get(node, {}).pop(key_of(p), None)
        else:
            self.ips.setdefault(node, {})[key_of(p)] = (p.get("status") or {}).get("podIP", "")

    def resync(self) -> None:
        for p in self.store.iter(PODS):
            self._track(p, False)
            if self.serves(p):
                self.enqueue(key_of(p))

    def on_change(self, ch: Change) -> None:
        o = ch.obj
        if ch.res is not PODS:
            if ch.type == "ADDED":   # the pods waiting for this volume's object, at once
                waiters = self.waiting_for.pop(
                    (o["metadata"].get("namespace", ""), ch.res.kind, o["metadata"]["name"]),
                    set())
                for k in waiters:
                    self.enqueue(k)
            return
        k = key_of(o)
        if ch.old is not None and ch.old["spec"].get("nodeName"):
            self.ips.get(ch.old["spec"]["nodeName"], {}).pop(k, None)
        self._track(o, ch.type == "DELETED")
        if ch.type == "DELETED":
            self.runtime.stopped(o)
            self.prober.stop(o["metadata"].get("uid", ""))
            self.pods.pop(o["metadata"].get("uid", ""), None)
        elif self.serves(o):
            self.enqueue(k)

    def stop(self) -> None:
        self.prober.stop_all()

    def sync(self, key: tuple[str, str]) -> None:
        pod = self.store.find(PODS, key[0], key[1])
        if pod is None or not self.serves(pod):
            return
        node = pod["spec"]["nodeName"]
        spec = BY_NAME.get(node)
        host_ip = spec.internal_ip if spec else "172.18.0.9"
        st = pod.get("status") or {}
        md = pod["metadata"]
        uid = md.get("uid", "")
        if md.get("deletionTimestamp"):
            self.prober.stop(uid)
            grace = md.get("deletionGracePeriodSeconds") or 0
            started = parse_time(md["deletionTimestamp"])
            wait = min(float(grace), self.timing.terminate) - (self.ctx.clock() - started)
            if wait > 0:
                self.later(wait, key)
                return
            if st.get("phase") == "Running":
                # the containers exit: the last status a watcher sees is "0/1 Completed"
                self.reg.update(PODS, key[0], key[1], dict(pod, status=terminated_status(pod)),
                                subresource="status", check_rv=False)
            if md.get("finalizers"):
                return  # the containers are gone; the object waits for its finalizers
            self.runtime.stopped(pod)
            self.pods.pop(uid, None)
            try:
                self.store.delete(PODS, key[0], key[1])
            except errors.APIError:
                pass
            return
        if st.get("phase") in ("Succeeded", "Failed"):
            self.prober.stop(uid)
            return
        mem = self.pods.get(uid)
        if mem is None:
            # after a restart of kubesim: what the status says (containers in a crash loop
            # are restarted when their back-off ends)
            prev = st.get("containerStatuses") or []
            mem = self.pods[uid] = PodMemory(
                ready={cs.get("name", ""): bool(cs.get("ready")) for cs in prev},
                started={cs.get("name", ""): bool(cs.get("started")) for cs in prev},
                dead={cs.get("name", ""): cs["lastState"]["terminated"] for cs in prev
                      if ((cs.get("state") or {}).get("waiting") or {}).get("reason") ==
                      "CrashLoopBackOff" and (cs.get("lastState") or {}).get("terminated")})
        statuses = st.get("containerStatuses")
        if not statuses:
            self.reg.update(PODS, key[0], key[1], dict(pod, status=creating_status(pod, host_ip)),
                            subresource="status", check_rv=False)
            self.later(self.timing.start, key)
            return
        if st.get("phase") == "Pending":
            missing = self._missing_volumes(pod)
            if missing:
                for vol, what in missing:
                    self.ctx.event(pod, "Warning", "FailedMount",
                               f'MountVolume.SetUp failed for volume "{vol}" : {what} not found',
                               "kubelet", node)
                self.later(2.0, key)  # and at once when the object appears
                return
            since = parse_time(st.get("startTime"))
            wait = self.timing.start - (self.ctx.clock() - since)
            if wait > 0:
                self.later(wait, key)
                return
            ip = st.get("podIP")
            if not ip:
                in_use = {ip for ip in self.ips.get(node, {}).values() if ip}
                ip = self.net.allocate(node, in_use)
            waiting, retry = self._pull_images(pod, mem, node)
            if retry is not None:
                self.later(retry, key)
            if waiting and len(waiting) == len(pod["spec"]["containers"]):
                new = dict(pod, status=waiting_status(pod, ip, waiting))
                if new["status"] != st:
                    self.reg.update(PODS, key[0], key[1], new, subresource="status",
                                    check_rv=False)
                return
            # start the containers whose image is there (a probed container is ready after
            # its first passing probe); the pod is Running once every container has started
            ts = now()
            fresh_names = [c["name"] for c in pod["spec"]["containers"]
                           if c["name"] not in waiting and c["name"] not in mem.running]
            for name in fresh_names:
                c = next(c for c in pod["spec"]["containers"] if c["name"] == name)
                mem.ready[name] = not self._probed(pod, c, "readinessProbe")
            shaped = copy.deepcopy(pod)
            prev = {cs.get("name"): cs for cs in st.get("containerStatuses") or []}
            shaped["status"]["containerStatuses"] = [dict(
                prev.get(c["name"]) or {"name": c["name"]},
                state={"waiting": dict(zip(("reason", "message"), waiting[c["name"]],
                                           strict=True))}
                if c["name"] in waiting else (prev.get(c["name"]) or {}).get("state")
                if c["name"] in mem.running else {"running": {"startedAt": ts}},
                imageID="" if c["name"] in waiting else "x")
                for c in pod["spec"]["containers"]]
            status = self._running_status(pod, shaped, ip, mem)
            if waiting:
                status["phase"] = "Pending"   # one or more containers have not started
            if status != st:
                self.reg.update(PODS, key[0], key[1], dict(pod, status=status),
                                subresource="status", check_rv=False)
            for name in fresh_names:
                self.ctx.event(pod, "Normal", "Created", f"Created container: {name}", "kubelet",
                           node, name)
                self.ctx.event(pod, "Normal", "Started", f"Started container {name}", "kubelet",
                           node, name)
            fresh = self.store.get(PODS, key[0], key[1])
            if fresh_names and not mem.running and not waiting:
                self.runtime.started(fresh)       # the whole pod at once
            else:
                for name in fresh_names:          # some now, the rest when their images come
                    self.runtime.start_container(fresh, name)
            mem.running.update(fresh_names)
            self._start_probes(fresh, set(fresh_names))
            return
        if st.get("phase") == "Running":
            self._sync_running(pod, mem, node)

    def _running_status(self, pod: Obj, current: Obj, ip: str, mem: PodMemory) -> Obj:
        """running_status with the probes' verdicts: a container with a startup probe is
        neither started nor ready until it passes; one with a readiness probe is ready when
        the probe says so."""
        ready, starting = {}, set()
        for c in pod["spec"]["containers"]:
            name = c["name"]
            starting |= {name} if self._probed(pod, c, "startupProbe") and not \
                mem.started.get(name) else set()
            ready[name] = name not in starting and (
                mem.ready.get(name, False) if self._probed(pod, c, "readinessProbe") else True)
        st = running_status(current, ip, ready)
        for cs in st.get("containerStatuses") or []:
            if cs.get("name") in starting:
                cs["started"] = False
        return st

    def _probed(self, pod: Obj, c: Obj, attr: str) -> bool:
        # kube-system pods (CoreDNS) stand for components the data plane models itself: their
        # probes are taken as passing
        return bool(c.get(attr)) and pod["metadata"].get("namespace") != "kube-system"

    def _start_probes(self, pod: Obj, names: set[str] | None = None) -> None:
        if pod["metadata"].get("namespace") == "kube-system":
            return
        mem = self.pods.get(pod["metadata"].get("uid", ""))
        starting = {c["name"] for c in pod["spec"]["containers"] if c.get("startupProbe")
                    and not (mem and mem.started.get(c["name"]))}
        self.prober.start(pod, names, starting)

    def _pull_images(self, pod: Obj, mem: PodMemory, node: str,
                     ) -> tuple[dict[str, tuple[str, str]], float | None]:
        """The image manager for a starting pod: the containers still waiting (reason,
        message) and when to look again."""
        waiting: dict[str, tuple[str, str]] = {}
        retry: float | None = None
        for c in pod["spec"]["containers"]:
            why, again = self._pull(pod, c, mem, node)
            if why is not None:
                waiting[c["name"]] = why
            if again is not None:
                retry = _soonest(retry, again)
        return waiting, retry

    def _pull(self, pod: Obj, c: Obj, mem: PodMemory, node: str,
              ) -> tuple[tuple[str, str] | None, float | None]:
        """EnsureImageExists for one container: None when the image is there (Events
        "Pulled", or "Pulling" and "Pulled"), else the waiting (reason, message) - after a
        failed pull ErrImagePull, then ImagePullBackOff until the back-off ends - and when to
        look again."""
        t = self.ctx.clock()
        name, image = c["name"], c.get("image", "")
        pull = mem.pulls.get(name)
        if pull is None or pull.image != image:
            pull = mem.pulls[name] = ImagePull(image)
        if pull.done:
            return None, None
        if pull.reason in ("InvalidImageName", "ErrImageNeverPull"):
            return (pull.reason, pull.error), None   # no retry: the spec must change
        if pull.failures:
            step = self.timing.back_off(pull.failures)
            shown = min(self.timing.backoff / 2, step)  # ErrImagePull until the next sync
            if t < pull.failed_at + shown:
                return ("ErrImagePull", pull.error), pull.failed_at + shown - t
            if t < pull.failed_at + step:
                if not pull.backoff_told:
                    pull.backoff_told = True
                    self.ctx.event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"',
                               "kubelet", node, name)
                    self.ctx.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet",
                               node, name)
                return ("ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: '
                                            f"{pull.error}"), pull.failed_at + step - t
        failure = self.runtime.pull_failure(image)
        policy = c.get("imagePullPolicy", "IfNotPresent")
        if failure is not None and failure.reason == "InvalidImageName":
            pull.reason, pull.error = failure.reason, failure.message
            self.ctx.event(pod, "Warning", "InspectFailed", failure.message, "kubelet", node, name)
            self.ctx.event(pod, "Warning", "Failed", "Error: InvalidImageName", "kubelet", node,
                       name)
            return (pull.reason, pull.error), None
        if policy == "Never" and failure is not None:
            pull.reason = "ErrImageNeverPull"
            pull.error = f'Container image "{image}" is not present with pull policy of Never'
            self.ctx.event(pod, "Warning", "ErrImageNeverPull", pull.error, "kubelet", node, name)
            self.ctx.event(pod, "Warning", "Failed", "Error: ErrImageNeverPull", "kubelet", node,
                       name)
            return (pull.reason, pull.error), None
        if failure is None and policy != "Always":
            pull.done = True
            self.ctx.event(pod, "Normal", "Pulled", f'Container image "{image}" already present on '
                       f"machine and can be accessed by the pod", "kubelet", node, name)
            return None, None
        self.ctx.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', "kubelet", node, name)
        if failure is None:
            pull.done = True
            self._pulled(pod, c, node)
            return None, None
        pull.failures += 1
        pull.failed_at, pull.backoff_told = t, False
        pull.reason, pull.error = failure.reason, failure.message
        self.ctx.event(pod, "Warning", "Failed", f'Failed to pull image "{image}": '
                   f"{failure.message}", "kubelet", node, name)
        self.ctx.event(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", node, name)
        return ("ErrImagePull", failure.message), min(self.timing.backoff / 2,
                                                      self.timing.back_off(pull.failures))

    def _pulled(self, pod: Obj, c: Obj, node: str) -> None:
        image = c.get("image", "")
        secs = go_duration(self.timing.start)
        size = self.runtime.image_size(image)
        self.ctx.event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {secs} '
                   f"({secs} including waiting). Image size: {size} bytes.", "kubelet", node,
                   c["name"])

    def _probe_result(self, key: tuple[str, str], uid: str, name: str, kind: str, ok: bool,
                      output: str) -> None:
        """One probe run (from a prober worker): count it against the thresholds."""
        mem = self.pods.get(uid)
        pod = self.store.find(PODS, key[0], key[1])
        if mem is None or pod is None or pod["metadata"].get("uid") != uid:
            return
        c = next((c for c in pod["spec"]["containers"] if c["name"] == name), None)
        if c is None:
            return
        spec = c.get(f"{kind}Probe") or {}
        counts = mem.counts.setdefault((name, kind), [0, 0])
        if ok:
            counts[0], counts[1] = counts[0] + 1, 0
        else:
            counts[0], counts[1] = 0, counts[1] + 1
            self.ctx.event(pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: "
                       f"{output}", "kubelet", pod["spec"].get("nodeName"), name)
        if kind == "startup":
            if ok:   # started: liveness and readiness probes begin
                mem.started[name] = True
                self.prober.stop(uid, name, "startup")
                self._start_probes(pod, {name})
                self.enqueue(key)
            elif counts[1] >= int(spec.get("failureThreshold") or 3):
                mem.kill[name] = "startup"
                self.prober.stop(uid, name)
                self.enqueue(key)
        elif kind == "readiness":
            was = mem.ready.get(name, False)
            if ok and counts[0] >= int(spec.get("successThreshold") or 1):
                mem.ready[name] = True
            elif not ok and counts[1] >= int(spec.get("failureThreshold") or 3):
                mem.ready[name] = False
            if mem.ready.get(name, False) != was:
                self.enqueue(key)
        elif not ok and counts[1] >= int(spec.get("failureThreshold") or 3):
            mem.kill[name] = "liveness"
            self.prober.stop(uid, name)
            self.enqueue(key)

    def _sync_running(self, pod: Obj, mem: PodMemory, node: str) -> None:
        """Kill containers whose liveness probe failed, restart them (at once, or after the
        crash-loop back-off), and keep the readiness of the rest current. (Containers whose own
        process exits are restarted by the runtime, which records that in the status.)"""
        key = key_of(pod)
        st = pod["status"]
        t, ts = self.ctx.clock(), now()
        status = copy.deepcopy(st)
        by_name = {cs.get("name"): cs for cs in status.get("containerStatuses") or []}
        policy = pod["spec"].get("restartPolicy", "Always")
        grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        wake: float | None = None     # the soonest kill or restart due (one timer per pod)
        for c in pod["spec"]["containers"]:
            name = c["name"]
            cs = by_name.get(name)
            if cs is None:
                continue
            if "running" in (cs.get("state") or {}) and cs.get("image") and \
                    cs["image"] != image_ref(c.get("image", "")):
                mem.kill.setdefault(name, "definition")   # kubectl set image on the pod
                self.prober.stop(pod["metadata"].get("uid", ""), name)
            why = mem.kill.get(name)
            if why and "running" in (cs.get("state") or {}):
                if name not in mem.kill_at:
                    what = "definition changed" if why == "definition" else \
                        f"failed {why} probe"
                    self.ctx.event(pod, "Normal", "Killing", f"Container {name} {what}, will be "
                               f"restarted", "kubelet", node, name)
                    # a server stops on SIGTERM at once; anything else waits out the grace
                    # period (capped) and is SIGKILLed
                    soft = self.runtime.stops_on_sigterm(c)
                    probe = c.get(f"{why}Probe") or {}
                    mem.kill_at[name] = t if soft else t + min(
                        float(probe.get("terminationGracePeriodSeconds") or grace),
                        self.timing.terminate)
                if t < mem.kill_at[name]:
                    wake = _soonest(wake, mem.kill_at[name] - t)
                    continue
                del mem.kill_at[name]
                soft = self.runtime.stops_on_sigterm(c)
                mem.kill.pop(name, None)
                self.runtime.kill_container(pod, name)
                cs.update(state=killed_state(cs, 0 if soft else 137, ts), ready=False,
                          started=False)
                mem.dead[name] = cs["state"]["terminated"]
                mem.ready[name] = mem.started[name] = False
                for kind in ("startup", "readiness", "liveness"):
                    mem.counts.pop((name, kind), None)
            dead = mem.dead.get(name)
            if dead is None:
                continue
            if policy == "Never" or (policy == "OnFailure" and dead.get("exitCode") == 0):
                del mem.dead[name]        # not restarted
                continue
            finished = parse_time(dead.get("finishedAt"))
            rs = mem.restarts.setdefault(name, Restarts())
            if rs.backoff and finished - rs.last > self.timing.backoff * 60:
                rs.backoff = 0.0                 # quiet for 10 minutes: the back-off resets
            if rs.backoff and t - finished < rs.backoff:
                cs.update(lastState={"terminated": dead}, ready=False, started=False, state={
                    "waiting": {"reason": "CrashLoopBackOff",
                                "message": f"back-off {go_duration(rs.backoff)} restarting "
                                           f"failed container={name} pod={pod_ref(pod)}"}})
                if (name, rs.last) not in mem.announced:
                    mem.announced.add((name, rs.last))
                    self.ctx.event(pod, "Warning", "BackOff", f"Back-off restarting failed container "
                               f"{name} in pod {pod_ref(pod)}", "kubelet", node, name)
                wake = _soonest(wake, rs.backoff - (t - finished))
                continue
            if name not in mem.pulling:   # each start ensures the image again
                mem.pulling.add(name)
                pull = mem.pulls.get(name)
                if pull is not None and pull.done:
                    pull.done = False
            waiting, again = self._pull(pod, c, mem, node)
            if waiting is not None:   # e.g. set image to a tag that does not exist
                cs.update(lastState={"terminated": dead}, ready=False, started=False,
                          image=c.get("image", ""), imageID="",
                          state={"waiting": {"reason": waiting[0], "message": waiting[1]}})
                if again is not None:
                    wake = _soonest(wake, again)
                continue
            mem.pulling.discard(name)
            rs.backoff = self.timing.backoff if not rs.backoff else min(
                rs.backoff * 2, self.timing.backoff * 30)
            rs.last = finished
            del mem.dead[name]
            probed = self._probed(pod, c, "readinessProbe")
            cs.update(lastState={"terminated": dead}, restartCount=int(
                cs.get("restartCount") or 0) + 1, state={"running": {"startedAt": ts}},
                started=True, ready=not probed)
            mem.ready[name] = not probed
            self.ctx.event(pod, "Normal", "Created", f"Created container: {name}", "kubelet", node,
                       name)
            self.ctx.event(pod, "Normal", "Started", f"Started container {name}", "kubelet", node,
                       name)
            self.runtime.start_container(pod, name)
        # workers for running containers (again after a restart of kubesim, or of a container)
        self._start_probes(pod, {n for n, cs in by_name.items()
                                 if "running" in (cs.get("state") or {})
                                 and n not in mem.kill})
        if wake is not None:
            self.later(wake, key)
        new = dict(pod, status=self._running_status(pod, dict(pod, status=status),
                                                    st["podIP"], mem))
        ends = [(cs.get("state") or {}).get("terminated")
                for cs in new["status"].get("containerStatuses") or []]
        if policy != "Always" and ends and all(ends) and not any(n in mem.dead for n in by_name):
            # nothing restarts: the pod is done (Never, or OnFailure after exit 0)
            new["status"]["phase"] = "Failed" if any(e.get("exitCode") for e in ends if e) \
                else "Succeeded"
            for cond in new["status"].get("conditions") or []:
                if cond.get("type") in ("Ready", "ContainersReady"):
                    cond.update(reason="PodCompleted")
                    cond.pop("message", None)
            self.prober.stop(pod["metadata"].get("uid", ""))
        if new["status"] != st:
            self.reg.update(PODS, key[0], key[1], new, subresource="status", check_rv=False)

    def _missing_volumes(self, pod: Obj) -> list[tuple[str, str]]:
        """ConfigMap/Secret volumes whose object does not exist (the pod stays
        ContainerCreating, as the kubelet keeps it)."""
        ns = pod["metadata"].get("namespace", "")
        out = []
        for v in pod["spec"].get("volumes") or []:
            for kind, res, key in (("configMap", CM, "name"),
                                   ("secret", SECRETS, "secretName")):
                src = v.get(kind)
                if isinstance(src, dict) and not src.get("optional"):
                    ref = src.get(key, "")
                    if self.store.find(res, ns, ref) is None:
                        self.waiting_for.setdefault((ns, res.kind, ref), set()).add(
                            key_of(pod))
                        label = "configmap" if kind == "configMap" else "secret"
                        out.append((v.get("name", ""), f'{label} "{ref}"'))
        return out
