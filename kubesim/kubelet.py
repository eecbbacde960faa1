"""A simulated kubelet per node: Pending -> ContainerCreating -> Running -> Ready, and termination.

``ContainerRuntime`` is the seam for the data plane (issue 4): it is told when a pod's containers
start and stop; the default one does nothing, so pods have IPs and statuses but no processes.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any, Protocol

from .registry import now


@dataclass(frozen=True)
class Timing:
    """Seconds each simulated phase lasts (environment variables override, e.g. for tests)."""

    start: float = 1.0      # ContainerCreating before Running
    ready: float = 1.0      # Running before a readinessProbe first succeeds (capped delay)
    terminate: float = 1.0  # Terminating before the pod object goes away

    @classmethod
    def from_env(cls) -> Timing:
        def f(name: str, default: float) -> float:
            try:
                return float(os.environ.get(name, default))
            except ValueError:
                return default
        return cls(f("KUBESIM_POD_START_SECONDS", cls.start),
                   f("KUBESIM_POD_READY_SECONDS", cls.ready),
                   f("KUBESIM_POD_TERMINATE_SECONDS", cls.terminate))


class ContainerRuntime(Protocol):
    """What the kubelet tells the data plane. It may also offer ``probe_ready(pod) -> bool``
    (would the readiness probes pass?); without it, probed containers become ready."""

    def started(self, pod: dict[str, Any]) -> None: ...
    def stopped(self, pod: dict[str, Any]) -> None: ...


class NullRuntime:
    def started(self, pod: dict[str, Any]) -> None:
        pass

    def stopped(self, pod: dict[str, Any]) -> None:
        pass


def _cond(kind: str, status: str, ts: str) -> dict[str, Any]:
    return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": ts}


def creating_status(pod: dict[str, Any], host_ip: str) -> dict[str, Any]:
    ts = now()
    st = copy.deepcopy(pod.get("status") or {})
    st.update({
        "phase": "Pending", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "startTime": ts,
        "conditions": [_cond("PodReadyToStartContainers", "False", ts),
                       _cond("Initialized", "True", ts),
                       dict(_cond("Ready", "False", ts), reason="ContainersNotReady",
                            message="containers with unready status: [" + " ".join(
                                c["name"] for c in pod["spec"]["containers"]) + "]"),
                       dict(_cond("ContainersReady", "False", ts), reason="ContainersNotReady",
                            message="containers with unready status: [" + " ".join(
                                c["name"] for c in pod["spec"]["containers"]) + "]"),
                       _cond("PodScheduled", "True", ts)],
        "containerStatuses": [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
            "restartCount": 0, "started": False,
            "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {},
        } for c in pod["spec"]["containers"]],
    })
    return st


KUBELET_CONDITIONS = {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                      "PodScheduled"}


def gates_pass(pod: dict[str, Any]) -> bool:
    """Every spec.readinessGates condition is True in the status (set by some other controller)."""
    conds = {c.get("type"): c.get("status")
             for c in (pod.get("status") or {}).get("conditions") or []}
    return all(conds.get(g.get("conditionType")) == "True"
               for g in (pod.get("spec") or {}).get("readinessGates") or [])


def running_status(pod: dict[str, Any], ip: str, containers_ready: bool) -> dict[str, Any]:
    ts = now()
    st = copy.deepcopy(pod.get("status") or {})
    # what the container runtime (the data plane) recorded: restarts, a terminated process or
    # CrashLoopBackOff stay as they are
    prev = {cs.get("name"): cs for cs in st.get("containerStatuses") or []}
    kept = {n: cs["state"] for n, cs in prev.items() if "terminated" in (cs.get("state") or {})
            or ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"}
    if kept:
        containers_ready = False
    extra = [c for c in st.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    ready = containers_ready and gates_pass(pod)
    started = st.get("containerStatuses") and (st["containerStatuses"][0].get("state") or {}).get(
        "running", {}).get("startedAt") or ts
    ready_s = "True" if ready else "False"
    cready_s = "True" if containers_ready else "False"
    conds = [_cond("PodReadyToStartContainers", "True", ts), _cond("Initialized", "True", ts),
             _cond("Ready", ready_s, ts), _cond("ContainersReady", cready_s, ts),
             _cond("PodScheduled", "True", ts)]
    if not containers_ready:
        msg = "containers with unready status: [" + " ".join(
            c["name"] for c in pod["spec"]["containers"]) + "]"
        for c in conds[2:4]:
            c.update(reason="ContainersNotReady", message=msg)
    elif not ready:
        missing = [g.get("conditionType") for g in pod["spec"].get("readinessGates") or []]
        conds[2].update(reason="ReadinessGatesNotReady",
                        message="corresponding condition of pod readiness gate \"" +
                                "\", \"".join(missing) + "\" does not exist.")
    old = {c["type"]: c for c in st.get("conditions") or []}
    for c in conds:  # keep transition times of unchanged conditions
        o = old.get(c["type"])
        if o and o.get("status") == c["status"]:
            c["lastTransitionTime"] = o.get("lastTransitionTime", ts)
    st.update({
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "conditions": conds + extra,
        "containerStatuses": [{
            "name": c["name"], "image": _image_ref(c.get("image", "")),
            "imageID": f"{_image_ref(c.get('image', ''))}@sha256:" + "0" * 64,
            "containerID": "kubesim://" + pod["metadata"]["uid"].replace("-", "")[:16] + c["name"],
            "ready": containers_ready and c["name"] not in kept,
            "restartCount": (prev.get(c["name"]) or {}).get("restartCount", 0),
            "started": c["name"] not in kept,
            "state": kept.get(c["name"]) or {"running": {"startedAt": (
                ((prev.get(c["name"]) or {}).get("state") or {}).get("running") or {}).get(
                "startedAt") or started}},
            "lastState": (prev.get(c["name"]) or {}).get("lastState") or {},
        } for c in pod["spec"]["containers"]],
    })
    return st


def _image_ref(image: str) -> str:
    name = image
    if "/" not in name.split(":")[0] or "." not in name.split("/")[0]:
        name = "docker.io/" + ("library/" + name if "/" not in name else name)
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        name += ":latest"
    return name


def has_readiness_probe(pod: dict[str, Any]) -> bool:
    return any(c.get("readinessProbe") for c in pod["spec"]["containers"])


def probe_delay(pod: dict[str, Any], timing: Timing) -> float:
    delays = [float((c.get("readinessProbe") or {}).get("initialDelaySeconds", 0))
              for c in pod["spec"]["containers"] if c.get("readinessProbe")]
    return min(max(delays or [0.0]), timing.ready) if delays else 0.0


def terminated_status(pod: dict[str, Any]) -> dict[str, Any]:
    """After a graceful stop: containers exited 0, the pod Succeeded and is no longer ready."""
    ts = now()
    st = copy.deepcopy(pod.get("status") or {})
    for cs in st.get("containerStatuses") or []:
        started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", ts)
        cs.update(ready=False, started=False, state={"terminated": {
            "exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": ts,
            "containerID": cs.get("containerID", "")}})
    for c in st.get("conditions") or []:
        if c.get("type") in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
            if c.get("status") != "False":
                c.update(status="False", lastTransitionTime=ts)
            if c.get("type") != "PodReadyToStartContainers":
                c.update(reason="PodCompleted")
    st["phase"] = "Succeeded"
    return st
