"""Probe workers, one per container and probe kind, as the kubelet's prober manager runs them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .status import Timing

log = logging.getLogger("kubesim.kubelet")


PROBE_KINDS = (("startup", "startupProbe", "Startup"), ("liveness", "livenessProbe", "Liveness"),
               ("readiness", "readinessProbe", "Readiness"))
ProbeFn = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Awaitable[tuple[bool, str]]]
Report = Callable[[tuple[str, str], str, str, str, bool, str], None]


class Prober:
    """Probe workers, one per container and probe, as the kubelet's prober manager runs them:
    wait initialDelaySeconds, then probe every periodSeconds (both capped by ``Timing``) and
    report each result; the kubelet counts them against the thresholds."""

    def __init__(self, timing: Timing, get_pod: Callable[[tuple[str, str]], Any],
                 probe: ProbeFn | None, report: Report) -> None:
        self.timing = timing
        self.get_pod = get_pod
        self.probe = probe
        self.report = report
        self.workers: dict[tuple[str, str, str], asyncio.Task[None]] = {}

    def start(self, pod: dict[str, Any], names: set[str] | None = None,
              starting: set[str] | None = None) -> None:
        """Workers for the named containers (all without ``names``); a container in
        ``starting`` runs only its startup probe (liveness and readiness wait for it)."""
        md = pod["metadata"]
        uid, key = md.get("uid", ""), (md.get("namespace", ""), md["name"])
        for c in pod["spec"]["containers"]:
            if names is not None and c["name"] not in names:
                continue
            for kind, attr, _ in PROBE_KINDS:
                if (kind == "startup") != (c["name"] in (starting or set())):
                    continue
                spec = c.get(attr)
                wk = (uid, c["name"], kind)
                if not isinstance(spec, dict) or wk in self.workers:
                    continue
                self.workers[wk] = asyncio.get_running_loop().create_task(
                    self._work(key, uid, c, kind, spec))

    def stop(self, uid: str, name: str | None = None, kind: str | None = None) -> None:
        for wk in [k for k in self.workers if k[0] == uid and name in (None, k[1])
                   and kind in (None, k[2])]:
            self.workers.pop(wk).cancel()

    def stop_all(self) -> None:
        for t in self.workers.values():
            t.cancel()
        self.workers.clear()

    async def _work(self, key: tuple[str, str], uid: str, c: dict[str, Any], kind: str,
                    spec: dict[str, Any]) -> None:
        await asyncio.sleep(self.timing.delay(spec))
        while True:
            pod = self.get_pod(key)
            if pod is None or pod["metadata"].get("uid") != uid:
                self.workers.pop((uid, c["name"], kind), None)
                return
            ok, out = True, ""
            if self.probe is not None:
                try:
                    ok, out = await self.probe(pod, c, spec)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - a probe that errs is a failed probe
                    log.exception("probe of %s/%s failed to run", key[1], c["name"])
                    ok, out = False, str(e)
            self.report(key, uid, c["name"], kind, ok, out)
            await asyncio.sleep(self.timing.period(spec))
