"""The StatefulSet and DaemonSet controllers, and the scheduler's node-affinity binding their
pods rely on.

``Controllers`` (controllers.py) owns the queues and workers; it registers ``handlers()``,
forwards every store change to ``on_change`` and calls ``resync`` once at start. Everything is
level-based, as in controllers.py: a worker reads the current state and converges, writing
through ``Registry`` like a client.

What a learner sees matches kube-controller-manager (recorded on a real v1.37 control plane):
StatefulSet pods are ``<name>-<ordinal>``, created one at a time in order (OrderedReady: the next
only once the previous is Running and Ready) or all at once (Parallel), removed highest ordinal
first, replaced under the same name, and updated in reverse ordinal order; DaemonSets run one
pod per node whose taints they tolerate, pinned there by a required node affinity.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import errors
from .controllers import _key, _parse, controlled_by, owner_ref, pod_ready
from .kinds import TEMPLATE_GENERATION, controller_revision_data
from .nodes import tolerated
from .registry import R, now
from .selectors import match_label_selector
from .store import Change

if TYPE_CHECKING:
    from .controllers import Controllers

log = logging.getLogger("kubesim.workloads")
Obj = dict[str, Any]
PODS, NODES = R["pods"], R["nodes"]
STS, DS, CR = R["statefulsets"], R["daemonsets"], R["controllerrevisions"]
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
CR_HASH_LABEL = "controller.kubernetes.io/hash"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
SAFE = "bcdfghjklmnpqrstvwxz2456789"
# what the DaemonSet controller adds to its pods: they stay through node trouble and cordons
DS_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def go_json(data: Any) -> bytes:
    """Go's encoding/json of a map: sorted keys, no spaces, <, > and & escaped."""
    s = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def revision_hash(data: Obj, collisions: int = 0) -> str:
    """controller.HashControllerRevision: FNV-1 (32 bit) over the revision's JSON and the
    collision count, printed in decimal and encoded with rand.SafeEncodeString (the same
    hash as a real cluster's for the same stored template)."""
    h = 0x811C9DC5
    for b in go_json(data) + str(collisions).encode():
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= b
    return "".join(SAFE[ord(c) % len(SAFE)] for c in str(h))


def ordinal(sts_name: str, pod: Obj) -> int | None:
    name = pod["metadata"]["name"]
    prefix = sts_name + "-"
    if not name.startswith(prefix) or not name[len(prefix):].isdigit():
        return None
    return int(name[len(prefix):])


def running_and_ready(p: Obj) -> bool:
    return (p.get("status") or {}).get("phase") == "Running" and pod_ready(p) and \
        not p["metadata"].get("deletionTimestamp")


def _ready_available(p: Obj, min_ready: int, waits: list[float]) -> tuple[bool, bool]:
    """Is the pod ready, and available (ready for minReadySeconds)? When it will be available
    later, how long until then goes on ``waits`` (to look again at that time)."""
    wait = available_in(p, min_ready)
    if wait is not None and wait != 0:
        waits.append(wait)
    return running_and_ready(p), wait == 0


def available_in(p: Obj, min_ready: int) -> float | None:
    """Seconds until a Running and Ready pod counts as available (ready for minReadySeconds);
    0 when it already does, None when it is not ready."""
    if not running_and_ready(p):
        return None
    if min_ready <= 0:
        return 0.0
    since = next((c.get("lastTransitionTime") for c in (p.get("status") or {}).get(
        "conditions") or [] if c.get("type") == "Ready"), None)
    return max(_parse(since) + min_ready - time.time(), 0.0)


def _namespace_terminating(e: errors.APIError) -> bool:
    return any(c.get("reason") == "NamespaceTerminating"
               for c in (e.details or {}).get("causes") or [])


def _scheduled_then_oldest(p: Obj) -> tuple[int, str, str]:
    """podByCreationTimestampAndPhase: scheduled pods first, then the oldest, then by name."""
    return (0 if p["spec"].get("nodeName") else 1, p["metadata"].get("creationTimestamp", ""),
            p["metadata"]["name"])


def _failed(p: Obj) -> bool:
    return (p.get("status") or {}).get("phase") in ("Failed", "Succeeded") and \
        not p["metadata"].get("deletionTimestamp")


