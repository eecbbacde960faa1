"""A simulated kubelet per node: Pending -> ContainerCreating -> Running -> Ready, image pulls
(ErrImagePull, ImagePullBackOff), probe workers (startup, readiness, liveness), container
restarts with CrashLoopBackOff, and termination.

- ``status``: timing, the kubelet's memory of a pod, the statuses it writes;
- ``prober``: the probe workers;
- ``runtime``: ``ContainerRuntime``, the seam to the data plane, and ``NullRuntime``;
- ``sync``: the kubelets' sync loop, a controller like the others (kubesim/controllers).
"""

from .runtime import ContainerRuntime, NullRuntime, PullFailure, StreamServer
from .status import (
    ImagePull,
    PodMemory,
    Restarts,
    Timing,
    creating_status,
    gates_pass,
    go_duration,
    image_ref,
    killed_state,
    pod_ref,
    running_status,
    terminated_status,
    waiting_status,
)

__all__ = ["ContainerRuntime", "ImagePull", "NullRuntime", "PodMemory", "PullFailure",
           "Restarts", "StreamServer", "Timing", "creating_status", "gates_pass", "go_duration", "image_ref",
           "killed_state", "pod_ref", "running_status", "terminated_status", "waiting_status"]
