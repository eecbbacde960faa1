"""The seam between the kubelet and the data plane: ``ContainerRuntime``, everything the kubelet
asks of a container runtime, and ``NullRuntime``, the runtime without processes (pods have IPs
and statuses, every image pulls, every probe passes, nothing stops slowly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..controllers.base import EventFn

Obj = dict[str, Any]


@dataclass(frozen=True)
class PullFailure:
    """Why the container runtime cannot have an image: ``reason`` is the container's waiting
    reason (ErrImagePull, or InvalidImageName for a reference that does not parse)."""

    reason: str
    message: str


class ContainerRuntime(Protocol):
    """What the kubelet tells the container runtime and asks of it."""

    def use_recorder(self, record: EventFn) -> None:
        """The kubelet's event recorder, for Events the runtime causes (a main process that
        exits and is restarted, a host port taken)."""

    def started(self, pod: Obj) -> None:
        """Every container of the pod starts (its first start)."""

    def stopped(self, pod: Obj) -> None:
        """The pod is gone: stop its containers and release its sandbox."""

    def start_container(self, pod: Obj, name: str) -> None:
        """One container starts (a later start, or a restart after a kill)."""

    def kill_container(self, pod: Obj, name: str) -> None:
        """One container is stopped (a failed liveness probe, a changed image)."""

    def pull_failure(self, image: str) -> PullFailure | None:
        """Why ``image`` cannot be pulled, or None when it can."""

    def image_size(self, image: str) -> int:
        """The image's size in bytes, as the kubelet's Pulled Event says it."""

    async def probe(self, pod: Obj, container: Obj, probe: Obj) -> tuple[bool, str]:
        """One run of ``probe`` against the container: (passed, output)."""

    def stops_on_sigterm(self, container: Obj) -> bool:
        """Whether the container's process exits on SIGTERM (else it waits for SIGKILL)."""


class NullRuntime:
    """No processes: every image pulls, every probe passes, every container stops at once."""

    def use_recorder(self, record: EventFn) -> None:
        pass

    def started(self, pod: Obj) -> None:
        pass

    def stopped(self, pod: Obj) -> None:
        pass

    def start_container(self, pod: Obj, name: str) -> None:
        pass

    def kill_container(self, pod: Obj, name: str) -> None:
        pass

    def pull_failure(self, image: str) -> PullFailure | None:
        return None

    def image_size(self, image: str) -> int:
        return 26214400

    async def probe(self, pod: Obj, container: Obj, probe: Obj) -> tuple[bool, str]:
        return True, ""

    def stops_on_sigterm(self, container: Obj) -> bool:
        return True


class StreamServer(Protocol):
    """The kubelet's streaming server, as the API server proxies to it: ``exec``/``attach``
    (a WebSocket or SPDY upgrade) and ``log`` of a pod. ``request`` is the API server's aiohttp
    request; the answer is the response to send."""

    async def handle(self, request: Any, ns: str, name: str, sub: str) -> Any: ...
    async def logs(self, request: Any, ns: str, name: str) -> Any: ...
