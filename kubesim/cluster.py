"""The embedded cluster's control loops, assembled: every controller of ``kubesim.controllers``
and the kubelets' sync loop, on one ``Manager``, with one event recorder."""

from __future__ import annotations

from .controllers.daemonset import DaemonSetController
from .controllers.deployment import DeploymentController
from .controllers.endpoints import EndpointsController
from .controllers.events import EventRecorder, EventTTL
from .controllers.gc import GarbageCollector
from .controllers.manager import Clock, LoopClock, Manager
from .controllers.namespace import NamespaceController
from .controllers.replicaset import ReplicaSetController
from .controllers.scheduler import Scheduler
from .controllers.statefulset import StatefulSetController
from .kubelet.runtime import ContainerRuntime
from .kubelet.status import Timing
from .kubelet.sync import Kubelet
from .registry import Registry
from .store import Store


class Controllers(Manager):
    """All of them: ``start()`` in the server; in a test, a ``FakeClock`` and
    ``run_until_idle()``."""

    def __init__(self, store: Store, registry: Registry, timing: Timing | None = None,
                 runtime: ContainerRuntime | None = None, clock: Clock | None = None,
                 root_ca: str = "") -> None:
        clock = clock or LoopClock()
        self.recorder = EventRecorder(store, registry, clock.time)
        super().__init__(store, registry, [
            Scheduler,
            lambda ctx: Kubelet(ctx, timing, runtime),
            ReplicaSetController, DeploymentController, StatefulSetController,
            DaemonSetController, EndpointsController, GarbageCollector,
            lambda ctx: NamespaceController(ctx, root_ca), EventTTL,
        ], clock=clock, event=self.recorder)
        kubelet = self.by_name["kubelet"]
        assert isinstance(kubelet, Kubelet)
        self.kubelet = kubelet

    @property
    def root_ca(self) -> str:
        """The PEM each namespace's kube-root-ca.crt ConfigMap publishes."""
        ns = self.by_name["namespace"]
        assert isinstance(ns, NamespaceController)
        return ns.root_ca

    @root_ca.setter
    def root_ca(self, pem: str) -> None:
        ns = self.by_name["namespace"]
        assert isinstance(ns, NamespaceController)
        ns.root_ca = pem

    async def stop(self) -> None:
        self.kubelet.stop()
        await super().stop()


__all__ = ["Controllers", "Timing"]
