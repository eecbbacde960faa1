"""The embedded cluster's controllers, one module each, as kube-controller-manager runs them.

- ``base``: ``Context`` (what a controller is given), ``Controller`` (what it declares), shared
  helpers; ``manager``: queues, workers, dispatch of store changes by watched kind, timers, the
  fake clock and synchronous runs for tests;
- ``scheduler``, ``replicaset``, ``deployment``, ``statefulset``, ``daemonset`` (with
  ``revisions``, what the last two share), ``endpoints`` (Endpoints and EndpointSlices), ``gc``,
  ``namespace``, ``events`` (the recorder and the TTL controller).

The kubelets' sync loop is a controller too; it lives with the kubelet (``kubesim.kubelet.sync``).
``kubesim.cluster.Controllers`` assembles them all.
"""

from .base import Context, Controller
from .manager import FakeClock, LoopClock, Manager

__all__ = ["Context", "Controller", "FakeClock", "LoopClock", "Manager"]