def _match_expression(values: dict[str, str], e: Obj) -> bool:
    op, key, vals = e.get("operator"), e.get("key", ""), e.get("values") or []
    if op == "In":
        return key in values and values[key] in vals
    if op == "NotIn":
        return key not in values or values[key] not in vals
    if op == "Exists":
        return key in values
    if op == "DoesNotExist":
        return key not in values
    if op in ("Gt", "Lt") and key in values and vals:
        try:
            a, b = int(values[key]), int(vals[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_affinity_matches(spec: Obj, node: Obj) -> bool:
    """A pod spec's nodeSelector and required node affinity, against one node."""
    labels = node["metadata"].get("labels") or {}
    if not all(labels.get(k) == v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = req.get("nodeSelectorTerms") or []
    if not terms:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    return any(all(_match_expression(labels, e) for e in t.get("matchExpressions") or []) and
               all(_match_expression(fields, e) for e in t.get("matchFields") or [])
               and (t.get("matchExpressions") or t.get("matchFields"))
               for t in terms)


def untolerated(node: Obj, tolerations: list[Obj]) -> Obj | None:
    for t in (node.get("spec") or {}).get("taints") or []:
        if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(t, tolerations):
            return dict(t)
    return None


def pinned_node(pod: Obj) -> str | None:
    """The node a required ``matchFields: metadata.name In [node]`` term names (DaemonSet pods)."""
    req = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for t in req.get("nodeSelectorTerms") or []:
        for f in t.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and \
                    len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return None


class Workloads:
    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.store = ctl.store
        self.reg = ctl.reg

    # ---- wiring (called by Controllers) ----
    def handlers(self) -> dict[str, Callable[[Any], None]]:
        return {"statefulset": self.sync_statefulset, "daemonset": self.sync_daemonset,
                "scheduler": self.schedule}

    def resync(self) -> None:
        for s in self.store.iter(STS):
            self.ctl.queues["statefulset"].add(_key(s))
        for d in self.store.iter(DS):
            self.ctl.queues["daemonset"].add(_key(d))

    def on_change(self, ch: Change) -> None:
        o, res = ch.obj, ch.res
        k = _key(o)
        if res is PODS:
            for ref in o["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "StatefulSet":
                    self.ctl.queues["statefulset"].add((k[0], ref["name"]))
                elif ref.get("kind") == "DaemonSet":
                    self.ctl.queues["daemonset"].add((k[0], ref["name"]))
        elif res is STS:
            self.ctl.queues["statefulset"].add(k)
        elif res is DS:
            self.ctl.queues["daemonset"].add(k)
        elif res is NODES:
            for d in self.store.iter(DS):
                self.ctl.queues["daemonset"].add(_key(d))

    def _ns_going(self, ns: str) -> bool:
        """A terminating namespace takes no new objects: nothing to converge there."""
        nso = self.store.find(R["namespaces"], None, ns)
        return nso is None or bool(nso["metadata"].get("deletionTimestamp"))

    # ---- scheduling of pinned pods ----
    def schedule(self, key: tuple[str, str]) -> None:
        """Pods with a required ``metadata.name`` node affinity (DaemonSet pods) go to that node
        when it fits; all others go through the scheduler in controllers.py."""
        pod = self.store.find(PODS, key[0], key[1])
        node_name = pinned_node(pod) if pod is not None else None
        if pod is None or node_name is None or pod["spec"].get("nodeName") or \
                pod["metadata"].get("deletionTimestamp"):
            self.ctl.schedule(key)
            return
        nodes = list(self.store.iter(NODES))
        node = next((n for n in nodes if n["metadata"]["name"] == node_name), None)
        reason = ""
        if node is None or not node_affinity_matches(pod["spec"], node):
            reason = "node(s) didn't match Pod's node affinity/selector"
        else:
            t = untolerated(node, pod["spec"].get("tolerations") or [])
            if t is not None:
                reason = f"node(s) had untolerated taint {{{t.get('key')}: {t.get('value', '')}}}"
        if reason:
            total = len(nodes)
            others = total - 1 if node is not None else total
            parts = sorted([f"1 {reason}"] * (node is not None) + [
                f"{others} node(s) didn't match Pod's node affinity/selector"] * bool(others))
            self.ctl.event(pod, "Warning", "FailedScheduling",
                           f"0/{total} nodes are available: {', '.join(parts)}. preemption: "
                           f"0/{total} nodes are available: {total} Preemption is not helpful "
                           f"for scheduling.", "default-scheduler")
            self.ctl.unschedulable.add(key)
            return
        self.ctl.unschedulable.discard(key)
        new = copy.deepcopy(pod)
        new["spec"]["nodeName"] = node_name
        new.setdefault("status", {})["conditions"] = [
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
             "lastTransitionTime": now()}]
        self.reg.update(PODS, key[0], key[1], new, check_rv=False, validation_mode="Ignore")
        self.ctl.event(pod, "Normal", "Scheduled",
                       f"Successfully assigned {key[0]}/{key[1]} to {node_name}",
                       "default-scheduler")

    def _adopt(self, owner: Obj, p: Obj, res: Any = PODS) -> Obj:
        """An orphan whose labels match the selector (e.g. left by ``--cascade=orphan``) becomes
        the owner's again, as the controllers' ControllerRefManager adopts it."""
        md = p["metadata"]
        if md.get("deletionTimestamp") or any(r.get("controller")
                                               for r in md.get("ownerReferences") or []):
            return p
        if not match_label_selector((owner.get("spec") or {}).get("selector"),
                                    md.get("labels")):
            return p
        new = copy.deepcopy(p)
        new["metadata"]["ownerReferences"] = list(md.get("ownerReferences") or []) + [
            owner_ref(owner)]
        return self.reg.update(res, md.get("namespace"), md["name"], new, check_rv=False,
                               validation_mode="Ignore")

    # ---- ControllerRevisions ----
    def _revisions(self, owner: Obj, template: Obj, hash_label: str) -> tuple[Obj, list[Obj]]:
        """The owner's revisions, creating (or re-numbering) the one for its current template.
        Returns (update revision, all revisions sorted by number)."""
        ns, name = _key(owner)
        revs = []
        for r in self.store.in_namespace(CR, ns):
            if not controlled_by(r, owner):
                r = self._adopt(owner, r, CR)
            if controlled_by(r, owner):
                revs.append(r)
        revs.sort(key=lambda r: r.get("revision", 0))
        data = controller_revision_data(template)
        top = max([r.get("revision", 0) for r in revs] + [0])
        match = next((r for r in revs if r.get("data") == data), None)
        if match is not None:
            if match.get("revision", 0) != top:  # a rollback: the old revision becomes newest
                new = copy.deepcopy(match)
                new["revision"] = top + 1
                match = self.reg.update(CR, ns, match["metadata"]["name"], new, check_rv=False,
                                        validation_mode="Ignore")
                revs = [match if r["metadata"]["uid"] == match["metadata"]["uid"] else r
                        for r in revs]
            return match, sorted(revs, key=lambda r: r.get("revision", 0))
        collisions = int((owner.get("status") or {}).get("collisionCount") or 0)
        h = revision_hash(data, collisions)
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[hash_label] = h
        cr: Obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                   "metadata": {"name": f"{name}-{h}", "namespace": ns, "labels": labels,
                                "ownerReferences": [owner_ref(owner)]},
                   "data": data, "revision": top + 1}
        if owner["metadata"].get("annotations"):
            cr["metadata"]["annotations"] = dict(owner["metadata"]["annotations"])
        try:
            created = self.reg.create(CR, ns, cr, validation_mode="Ignore")
        except errors.APIError as e:
            if e.code != 409:
                raise
            # the name is taken by someone else's revision: count a collision, hash again
            st = dict(owner.get("status") or {}, collisionCount=collisions + 1)
            res = STS if owner["kind"] == "StatefulSet" else DS
            self.reg.update(res, ns, name, dict(owner, status=st), subresource="status",
                            check_rv=False)
            raise errors.APIError(409, "Conflict", f"revision name {name}-{h} is taken") from e
        revs.append(created)
        self._prune_history(owner, revs)
        return created, revs

    def _prune_history(self, owner: Obj, revs: list[Obj]) -> None:
        limit = (owner.get("spec") or {}).get("revisionHistoryLimit", 10)
        ns = owner["metadata"]["namespace"]
        live = {(p["metadata"].get("labels") or {}).get(REVISION_LABEL)
                for p in self.store.in_namespace(PODS, ns) if controlled_by(p, owner)}
        old = [r for r in sorted(revs, key=lambda r: r.get("revision", 0))[:-1]
               if r["metadata"]["name"] not in live and
               (r["metadata"].get("labels") or {}).get(REVISION_LABEL) not in live]
        for r in old[:max(len(old) - int(limit), 0)]:
            try:
                self.reg.delete(CR, ns, r["metadata"]["name"])
            except errors.APIError:
                pass

    # ---- StatefulSet ----
    def sync_statefulset(self, key: tuple[str, str]) -> None:
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
        ns, name = _key(sts)
        start = int(((sts["spec"].get("ordinals") or {}).get("start")) or 0)
        for i in range(start, start + replicas):
            p = pods.get(i)
            if p is not None and _failed(p):
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
                    self.ctl.later(wait + 0.05, "statefulset", (ns, name))
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
        ns, name = _key(sts)
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
            if _namespace_terminating(e):
                return
            other = self.store.find(PODS, ns, pod_name) if e.code == 409 else None
            if other is not None and other["metadata"].get("deletionTimestamp"):
                return  # the previous pod of this name is going away; its deletion requeues
            self.ctl.event(sts, "Warning", "FailedCreate",
                           f"create Pod {pod_name} in StatefulSet {name} failed error: "
                           f"{e.message}", "statefulset-controller")
            if e.code == 409:  # someone else's pod has the name: look again later
                self.ctl.later(5.0, "statefulset", (ns, name))
                return
            raise
        self.ctl.event(sts, "Normal", "SuccessfulCreate",
                       f"Create Pod {pod_name} in StatefulSet {name} successful",
                       "statefulset-controller")

    def _delete_pod(self, owner: Obj, p: Obj, kind: str) -> None:
        ns, name = _key(owner)
        pname = p["metadata"]["name"]
        try:
            self.reg.delete(PODS, ns, pname)
        except errors.APIError as e:
            if e.code != 404:
                raise
            return
        if kind == "statefulset":
            self.ctl.event(owner, "Normal", "SuccessfulDelete",
                           f"delete Pod {pname} in StatefulSet {name} successful",
                           "statefulset-controller")
        else:
            self.ctl.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {pname}",
                           "daemonset-controller")

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
            is_ready, is_available = _ready_available(live, min_ready, waits)
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
            self.ctl.later(min(waits) + 0.05, "statefulset", key)
        if status != old:
            self.reg.update(STS, key[0], key[1], dict(sts, status=status), subresource="status",
                            check_rv=False)

    # ---- DaemonSet ----
    def sync_daemonset(self, key: tuple[str, str]) -> None:
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
                if _failed(p):  # a failed (or completed) daemon pod is replaced
                    phase = (p.get("status") or {}).get("phase")
                    failed = phase == "Failed"
                    self.ctl.event(ds, "Warning" if failed else "Normal",
                                   "FailedDaemonPod" if failed else "SucceededDaemonPod",
                                   f"Found {'failed' if failed else 'succeeded'} daemon pod "
                                   f"{ns}/{p['metadata']['name']} on node {node_name}, will try "
                                   f"to {'kill' if failed else 'delete'} it",
                                   "daemonset-controller")
                    self._delete_pod(ds, p, "daemonset")
                    continue
                running.append(p)
            running.sort(key=_scheduled_then_oldest)
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
        ns, name = _key(ds)
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
            if _namespace_terminating(e):
                return  # every later create fails the same way; the namespace is going
            raise
        self.ctl.event(ds, "Normal", "SuccessfulCreate",
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
            p = min(pods, key=_scheduled_then_oldest)
            # (readiness as the pod reports it, terminating or not)
            live = dict(p, metadata=dict(p["metadata"], deletionTimestamp=None))
            is_ready, is_available = _ready_available(live, min_ready, waits)
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
            self.ctl.later(min(waits) + 0.05, "daemonset", key)
        if status != old:
            self.reg.update(DS, key[0], key[1], dict(ds, status=status), subresource="status",
                            check_rv=False)
