"""The DaemonSet controller: one pod per node whose taints the template tolerates, pinned
there by a required node affinity (the scheduler binds it), updated node by node
(RollingUpdate with maxSurge/maxUnavailable, or OnDelete)."""

from __future__ import annotations

import copy
from typing import Any

from .. import errors
from ..kinds import TEMPLATE_GENERATION
from ..nodes import node_affinity_matches, pinned_node, tolerated, untolerated
from ..registry import R
from ..selectors import match_label_selector
from ..store import Change
from .base import Obj, controlled_by, key_of, owner_ref, pod_ready
from .revisions import (
    DS_TOLERATIONS,
    REVISION_LABEL,
    TEMPLATE_GENERATION_LABEL,
    WorkloadController,
    available_in,
    failed_pod,
    namespace_terminating,
    ready_available,
    scheduled_then_oldest,
)

PODS, NODES, DS = R["pods"], R["nodes"], R["daemonsets"]


class DaemonSetController(WorkloadController):
    name = "daemonset"
    watches = (PODS, DS, NODES)

    def resync(self) -> None:
        for d in self.store.iter(DS):
            self.enqueue(key_of(d))

    def on_change(self, ch: Change) -> None:
        if ch.res is DS:
            self.enqueue(key_of(ch.obj))
        elif ch.res is NODES:
            for d in self.store.iter(DS):
                self.enqueue(key_of(d))
        else:
            ns = ch.obj["metadata"].get("namespace", "")
            for ref in ch.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "DaemonSet":
                    self.enqueue((ns, ref["name"]))

    def sync(self, key: tuple[str, str]) -> None:
        ds = self.store.find(DS, key[0], key[1])
        if ds is None or ds["metadata"].get("deletionTimestamp") or self._ns_going(key[0]):
            return
        ns, name = key
        spec = ds["spec"]
        tmpl = spec.get("template") or {}
        update_rev, _ = self._revisions(ds, tmpl, REVISION_LABEL)
        h = (update_rev["metadata"].get("labels") or {}).get(REVISION_LABEL, "")
        for p in self.store.in_namespace(PODS, ns):
            if not controlled_by(p, ds):
                self._adopt(ds, p)
        by_node = self._ds_pods_by_node(ds)
        wanted, keep = self._ds_nodes(ds)
        # a node tainted NoSchedule under a running daemon pod still counts while the pod is
        # there (a v1.37 control plane: desired 2, misscheduled 0; desired 1 once it is gone)
        wanted = sorted(set(wanted) | {n for n in keep if any(
            not p["metadata"].get("deletionTimestamp") for p in by_node.get(n, []))})
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        max_unavailable, max_surge = self._ds_budgets(ds, len(wanted)) if rolling else (1, 0)
        min_ready = int(spec.get("minReadySeconds") or 0)
        unavailable = surging = 0
        old_pods = []
        for node_name, pods in by_node.items():
            if node_name not in keep:  # e.g. a NoExecute taint, a label no longer matching
                for p in pods:
                    if not p["metadata"].get("deletionTimestamp"):
                        self._delete_pod(ds, p, "daemonset")
        for node_name in wanted:
            running = []
            for p in by_node.get(node_name, []):
                if p["metadata"].get("deletionTimestamp"):
                    continue
                if failed_pod(p):  # a failed (or completed) daemon pod is replaced
                    phase = (p.get("status") or {}).get("phase")
                    failed = phase == "Failed"
                    self.ctx.event(ds, "Warning" if failed else "Normal",
                                   "FailedDaemonPod" if failed else "SucceededDaemonPod",
                                   f"Found {'failed' if failed else 'succeeded'} daemon pod "
                                   f"{ns}/{p['metadata']['name']} on node {node_name}, will try "
                                   f"to {'kill' if failed else 'delete'} it",
                                   "daemonset-controller")
                    self._delete_pod(ds, p, "daemonset")
                    continue
                running.append(p)
            running.sort(key=scheduled_then_oldest)
            if not running:
                # without surge a pod still terminating holds the node until it is gone
                if max_surge or not by_node.get(node_name):
                    self._create_ds_pod(ds, node_name, h)
                unavailable += 1
                continue
            new = [p for p in running
                   if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == h]
            old = [p for p in running if p not in new]
            if max_surge and new and old:
                # the oldest new pod beside the oldest old one until the new one is available
                # (or the old one is no longer ready); any others go
                for extra in new[1:] + old[1:]:
                    self._delete_pod(ds, extra, "daemonset")
                if not pod_ready(old[0]) or available_in(new[0], min_ready) == 0:
                    self._delete_pod(ds, old[0], "daemonset")
                else:
                    surging += 1
                continue
            for extra in running[1:]:  # one pod per node: the oldest stays
                self._delete_pod(ds, extra, "daemonset")
            if available_in(running[0], min_ready) != 0:
                unavailable += 1
            if running[0] not in new:
                old_pods.append(running[0])
        if rolling and old_pods:
            # unavailable old pods first; then, with maxSurge, a new pod beside an old one on up
            # to maxSurge nodes at a time, else delete old pods within maxUnavailable
            old_pods.sort(key=lambda p: (available_in(p, min_ready) == 0, p["metadata"]["name"]))
            budget = max_surge - surging
            for p in old_pods:
                if available_in(p, min_ready) != 0:
                    self._delete_pod(ds, p, "daemonset")
                elif max_surge:
                    if budget > 0:
                        self._create_ds_pod(ds, p["spec"].get("nodeName") or pinned_node(p)
                                            or "", h)
                        budget -= 1
                elif unavailable < max_unavailable:
                    self._delete_pod(ds, p, "daemonset")
                    unavailable += 1
        self._daemonset_status(key, wanted, h)

    def _ds_pods_by_node(self, ds: Obj) -> dict[str, list[Obj]]:
        """The DaemonSet's pods by target node; a pod already terminal and being deleted no
        longer counts (getNodesToDaemonPods)."""
        sel = ds["spec"].get("selector")
        out: dict[str, list[Obj]] = {}
        for p in self.store.in_namespace(PODS, ds["metadata"]["namespace"]):
            if not controlled_by(p, ds) or not match_label_selector(
                    sel, p["metadata"].get("labels")):
                continue
            if p["metadata"].get("deletionTimestamp") and (p.get("status") or {}).get(
                    "phase") in ("Succeeded", "Failed"):
                continue
            out.setdefault(p["spec"].get("nodeName") or pinned_node(p) or "", []).append(p)
        return out

    def _ds_nodes(self, ds: Obj) -> tuple[list[str], set[str]]:
        """(nodes that should run the daemon pod, nodes where a running one may stay): a
        NoSchedule taint keeps new pods off a node, only NoExecute evicts the ones there."""
        pod_spec = (ds["spec"].get("template") or {}).get("spec") or {}
        tolerations = (pod_spec.get("tolerations") or []) + DS_TOLERATIONS
        wanted, keep = [], set()
        for node in sorted(self.store.iter(NODES), key=lambda n: n["metadata"]["name"]):
            if not node_affinity_matches(pod_spec, node):
                continue
            n = node["metadata"]["name"]
            if untolerated(node, tolerations) is None:
                wanted.append(n)
                keep.add(n)
            elif not any(t.get("effect") == "NoExecute" and not tolerated(t, tolerations)
                         for t in (node.get("spec") or {}).get("taints") or []):
                keep.add(n)
        return wanted, keep

    @staticmethod
    def _ds_budgets(ds: Obj, desired: int) -> tuple[int, int]:
        """(maxUnavailable, maxSurge) as numbers of nodes: percentages of the desired number
        rounded up; both 0 means maxUnavailable 1."""
        ru = ((ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {})

        def scaled(v: Any) -> int:
            if isinstance(v, str) and v.endswith("%"):
                return -(-int(v[:-1]) * desired // 100)
            return int(v or 0)
        unavailable, surge = scaled(ru.get("maxUnavailable", 1)), scaled(ru.get("maxSurge", 0))
        if unavailable == 0 and surge == 0:
            unavailable = 1
        return unavailable, surge

    def _create_ds_pod(self, ds: Obj, node: str, h: str) -> None:
        ns, name = key_of(ds)
        tmpl = copy.deepcopy(ds["spec"].get("template") or {})
        tmd = tmpl.get("metadata") or {}
        labels = dict(tmd.get("labels") or {})
        labels[REVISION_LABEL] = h
        labels[TEMPLATE_GENERATION_LABEL] = (ds["metadata"].get("annotations") or {}).get(
            TEMPLATE_GENERATION, "1")
        pspec = tmpl.get("spec") or {}
        term_field = {"key": "metadata.name", "operator": "In", "values": [node]}
        aff = pspec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
        req = aff.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
        terms = req.get("nodeSelectorTerms") or []
        if terms:
            for t in terms:
                t["matchFields"] = [term_field]
        else:
            req["nodeSelectorTerms"] = [{"matchFields": [term_field]}]
        tols = pspec.setdefault("tolerations", [])
        for t in DS_TOLERATIONS:
            if not any(x.get("key") == t["key"] and x.get("effect") == t["effect"]
                       for x in tols):
                tols.append(dict(t))
        pod: Obj = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"generateName": f"{name}-", "namespace": ns, "labels": labels,
                                 "ownerReferences": [owner_ref(ds)]},
                    "spec": pspec}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = tmd["annotations"]
        try:
            created = self.reg.create(PODS, ns, pod, validation_mode="Ignore")
        except errors.APIError as e:
            if namespace_terminating(e):
                return  # every later create fails the same way; the namespace is going
            raise
        self.ctx.event(ds, "Normal", "SuccessfulCreate",
                       f"Created pod: {created['metadata']['name']}", "daemonset-controller")

    def _daemonset_status(self, key: tuple[str, str], wanted: list[str], h: str) -> None:
        ds = self.store.find(DS, key[0], key[1])
        if ds is None:
            return
        current = ready = updated = misscheduled = available = 0
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        waits: list[float] = []
        for node, pods in self._ds_pods_by_node(ds).items():
            if node not in wanted:
                misscheduled += 1
                continue
            current += 1
            p = min(pods, key=scheduled_then_oldest)
            # (readiness as the pod reports it, terminating or not)
            live = dict(p, metadata=dict(p["metadata"], deletionTimestamp=None))
            is_ready, is_available = ready_available(live, min_ready, waits)
            ready += is_ready
            available += is_available
            if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == h:
                updated += 1
        desired = len(wanted)
        status: Obj = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                       "desiredNumberScheduled": desired, "numberReady": ready,
                       "observedGeneration": ds["metadata"].get("generation", 1),
                       "updatedNumberScheduled": updated, "numberAvailable": available,
                       "numberUnavailable": max(desired - available, 0)}
        status = {k: v for k, v in status.items()
                  if v or k in ("currentNumberScheduled", "numberMisscheduled",
                                "desiredNumberScheduled", "numberReady", "observedGeneration")}
        old = ds.get("status") or {}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        if waits:
            self.later(min(waits) + 0.05, key)
        if status != old:
            self.reg.update(DS, key[0], key[1], dict(ds, status=status), subresource="status",
                            check_rv=False)
