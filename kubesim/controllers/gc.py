"""The garbage collector: dependents whose owners are all gone are deleted (background
propagation), and an owner deleted with propagationPolicy=Foreground keeps its
``foregroundDeletion`` finalizer until its dependents are gone.

It watches every kind, but a change costs only an update of its owner index (owner uid ->
dependents); nothing is scanned unless an owner goes away.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import errors
from ..registry import R
from ..store import Change
from .base import Context, Controller, Obj

Ref = tuple[Any, str, str]


class GarbageCollector(Controller):
    name = "gc"
    watches = None  # every kind

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.owners: dict[str, set[Ref]] = {}   # owner uid -> its dependents

    def _index(self, res: Any, o: Obj, old: Obj | None) -> None:
        ref = (res, o["metadata"].get("namespace", ""), o["metadata"]["name"])
        if old is not None:
            for r in old["metadata"].get("ownerReferences") or []:
                self.owners.get(r.get("uid"), set()).discard(ref)
        for r in o["metadata"].get("ownerReferences") or []:
            self.owners.setdefault(r.get("uid"), set()).add(ref)

    def resync(self) -> None:
        for res in R.values():
            for o in self.store.iter(res):
                self._index(res, o, None)
        self.enqueue("orphans")

    def on_change(self, ch: Change) -> None:
        o, res = ch.obj, ch.res
        md = o["metadata"]
        if ch.type == "DELETED":
            for r in md.get("ownerReferences") or []:
                self.owners.get(r.get("uid"), set()).discard(
                    (res, md.get("namespace", ""), md["name"]))
                # an owner deleted in the foreground waits for this: look at it again
                self.enqueue(("foreground", r.get("kind", ""), md.get("namespace", ""),
                              r.get("name", "")))
            if md.get("uid") in self.owners:
                self.enqueue(md["uid"])
            return
        if md.get("ownerReferences") or (ch.old is not None and
                                         ch.old["metadata"].get("ownerReferences")):
            self._index(res, o, ch.old)
        if md.get("deletionTimestamp") and "foregroundDeletion" in (md.get("finalizers") or []):
            self.enqueue(("foreground", res.kind, md.get("namespace", ""), md["name"]))

    def sync(self, uid: Any) -> None:
        if isinstance(uid, tuple):
            self._foreground(*uid[1:])
            return
        if uid == "orphans":
            live = {o["metadata"]["uid"] for res in R.values() for o in self.store.iter(res)}
            for owner in list(self.owners):
                if owner not in live:
                    self.sync(owner)
            return
        for res, ns, name in list(self.owners.get(uid, ())):
            o = self.store.find(res, ns, name)
            if o is None:
                continue
            refs = o["metadata"].get("ownerReferences") or []
            alive = [r for r in refs if r.get("uid") != uid and self._exists(r, ns)]
            if alive:
                continue
            if o["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.reg.delete(res, ns, name)
            except errors.APIError:
                pass
        self.owners.pop(uid, None)

    def _foreground(self, kind: str, ns: str, name: str) -> None:
        """propagationPolicy=Foreground: delete the dependents, then drop the finalizer."""
        res = next((r for r in R.values() if r.kind == kind), None)
        owner = self.store.find(res, ns if res.namespaced else None, name) if res else None
        if owner is None or res is None:
            return
        md = owner["metadata"]
        if not md.get("deletionTimestamp") or "foregroundDeletion" not in (
                md.get("finalizers") or []):
            return
        deps = [(r, n, nm) for r, n, nm in self.owners.get(md["uid"], set())
                if self.store.find(r, n, nm) is not None]
        for r, n, nm in deps:
            dep = self.store.find(r, n, nm)
            if dep is not None and not dep["metadata"].get("deletionTimestamp"):
                try:
                    self.reg.delete(r, n, nm, propagation="Foreground")
                except errors.APIError:
                    pass
        if deps:
            return
        new = copy.deepcopy(owner)
        new["metadata"]["finalizers"] = [f for f in md.get("finalizers") or []
                                         if f != "foregroundDeletion"]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        self.reg.update(res, ns if res.namespaced else None, name, new, check_rv=False,
                        validation_mode="Ignore")

    def _exists(self, ref: Obj, ns: str) -> bool:
        kind = ref.get("kind")
        for res in R.values():
            if res.kind == kind:
                o = self.store.find(res, ns, ref.get("name", ""))
                return o is not None and o["metadata"].get("uid") == ref.get("uid")
        return False
