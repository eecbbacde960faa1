"""What the StatefulSet and DaemonSet controllers share: ControllerRevisions (named by the
same hash as a real cluster's for the same template), adoption of orphans, pod deletion.

What a learner sees matches kube-controller-manager (recorded on a real v1.37 control plane).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

from .. import errors
from ..kinds import controller_revision_data
from ..registry import R
from ..selectors import match_label_selector
from .base import Controller, Obj, controlled_by, key_of, owner_ref, parse_time, pod_ready

log = logging.getLogger("kubesim.workloads")
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


def ready_available(p: Obj, min_ready: int, waits: list[float]) -> tuple[bool, bool]:
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
    return max(parse_time(since) + min_ready - time.time(), 0.0)


def namespace_terminating(e: errors.APIError) -> bool:
    return any(c.get("reason") == "NamespaceTerminating"
               for c in (e.details or {}).get("causes") or [])


def scheduled_then_oldest(p: Obj) -> tuple[int, str, str]:
    """podByCreationTimestampAndPhase: scheduled pods first, then the oldest, then by name."""
    return (0 if p["spec"].get("nodeName") else 1, p["metadata"].get("creationTimestamp", ""),
            p["metadata"]["name"])


def failed_pod(p: Obj) -> bool:
    return (p.get("status") or {}).get("phase") in ("Failed", "Succeeded") and \
        not p["metadata"].get("deletionTimestamp")


class WorkloadController(Controller):
    """A controller of pods from a template with ControllerRevisions."""

    def _ns_going(self, ns: str) -> bool:
        """A terminating namespace takes no new objects: nothing to converge there."""
        nso = self.store.find(R["namespaces"], None, ns)
        return nso is None or bool(nso["metadata"].get("deletionTimestamp"))

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

    def _revisions(self, owner: Obj, template: Obj, hash_label: str) -> tuple[Obj, list[Obj]]:
        """The owner's revisions, creating (or re-numbering) the one for its current template.
        Returns (update revision, all revisions sorted by number)."""
        ns, name = key_of(owner)
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

    def _delete_pod(self, owner: Obj, p: Obj, kind: str) -> None:
        ns, name = key_of(owner)
        pname = p["metadata"]["name"]
        try:
            self.reg.delete(PODS, ns, pname)
        except errors.APIError as e:
            if e.code != 404:
                raise
            return
        if kind == "statefulset":
            self.ctx.event(owner, "Normal", "SuccessfulDelete",
                           f"delete Pod {pname} in StatefulSet {name} successful",
                           "statefulset-controller")
        else:
            self.ctx.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {pname}",
                           "daemonset-controller")
