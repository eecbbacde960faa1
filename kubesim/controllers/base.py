"""What every controller is given and declares, and the helpers they share.

A controller is level-based, as kube-controller-manager's are: it declares the kinds it
``watches``; a change of one of them reaches its ``on_change``, which puts keys on its own queue
(``ctx.enqueue``); its ``sync(key)`` reads the current state and converges, writing through the
``Registry`` like a client. It gets a narrow ``Context`` (store, registry, enqueue, timers, clock,
event recorder) and no reference to the other controllers or to the manager.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..registry import Registry
from ..resources import Resource
from ..store import Change, Store

Obj = dict[str, Any]
Key = Any
SAFE = "bcdfghjklmnpqrstvwxz2456789"


class EventFn(Protocol):
    def __call__(self, obj: Obj, etype: str, reason: str, message: str, component: str,
                 host: str | None = None, container: str | None = None) -> None: ...


@dataclass(frozen=True)
class Context:
    """A controller's whole view of the cluster and of its own work queue."""

    store: Store
    reg: Registry
    enqueue: Callable[[str, Key], None]          # (queue, key): look at key soon
    later: Callable[[float, str, Key], None]     # (delay, queue, key): look at key then
    clock: Callable[[], float]                   # seconds since the epoch (fake in tests)
    event: EventFn                               # record an Event about an object


class Controller:
    """The shape of a controller: ``name`` is its queue, ``watches`` the kinds whose changes
    reach ``on_change`` (``None``: every kind)."""

    name: str = ""
    watches: tuple[Resource, ...] | None = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.reg = ctx.reg

    def on_change(self, ch: Change) -> None:
        """Enqueue what ``ch`` concerns; called at once for each change of a watched kind."""

    def resync(self) -> None:
        """At start: enqueue everything this controller converges (state of a previous run)."""

    def sync(self, key: Key) -> None:
        raise NotImplementedError

    def enqueue(self, key: Key) -> None:
        self.ctx.enqueue(self.name, key)

    def later(self, delay: float, key: Key) -> None:
        self.ctx.later(delay, self.name, key)


def key_of(o: Obj) -> tuple[str, str]:
    return (o["metadata"].get("namespace", ""), o["metadata"]["name"])


def owner_ref(o: Obj, controller: bool = True) -> Obj:
    return {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"], "controller": controller,
            "blockOwnerDeletion": True}


def controlled_by(o: Obj, owner: Obj) -> bool:
    return any(r.get("uid") == owner["metadata"]["uid"] and r.get("controller")
               for r in o["metadata"].get("ownerReferences") or [])


def pod_ready(p: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (p.get("status") or {}).get("conditions") or [])


def pod_active(p: Obj) -> bool:
    return not p["metadata"].get("deletionTimestamp") and \
        (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def parse_time(ts: str | None) -> float:
    if not ts:
        return time.time()
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def fnv_safe(data: bytes, collisions: int = 0) -> str:
    """FNV-1a 32 over ``data`` (and the collision count), rendered like rand.SafeEncodeString
    of its decimal form: the pod-template-hash and controller-revision-hash suffixes."""
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    if collisions:
        for b in str(collisions).encode():
            h ^= b
            h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE[int(d) % len(SAFE)] for d in str(h))


def template_hash(template: Obj, collisions: int = 0) -> str:
    return fnv_safe(json.dumps(template, sort_keys=True, separators=(",", ":")).encode(),
                    collisions)


def failed_scheduling(total: int, reasons: str) -> str:
    """The scheduler's FailedScheduling message (``reasons``: "1 node(s) ..., 2 ...")."""
    return (f"0/{total} nodes are available: {reasons}. preemption: 0/{total} nodes are "
            f"available: {total} Preemption is not helpful for scheduling.")
