"""Controllers: scheduler, kubelets, ReplicaSets, Deployments, Endpoints, EndpointSlices,
garbage collection, namespaces, and the Events they record.

Each controller is level-based: a store change puts a key on its queue; the worker reads the
current state and converges. All writes go through ``Registry`` like a client's would.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from . import errors
from .kubelet import (
    ContainerRuntime,
    ImagePull,
    NullRuntime,
    PodMemory,
    Prober,
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
from .nodes import BY_NAME, PodNetwork, tolerated
from .registry import R, Registry, now, now_micro
from .selectors import match_label_selector, match_labels
from .store import Change, Store

log = logging.getLogger("kubesim.controllers")
Obj = dict[str, Any]
PODS, SVC, EP, EPS = R["pods"], R["services"], R["endpoints"], R["endpointslices"]
RS, DEPLOY, NS, NODES, EVENTS = (R["replicasets"], R["deployments"], R["namespaces"], R["nodes"],
                                 R["events"])
SA = R["serviceaccounts"]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _key(o: Obj) -> tuple[str, str]:
    return (o["metadata"].get("namespace", ""), o["metadata"]["name"])


def owner_ref(o: Obj, controller: bool = True) -> Obj:
    return {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"], "controller": controller,
            "blockOwnerDeletion": True}


def controlled_by(o: Obj, owner: Obj) -> bool:
    return any(r.get("uid") == owner["metadata"]["uid"] and r.get("controller")
               for r in o["metadata"].get("ownerReferences") or [])


def pod_ready(p: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (p.get("status") or {}).get("conditions") or [])


def pod_active(p: Obj) -> bool:
    return not p["metadata"].get("deletionTimestamp") and \
        (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def template_hash(template: Obj, collisions: int = 0) -> str:
    """FNV-1a 32 over the template, rendered like rand.SafeEncodeString of its decimal form."""
    import json
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    if collisions:
        for b in str(collisions).encode():
            h ^= b
            h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE[int(d) % len(SAFE)] for d in str(h))


class Queue:
    """A de-duplicating work queue of keys."""

    def __init__(self) -> None:
        self.pending: dict[Any, None] = {}
        self.event = asyncio.Event()

    def add(self, key: Any) -> None:
        self.pending[key] = None
        self.event.set()

    async def drain(self) -> list[Any]:
        await self.event.wait()
        self.event.clear()
        keys = list(self.pending)
        self.pending.clear()
        return keys


class Controllers:
    def __init__(self, store: Store, registry: Registry, timing: Timing | None = None,
                 runtime: ContainerRuntime | None = None) -> None:
        self.store = store
        self.reg = registry
        self.timing = timing or Timing.from_env()
        self.runtime: ContainerRuntime = runtime or NullRuntime()
        self.pods: dict[str, PodMemory] = {}   # the kubelet's memory, by pod uid
        if hasattr(self.runtime, "recorder"):   # Events for restarts the runtime makes
            setattr(self.runtime, "recorder", self.event)  # noqa: B010
        self.prober = Prober(self.timing, lambda k: self.store.find(PODS, k[0], k[1]),
                             getattr(self.runtime, "probe", None), self._probe_result)
        self.net = PodNetwork(store)
        self.queues: dict[str, Queue] = {}
        self.handlers: dict[str, Callable[[Any], None]] = {
            "scheduler": self.schedule, "kubelet": self.kubelet, "replicaset": self.sync_rs,
            "deployment": self.sync_deployment, "endpoints": self.sync_endpoints,
            "gc": self.collect, "namespace": self.sync_namespace,
        }
        from .workloads import Workloads  # StatefulSets, DaemonSets (and pinned scheduling)
        self.workloads = Workloads(self)
        self.handlers.update(self.workloads.handlers())
        self.tasks: list[asyncio.Task[None]] = []
        self.timers: dict[Any, asyncio.TimerHandle] = {}
        self.owners: dict[str, set[tuple[Any, str, str]]] = {}
        self.recent_events: dict[tuple[Any, str, str], str] = {}
        self.unschedulable: set[tuple[str, str]] = set()
        self.root_ca = ""  # PEM published as kube-root-ca.crt in every namespace
        # (namespace, label, value) -> pod names: Services find their pods without a scan
        self.pod_labels: dict[tuple[str, str, str], set[str]] = {}
        # node -> pod key -> (podIP, active): what the scheduler and IPAM need, kept current
        self.on_node: dict[str, dict[tuple[str, str], tuple[str, bool]]] = {}

    # ---- wiring ----
    def start(self) -> None:
        for name in self.handlers:
            self.queues[name] = Queue()
            self.tasks.append(asyncio.create_task(self._worker(name)))
        for res in R.values():
            for o in self.store.iter(res):
                self._index(res, o, None)
        for p in self.store.iter(PODS):
            self._track_pod(p, False)
        self.store.listeners.append(self.on_change)
        # resync everything once: controllers converge state left by a previous run
        for p in self.store.iter(PODS):
            self.queues["scheduler" if not p["spec"].get("nodeName") else "kubelet"].add(_key(p))
        for r in self.store.iter(RS):
            self.queues["replicaset"].add(_key(r))
        for d in self.store.iter(DEPLOY):
            self.queues["deployment"].add(_key(d))
        for s in self.store.iter(SVC):
            self.queues["endpoints"].add(_key(s))
        for n in self.store.iter(NS):
            self.queues["namespace"].add(n["metadata"]["name"])
        self.workloads.resync()
        self.queues["gc"].add("orphans")
        self.tasks.append(asyncio.create_task(self._expire_events()))

    async def _expire_events(self, ttl: float = 3600.0, every: float = 300.0) -> None:
        """Events live an hour, as with the API server's default --event-ttl."""
        while True:
            cutoff = time.time() - ttl
            for e in self.store.iter(EVENTS):
                last = e.get("lastTimestamp") or e["metadata"].get("creationTimestamp")
                if _parse(last) < cutoff:
                    try:
                        self.store.delete(EVENTS, e["metadata"].get("namespace"),
                                          e["metadata"]["name"])
                    except errors.APIError:
                        pass
            await asyncio.sleep(every)

    async def stop(self) -> None:
        self.prober.stop_all()
        for t in self.tasks:
            t.cancel()
        for h in self.timers.values():
            h.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def idle(self) -> bool:
        return all(not q.pending for q in self.queues.values())

    async def _worker(self, name: str) -> None:
        q, fn = self.queues[name], self.handlers[name]
        while True:
            for key in await q.drain():
                try:
                    fn(key)
                except errors.APIError as e:
                    if e.code == 409:  # a stale read: look again soon
                        self.later(0.05, name, key)
                    elif e.code != 404:
                        log.warning("%s %s: %s", name, key, e.message)
                except Exception:  # noqa: BLE001 - a controller must survive one bad object
                    log.exception("%s failed on %s; will retry in 1 second", name, key)
                    self.later(1.0, name, key)
            await asyncio.sleep(0)

    def later(self, delay: float, queue: str, key: Any) -> None:
        tk = (queue, key)
        old = self.timers.pop(tk, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self.timers.pop(tk, None)
            self.queues[queue].add(key)
        self.timers[tk] = asyncio.get_running_loop().call_later(max(delay, 0), fire)

    def _index(self, res: Any, o: Obj, old: Obj | None) -> None:
        ref = (res, o["metadata"].get("namespace", ""), o["metadata"]["name"])
        if old is not None:
            for r in old["metadata"].get("ownerReferences") or []:
                self.owners.get(r.get("uid"), set()).discard(ref)
        for r in o["metadata"].get("ownerReferences") or []:
            self.owners.setdefault(r.get("uid"), set()).add(ref)

    def on_change(self, ch: Change) -> None:
        o, res = ch.obj, ch.res
        if ch.type == "DELETED":
            for r in o["metadata"].get("ownerReferences") or []:
                self.owners.get(r.get("uid"), set()).discard(
                    (res, o["metadata"].get("namespace", ""), o["metadata"]["name"]))
                # an owner deleted in the foreground waits for this: look at it again
                self.queues["gc"].add(("foreground", r.get("kind", ""),
                                       o["metadata"].get("namespace", ""), r.get("name", "")))
            if o["metadata"].get("uid") in self.owners:
                self.queues["gc"].add(o["metadata"]["uid"])
        else:
            self._index(res, o, ch.old)
            if o["metadata"].get("deletionTimestamp") and "foregroundDeletion" in (
                    o["metadata"].get("finalizers") or []):
                self.queues["gc"].add(("foreground", res.kind,
                                       o["metadata"].get("namespace", ""),
                                       o["metadata"]["name"]))
        k = _key(o)
        if res is PODS:
            if ch.old is not None and ch.old["spec"].get("nodeName"):
                self.on_node.get(ch.old["spec"]["nodeName"], {}).pop(k, None)
            self._track_pod(o, ch.type == "DELETED", ch.old)
            if ch.type == "DELETED":
                self.runtime.stopped(o)
                self.prober.stop(o["metadata"].get("uid", ""))
                self.pods.pop(o["metadata"].get("uid", ""), None)
                self.unschedulable.discard(k)
                if o["spec"].get("nodeName"):  # capacity freed: try the waiting pods again
                    for pending in list(self.unschedulable):
                        self.queues["scheduler"].add(pending)
            elif not o["spec"].get("nodeName"):
                self.queues["scheduler"].add(k)
            else:
                self.queues["kubelet"].add(k)
            for ref in o["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet":
                    self.queues["replicaset"].add((k[0], ref["name"]))
            self._services_for_pod(o, ch.old)
            if ch.type == "DELETED":
                self.queues["namespace"].add(k[0])
        elif res is RS:
            self.queues["replicaset"].add(k)
            for ref in o["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "Deployment":
                    self.queues["deployment"].add((k[0], ref["name"]))
        elif res is DEPLOY:
            self.queues["deployment"].add(k)
        elif res is SVC:
            self.queues["endpoints"].add(k)
        elif res is NS:
            self.queues["namespace"].add(o["metadata"]["name"])
        elif res in (R["configmaps"], R["secrets"]) and ch.type == "ADDED":
            for p in self.store.in_namespace(PODS, k[0]):  # pods waiting for a volume
                if p["spec"].get("nodeName") and (p.get("status") or {}).get("phase") == \
                        "Pending":
                    self.queues["kubelet"].add(_key(p))
        elif ch.type == "DELETED" and res.namespaced:
            self.queues["namespace"].add(k[0])
        if res is NS and ch.type == "ADDED":
            self.queues["namespace"].add(o["metadata"]["name"])
        self.workloads.on_change(ch)

    def _track_pod(self, p: Obj, deleted: bool, old: Obj | None = None) -> None:
        ns, name = _key(p)
        if old is not None:
            for k, v in (old["metadata"].get("labels") or {}).items():
                self.pod_labels.get((ns, k, v), set()).discard(name)
        for k, v in (p["metadata"].get("labels") or {}).items():
            if deleted:
                self.pod_labels.get((ns, k, v), set()).discard(name)
            else:
                self.pod_labels.setdefault((ns, k, v), set()).add(name)
        node = p["spec"].get("nodeName")
        if not node:
            return
        k = _key(p)
        if deleted:
            self.on_node.get(node, {}).pop(k, None)
        else:
            self.on_node.setdefault(node, {})[k] = ((p.get("status") or {}).get("podIP", ""),
                                                    pod_active(p))

    def _services_for_pod(self, pod: Obj, old: Obj | None) -> None:
        ns = pod["metadata"].get("namespace", "")
        labels = pod["metadata"].get("labels") or {}
        old_labels = (old or {}).get("metadata", {}).get("labels") or {}
        for s in self.store.in_namespace(SVC, ns):
            sel = (s.get("spec") or {}).get("selector")
            if match_labels(sel, labels) or match_labels(sel, old_labels):
                self.queues["endpoints"].add(_key(s))

    # ---- events ----
    def event(self, obj: Obj, etype: str, reason: str, message: str, component: str,
              host: str | None = None, container: str | None = None) -> None:
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        if self.store.find(NS, None, ns) is None:
            return
        dedup = (md.get("uid"), reason, message)
        seen = self.recent_events.get(dedup)
        e = self.store.find(EVENTS, ns, seen) if seen else None
        if e is not None:
            new = copy.deepcopy(e)
            new["count"] = e.get("count", 1) + 1
            new["lastTimestamp"] = now()
            try:
                self.reg.update(EVENTS, ns, e["metadata"]["name"], new,
                                validation_mode="Ignore", check_rv=False)
            except errors.APIError:
                pass
            return
        ts = now()
        src: Obj = {"component": component}
        if host:
            src["host"] = host
        ev: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{md['name']}.{time.time_ns():x}", "namespace": ns},
            "involvedObject": {"kind": obj["kind"], "namespace": md.get("namespace"),
                               "name": md["name"], "uid": md.get("uid"),
                               "apiVersion": obj["apiVersion"],
                               "resourceVersion": md.get("resourceVersion")},
            "reason": reason, "message": message, "source": src, "type": etype,
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "eventTime": None,
            "reportingComponent": component, "reportingInstance": host or "",
        }
        if not md.get("namespace"):
            del ev["involvedObject"]["namespace"]
        if container:  # the kubelet's container events point at the container
            ev["involvedObject"]["fieldPath"] = f"spec.containers{{{container}}}"
        try:
            self.reg.create(EVENTS, ns, ev, validation_mode="Ignore")
        except errors.APIError as err:
            log.debug("event dropped: %s", err.message)
            return
        if len(self.recent_events) > 5000:
            self.recent_events.clear()
        self.recent_events[dedup] = ev["metadata"]["name"]

    # ---- scheduler ----
    def schedule(self, key: tuple[str, str]) -> None:
        pod = self.store.find(PODS, key[0], key[1])
        if pod is None or pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        counts: dict[str, int] = {
            n["metadata"]["name"]: sum(1 for _, active in self.on_node.get(
                n["metadata"]["name"], {}).values() if active)
            for n in self.store.iter(NODES)}
        tolerations = pod["spec"].get("tolerations") or []
        selector = pod["spec"].get("nodeSelector") or {}
        fits = []
        why: dict[str, int] = {}
        for node in self.store.iter(NODES):
            name = node["metadata"]["name"]
            if node["spec"].get("unschedulable"):
                why["node(s) were unschedulable"] = why.get("node(s) were unschedulable", 0) + 1
                continue
            if not all((node["metadata"].get("labels") or {}).get(k) == v
                       for k, v in selector.items()):
                r = "node(s) didn't match Pod's node affinity/selector"
                why[r] = why.get(r, 0) + 1
                continue
            bad = [t for t in node["spec"].get("taints") or []
                   if t.get("effect") in ("NoSchedule", "NoExecute")
                   and not tolerated(t, tolerations)]
            if bad:
                t = bad[0]
                r = f"node(s) had untolerated taint {{{t.get('key')}: {t.get('value', '')}}}"
                why[r] = why.get(r, 0) + 1
                continue
            cap = int(((node.get("status") or {}).get("allocatable") or {}).get("pods", "110"))
            if counts.get(name, 0) >= cap:
                why["Too many pods"] = why.get("Too many pods", 0) + 1
                continue
            fits.append(name)
        if not fits:
            total = len(counts)
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(why.items()))
            self.event(pod, "Warning", "FailedScheduling",
                       f"0/{total} nodes are available: {reasons}. preemption: 0/{total} nodes "
                       f"are available: {total} Preemption is not helpful for scheduling.",
                       "default-scheduler")
            self.unschedulable.add(key)
            return
        self.unschedulable.discard(key)
        target = min(fits, key=lambda n: (counts[n], n))
        new = copy.deepcopy(pod)
        new["spec"]["nodeName"] = target
        new["status"].setdefault("conditions", [])
        new["status"]["conditions"] = [{"type": "PodScheduled", "status": "True",
                                        "lastProbeTime": None, "lastTransitionTime": now()}]
        self.reg.update(PODS, key[0], key[1], new, check_rv=False, validation_mode="Ignore")
        self.event(pod, "Normal", "Scheduled",
                   f"Successfully assigned {key[0]}/{key[1]} to {target}", "default-scheduler")

    # ---- kubelet ----
    def kubelet(self, key: tuple[str, str]) -> None:
        pod = self.store.find(PODS, key[0], key[1])
        if pod is None or not pod["spec"].get("nodeName"):
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
            started = _parse(md["deletionTimestamp"])
            wait = min(float(grace), self.timing.terminate) - (time.time() - started)
            if wait > 0:
                self.later(wait, "kubelet", key)
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
            self.later(self.timing.start, "kubelet", key)
            return
        if st.get("phase") == "Pending":
            missing = self._missing_volumes(pod)
            if missing:
                for vol, what in missing:
                    self.event(pod, "Warning", "FailedMount",
                               f'MountVolume.SetUp failed for volume "{vol}" : {what} not found',
                               "kubelet", node)
                self.later(2.0, "kubelet", key)  # and at once when the object appears
                return
            since = _parse(st.get("startTime"))
            wait = self.timing.start - (time.time() - since)
            if wait > 0:
                self.later(wait, "kubelet", key)
                return
            ip = st.get("podIP")
            if not ip:
                in_use = {ip for ip, _ in self.on_node.get(node, {}).values() if ip}
                ip = self.net.allocate(node, in_use)
            waiting, retry = self._pull_images(pod, mem, node)
            if retry is not None:
                self.later(retry, "kubelet", key)
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
                self.event(pod, "Normal", "Created", f"Created container: {name}", "kubelet",
                           node, name)
                self.event(pod, "Normal", "Started", f"Started container {name}", "kubelet",
                           node, name)
            fresh = self.store.get(PODS, key[0], key[1])
            if fresh_names and not mem.running and not waiting:
                self.runtime.started(fresh)       # the whole pod at once
            else:
                start = getattr(self.runtime, "start_container", None)
                for name in fresh_names:          # some now, the rest when their images come
                    if start is not None:
                        start(fresh, name)
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
        t = time.time()
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
                    self.event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"',
                               "kubelet", node, name)
                    self.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet",
                               node, name)
                return ("ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: '
                                            f"{pull.error}"), pull.failed_at + step - t
        failure = self._pull_failure(image)
        policy = c.get("imagePullPolicy", "IfNotPresent")
        if failure is not None and failure.reason == "InvalidImageName":
            pull.reason, pull.error = failure.reason, failure.message
            self.event(pod, "Warning", "InspectFailed", failure.message, "kubelet", node, name)
            self.event(pod, "Warning", "Failed", "Error: InvalidImageName", "kubelet", node,
                       name)
            return (pull.reason, pull.error), None
        if policy == "Never" and failure is not None:
            pull.reason = "ErrImageNeverPull"
            pull.error = f'Container image "{image}" is not present with pull policy of Never'
            self.event(pod, "Warning", "ErrImageNeverPull", pull.error, "kubelet", node, name)
            self.event(pod, "Warning", "Failed", "Error: ErrImageNeverPull", "kubelet", node,
                       name)
            return (pull.reason, pull.error), None
        if failure is None and policy != "Always":
            pull.done = True
            self.event(pod, "Normal", "Pulled", f'Container image "{image}" already present on '
                       f"machine and can be accessed by the pod", "kubelet", node, name)
            return None, None
        self.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', "kubelet", node, name)
        if failure is None:
            pull.done = True
            self._pulled(pod, c, node)
            return None, None
        pull.failures += 1
        pull.failed_at, pull.backoff_told = t, False
        pull.reason, pull.error = failure.reason, failure.message
        self.event(pod, "Warning", "Failed", f'Failed to pull image "{image}": '
                   f"{failure.message}", "kubelet", node, name)
        self.event(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", node, name)
        return ("ErrImagePull", failure.message), min(self.timing.backoff / 2,
                                                      self.timing.back_off(pull.failures))

    def _pull_failure(self, image: str) -> Any:
        check = getattr(self.runtime, "pull_failure", None)
        return check(image) if check is not None else None

    def _pulled(self, pod: Obj, c: Obj, node: str) -> None:
        image = c.get("image", "")
        secs = go_duration(self.timing.start)
        size = getattr(self.runtime, "image_size", lambda _: 26214400)(image)
        self.event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {secs} '
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
            self.event(pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: "
                       f"{output}", "kubelet", pod["spec"].get("nodeName"), name)
        if kind == "startup":
            if ok:   # started: liveness and readiness probes begin
                mem.started[name] = True
                self.prober.stop(uid, name, "startup")
                self._start_probes(pod, {name})
                self.queues["kubelet"].add(key)
            elif counts[1] >= int(spec.get("failureThreshold") or 3):
                mem.kill[name] = "startup"
                self.prober.stop(uid, name)
                self.queues["kubelet"].add(key)
        elif kind == "readiness":
            was = mem.ready.get(name, False)
            if ok and counts[0] >= int(spec.get("successThreshold") or 1):
                mem.ready[name] = True
            elif not ok and counts[1] >= int(spec.get("failureThreshold") or 3):
                mem.ready[name] = False
            if mem.ready.get(name, False) != was:
                self.queues["kubelet"].add(key)
        elif not ok and counts[1] >= int(spec.get("failureThreshold") or 3):
            mem.kill[name] = "liveness"
            self.prober.stop(uid, name)
            self.queues["kubelet"].add(key)

    def _sync_running(self, pod: Obj, mem: PodMemory, node: str) -> None:
        """Kill containers whose liveness probe failed, restart them (at once, or after the
        crash-loop back-off), and keep the readiness of the rest current. (Containers whose own
        process exits are restarted by the runtime, which records that in the status.)"""
        key = _key(pod)
        st = pod["status"]
        t, ts = time.time(), now()
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
                    self.event(pod, "Normal", "Killing", f"Container {name} {what}, will be "
                               f"restarted", "kubelet", node, name)
                    # a server stops on SIGTERM at once; anything else waits out the grace
                    # period (capped) and is SIGKILLed
                    soft = getattr(self.runtime, "stops_on_sigterm", lambda _: True)(c)
                    probe = c.get(f"{why}Probe") or {}
                    mem.kill_at[name] = t if soft else t + min(
                        float(probe.get("terminationGracePeriodSeconds") or grace),
                        self.timing.terminate)
                if t < mem.kill_at[name]:
                    wake = _soonest(wake, mem.kill_at[name] - t)
                    continue
                del mem.kill_at[name]
                soft = getattr(self.runtime, "stops_on_sigterm", lambda _: True)(c)
                mem.kill.pop(name, None)
                kill = getattr(self.runtime, "kill_container", None)
                if kill is not None:
                    kill(pod, name)
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
            finished = _parse(dead.get("finishedAt"))
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
                    self.event(pod, "Warning", "BackOff", f"Back-off restarting failed container "
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
            self.event(pod, "Normal", "Created", f"Created container: {name}", "kubelet", node,
                       name)
            self.event(pod, "Normal", "Started", f"Started container {name}", "kubelet", node,
                       name)
            start = getattr(self.runtime, "start_container", None)
            if start is not None:
                start(pod, name)
        # workers for running containers (again after a restart of kubesim, or of a container)
        self._start_probes(pod, {n for n, cs in by_name.items()
                                 if "running" in (cs.get("state") or {})
                                 and n not in mem.kill})
        if wake is not None:
            self.later(wake, "kubelet", key)
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
            for kind, res, key in (("configMap", R["configmaps"], "name"),
                                   ("secret", R["secrets"], "secretName")):
                src = v.get(kind)
                if isinstance(src, dict) and not src.get("optional"):
                    ref = src.get(key, "")
                    if self.store.find(res, ns, ref) is None:
                        label = "configmap" if kind == "configMap" else "secret"
                        out.append((v.get("name", ""), f'{label} "{ref}"'))
        return out

    # ---- ReplicaSet ----
    def sync_rs(self, key: tuple[str, str]) -> None:
        rs = self.store.find(RS, key[0], key[1])
        if rs is None:
            return
        sel = rs["spec"].get("selector")
        pods = [p for p in self.store.in_namespace(PODS, key[0])
                if controlled_by(p, rs) and match_label_selector(sel, p["metadata"].get("labels"))]
        active = [p for p in pods if pod_active(p)]
        want = rs["spec"].get("replicas", 1)
        if rs["metadata"].get("deletionTimestamp"):
            want = 0
        diff = want - len(active)
        if diff > 0:
            for _ in range(min(diff, 500)):
                tmpl = copy.deepcopy(rs["spec"].get("template") or {})
                tmd = tmpl.get("metadata") or {}
                pod: Obj = {"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"generateName": f"{key[1]}-", "namespace": key[0],
                                         "labels": tmd.get("labels") or {},
                                         "ownerReferences": [owner_ref(rs)]},
                            "spec": tmpl.get("spec") or {}}
                if tmd.get("annotations"):
                    pod["metadata"]["annotations"] = tmd["annotations"]
                if tmd.get("finalizers"):
                    pod["metadata"]["finalizers"] = tmd["finalizers"]
                created = self.reg.create(PODS, key[0], pod, validation_mode="Ignore")
                self.event(rs, "Normal", "SuccessfulCreate",
                           f"Created pod: {created['metadata']['name']}", "replicaset-controller")
        elif diff < 0:
            def rank(p: Obj) -> tuple[int, int, str]:
                assigned = 1 if p["spec"].get("nodeName") else 0
                return (assigned, 1 if pod_ready(p) else 0,
                        "~" + p["metadata"].get("creationTimestamp", ""))
            victims = sorted(active, key=rank)[: -diff]
            # newest first among equals
            victims = sorted(active, key=lambda p: (rank(p)[0], rank(p)[1],
                                                    _neg(p["metadata"].get("creationTimestamp",
                                                                           ""))))[:-diff]
            for p in victims:
                self.reg.delete(PODS, key[0], p["metadata"]["name"])
                self.event(rs, "Normal", "SuccessfulDelete",
                           f"Deleted pod: {p['metadata']['name']}", "replicaset-controller")
        ready = sum(1 for p in active if pod_ready(p))
        status = {"replicas": len(active), "fullyLabeledReplicas": len(active),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        status["terminatingReplicas"] = len(pods) - len(active)  # a pointer: 0 is written
        if status != rs.get("status"):
            cur = self.store.get(RS, key[0], key[1])
            self.reg.update(RS, key[0], key[1], dict(cur, status=status), subresource="status",
                            check_rv=False)

    # ---- Deployment ----
    def sync_deployment(self, key: tuple[str, str]) -> None:
        d = self.store.find(DEPLOY, key[0], key[1])
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        spec = d["spec"]
        rss = [r for r in self.store.list(RS, key[0]) if controlled_by(r, d)]
        tmpl = spec.get("template") or {}

        def same_template(r: Obj) -> bool:
            t = copy.deepcopy(r["spec"].get("template") or {})
            (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
            return t == tmpl
        new_rs = next((r for r in rss if same_template(r)), None)
        old = [r for r in rss if r is not new_rs]
        want = spec.get("replicas", 1)
        revision = max([int(r["metadata"].get("annotations", {}).get(REVISION, "0") or 0)
                        for r in rss] + [0])
        if new_rs is None:
            collisions = d.get("status", {}).get("collisionCount", 0)
            h = template_hash(tmpl, collisions)
            t = copy.deepcopy(tmpl)
            t.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
            sel = copy.deepcopy(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})[HASH_LABEL] = h
            initial = want if not old else 0
            rs_spec: Obj = {"replicas": initial, "selector": sel, "template": t}
            if spec.get("minReadySeconds"):  # omitted when 0, as in the API's JSON
                rs_spec["minReadySeconds"] = spec["minReadySeconds"]
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": f"{key[1]}-{h}", "namespace": key[0],
                               "labels": dict(t["metadata"]["labels"]),
                               "annotations": {REVISION: str(revision + 1),
                                               "deployment.kubernetes.io/desired-replicas":
                                                   str(want),
                                               "deployment.kubernetes.io/max-replicas":
                                                   str(want + self._surge(d))},
                               "ownerReferences": [owner_ref(d)]},
                  "spec": rs_spec}
            new_rs = self.reg.create(RS, key[0], rs, validation_mode="Ignore")
            if initial:
                self.event(d, "Normal", "ScalingReplicaSet",
                           f"Scaled up replica set {new_rs['metadata']['name']} from 0 to "
                           f"{initial}", "deployment-controller")
        elif int(new_rs["metadata"].get("annotations", {}).get(REVISION, "0")) < revision:
            r2 = copy.deepcopy(new_rs)
            r2["metadata"].setdefault("annotations", {})[REVISION] = str(revision + 1)
            new_rs = self.reg.update(RS, key[0], new_rs["metadata"]["name"], r2, check_rv=False,
                                     validation_mode="Ignore")
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        old_active = [r for r in old if r["spec"].get("replicas", 0) > 0]
        if strategy == "Recreate":
            for r in old_active:
                self._scale_rs(d, r, 0)
            old_pods = [p for p in self.store.list(PODS, key[0])
                        if any(controlled_by(p, r) for r in old)]
            if not old_pods and new_rs["spec"].get("replicas") != want:
                self._scale_rs(d, new_rs, want)
        else:
            surge, unavail = self._surge(d), self._unavailable(d)
            if not old_active:
                if new_rs["spec"].get("replicas") != want:
                    self._scale_rs(d, new_rs, want)
            else:
                total = sum(r["spec"].get("replicas", 0) for r in rss)
                cur_new = new_rs["spec"].get("replicas", 0)
                if cur_new < want:
                    allowed = want + surge - total
                    if allowed > 0:
                        self._scale_rs(d, new_rs, min(want, cur_new + allowed))
                        new_rs = self.store.get(RS, key[0], new_rs["metadata"]["name"])
                available = sum((r.get("status") or {}).get("availableReplicas", 0)
                                for r in [new_rs] + old_active)
                min_avail = want - unavail
                budget = available - min_avail
                for r in sorted(old_active, key=lambda r: r["metadata"]["creationTimestamp"]):
                    cur = r["spec"].get("replicas", 0)
                    unhealthy = cur - (r.get("status") or {}).get("availableReplicas", 0)
                    cut = min(cur, max(budget, 0) + max(unhealthy, 0))
                    if cut > 0:
                        self._scale_rs(d, r, cur - cut)
                        budget -= max(cut - max(unhealthy, 0), 0)
        self._deployment_status(key)

    def _surge(self, d: Obj) -> int:
        ru = ((d["spec"].get("strategy") or {}).get("rollingUpdate") or {})
        return _resolve(ru.get("maxSurge", "25%"), d["spec"].get("replicas", 1), True)

    def _unavailable(self, d: Obj) -> int:
        ru = ((d["spec"].get("strategy") or {}).get("rollingUpdate") or {})
        u = _resolve(ru.get("maxUnavailable", "25%"), d["spec"].get("replicas", 1), False)
        if u == 0 and self._surge(d) == 0:
            return 1
        return u

    def _scale_rs(self, d: Obj, rs: Obj, n: int) -> None:
        cur = rs["spec"].get("replicas", 0)
        if cur == n:
            return
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = n
        ann = new["metadata"].setdefault("annotations", {})
        ann["deployment.kubernetes.io/desired-replicas"] = str(d["spec"].get("replicas", 1))
        ann["deployment.kubernetes.io/max-replicas"] = str(
            d["spec"].get("replicas", 1) + self._surge(d))
        self.reg.update(RS, rs["metadata"]["namespace"], rs["metadata"]["name"], new,
                        check_rv=False, validation_mode="Ignore")
        verb = "up" if n > cur else "down"
        self.event(d, "Normal", "ScalingReplicaSet",
                   f"Scaled {verb} replica set {rs['metadata']['name']} from {cur} to {n}",
                   "deployment-controller")

    def _deployment_status(self, key: tuple[str, str]) -> None:
        d = self.store.find(DEPLOY, key[0], key[1])
        if d is None:
            return
        rss = [r for r in self.store.list(RS, key[0]) if controlled_by(r, d)]
        tmpl = d["spec"].get("template") or {}
        new_rs = None
        for r in rss:
            t = copy.deepcopy(r["spec"].get("template") or {})
            (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
            if t == tmpl:
                new_rs = r
        want = d["spec"].get("replicas", 1)
        replicas = sum((r.get("status") or {}).get("replicas", 0) for r in rss)
        ready = sum((r.get("status") or {}).get("readyReplicas", 0) for r in rss)
        available = sum((r.get("status") or {}).get("availableReplicas", 0) for r in rss)
        updated = (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0
        old_st = d.get("status") or {}
        ts = now()
        old_conds = {c["type"]: c for c in old_st.get("conditions") or []}

        def cond(kind: str, status: str, reason: str, message: str) -> Obj:
            o = old_conds.get(kind)
            trans = o["lastTransitionTime"] if o and o.get("status") == status else ts
            upd = o["lastUpdateTime"] if o and o.get("reason") == reason and \
                o.get("message") == message else ts
            return {"type": kind, "status": status, "lastUpdateTime": upd,
                    "lastTransitionTime": trans, "reason": reason, "message": message}
        avail_ok = available >= want - self._unavailable(d)
        conds = [cond("Available", "True" if avail_ok else "False",
                      "MinimumReplicasAvailable" if avail_ok else "MinimumReplicasUnavailable",
                      "Deployment has minimum availability." if avail_ok else
                      "Deployment does not have minimum availability.")]
        if new_rs is not None:
            done = updated == want and available == want and replicas == want
            name = new_rs["metadata"]["name"]
            conds.append(cond("Progressing", "True",
                              "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                              f'ReplicaSet "{name}" has successfully progressed.' if done else
                              f'ReplicaSet "{name}" is progressing.'))
        status: Obj = {"observedGeneration": d["metadata"].get("generation", 1),
                       "replicas": replicas, "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": available,
                       "unavailableReplicas": max(want - available, 0), "conditions": conds}
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        # a pointer in the API: written even when 0, as the real controller does
        status["terminatingReplicas"] = sum(
            (r.get("status") or {}).get("terminatingReplicas", 0) for r in rss)
        if old_st.get("collisionCount"):
            status["collisionCount"] = old_st["collisionCount"]
        # the revision annotation goes with the status write (the API server records both
        # under kube-controller-manager's status entry)
        ann = d["metadata"].get("annotations") or {}
        rev = (new_rs["metadata"].get("annotations") or {}).get(REVISION) if new_rs else None
        if status != old_st or (rev and ann.get(REVISION) != rev):
            body = dict(d, status=status)
            if rev:
                body["metadata"] = dict(d["metadata"], annotations=dict(ann, **{REVISION: rev}))
            self.reg.update(DEPLOY, key[0], key[1], body, subresource="status", check_rv=False)

    # ---- Endpoints + EndpointSlices ----
    def sync_endpoints(self, key: tuple[str, str]) -> None:
        ns, name = key
        svc = self.store.find(SVC, ns, name)
        if svc is None:
            ep = self.store.find(EP, ns, name)
            if ep is not None and not (ep["metadata"].get("labels") or {}).get(
                    "kubesim.dev/user-managed"):
                if (ep["metadata"].get("annotations") or {}).get(
                        "endpoints.kubernetes.io/last-change-trigger-time"):
                    self.store.delete(EP, ns, name)
            return
        spec = svc.get("spec") or {}
        sel = spec.get("selector")
        if not sel or spec.get("type") == "ExternalName":
            return
        publish = bool(spec.get("publishNotReadyAddresses"))
        sets = [self.pod_labels.get((ns, k, v), set()) for k, v in sel.items()]
        candidates = min(sets, key=len) if sets else set()
        found = (self.store.find(PODS, ns, n) for n in list(candidates))
        pods = [p for p in found if p is not None
                and match_labels(sel, p["metadata"].get("labels"))
                and (p.get("status") or {}).get("podIP")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                and (publish or not p["metadata"].get("deletionTimestamp"))]
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        slice_groups: dict[tuple[Any, ...], list[Obj]] = {}
        for p in pods:
            ports = []
            for sp in spec.get("ports") or []:
                tp = _target_port(p, sp)
                if tp is None:
                    continue
                ep_port = {"port": tp, "protocol": sp.get("protocol", "TCP")}
                if sp.get("name"):
                    ep_port = {"name": sp["name"], **ep_port}
                if sp.get("appProtocol"):
                    ep_port["appProtocol"] = sp["appProtocol"]
                ports.append(ep_port)
            pk = tuple(tuple(sorted(x.items())) for x in ports)
            slice_groups.setdefault(pk, []).append(p)
            groups.setdefault(pk, {"ports": ports, "ready": [], "notready": []})  # type: ignore
            if spec.get("ports") and not ports:
                continue  # Endpoints skip a pod no service port resolves on; slices keep it
            ready = pod_ready(p) or publish
            addr: Obj = {"ip": p["status"]["podIP"]}
            host = _hostname(p, name)
            if host:
                addr["hostname"] = host
            addr.update({"nodeName": p["spec"].get("nodeName"),
                         "targetRef": {"kind": "Pod", "namespace": ns,
                                       "name": p["metadata"]["name"],
                                       "uid": p["metadata"]["uid"]}})
            groups[pk]["ready" if ready else "notready"].append(addr)
        subsets = []
        for g in groups.values():
            if not g["ready"] and not g["notready"]:
                continue
            ss: Obj = {}
            if g["ready"]:
                ss["addresses"] = sorted(g["ready"], key=lambda a: a["ip"])
            if g["notready"]:
                ss["notReadyAddresses"] = sorted(g["notready"], key=lambda a: a["ip"])
            if g["ports"]:
                ss["ports"] = g["ports"]
            subsets.append(ss)
        subsets.sort(key=lambda s: str(s.get("ports")))
        self._write_endpoints(svc, subsets)
        self._write_slices(svc, slice_groups, groups, publish)

    def _write_endpoints(self, svc: Obj, subsets: list[Obj]) -> None:
        ns, name = _key(svc)
        cur = self.store.find(EP, ns, name)
        labels = dict(svc["metadata"].get("labels") or {})
        labels["endpoints.kubernetes.io/managed-by"] = "endpoint-controller"
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        if cur is not None and cur.get("subsets", []) == subsets and \
                cur["metadata"].get("labels") == labels:
            return
        ep: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": name, "namespace": ns, "labels": labels,
                                "annotations": {
                                    "endpoints.kubernetes.io/last-change-trigger-time":
                                        now()}}}
        if subsets:
            ep["subsets"] = subsets
        if cur is None:
            self.reg.create(EP, ns, ep, validation_mode="Ignore")
        else:
            ep["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            self.reg.update(EP, ns, name, ep, validation_mode="Ignore", check_rv=False)

    def _write_slices(self, svc: Obj, slice_groups: dict[tuple[Any, ...], list[Obj]],
                      groups: dict[tuple[Any, ...], Any], publish: bool) -> None:
        ns, name = _key(svc)
        existing = sorted((s for s in self.store.in_namespace(EPS, ns)
                           if (s["metadata"].get("labels") or {}).get(
                               "kubernetes.io/service-name") == name and controlled_by(s, svc)),
                          key=lambda s: s["metadata"]["name"])
        desired = []
        for pk, pods in slice_groups.items():
            eps = []
            for p in sorted(pods, key=lambda p: p["status"]["podIP"]):
                serving = pod_ready(p)
                terminating = bool(p["metadata"].get("deletionTimestamp"))
                ep: Obj = {"addresses": [p["status"]["podIP"]],
                           "conditions": {"ready": publish or (serving and not terminating),
                                          "serving": serving, "terminating": terminating}}
                host = _hostname(p, name)
                if host:
                    ep["hostname"] = host
                eps.append(dict(ep, **{"nodeName": p["spec"].get("nodeName"),
                                       "targetRef": {"kind": "Pod", "namespace": ns,
                                                     "name": p["metadata"]["name"],
                                                     "uid": p["metadata"]["uid"]}}))
            desired.append((groups[pk]["ports"], eps))
        if not desired:
            ports = []
            for sp in (svc.get("spec") or {}).get("ports") or []:
                if isinstance(sp.get("targetPort"), int):
                    ports.append({k: v for k, v in (("name", sp.get("name", "")),
                                                    ("port", sp["targetPort"]),
                                                    ("protocol", sp.get("protocol", "TCP")))})
            desired = [(ports, [])]
        labels = dict(svc["metadata"].get("labels") or {})
        labels.update({"kubernetes.io/service-name": name,
                       "endpointslice.kubernetes.io/managed-by":
                           "endpointslice-controller.k8s.io"})
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        for i, (ports, eps) in enumerate(desired):
            ports = [dict(p, name=p.get("name", "")) for p in ports]
            body: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                         "metadata": {"namespace": ns, "labels": labels,
                                      "ownerReferences": [owner_ref(svc)],
                                      "generateName": f"{name}-",
                                      "annotations": {
                                          "endpoints.kubernetes.io/last-change-trigger-time":
                                              now()}},
                         "addressType": "IPv4", "endpoints": eps, "ports": ports}
            if i < len(existing):
                cur = existing[i]
                if cur.get("endpoints") == eps and cur.get("ports") == ports and \
                        cur["metadata"].get("labels") == labels:
                    continue
                body["metadata"]["name"] = cur["metadata"]["name"]
                self.reg.update(EPS, ns, cur["metadata"]["name"], body, check_rv=False,
                                validation_mode="Ignore")
            else:
                self.reg.create(EPS, ns, body, validation_mode="Ignore")
        for extra in existing[len(desired):]:
            self.store.delete(EPS, ns, extra["metadata"]["name"])

    # ---- garbage collector ----
    def collect(self, uid: Any) -> None:
        if isinstance(uid, tuple):
            self._foreground(*uid[1:])
            return
        if uid == "orphans":
            live = {o["metadata"]["uid"] for res in R.values() for o in self.store.iter(res)}
            for owner in list(self.owners):
                if owner not in live:
                    self.collect(owner)
            return
        for res, ns, name in list(self.owners.get(uid, ())):
            o = self.store.find(res, ns, name)
            if o is None:
                continue
            refs = o["metadata"].get("ownerReferences") or []
            alive = [r for r in refs if r.get("uid") != uid and self._exists(r, ns)]
            if alive:
                continue
            if o["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.reg.delete(res, ns, name)
            except errors.APIError:
                pass
        self.owners.pop(uid, None)

    def _foreground(self, kind: str, ns: str, name: str) -> None:
        """propagationPolicy=Foreground: delete the dependents, then drop the finalizer."""
        res = next((r for r in R.values() if r.kind == kind), None)
        owner = self.store.find(res, ns if res.namespaced else None, name) if res else None
        if owner is None or res is None:
            return
        md = owner["metadata"]
        if not md.get("deletionTimestamp") or "foregroundDeletion" not in (
                md.get("finalizers") or []):
            return
        deps = [(r, n, nm) for r, n, nm in self.owners.get(md["uid"], set())
                if self.store.find(r, n, nm) is not None]
        for r, n, nm in deps:
            dep = self.store.find(r, n, nm)
            if dep is not None and not dep["metadata"].get("deletionTimestamp"):
                try:
                    self.reg.delete(r, n, nm, propagation="Foreground")
                except errors.APIError:
                    pass
        if deps:
            return
        new = copy.deepcopy(owner)
        new["metadata"]["finalizers"] = [f for f in md.get("finalizers") or []
                                         if f != "foregroundDeletion"]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        self.reg.update(res, ns if res.namespaced else None, name, new, check_rv=False,
                        validation_mode="Ignore")

    def _exists(self, ref: Obj, ns: str) -> bool:
        kind = ref.get("kind")
        for res in R.values():
            if res.kind == kind:
                o = self.store.find(res, ns, ref.get("name", ""))
                return o is not None and o["metadata"].get("uid") == ref.get("uid")
        return False

    # ---- namespaces ----
    def sync_namespace(self, name: str) -> None:
        nso = self.store.find(NS, None, name)
        if nso is None:
            return
        if not nso["metadata"].get("deletionTimestamp"):
            if self.store.find(SA, name, "default") is None:
                try:
                    self.reg.create(SA, name, {"metadata": {"name": "default"}},
                                    validation_mode="Ignore")
                except errors.APIError:
                    pass
            if self.store.find(R["configmaps"], name, "kube-root-ca.crt") is None:
                try:
                    self.reg.create(R["configmaps"], name, {
                        "metadata": {"name": "kube-root-ca.crt", "annotations": {
                            "kubernetes.io/description": "Contains a CA bundle that can be used "
                            "to verify the kube-apiserver when using internal endpoints such as "
                            "the internal service IP or kubernetes.default.svc. No other usage is "
                            "guaranteed across distributions of Kubernetes clusters."}},
                        "data": {"ca.crt": self.root_ca}}, validation_mode="Ignore")
                except errors.APIError:
                    pass
            return
        left = 0
        for res in R.values():
            if not res.namespaced:
                continue
            for o in self.store.list(res, name):
                left += 1
                if o["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.reg.delete(res, name, o["metadata"]["name"])
                except errors.APIError:
                    pass
        remaining = sum(len(self.store.list(res, name)) for res in R.values() if res.namespaced)
        if remaining == 0:
            self.store.delete(NS, None, name)
        elif left:
            self.later(0.2, "namespace", name)


def _hostname(pod: Obj, service: str) -> str | None:
    """A pod's DNS hostname under a Service: spec.hostname, when spec.subdomain names it."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == service:
        return str(spec["hostname"])
    return None


def _target_port(pod: Obj, sp: Obj) -> int | None:
    tp = sp.get("targetPort", sp.get("port"))
    if isinstance(tp, int):
        return tp
    if isinstance(tp, str) and tp.isdigit():
        return int(tp)
    proto = sp.get("protocol", "TCP")
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp and p.get("protocol", "TCP") == proto:
                return p.get("containerPort")
    return None


def _soonest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _resolve(v: Any, total: int, round_up: bool) -> int:
    if isinstance(v, int):
        return v
    s = str(v)
    if s.endswith("%"):
        x = int(s[:-1]) * total / 100
        return math.ceil(x) if round_up else math.floor(x)
    return int(s)


def _parse(ts: str | None) -> float:
    if not ts:
        return time.time()
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def _neg(ts: str) -> str:
    return "".join(chr(0x7F - ord(c)) for c in ts)


__all__ = ["Controllers", "Timing", "now_micro"]
