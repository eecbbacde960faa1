"""The ReplicaSet controller: as many active pods as ``spec.replicas`` (created from the
template, removed unassigned/unready/newest first), and the status counts."""

from __future__ import annotations

import copy

from ..registry import R
from ..selectors import match_label_selector
from ..store import Change
from .base import Controller, Obj, controlled_by, key_of, owner_ref, pod_active, pod_ready

PODS, RS = R["pods"], R["replicasets"]


def _neg(ts: str) -> str:
    return "".join(chr(0x7F - ord(c)) for c in ts)


class ReplicaSetController(Controller):
    name = "replicaset"
    watches = (PODS, RS)

    def resync(self) -> None:
        for r in self.store.iter(RS):
            self.enqueue(key_of(r))

    def on_change(self, ch: Change) -> None:
        if ch.res is RS:
            self.enqueue(key_of(ch.obj))
            return
        ns = ch.obj["metadata"].get("namespace", "")
        for ref in ch.obj["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "ReplicaSet":
                self.enqueue((ns, ref["name"]))

    def sync(self, key: tuple[str, str]) -> None:
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
                self.ctx.event(rs, "Normal", "SuccessfulCreate",
                               f"Created pod: {created['metadata']['name']}",
                               "replicaset-controller")
        elif diff < 0:
            def rank(p: Obj) -> tuple[int, int, str]:
                # unassigned, then not ready, then the newest first
                return (1 if p["spec"].get("nodeName") else 0, 1 if pod_ready(p) else 0,
                        _neg(p["metadata"].get("creationTimestamp", "")))
            for p in sorted(active, key=rank)[:-diff]:
                self.reg.delete(PODS, key[0], p["metadata"]["name"])
                self.ctx.event(rs, "Normal", "SuccessfulDelete",
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
