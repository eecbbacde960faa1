"""Object storage: one resourceVersion counter, watch fan-out, and a sqlite file for persistence.

Objects are plain dicts in Kubernetes wire form. A stored dict is never mutated in place: writers
build a new dict and hand it over, so readers may serialise what ``get`` returns without copying.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import errors
from .resources import RESOURCES, Resource

HISTORY = 20000  # watch events kept for resourceVersion-based resumption


@dataclass
class Change:
    rv: int
    type: str  # ADDED / MODIFIED / DELETED
    res: Resource
    obj: dict[str, Any]
    old: dict[str, Any] | None


class Watcher:
    def __init__(self, store: Store, res: Resource | None, namespace: str | None) -> None:
        self.store = store
        self.res = res
        self.namespace = namespace
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()

    def wants(self, ch: Change) -> bool:
        if self.res is not None and ch.res is not self.res:
            return False
        if self.namespace and ch.obj["metadata"].get("namespace") != self.namespace:
            return False
        return True

    def close(self) -> None:
        self.store.watchers.discard(self)
        self.queue.put_nowait(None)


def key_of(res: Resource, namespace: str | None, name: str) -> str:
    return f"{res.qualified}/{namespace or ''}/{name}"


class Store:
    def __init__(self, path: Path | None) -> None:
        self.objects: dict[Resource, dict[tuple[str, str], dict[str, Any]]] = {
            r: {} for r in RESOURCES
        }
        # per-namespace index: namespace -> name -> object
        self.by_ns: dict[Resource, dict[str, dict[str, dict[str, Any]]]] = {
            r: {} for r in RESOURCES
        }
        self.rv = 0
        self.meta: dict[str, Any] = {}
        self.history: collections.deque[Change] = collections.deque(maxlen=HISTORY)
        self.watchers: set[Watcher] = set()
        self.listeners: list[Callable[[Change], None]] = []
        self.db: sqlite3.Connection | None = None
        self._commit_pending = False
        self._encoded: dict[tuple[str, str, str], tuple[str, bytes]] = {}
        # a counter per kind, bumped by every change: whole-collection encodings are valid
        # while it stands still (a settled cluster answers repeated lists from memory)
        self.revision: dict[Resource, int] = dict.fromkeys(RESOURCES, 0)
        self._collections: dict[tuple[Resource, str], tuple[int, bytes]] = {}
        # (resource, namespace, label, value) -> names: equality label selectors use it
        self.labels: dict[tuple[Resource, str, str, str], set[str]] = {}
        if path is not None:
            self._open(path)

    # ---- persistence ----
    def _open(self, path: Path) -> None:
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
        by_q = {r.qualified: r for r in RESOURCES}
        for key, data in db.execute("SELECT key, data FROM objects"):
            qual, ns, name = key.split("/", 2)
            res = by_q.get(qual)
            if res is None:
                continue
            obj = json.loads(data)
            self.objects[res][(ns, name)] = obj
            self.by_ns[res].setdefault(ns, {})[name] = obj
            self.rv = max(self.rv, int(obj["metadata"].get("resourceVersion", "0")))
        for key, data in db.execute("SELECT key, data FROM meta"):
            self.meta[key] = json.loads(data)
        self.rv = max(self.rv, int(self.meta.get("rv", 0)))
        db.execute("BEGIN")
        self.db = db

    def _schedule_commit(self) -> None:
        if self.db is None or self._commit_pending:
            return
        self._commit_pending = True
        try:
            asyncio.get_running_loop().call_soon(self.commit)
        except RuntimeError:
            self.commit()

    def commit(self) -> None:
        self._commit_pending = False
        if self.db is not None and self.db.in_transaction:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (json.dumps(self.rv),))
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")

    def close(self) -> None:
        if self.db is not None:
            self.commit()
            self.db.execute("COMMIT") if self.db.in_transaction else None
            self.db.close()
            self.db = None

    def set_meta(self, key: str, value: Any) -> None:
        self.meta[key] = value
        if self.db is not None:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
            self._schedule_commit()

    # ---- reads ----
    def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.objects[res].get((namespace or "", name))
        if obj is None:
            raise errors.not_found(res.group, res.plural, name)
        return obj

    def find(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects[res].get((namespace or "", name))

    def list(self, res: Resource, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        if namespace:
            byname = self.by_ns[res].get(namespace, {})
            return [byname[n] for n in sorted(byname)]
        return [self.objects[res][k] for k in sorted(self.objects[res])]

    def _label_index(self, res: Resource, ns: str, name: str, old: dict[str, Any] | None,
                     new: dict[str, Any] | None) -> None:
        if old is not None:
            for k, v in (old["metadata"].get("labels") or {}).items():
                self.labels.get((res, ns, k, v), set()).discard(name)
        if new is not None:
            for k, v in (new["metadata"].get("labels") or {}).items():
                self.labels.setdefault((res, ns, k, v), set()).add(name)

    def candidates(self, res: Resource, namespace: str,
                   equalities: builtins.list[tuple[str, str]]) -> builtins.list[dict[str, Any]] | None:
        """Objects that may match label equalities (None: no index applies)."""
        if not equalities or not namespace:
            return None
        sets = [self.labels.get((res, namespace, k, v), set()) for k, v in equalities]
        byname = self.by_ns[res].get(namespace, {})
        return [byname[n] for n in min(sets, key=len) if n in byname]

    def in_namespace(self, res: Resource, namespace: str) -> builtins.list[dict[str, Any]]:
        """Unsorted, for controllers."""
        return list(self.by_ns[res].get(namespace, {}).values())

    def iter(self, res: Resource) -> Iterator[dict[str, Any]]:
        return iter(list(self.objects[res].values()))

    def encoded(self, res: Resource, obj: dict[str, Any]) -> bytes:
        """The object's JSON bytes, cached per resourceVersion (lists of 1,000 pods stay fast)."""
        md = obj["metadata"]
        key = (res.plural, md.get("namespace", ""), md["name"])
        rv = md.get("resourceVersion", "")
        hit = self._encoded.get(key)
        if hit is not None and hit[0] == rv and rv:
            return hit[1]
        data = json.dumps(obj, separators=(",", ":")).encode()
        if self.objects[res].get((key[1], key[2])) is obj:
            self._encoded[key] = (rv, data)
        return data

    # ---- writes (callers have validated; these only check existence and versions) ----
    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def encoded_items(self, res: Resource, namespace: str | None) -> bytes:
        """The JSON encodings of a namespace's (or every namespace's) objects joined by commas in
        list order: the items of an unfiltered list, cached while the kind's revision stands."""
        key = (res, namespace or "")
        hit = self._collections.get(key)
        if hit is not None and hit[0] == self.revision[res]:
            return hit[1]
        data = b",".join([self.encoded(res, o) for o in self.list(res, namespace)])
        self._collections[key] = (self.revision[res], data)
        return data

    def _emit(self, ch: Change) -> None:
        self.revision[ch.res] += 1
        self.history.append(ch)
        for w in list(self.watchers):
            if w.wants(ch):
                w.queue.put_nowait(ch)
        for fn in self.listeners:
            fn(ch)

    def _persist(self, res: Resource, ns: str, name: str, obj: dict[str, Any] | None) -> None:
        if self.db is None:
            return
        key = key_of(res, ns, name)
        if obj is None:
            self.db.execute("DELETE FROM objects WHERE key = ?", (key,))
        else:
            self.db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?)",
                            (key, json.dumps(obj, separators=(",", ":"))))
        self._schedule_commit()

    def create(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj["metadata"]
        ns = md.get("namespace", "") if res.namespaced else ""
        k = (ns, md["name"])
        if k in self.objects[res]:
            raise errors.already_exists(res.group, res.plural, md["name"])
        md["resourceVersion"] = self._next_rv()
        self.objects[res][k] = obj
        self.by_ns[res].setdefault(ns, {})[md["name"]] = obj
        self._label_index(res, ns, md["name"], None, obj)
        self._persist(res, ns, md["name"], obj)
        self._emit(Change(self.rv, "ADDED", res, obj, None))
        return obj

    def update(self, res: Resource, obj: dict[str, Any], *,
               expect_rv: str | None = None) -> dict[str, Any]:
        md = obj["metadata"]
        ns = md.get("namespace", "") if res.namespaced else ""
        k = (ns, md["name"])
        old = self.objects[res].get(k)
        if old is None:
            raise errors.not_found(res.group, res.plural, md["name"])
        if expect_rv and expect_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res.group, res.plural, md["name"],
                                  "the object has been modified; please apply your changes to "
                                  "the latest version and try again")
        md["resourceVersion"] = self._next_rv()
        self.objects[res][k] = obj
        self.by_ns[res].setdefault(ns, {})[md["name"]] = obj
        self._label_index(res, ns, md["name"], old, obj)
        self._persist(res, ns, md["name"], obj)
        self._emit(Change(self.rv, "MODIFIED", res, obj, old))
        return obj

    def delete(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        ns = namespace or "" if res.namespaced else ""
        old = self.objects[res].pop((ns, name), None)
        if old is None:
            raise errors.not_found(res.group, res.plural, name)
        self.by_ns[res].get(ns, {}).pop(name, None)
        self._label_index(res, ns, name, old, None)
        self._encoded.pop((res.plural, ns, name), None)
        gone = dict(old)
        gone["metadata"] = dict(old["metadata"], resourceVersion=self._next_rv())
        self._persist(res, ns, name, None)
        self._emit(Change(self.rv, "DELETED", res, gone, old))
        return gone

    # ---- watch ----
    def watch(self, res: Resource | None, namespace: str | None,
              since: int | None) -> Watcher:
        w = Watcher(self, res, namespace)
        if since is not None and since < self.rv:
            oldest = self.history[0].rv if self.history else self.rv + 1
            if since < oldest - 1:
                raise errors.gone(f"too old resource version: {since} ({oldest - 1})")
            for ch in self.history:
                if ch.rv > since and w.wants(ch):
                    w.queue.put_nowait(ch)
        self.watchers.add(w)
        return w
