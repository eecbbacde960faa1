"""Wait on watches with deadlines, never fixed sleeps.

:func:`wait_for` lists a collection, then watches it from the list's resourceVersion, keeping
every object's latest state, until a condition over the collection holds or the deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .errors import WaitTimeout
from .kube import Kube, StatusError
from .progress import Progress

Objects = dict[str, dict[str, Any]]


def wait_for(kube: Kube, path: str, done: Callable[[Objects], bool], *, what: str,
             timeout: float = 120, state: Callable[[Objects], str] = lambda objs: "",
             progress: Progress | None = None, **query: Any) -> Objects:
    """Watch ``path`` (a list URL, with label/field selectors in ``query``) until ``done``."""
    deadline = time.monotonic() + timeout
    listed = kube.request("GET", path, query=query or None)
    objs: Objects = {o["metadata"]["name"]: o for o in listed.get("items") or []}
    version = listed.get("metadata", {}).get("resourceVersion")
    while True:
        if progress:
            progress.update(state(objs))
        if done(objs):
            return objs
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}",
                              details=[f"last seen: {state(objs) or 'nothing'}"],
                              fix="look at the events: kubectl get events -n <namespace> "
                                  "--sort-by=.lastTimestamp, and kubectl describe the object")
        try:
            for event in kube.watch(path, version, timeout=left, **query):
                kind, obj = event["type"], event["object"]
                if kind == "BOOKMARK":
                    version = obj["metadata"].get("resourceVersion", version)
                    continue
                version = obj["metadata"].get("resourceVersion", version)
                if kind == "DELETED":
                    objs.pop(obj["metadata"]["name"], None)
                else:
                    objs[obj["metadata"]["name"]] = obj
                if progress:
                    progress.update(state(objs))
                if done(objs):
                    return objs
        except StatusError as e:
            if e.code != 410:  # 410 Gone: the version expired; list again
                raise
            listed = kube.request("GET", path, query=query or None)
            objs = {o["metadata"]["name"]: o for o in listed.get("items") or []}
            version = listed.get("metadata", {}).get("resourceVersion")


# -- conditions -----------------------------------------------------------------------------------
def rollout_state(objs: Objects) -> str:
    return "; ".join(
        f"{name}: {d.get('status', {}).get('readyReplicas', 0) or 0}/"
        f"{d.get('spec', {}).get('replicas', 1)} ready" for name, d in objs.items()) or "not found"


def rolled_out(objs: Objects) -> bool:
    if not objs:
        return False
    for d in objs.values():
        want = d.get("spec", {}).get("replicas", 1)
        st = d.get("status", {})
        if (st.get("observedGeneration", 0) < d["metadata"].get("generation", 0)
                or st.get("updatedReplicas", 0) != want or st.get("readyReplicas", 0) != want
                or st.get("replicas", 0) != want):
            return False
    return True


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions") or [])


def pods_state(objs: Objects) -> str:
    return "; ".join(f"{n}: {p.get('status', {}).get('phase', '?')}"
                     f"{' ready' if pod_ready(p) else ''}" for n, p in objs.items()) or "not found"


def ready_endpoints(slices: Objects) -> list[str]:
    """Addresses of ready endpoints across a Service's EndpointSlices."""
    return [addr for s in slices.values() for ep in s.get("endpoints") or []
            if (ep.get("conditions") or {}).get("ready", True) for addr in ep.get("addresses", [])]


# -- the waits the labs use ---------------------------------------------------------------------------
def wait_rollout(kube: Kube, namespace: str, name: str, timeout: float = 180,
                 kind: str = "deployment") -> dict[str, Any]:
    """Wait until the Deployment (or ``kind="statefulset"``) has all its pods updated and ready."""
    with Progress(f"Rollout of {kind}/{name}") as p:
        objs = wait_for(kube, f"/apis/apps/v1/namespaces/{namespace}/{kind}s", rolled_out,
                        what=f"{kind}/{name} in {namespace} to roll out", timeout=timeout,
                        state=rollout_state, progress=p, fieldSelector=f"metadata.name={name}")
    return objs[name]


def wait_pod_ready(kube: Kube, namespace: str, name: str, timeout: float = 120) -> dict[str, Any]:
    with Progress(f"Pod {name} ready") as p:
        objs = wait_for(kube, f"/api/v1/namespaces/{namespace}/pods",
                        lambda o: name in o and pod_ready(o[name]),
                        what=f"pod/{name} in {namespace} to be ready", timeout=timeout,
                        state=pods_state, progress=p, fieldSelector=f"metadata.name={name}")
    return objs[name]


def wait_endpoints(kube: Kube, namespace: str, service: str, count: int = 1,
                   timeout: float = 60) -> list[str]:
    """Wait until the Service has at least ``count`` ready endpoints; return their addresses."""
    with Progress(f"Endpoints of service/{service}") as p:
        objs = wait_for(kube, f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                        lambda o: len(ready_endpoints(o)) >= count,
                        what=f"{count} ready endpoint(s) of service/{service} in {namespace}",
                        timeout=timeout, progress=p,
                        state=lambda o: f"{len(ready_endpoints(o))} ready",
                        labelSelector=f"kubernetes.io/service-name={service}")
    return ready_endpoints(objs)


def wait_gone(kube: Kube, path: str, name: str, timeout: float = 120) -> None:
    """Wait until the object ``name`` in the list ``path`` no longer exists."""
    with Progress(f"Deleting {name}") as p:
        wait_for(kube, path, lambda o: name not in o, what=f"{name} to be deleted",
                 timeout=timeout, progress=p, state=lambda o: "terminating" if o else "gone",
                 fieldSelector=f"metadata.name={name}")
