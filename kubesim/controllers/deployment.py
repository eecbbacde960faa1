"""The Deployment controller: a ReplicaSet per pod template (named by its pod-template-hash),
rolled out by RollingUpdate (maxSurge, maxUnavailable) or Recreate, and the status with its
Available and Progressing conditions and the revision annotation."""

from __future__ import annotations

import copy
import math
from typing import Any

from ..registry import R, now
from ..store import Change
from .base import Controller, Obj, controlled_by, key_of, owner_ref, template_hash

PODS, RS, DEPLOY = R["pods"], R["replicasets"], R["deployments"]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


def _resolve(v: Any, total: int, round_up: bool) -> int:
    if isinstance(v, int):
        return v
    s = str(v)
    if s.endswith("%"):
        x = int(s[:-1]) * total / 100
        return math.ceil(x) if round_up else math.floor(x)
    return int(s)


class DeploymentController(Controller):
    name = "deployment"
    watches = (RS, DEPLOY)

    def resync(self) -> None:
        for d in self.store.iter(DEPLOY):
            self.enqueue(key_of(d))

    def on_change(self, ch: Change) -> None:
        if ch.res is DEPLOY:
            self.enqueue(key_of(ch.obj))
            return
        ns = ch.obj["metadata"].get("namespace", "")
        for ref in ch.obj["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                self.enqueue((ns, ref["name"]))

    def sync(self, key: tuple[str, str]) -> None:
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
                self.ctx.event(d, "Normal", "ScalingReplicaSet",
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
        self.ctx.event(d, "Normal", "ScalingReplicaSet",
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
