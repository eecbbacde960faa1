"""The kubelet's timing, its memory of each pod, and the pod statuses it writes
(ContainerCreating, Running and Ready, image-pull waiting, terminated)."""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from ..registry import now

log = logging.getLogger("kubesim.kubelet")


@dataclass(frozen=True)
class Timing:
    """Seconds each simulated phase lasts (environment variables override, e.g. for tests)."""

    start: float = 1.0      # ContainerCreating before Running
    ready: float = 1.0      # cap on a probe's initialDelaySeconds
    terminate: float = 1.0  # Terminating before the pod object goes away
    probe: float = 2.0      # cap on a probe's periodSeconds
    backoff: float = 10.0   # first back-off of image pulls and container restarts (doubles, x30 cap)

    @classmethod
    def from_env(cls) -> Timing:
        def f(name: str, default: float) -> float:
            try:
                return float(os.environ.get(name, default))
            except ValueError:
                return default
        return cls(f("KUBESIM_POD_START_SECONDS", cls.start),
                   f("KUBESIM_POD_READY_SECONDS", cls.ready),
                   f("KUBESIM_POD_TERMINATE_SECONDS", cls.terminate),
                   f("KUBESIM_PROBE_PERIOD_SECONDS", cls.probe),
                   f("KUBESIM_BACKOFF_SECONDS", cls.backoff))

    def back_off(self, n: int) -> float:
        """The n-th back-off (n >= 1): 10 s, 20 s, 40 s ... capped at 5 minutes, in scale."""
        return min(self.backoff * 2 ** max(n - 1, 0), self.backoff * 30)

    def delay(self, probe: dict[str, Any]) -> float:
        return min(float(probe.get("initialDelaySeconds") or 0), self.ready)

    def period(self, probe: dict[str, Any]) -> float:
        return max(min(float(probe.get("periodSeconds") or 10), self.probe), 0.01)


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
    old = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
    for c in st["conditions"]:  # keep transition times (the binding's PodScheduled) unchanged
        o = old.get(c["type"])
        if o and o.get("status") == c["status"]:
            c["lastTransitionTime"] = o.get("lastTransitionTime", ts)
    return st


KUBELET_CONDITIONS = {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                      "PodScheduled"}


def gates_pass(pod: dict[str, Any]) -> bool:
    """Every spec.readinessGates condition is True in the status (set by some other controller)."""
    conds = {c.get("type"): c.get("status")
             for c in (pod.get("status") or {}).get("conditions") or []}
    return all(conds.get(g.get("conditionType")) == "True"
               for g in (pod.get("spec") or {}).get("readinessGates") or [])


def running_status(pod: dict[str, Any], ip: str,
                   ready_map: bool | dict[str, bool]) -> dict[str, Any]:
    """The Running pod's status; ``ready_map`` is each container's readiness (or one value for
    all). Restart counts, last states, a terminated container and CrashLoopBackOff (recorded by
    the kubelet's restarts or the runtime) stay as they are."""
    ts = now()
    st = copy.deepcopy(pod.get("status") or {})
    prev = {cs.get("name"): cs for cs in st.get("containerStatuses") or []}
    kept = {n: cs["state"] for n, cs in prev.items() if "terminated" in (cs.get("state") or {})
            or ((cs.get("state") or {}).get("waiting") or {}).get("reason") not in (
                None, "ContainerCreating")}
    names = [c["name"] for c in pod["spec"]["containers"]]
    ready_of = {n: (ready_map if isinstance(ready_map, bool) else ready_map.get(n, False))
                and n not in kept for n in names}
    containers_ready = all(ready_of.values())
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
            n for n in names if not ready_of[n]) + "]"
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
            "name": c["name"], "image": image_ref(c.get("image", "")),
            "imageID": f"{image_ref(c.get('image', ''))}@sha256:" + "0" * 64,
            **({"image": c.get("image", ""), "imageID": ""} if "waiting" in kept.get(
                c["name"], {}) and (prev.get(c["name"]) or {}).get("imageID") == "" else {}),
            "containerID": "kubesim://" + pod["metadata"]["uid"].replace("-", "")[:16] + c["name"],
            "ready": ready_of[c["name"]],
            "restartCount": (prev.get(c["name"]) or {}).get("restartCount", 0),
            "started": c["name"] not in kept,
            "state": kept.get(c["name"]) or {"running": {"startedAt": (
                ((prev.get(c["name"]) or {}).get("state") or {}).get("running") or {}).get(
                "startedAt") or started}},
            "lastState": (prev.get(c["name"]) or {}).get("lastState") or {},
        } for c in pod["spec"]["containers"]],
    })
    return st


