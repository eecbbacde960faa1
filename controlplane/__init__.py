"""A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
KWOK) built from Go modules and run on 127.0.0.1: the oracle the test suite checks the labs, the
grader and the embedded cluster against.  See controlplane/cluster.py and `python -m controlplane`.
"""

from .build import BuildError, ensure_built
from .cluster import ControlPlane, ControlPlaneError, kind_nodes
from .versions import ETCD, KUBERNETES, KWOK

__all__ = ["BuildError", "ControlPlane", "ControlPlaneError", "ETCD", "KUBERNETES", "KWOK",
           "ensure_built", "kind_nodes"]
