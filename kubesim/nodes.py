"""The node model: three kind-like nodes, their addresses and pod CIDRs, pod IP allocation, and
the node predicates (taints, node affinity) the scheduler and the DaemonSet controller share.

This module and ``kubelet/`` are where the data plane (issue 4: exec, curl, DNS) plugs in: a
node knows its InternalIP and pod CIDR, and every running pod has an IP from its node's CIDR.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Any

from .store import Store

Obj = dict[str, Any]

CLUSTER = "kubesim"
MAX_PODS = 250  # kind says 110; a /24 pod CIDR holds 253, and the benchmark wants 1,000 pods
KUBELET_VERSION = "v1.37.0-kubesim"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    role: str  # "control-plane" or "worker"
    internal_ip: str
    pod_cidr: str

    @property
    def schedulable_by_default(self) -> bool:
        return self.role != "control-plane"


NODES = [
    NodeSpec(f"{CLUSTER}-control-plane", "control-plane", "172.18.0.2", "10.244.0.0/24"),
    NodeSpec(f"{CLUSTER}-worker", "worker", "172.18.0.3", "10.244.1.0/24"),
    NodeSpec(f"{CLUSTER}-worker2", "worker", "172.18.0.4", "10.244.2.0/24"),
]
BY_NAME = {n.name: n for n in NODES}


def node_object(n: NodeSpec, created: str) -> dict[str, Any]:
    labels = {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux", "kubesim.dev/embedded": "true",
    }
    spec: dict[str, Any] = {"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr],
                            "providerID": f"kubesim://{n.name}"}
    if n.role == "control-plane":
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        spec["taints"] = [{"effect": "NoSchedule",
                           "key": "node-role.kubernetes.io/control-plane"}]
    cond = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory",
         "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status (simulated by kubesim)"),
    ]
    capacity = {"cpu": "2", "ephemeral-storage": "61202244Ki", "hugepages-2Mi": "0",
                "memory": "4020048Ki", "pods": str(MAX_PODS)}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": n.name, "labels": labels, "annotations": {
            "kubesim.dev/note": "a simulated node of the kubesim embedded cluster",
            "node.alpha.kubernetes.io/ttl": "0"}, "creationTimestamp": created},
        "spec": spec,
        "status": {
            "addresses": [{"address": n.internal_ip, "type": "InternalIP"},
                          {"address": n.name, "type": "Hostname"}],
            "allocatable": capacity, "capacity": capacity,
            "conditions": [{"type": t, "status": s, "reason": r, "message": m,
                            "lastHeartbeatTime": created, "lastTransitionTime": created}
                           for t, s, r, m in cond],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64", "bootID": "", "machineID": "", "systemUUID": "",
                "containerRuntimeVersion": "kubesim://simulated",
                "kernelVersion": "kubesim", "kubeProxyVersion": "",
                "kubeletVersion": KUBELET_VERSION, "operatingSystem": "linux",
                "osImage": "kubesim embedded cluster (simulated node)",
            },
        },
    }


class PodNetwork:
    """Per-node pod IPs, handed out in order like host-local IPAM, so a replacement pod gets a
    new address. The cursor persists in the store's meta table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def allocate(self, node: str, in_use: set[str]) -> str:
        spec = BY_NAME.get(node)
        hosts = _hosts(spec.pod_cidr if spec else "10.244.9.0/24")
        key = f"ipcursor/{node}"
        cursor = int(self.store.meta.get(key, 0))
        for i in range(len(hosts)):
            cand = hosts[(cursor + i) % len(hosts)]
            if cand not in in_use:
                self.store.set_meta(key, (cursor + i + 1) % len(hosts))
                return cand
        raise RuntimeError(f"node {node} has no free pod IPs")


@functools.cache
def _hosts(cidr: str) -> list[str]:
    return [str(h) for h in ipaddress.ip_network(cidr).hosts()][1:]  # .1 is the node's bridge


def tolerated(taint: dict[str, Any], tolerations: list[dict[str, Any]]) -> bool:
    """Does one of ``tolerations`` tolerate ``taint`` (the scheduler's and DaemonSets' rule)?"""
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def match_expression(values: dict[str, str], e: Obj) -> bool:
    op, key, vals = e.get("operator"), e.get("key", ""), e.get("values") or []
    if op == "In":
        return key in values and values[key] in vals
    if op == "NotIn":
        return key not in values or values[key] not in vals
    if op == "Exists":
        return key in values
    if op == "DoesNotExist":
        return key not in values
    if op in ("Gt", "Lt") and key in values and vals:
        try:
            a, b = int(values[key]), int(vals[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_affinity_matches(spec: Obj, node: Obj) -> bool:
    """A pod spec's nodeSelector and required node affinity, against one node."""
    labels = node["metadata"].get("labels") or {}
    if not all(labels.get(k) == v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = req.get("nodeSelectorTerms") or []
    if not terms:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    return any(all(match_expression(labels, e) for e in t.get("matchExpressions") or []) and
               all(match_expression(fields, e) for e in t.get("matchFields") or [])
               and (t.get("matchExpressions") or t.get("matchFields"))
               for t in terms)


def untolerated(node: Obj, tolerations: list[Obj]) -> Obj | None:
    for t in (node.get("spec") or {}).get("taints") or []:
        if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(t, tolerations):
            return dict(t)
    return None


def pinned_node(pod: Obj) -> str | None:
    """The node a required ``matchFields: metadata.name In [node]`` term names (DaemonSet pods)."""
    req = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for t in req.get("nodeSelectorTerms") or []:
        for f in t.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and \
                    len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return None
