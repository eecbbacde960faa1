"""The StatefulSet controller: pods ``<name>-<ordinal>``, created one at a time in order
(OrderedReady: the next only once the previous is Running and Ready) or all at once (Parallel),
removed highest ordinal first, replaced under the same name, updated in reverse ordinal order
(RollingUpdate with partition and maxUnavailable, or OnDelete)."""

from __future__ import annotations

import copy

from .. import errors
from ..registry import R
from ..selectors import match_label_selector
from ..store import Change
from .base import Obj, controlled_by, key_of, owner_ref
from .revisions import (
    CR_HASH_LABEL,
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    WorkloadController,
    available_in,
    failed_pod,
    namespace_terminating,
    ordinal,
    ready_available,
    running_and_ready,
)

PODS, STS = R["pods"], R["statefulsets"]


class StatefulSetController(WorkloadController):
    name = "statefulset"
    watches = (PODS, STS)

    def resync(self) -> None:
        for s in self.store.iter(STS):
            self.enqueue(key_of(s))

    def on_change(self, ch: Change) -> None:
        if ch.res is STS:
            self.enqueue(key_of(ch.obj))
            return
        ns = ch.obj["metadata"].get("namespace", "")
        for ref in ch.obj["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "StatefulSet":
                self.enqueue((ns, ref["name"]))

    def sync(self, key: tuple[str, str]) -> None:
        sts = self.store.find(STS, key[0], key[1])
        if sts is None or sts["metadata"].get("deletionTimestamp") or self._ns_going(key[0]):
            return
        ns, name = key
        spec = sts["spec"]
        update_rev, revs = self._revisions(sts, spec.get("template") or {}, CR_HASH_LABEL)
        update_name = update_rev["metadata"]["name"]
        st = sts.get("status") or {}
        current_name = st.get("currentRevision") or update_name
        current_rev = next((r for r in revs if r["metadata"]["name"] == current_name), None)
        if current_rev is None:
            current_rev, current_name = update_rev, update_name
        sel = spec.get("selector")
        pods = {}
        for p in self.store.in_namespace(PODS, ns):
            if not controlled_by(p, sts) and ordinal(name, p) is not None:
                p = self._adopt(sts, p)
            if controlled_by(p, sts) and match_label_selector(sel, p["metadata"].get("labels")):
                i = ordinal(name, p)
                if i is not None:
                    pods[i] = p
        replicas = spec.get("replicas", 1)
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0) \
            if rolling else 0
        self._converge_statefulset(sts, pods, replicas, monotonic, rolling, partition,
                                   current_rev, update_rev)
        self._statefulset_status(key, update_name, current_name, rolling)

    def _converge_statefulset(self, sts: Obj, pods: dict[int, Obj], replicas: int,
                              monotonic: bool, rolling: bool, partition: int, current_rev: Obj,
                              update_rev: Obj) -> None:
        ns, name = key_of(sts)
        start = int(((sts["spec"].get("ordinals") or {}).get("start")) or 0)
        for i in range(start, start + replicas):
            p = pods.get(i)
            if p is not None and failed_pod(p):
                self._delete_pod(sts, p, "statefulset")
                p = None
                if monotonic:
                    return
            if p is None:
                use_current = rolling and i < start + partition
                self._create_sts_pod(sts, i, current_rev if use_current else update_rev)
                if monotonic:
                    return
                continue
            if p["metadata"].get("deletionTimestamp") and monotonic:
                return  # the same name comes back once this one is gone
            if monotonic:  # the next ordinal waits until this pod is available
                wait = available_in(p, int(sts["spec"].get("minReadySeconds") or 0))
                if wait is None:
                    return
                if wait > 0:
                    self.later(wait + 0.05, (ns, name))
                    return
        condemned = sorted((i for i in pods if not start <= i < start + replicas),
                           reverse=True)
        for i in condemned:
            p = pods[i]
            if p["metadata"].get("deletionTimestamp"):
                if monotonic:
                    return
                continue
            if monotonic and not all(running_and_ready(pods[j]) for j in pods if j != i):
                return
            self._delete_pod(sts, p, "statefulset")
            if monotonic:
                return
        if condemned or not rolling:
            return  # OnDelete: pods take the new template only when someone deletes them
        # RollingUpdate: from the highest ordinal down to the partition, at most maxUnavailable
        # of them unavailable at a time
        targets = range(start + replicas - 1, start + partition - 1, -1)
        min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        unavailable = sum(1 for i in targets if i not in pods or available_in(
            pods[i], min_ready) != 0)
        budget = self._sts_max_unavailable(sts, replicas) - unavailable
        for i in targets:
            if budget <= 0:
                return
            p = pods.get(i)
            if p is None:
                continue
            rev = (p["metadata"].get("labels") or {}).get(REVISION_LABEL)
            if rev != update_rev["metadata"]["name"] and \
                    not p["metadata"].get("deletionTimestamp"):
                self._delete_pod(sts, p, "statefulset")
                if available_in(p, min_ready) == 0:
                    budget -= 1

    @staticmethod
    def _sts_max_unavailable(sts: Obj, replicas: int) -> int:
        ru = ((sts["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {})
        v = ru.get("maxUnavailable", 1)
        if isinstance(v, str) and v.endswith("%"):
            n = int(v[:-1]) * replicas // 100
        else:
            n = int(v)
        return max(n, 1)

    def _create_sts_pod(self, sts: Obj, i: int, rev: Obj) -> None:
        ns, name = key_of(sts)
        tmpl = copy.deepcopy(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
        tmpl.pop("$patch", None)
        tmd = tmpl.get("metadata") or {}
        pod_name = f"{name}-{i}"
        labels = dict(tmd.get("labels") or {})
        labels.update({REVISION_LABEL: rev["metadata"]["name"], POD_NAME_LABEL: pod_name,
                       POD_INDEX_LABEL: str(i)})
        pspec = tmpl.get("spec") or {}
        pspec["hostname"] = pod_name
        service = sts["spec"].get("serviceName")
        if service:
            pspec["subdomain"] = service
        for claim in sts["spec"].get("volumeClaimTemplates") or []:
            cname = (claim.get("metadata") or {}).get("name", "")
            vols = pspec.setdefault("volumes", [])
            if not any(v.get("name") == cname for v in vols):
                vols.append({"name": cname, "persistentVolumeClaim": {
                    "claimName": f"{cname}-{pod_name}"}})
        pod: Obj = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod_name, "generateName": f"{name}-", "namespace": ns,
                                 "labels": labels, "ownerReferences": [owner_ref(sts)]},
                    "spec": pspec}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = tmd["annotations"]
        if tmd.get("finalizers"):
            pod["metadata"]["finalizers"] = tmd["finalizers"]
        try:
            self.reg.create(PODS, ns, pod, validation_mode="Ignore")
        except errors.APIError as e:
            if namespace_terminating(e):
                return
            other = self.store.find(PODS, ns, pod_name) if e.code == 409 else None
            if other is not None and other["metadata"].get("deletionTimestamp"):
                return  # the previous pod of this name is going away; its deletion requeues
            self.ctx.event(sts, "Warning", "FailedCreate",
                           f"create Pod {pod_name} in StatefulSet {name} failed error: "
                           f"{e.message}", "statefulset-controller")
            if e.code == 409:  # someone else's pod has the name: look again later
                self.later(5.0, (ns, name))
                return
            raise
        self.ctx.event(sts, "Normal", "SuccessfulCreate",
                       f"Create Pod {pod_name} in StatefulSet {name} successful",
                       "statefulset-controller")

    def _statefulset_status(self, key: tuple[str, str], update_name: str, current_name: str,
                            rolling: bool) -> None:
        sts = self.store.find(STS, key[0], key[1])
        if sts is None:
            return
        replicas = ready = current = updated = available = 0
        min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        waits: list[float] = []
        for p in self.store.in_namespace(PODS, key[0]):
            if not controlled_by(p, sts):
                continue
            # as computeReplicaStatus counts: every created pod, terminating ones too, is a
            # replica (and ready while its containers still run); only the others have a
            # revision that counts
            replicas += 1
            going = bool(p["metadata"].get("deletionTimestamp"))
            live = dict(p, metadata=dict(p["metadata"], deletionTimestamp=None)) if going else p
            is_ready, is_available = ready_available(live, min_ready, waits)
            ready += is_ready
            available += is_available
            if going:
                continue
            rev = (p["metadata"].get("labels") or {}).get(REVISION_LABEL)
            if rev == current_name:
                current += 1
            if rev == update_name:
                updated += 1
        old = sts.get("status") or {}
        if rolling and updated == replicas and ready == replicas:
            current_name, current = update_name, updated  # the rolling update is complete
        status: Obj = {"observedGeneration": sts["metadata"].get("generation", 1),
                       "replicas": replicas, "readyReplicas": ready, "currentReplicas": current,
                       "updatedReplicas": updated, "currentRevision": current_name,
                       "updateRevision": update_name,
                       "collisionCount": int(old.get("collisionCount") or 0),
                       "availableReplicas": available}
        status = {k: v for k, v in status.items()
                  if v or k in ("replicas", "availableReplicas", "collisionCount",
                                "observedGeneration")}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if waits:  # look again when the next pod has been ready for minReadySeconds
            self.later(min(waits) + 0.05, key)
        if status != old:
            self.reg.update(STS, key[0], key[1], dict(sts, status=status), subresource="status",
                            check_rv=False)