def image_ref(image: str) -> str:
    name = image
    if "/" not in name.split(":")[0] or "." not in name.split("/")[0]:
        name = "docker.io/" + ("library/" + name if "/" not in name else name)
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        name += ":latest"
    return name


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


def waiting_status(pod: dict[str, Any], ip: str,
                   waiting: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Pending with the sandbox up (pod IP, PodReadyToStartContainers) while images are being
    pulled or backed off: ``waiting`` maps container names to (reason, message)."""
    ts = now()
    st = copy.deepcopy(pod.get("status") or {})
    prev = {cs.get("name"): cs for cs in st.get("containerStatuses") or []}
    names = [c["name"] for c in pod["spec"]["containers"]]
    msg = "containers with unready status: [" + " ".join(names) + "]"
    conds = [_cond("PodReadyToStartContainers", "True", ts), _cond("Initialized", "True", ts),
             dict(_cond("Ready", "False", ts), reason="ContainersNotReady", message=msg),
             dict(_cond("ContainersReady", "False", ts), reason="ContainersNotReady",
                  message=msg),
             _cond("PodScheduled", "True", ts)]
    old = {c["type"]: c for c in st.get("conditions") or []}
    for c in conds:
        o = old.get(c["type"])
        if o and o.get("status") == c["status"]:
            c["lastTransitionTime"] = o.get("lastTransitionTime", ts)
    extra = [c for c in st.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    statuses = []
    for c in pod["spec"]["containers"]:
        reason, message = waiting.get(c["name"], ("ContainerCreating", ""))
        w = {"reason": reason}
        if message:
            w["message"] = message
        statuses.append({
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
            "restartCount": (prev.get(c["name"]) or {}).get("restartCount", 0), "started": False,
            "state": {"waiting": w}, "lastState": (prev.get(c["name"]) or {}).get("lastState")
            or {}})
    st.update({"phase": "Pending", "podIP": ip, "podIPs": [{"ip": ip}],
               "conditions": conds + extra, "containerStatuses": statuses})
    return st


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it: 200ms, 10s, 1m20s, 5m0s."""
    ms = int(round(seconds * 1000))
    if ms < 1000:
        return f"{ms}ms"
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{secs}s"


def pod_ref(pod: dict[str, Any]) -> str:
    """format.Pod: name_namespace(uid), as the kubelet's messages name a pod."""
    md = pod["metadata"]
    return f"{md['name']}_{md.get('namespace', '')}({md.get('uid', '')})"


@dataclass
class ImagePull:
    """One container's image as the kubelet's image manager tracks it."""

    image: str
    done: bool = False
    failures: int = 0          # back-off steps taken
    failed_at: float = 0.0
    reason: str = ""           # ErrImagePull, InvalidImageName, ErrImageNeverPull
    error: str = ""
    backoff_told: bool = False


@dataclass
class Restarts:
    """The kubelet's crash-loop back-off for one container (flowcontrol.Backoff: the delay
    doubles on each restart after a quick death, and resets after 10 minutes of quiet)."""

    backoff: float = 0.0       # 0: no entry yet
    last: float = 0.0


@dataclass
class PodMemory:
    """What the kubelet keeps in memory about a pod (lost on restart, as a real kubelet's)."""

    pulls: dict[str, ImagePull] = field(default_factory=dict)
    restarts: dict[str, Restarts] = field(default_factory=dict)
    ready: dict[str, bool] = field(default_factory=dict)       # readiness probe results
    started: dict[str, bool] = field(default_factory=dict)     # startup probe passed
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # [ok, failed] runs
    kill: dict[str, str] = field(default_factory=dict)         # container -> which probe failed
    kill_at: dict[str, float] = field(default_factory=dict)    # when the kill completes
    dead: dict[str, dict[str, Any]] = field(default_factory=dict)  # killed, to restart
    announced: set[tuple[str, float]] = field(default_factory=set)  # back-offs told (Events)
    pulling: set[str] = field(default_factory=set)             # restarts ensuring their image
    running: set[str] = field(default_factory=set)             # containers started once


def killed_state(cs: dict[str, Any], code: int, ts: str) -> dict[str, Any]:
    """The terminated state of a container the kubelet stopped (exit 0 after SIGTERM, or 137
    when the grace period ended in SIGKILL)."""
    started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", ts)
    return {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                           "startedAt": started, "finishedAt": ts,
                           "containerID": cs.get("containerID", "")}}

