"""ClusterIP and NodePort allocation, LoadBalancer, headless, ExternalName and type changes."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from kubesim_testkit import Sim

SVC = "/api/v1/namespaces/{ns}/services"


def create(sim: Sim, ns: str, spec: dict[str, Any], name: str = "web") -> tuple[int, Any]:
    code, body, _ = sim.request("POST", SVC.format(ns=ns), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
    return code, body


def update(sim: Sim, ns: str, spec: dict[str, Any], name: str = "web") -> tuple[int, Any]:
    _, cur, _ = sim.request("GET", SVC.format(ns=ns) + f"/{name}")
    body = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "resourceVersion": cur["metadata"]["resourceVersion"]},
            "spec": spec}
    code, out, _ = sim.request("PUT", SVC.format(ns=ns) + f"/{name}", body)
    return code, out


def test_well_known_cluster_ips(sim: Sim) -> None:
    _, k, _ = sim.request("GET", "/api/v1/namespaces/default/services/kubernetes")
    assert k["spec"]["clusterIP"] == "10.96.0.1"
    assert k["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP",
                                   "targetPort": 6443}]
    _, dns, _ = sim.request("GET", "/api/v1/namespaces/kube-system/services/kube-dns")
    assert dns["spec"]["clusterIP"] == "10.96.0.10"


def test_defaults_and_dynamic_cluster_ip(sim: Sim, ns: str) -> None:
    code, svc = create(sim, ns, {"selector": {"app": "web"}, "ports": [{"port": 80}]})
    assert code == 201, svc
    spec = svc["spec"]
    ip = ipaddress.ip_address(spec["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/16")
    assert int(ip) - int(ipaddress.ip_address("10.96.0.0")) >= 256  # dynamic picks skip the low band
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert svc["status"] == {"loadBalancer": {}}


def test_explicit_cluster_ip_errors(sim: Sim, ns: str) -> None:
    code, body = create(sim, ns, {"clusterIP": "10.96.0.10", "ports": [{"port": 80}]})
    assert code == 422
    assert body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.clusterIPs",
        "message": 'Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: '
                   "provided IP is already allocated"}]
    code, body = create(sim, ns, {"clusterIP": "10.0.0.5", "ports": [{"port": 80}]})
    assert code == 422
    assert body["details"]["causes"][0]["message"] == (
        'Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: the provided network '
        "does not match the current range")


@pytest.mark.parametrize("port", [29999, 32768, 65535])
def test_a_node_port_outside_30000_32767_is_refused(sim: Sim, ns: str, port: int) -> None:
    code, body = create(sim, ns, {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]})
    assert code == 422, body
    assert body["message"] == (
        f'Service "web" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port '
        "is not in the valid range. The range of valid ports is 30000-32767")
    assert body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.ports[0].nodePort",
        "message": f"Invalid value: {port}: provided port is not in the valid range. The range "
                   "of valid ports is 30000-32767"}]


@pytest.mark.parametrize("port", [30000, 32767])
def test_the_ends_of_the_node_port_range_are_accepted(sim: Sim, ns: str, port: int) -> None:
    code, body = create(sim, ns, {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]})
    assert code == 201, body
    assert body["spec"]["ports"][0]["nodePort"] == port


def test_nodeport_allocation_and_errors(sim: Sim, ns: str) -> None:
    code, a = create(sim, ns, {"type": "NodePort", "ports": [{"port": 80, "nodePort": 31501}]},
                     "a")
    assert code == 201 and a["spec"]["ports"][0]["nodePort"] == 31501
    assert a["spec"]["externalTrafficPolicy"] == "Cluster"
    code, b = create(sim, ns, {"type": "NodePort", "ports": [{"port": 80, "nodePort": 31501}]},
                     "b")
    assert code == 422
    assert b["message"] == ('Service "b" is invalid: spec.ports[0].nodePort: Invalid value: '
                            "31501: provided port is already allocated")
    code, c = create(sim, ns, {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}, "c")
    assert code == 422
    assert c["details"]["causes"][0]["message"] == (
        "Invalid value: 80: provided port is not in the valid range. The range of valid ports "
        "is 30000-32767")
    code, dup = create(sim, ns, {"type": "NodePort", "ports": [
        {"name": "a", "port": 80, "nodePort": 31502}, {"name": "b", "port": 81,
                                                      "nodePort": 31502}]}, "dup")
    assert code == 422
    assert dup["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.ports[1].nodePort",
        "message": "Invalid value: 31502: provided port is already allocated"}]
    code, d = create(sim, ns, {"type": "NodePort", "ports": [{"port": 80}]}, "d")
    assert code == 201
    assert 30086 <= d["spec"]["ports"][0]["nodePort"] <= 32767  # random picks: the upper band
    # the same port number on TCP and UDP shares one nodePort
    code, e = create(sim, ns, {"type": "NodePort", "ports": [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}, "e")
    assert code == 201
    assert e["spec"]["ports"][0]["nodePort"] == e["spec"]["ports"][1]["nodePort"]


def test_loadbalancer(sim: Sim, ns: str) -> None:
    code, lb = create(sim, ns, {"type": "LoadBalancer", "ports": [{"port": 80}]}, "lb")
    assert code == 201
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["ports"][0]["nodePort"] >= 30000
    assert lb["status"] == {"loadBalancer": {}}
    code, nonp = create(sim, ns, {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
                                  "ports": [{"port": 80}]}, "nonp")
    assert code == 201 and "nodePort" not in nonp["spec"]["ports"][0]
    code, local = create(sim, ns, {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                                   "ports": [{"port": 80}]}, "local")
    assert code == 201 and 30000 <= local["spec"]["healthCheckNodePort"] <= 32767


def test_headless_and_externalname(sim: Sim, ns: str) -> None:
    code, h = create(sim, ns, {"clusterIP": "None", "selector": {"app": "db"}}, "db")
    assert code == 201
    assert h["spec"]["clusterIP"] == "None" and h["spec"]["clusterIPs"] == ["None"]
    code, x = create(sim, ns, {"type": "ExternalName", "externalName": "www.google.com"}, "x")
    assert code == 201
    assert "clusterIP" not in x["spec"] and "ipFamilies" not in x["spec"]
    assert x["spec"]["sessionAffinity"] == "None"


def test_type_changes(sim: Sim, ns: str) -> None:
    code, svc = create(sim, ns, {"selector": {"app": "web"},
                                 "ports": [{"name": "http", "port": 80}]})
    ip = svc["spec"]["clusterIP"]
    # ClusterIP -> NodePort: the cluster IP is kept (omitted in the update), a nodePort allocated
    code, np = update(sim, ns, {"type": "NodePort", "selector": {"app": "web"},
                                "ports": [{"name": "http", "port": 80}]})
    assert code == 200, np
    assert np["spec"]["clusterIP"] == ip
    node_port = np["spec"]["ports"][0]["nodePort"]
    # NodePort -> LoadBalancer: the nodePort is kept
    code, lb = update(sim, ns, {"type": "LoadBalancer", "selector": {"app": "web"},
                                "ports": [{"name": "http", "port": 80}]})
    assert code == 200 and lb["spec"]["ports"][0]["nodePort"] == node_port
    # LoadBalancer -> ClusterIP: the nodePort is released, LB-only fields dropped
    code, back = update(sim, ns, {"type": "ClusterIP", "selector": {"app": "web"},
                                  "ports": [{"name": "http", "port": 80,
                                             "nodePort": node_port}]})
    assert code == 200, back
    assert "nodePort" not in back["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in back["spec"]
    assert "allocateLoadBalancerNodePorts" not in back["spec"]
    code, reuse = create(sim, ns, {"type": "NodePort",
                                   "ports": [{"port": 80, "nodePort": node_port}]}, "reuse")
    assert code == 201, reuse
    # -> ClusterIP while adding a new nodePort is forbidden
    code, bad = update(sim, ns, {"type": "ClusterIP", "selector": {"app": "web"},
                                 "ports": [{"name": "http", "port": 80, "nodePort": 30999}]})
    assert code == 422
    assert bad["details"]["causes"][0]["field"] == "spec.ports[0].nodePort"
    # changing the cluster IP is refused
    code, bad = update(sim, ns, {"clusterIP": "10.96.200.200", "selector": {"app": "web"},
                                 "ports": [{"name": "http", "port": 80}]})
    assert code == 422
    assert bad["details"]["causes"][0] == {
        "reason": "FieldValueInvalid", "field": "spec.clusterIPs[0]",
        "message": 'Invalid value: ["10.96.200.200"]: may not change once set'}
    # -> ExternalName wipes the cluster IP; -> ClusterIP again allocates a new one
    code, ext = update(sim, ns, {"type": "ExternalName", "externalName": "example.com",
                                 "ports": [{"name": "http", "port": 80}]})
    assert code == 200, ext
    assert "clusterIP" not in ext["spec"]
    code, again = update(sim, ns, {"type": "ClusterIP", "selector": {"app": "web"},
                                   "ports": [{"name": "http", "port": 80}]})
    assert code == 200, again
    assert again["spec"]["clusterIP"] not in ("", "None", None)


def test_loadbalancer_address_from_status(sim: Sim, ns: str) -> None:
    """A load-balancer controller (MetalLB, a cloud) writes status.loadBalancer.ingress; until
    then EXTERNAL-IP is <pending>."""
    create(sim, ns, {"type": "LoadBalancer", "ports": [{"port": 80}]}, "lb")
    row = sim.kubectl("-n", ns, "get", "svc", "lb", "--no-headers").stdout.split()
    assert row[3] == "<pending>"
    sim.kubectl("-n", ns, "patch", "svc", "lb", "--subresource=status", "--type=merge", "-p",
                '{"status":{"loadBalancer":{"ingress":[{"ip":"172.18.255.200"}]}}}')
    row = sim.kubectl("-n", ns, "get", "svc", "lb", "--no-headers").stdout.split()
    assert row[3] == "172.18.255.200"
    # a spec update does not touch the status; leaving LoadBalancer clears it
    code, svc = update(sim, ns, {"type": "LoadBalancer", "ports": [{"port": 80}],
                                 "selector": {"app": "x"}}, "lb")
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "172.18.255.200"}]
    code, svc = update(sim, ns, {"type": "ClusterIP", "ports": [{"port": 80}]}, "lb")
    assert code == 200 and svc["status"] == {"loadBalancer": {}}
