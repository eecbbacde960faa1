"""The scheduler: binds each pending pod to a node that fits it (unschedulable, nodeSelector and
required node affinity, taints, the node's pod capacity), the least loaded first; a pod pinned by
a required ``metadata.name`` node affinity (DaemonSet pods) goes to that node or nowhere. A pod
that fits nowhere gets a FailedScheduling Event and is tried again when a pod leaves a node."""

from __future__ import annotations

import copy

from ..nodes import node_affinity_matches, pinned_node, untolerated
from ..registry import R, now
from ..store import Change
from .base import Context, Controller, Obj, failed_scheduling, key_of, pod_active

PODS, NODES = R["pods"], R["nodes"]
AFFINITY = "node(s) didn't match Pod's node affinity/selector"


class Scheduler(Controller):
    name = "scheduler"
    watches = (PODS,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.unschedulable: set[tuple[str, str]] = set()
        # node -> the active pods bound there (what each node's capacity is counted against)
        self.on_node: dict[str, set[tuple[str, str]]] = {}

    def _track(self, p: Obj, deleted: bool) -> None:
        node = p["spec"].get("nodeName")
        if not node:
            return
        if deleted or not pod_active(p):
            self.on_node.get(node, set()).discard(key_of(p))
        else:
            self.on_node.setdefault(node, set()).add(key_of(p))

    def resync(self) -> None:
        for p in self.store.iter(PODS):
            self._track(p, False)
            if not p["spec"].get("nodeName"):
                self.enqueue(key_of(p))

    def on_change(self, ch: Change) -> None:
        o, k = ch.obj, key_of(ch.obj)
        if ch.old is not None and ch.old["spec"].get("nodeName"):
            self.on_node.get(ch.old["spec"]["nodeName"], set()).discard(k)
        self._track(o, ch.type == "DELETED")
        if ch.type == "DELETED":
            self.unschedulable.discard(k)
            if o["spec"].get("nodeName"):  # capacity freed: try the waiting pods again
                for pending in list(self.unschedulable):
                    self.enqueue(pending)
        elif not o["spec"].get("nodeName"):
            self.enqueue(k)

    def sync(self, key: tuple[str, str]) -> None:
        pod = self.store.find(PODS, key[0], key[1])
        if pod is None or pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        pinned = pinned_node(pod)
        if pinned is not None:
            self._schedule_pinned(pod, key, pinned)
            return
        nodes = list(self.store.iter(NODES))
        counts = {n["metadata"]["name"]: len(self.on_node.get(n["metadata"]["name"], ()))
                  for n in nodes}
        tolerations = pod["spec"].get("tolerations") or []
        selector = pod["spec"].get("nodeSelector") or {}
        fits = []
        why: dict[str, int] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            reason = ""
            if node["spec"].get("unschedulable"):
                reason = "node(s) were unschedulable"
            elif not all((node["metadata"].get("labels") or {}).get(k) == v
                         for k, v in selector.items()):
                reason = AFFINITY
            elif (t := untolerated(node, tolerations)) is not None:
                reason = f"node(s) had untolerated taint {{{t.get('key')}: {t.get('value', '')}}}"
            elif counts.get(name, 0) >= int(((node.get("status") or {}).get("allocatable")
                                             or {}).get("pods", "110")):
                reason = "Too many pods"
            if reason:
                why[reason] = why.get(reason, 0) + 1
            else:
                fits.append(name)
        if not fits:
            self._failed(pod, key, len(counts),
                         ", ".join(f"{n} {r}" for r, n in sorted(why.items())))
            return
        self._bind(pod, key, min(fits, key=lambda n: (counts[n], n)))

    def _schedule_pinned(self, pod: Obj, key: tuple[str, str], node_name: str) -> None:
        nodes = list(self.store.iter(NODES))
        node = next((n for n in nodes if n["metadata"]["name"] == node_name), None)
        reason = ""
        if node is None or not node_affinity_matches(pod["spec"], node):
            reason = AFFINITY
        elif (t := untolerated(node, pod["spec"].get("tolerations") or [])) is not None:
            reason = f"node(s) had untolerated taint {{{t.get('key')}: {t.get('value', '')}}}"
        if reason:
            total = len(nodes)
            others = total - 1 if node is not None else total
            parts = sorted([f"1 {reason}"] * (node is not None) +
                           [f"{others} {AFFINITY}"] * bool(others))
            self._failed(pod, key, total, ", ".join(parts))
            return
        self._bind(pod, key, node_name)

    def _failed(self, pod: Obj, key: tuple[str, str], total: int, reasons: str) -> None:
        self.ctx.event(pod, "Warning", "FailedScheduling", failed_scheduling(total, reasons),
                       "default-scheduler")
        self.unschedulable.add(key)

    def _bind(self, pod: Obj, key: tuple[str, str], node: str) -> None:
        self.unschedulable.discard(key)
        new = copy.deepcopy(pod)
        new["spec"]["nodeName"] = node
        new.setdefault("status", {})["conditions"] = [
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
             "lastTransitionTime": now()}]
        self.reg.update(PODS, key[0], key[1], new, check_rv=False, validation_mode="Ignore")
        self.ctx.event(pod, "Normal", "Scheduled",
                       f"Successfully assigned {key[0]}/{key[1]} to {node}", "default-scheduler")
