"""The embedded cluster's data plane (issue 4): exec and attach over WebSocket into per-pod
sandboxes running a real shell, network commands answered by a model of kube-proxy (iptables
mode), CoreDNS and the containers' servers, and kind's host port mappings."""

from __future__ import annotations

from .plane import DataPlane

__all__ = ["DataPlane"]
