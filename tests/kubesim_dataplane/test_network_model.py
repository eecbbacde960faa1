"""The network model on its own (no server): kube-proxy's routing decisions and the client
address a server sees, on a store holding a small cluster."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.dataplane import network
from kubesim.dataplane.network import Network, Source
from kubesim.resources import lookup

PODS, SVCS = lookup("", "v1", "pods"), lookup("", "v1", "services")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
CP, W1, W2 = "kubesim-control-plane", "kubesim-worker", "kubesim-worker2"


class FakeStore:
    def __init__(self) -> None:
        self.rv = 1
        self.objects: dict[Any, list[dict[str, Any]]] = {PODS: [], SVCS: [], SLICES: []}

    def iter(self, res: Any) -> list[dict[str, Any]]:
        return list(self.objects.get(res, []))

    def list(self, res: Any, ns: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.objects.get(res, [])
                if ns is None or o["metadata"].get("namespace") == ns]

    def find(self, res: Any, ns: str, name: str) -> dict[str, Any] | None:
        return next((o for o in self.list(res, ns) if o["metadata"]["name"] == name), None)

    def add(self, res: Any, obj: dict[str, Any]) -> None:
        self.objects[res].append(obj)
        self.rv += 1


def web_pod(name: str, ip: str, node: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {"nodeName": node, "containers": [{"name": "nginx", "image": "nginx:1.29"}]},
            "status": {"phase": "Running", "podIP": ip}}


@pytest.fixture
def net() -> Network:
    s = FakeStore()
    s.add(PODS, web_pod("web-a", "10.244.1.2", W1))
    s.add(PODS, web_pod("web-b", "10.244.2.2", W2))
    s.add(PODS, web_pod("client", "10.244.1.9", W1))
    s.add(SVCS, {"metadata": {"name": "local", "namespace": "ns", "uid": "u1"},
                 "spec": {"type": "NodePort", "clusterIP": "10.96.0.50",
                          "externalTrafficPolicy": "Local",
                          "ports": [{"port": 80, "nodePort": 31001, "protocol": "TCP"}]}})
    s.add(SVCS, {"metadata": {"name": "cluster", "namespace": "ns", "uid": "u2"},
                 "spec": {"type": "NodePort", "clusterIP": "10.96.0.51",
                          "externalTrafficPolicy": "Cluster", "sessionAffinity": "ClientIP",
                          "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}},
                          "ports": [{"port": 80, "nodePort": 31002, "protocol": "TCP"}]}})
    for svc in ("local", "cluster"):
        s.add(SLICES, {"metadata": {"name": f"{svc}-x", "namespace": "ns",
                                    "labels": {"kubernetes.io/service-name": svc}},
                       "ports": [{"name": "", "port": 80, "protocol": "TCP"}],
                       "endpoints": [{"addresses": ["10.244.1.2"], "nodeName": W1,
                                      "conditions": {"ready": True}},
                                     {"addresses": ["10.244.2.2"], "nodeName": W2,
                                      "conditions": {"ready": True}}]})
    return Network(s)


HOST = Source("host", "172.18.0.1")


def test_local_policy_keeps_the_client_ip_and_uses_only_local_endpoints(net: Network) -> None:
    for _ in range(20):
        r = net.route(HOST, "172.18.0.3", 31001)      # worker: endpoint web-a is there
        assert r.kind == "ok" and r.backend_ip == "10.244.1.2" and r.client_ip == "172.18.0.1"
    r = net.route(HOST, "172.18.0.2", 31001)          # control-plane: no local endpoint
    assert r.kind == "drop" and r.note == "ns/local has no local endpoints"


def test_pod_traffic_to_a_local_policy_node_port_goes_to_all_endpoints(net: Network) -> None:
    client = net.source_for_pod(net.store.find(PODS, "ns", "client"))
    seen = {net.route(client, "172.18.0.2", 31001).backend_ip for _ in range(60)}
    assert seen == {"10.244.1.2", "10.244.2.2"}


def test_cluster_policy_masquerades_to_the_entry_node(net: Network) -> None:
    net.affinity.clear()
    got = {}
    for i in range(60):
        r = net.route(Source("host", f"172.18.0.{100 + i}"), "172.18.0.3", 31002)
        got[r.backend_ip] = r.client_ip
    # entering on worker (172.18.0.3): its own endpoint sees the node's bridge address,
    # the other node's endpoint sees the worker's InternalIP
    assert got == {"10.244.1.2": "10.244.1.1", "10.244.2.2": "172.18.0.3"}


def test_client_ip_affinity_expires_after_its_timeout(net: Network,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(network.time, "monotonic", lambda: now[0])
    client = net.source_for_pod(net.store.find(PODS, "ns", "client"))
    first = net.route(client, "10.96.0.51", 80).backend_ip
    for _ in range(30):
        now[0] += 4                                   # each use refreshes the 5 s timeout
        assert net.route(client, "10.96.0.51", 80).backend_ip == first
    seen = set()
    for _ in range(40):
        now[0] += 6                                   # expired every time: a fresh pick
        seen.add(net.route(client, "10.96.0.51", 80).backend_ip)
    assert seen == {"10.244.1.2", "10.244.2.2"}


def test_unmatched_ports_and_addresses(net: Network) -> None:
    client = net.source_for_pod(net.store.find(PODS, "ns", "client"))
    assert net.route(client, "10.96.0.50", 81).kind == "drop"        # no DNAT rule
    assert net.route(client, "172.18.0.3", 31999).kind == "refused"  # closed node port
    assert net.route(client, "10.244.2.77", 80).kind == "unreachable"
    assert net.route(client, "8.8.8.8", 53).kind == "drop"           # no outside network
    assert net.route(client, "10.244.2.2", 8080).kind == "refused"   # pod, port not listened
    assert net.route(client, "127.0.0.1", 80).kind == "ok"       # its own nginx
    assert net.route(client, "127.0.0.1", 81).kind == "refused"


def test_probe_hook(net: Network) -> None:
    """The kubelet's probes, answered by the network model in the kubelet's words."""
    import asyncio

    from kubesim.dataplane.plane import DataPlane
    plane = DataPlane.__new__(DataPlane)
    plane.net = net
    pod = web_pod("probed", "10.244.1.7", W1)
    c = pod["spec"]["containers"][0]
    c["ports"] = [{"name": "http", "containerPort": 80}]

    def probe(spec: dict[str, Any]) -> tuple[bool, str]:
        return asyncio.run(plane.probe(pod, c, spec))
    assert probe({"httpGet": {"path": "/", "port": "http"}}) == (True, "")
    assert probe({"httpGet": {"path": "/x", "port": 80}}) == (
        False, "HTTP probe failed with statuscode: 404")          # nginx answers 404 there
    assert probe({"httpGet": {"path": "/healthz", "port": 8080}}) == (
        False, 'Get "http://10.244.1.7:8080/healthz": dial tcp 10.244.1.7:8080: connect: '
               "connection refused")                               # nothing listens on 8080
    assert probe({"tcpSocket": {"port": 8080}}) == (
        False, "dial tcp 10.244.1.7:8080: connect: connection refused")
    assert probe({"tcpSocket": {"port": 80}}) == (True, "")
    pod["status"]["containerStatuses"] = [{"name": "nginx", "state": {"waiting": {
        "reason": "CrashLoopBackOff"}}}]
    net.store.rv += 1                                              # a new version of the pod
    assert probe({"tcpSocket": {"port": 80}})[0] is False         # not running: nothing listens
