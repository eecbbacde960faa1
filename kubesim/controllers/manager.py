"""The controller manager: one queue and one worker per controller, store changes dispatched
to the controllers that watch their kind, timers, and a synchronous mode for tests.

In the server, ``start()`` runs one asyncio worker per controller. In a test, a ``FakeClock``
replaces the event loop's timers and ``run_until_idle()`` drains the queues on the caller's
thread, so a controller is exercised in milliseconds with no server and no sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .. import errors
from ..registry import R, Registry
from ..resources import Resource
from ..store import Change, Store
from .base import Context, Controller, Key

log = logging.getLogger("kubesim.controllers")


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time as the controllers see it."""

    def time(self) -> float: ...
    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer: ...


class LoopClock:
    """The wall clock and the running event loop's timers."""

    def time(self) -> float:
        return time.time()

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(delay, 0), fn)


class FakeClock:
    """A clock a test moves by hand: ``advance(s)`` fires the timers that come due, in order."""

    class _Timer:
        def __init__(self) -> None:
            self.cancelled = False

        def cancel(self) -> None:
            self.cancelled = True

    def __init__(self, start: float | None = None) -> None:
        # from the wall clock's now: timestamps written into objects are wall-clock times
        self.now = time.time() if start is None else start
        self._timers: list[tuple[float, int, FakeClock._Timer, Callable[[], None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        t = FakeClock._Timer()
        heapq.heappush(self._timers, (self.now + max(delay, 0), next(self._seq), t, fn))
        return t

    def advance(self, seconds: float) -> None:
        until = self.now + seconds
        while self._timers and self._timers[0][0] <= until:
            when, _, t, fn = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not t.cancelled:
                fn()
        self.now = until


class Queue:
    """A de-duplicating work queue of keys."""

    def __init__(self) -> None:
        self.pending: dict[Any, None] = {}
        self.event = asyncio.Event()

    def add(self, key: Any) -> None:
        self.pending[key] = None
        self.event.set()

    def take(self) -> list[Any]:
        self.event.clear()
        keys = list(self.pending)
        self.pending.clear()
        return keys

    async def drain(self) -> list[Any]:
        await self.event.wait()
        return self.take()


class Manager:
    """Runs controllers built by ``factories`` (each called with its ``Context``)."""

    def __init__(self, store: Store, registry: Registry,
                 factories: Iterable[Callable[[Context], Controller]],
                 clock: Clock | None = None, event: Any = None) -> None:
        self.store = store
        self.reg = registry
        self.clock: Clock = clock or LoopClock()
        self.queues: dict[str, Queue] = {}
        self.timers: dict[tuple[str, Key], Timer] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self._event = event
        ctx = Context(store=store, reg=registry, enqueue=self.enqueue, later=self.later,
                      clock=self.clock.time, event=self._record)
        self.controllers: list[Controller] = [f(ctx) for f in factories]
        self.by_name = {c.name: c for c in self.controllers}
        for c in self.controllers:
            self.queues[c.name] = Queue()
        # kind -> the controllers watching it: a write reaches only those
        self.watching: dict[Resource, list[Controller]] = {
            res: [c for c in self.controllers if c.watches is None or res in c.watches]
            for res in R.values()}

    def _record(self, *a: Any, **kw: Any) -> None:
        if self._event is not None:
            self._event(*a, **kw)

    # ---- wiring ----
    def attach(self) -> None:
        """Listen to the store and enqueue what a previous run left (no workers: see start)."""
        self.store.listeners.append(self.on_change)
        for c in self.controllers:
            c.resync()

    def start(self) -> None:
        self.attach()
        for c in self.controllers:
            self.tasks.append(asyncio.create_task(self._worker(c)))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for h in self.timers.values():
            h.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def on_change(self, ch: Change) -> None:
        for c in self.watching.get(ch.res, ()):
            c.on_change(ch)

    def idle(self) -> bool:
        return all(not q.pending for q in self.queues.values())

    def enqueue(self, queue: str, key: Key) -> None:
        self.queues[queue].add(key)

    def later(self, delay: float, queue: str, key: Key) -> None:
        tk = (queue, key)
        old = self.timers.pop(tk, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self.timers.pop(tk, None)
            self.queues[queue].add(key)
        self.timers[tk] = self.clock.call_later(delay, fire)

    # ---- running ----
    def _run(self, c: Controller, key: Key) -> None:
        try:
            c.sync(key)
        except errors.APIError as e:
            if e.code == 409:  # a stale read: look again soon
                self.later(0.05, c.name, key)
            elif e.code != 404:
                log.warning("%s %s: %s", c.name, key, e.message)
        except Exception:  # noqa: BLE001 - a controller must survive one bad object
            log.exception("%s failed on %s; will retry in 1 second", c.name, key)
            self.later(1.0, c.name, key)

    async def _worker(self, c: Controller) -> None:
        q = self.queues[c.name]
        while True:
            for key in await q.drain():
                self._run(c, key)
            await asyncio.sleep(0)

    def run_until_idle(self, limit: int = 10_000) -> int:
        """Synchronously: sync every queued key until no queue holds one (tests). Returns how
        many syncs ran."""
        ran = 0
        while not self.idle():
            for c in self.controllers:
                for key in self.queues[c.name].take():
                    self._run(c, key)
                    ran += 1
            if ran > limit:
                raise RuntimeError(f"controllers still busy after {limit} syncs: a loop?")
        return ran
