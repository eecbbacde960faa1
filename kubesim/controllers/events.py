"""Events: the recorder every controller is handed (``Context.event``), and the controller that
expires them after an hour, as the API server's default --event-ttl does."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable

from .. import errors
from ..registry import R, Registry, now
from ..store import Store
from .base import Controller, Key, Obj, parse_time

log = logging.getLogger("kubesim.controllers")
EVENTS, NS = R["events"], R["namespaces"]


class EventRecorder:
    """Records an Event about an object; the same (object, reason, message) again counts up the
    existing Event, as client-go's event correlator does."""

    def __init__(self, store: Store, reg: Registry,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.reg = reg
        self.clock = clock
        self.recent: dict[tuple[object, str, str], str] = {}

    def __call__(self, obj: Obj, etype: str, reason: str, message: str, component: str,
                 host: str | None = None, container: str | None = None) -> None:
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        if self.store.find(NS, None, ns) is None:
            return
        dedup = (md.get("uid"), reason, message)
        seen = self.recent.get(dedup)
        e = self.store.find(EVENTS, ns, seen) if seen else None
        if e is not None:
            new = copy.deepcopy(e)
            new["count"] = e.get("count", 1) + 1
            new["lastTimestamp"] = now()
            try:
                self.reg.update(EVENTS, ns, e["metadata"]["name"], new,
                                validation_mode="Ignore", check_rv=False)
            except errors.APIError:
                pass
            return
        ts = now()
        src: Obj = {"component": component}
        if host:
            src["host"] = host
        ev: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{md['name']}.{time.time_ns():x}", "namespace": ns},
            "involvedObject": {"kind": obj["kind"], "namespace": md.get("namespace"),
                               "name": md["name"], "uid": md.get("uid"),
                               "apiVersion": obj["apiVersion"],
                               "resourceVersion": md.get("resourceVersion")},
            "reason": reason, "message": message, "source": src, "type": etype,
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "eventTime": None,
            "reportingComponent": component, "reportingInstance": host or "",
        }
        if not md.get("namespace"):
            del ev["involvedObject"]["namespace"]
        if container:  # the kubelet's container events point at the container
            ev["involvedObject"]["fieldPath"] = f"spec.containers{{{container}}}"
        try:
            self.reg.create(EVENTS, ns, ev, validation_mode="Ignore")
        except errors.APIError as err:
            log.debug("event dropped: %s", err.message)
            return
        if len(self.recent) > 5000:
            self.recent.clear()
        self.recent[dedup] = ev["metadata"]["name"]


class EventTTL(Controller):
    """Deletes Events older than ``ttl`` seconds, looking every ``every`` seconds."""

    name = "event-ttl"
    watches = ()
    ttl, every = 3600.0, 300.0

    def resync(self) -> None:
        self.enqueue("expire")

    def sync(self, key: Key) -> None:
        cutoff = self.ctx.clock() - self.ttl
        for e in list(self.store.iter(EVENTS)):
            last = e.get("lastTimestamp") or e["metadata"].get("creationTimestamp")
            if parse_time(last) < cutoff:
                try:
                    self.store.delete(EVENTS, e["metadata"].get("namespace"),
                                      e["metadata"]["name"])
                except errors.APIError:
                    pass
        self.later(self.every, "expire")
