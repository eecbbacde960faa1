"""The embedded cluster's Service semantics in-process (no server): selectors, defaulting,
validation and nodePort allocation, with the real API server's messages. The same rules are
tested through the API in test_validation.py and test_allocation.py; these run in milliseconds,
so `make mutate` can judge every mutant of kubesim/services.py and kubesim/selectors.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_validation import CASES

from kubesim import errors, services
from kubesim.selectors import field_selector, label_selector, match_label_selector, match_labels


def pod(labels: dict[str, str] | None = None, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "labels": labels}, "status": status,
            "spec": {"unschedulable": True}}


# -- label selectors (?labelSelector=, kubectl -l) -------------------------------------------------
@pytest.mark.parametrize("expr, labels, selected", [
    ("app=web", {"app": "web"}, True),
    ("app=web", {"app": "db"}, False),
    ("app=web", {}, False),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {}, True),                  # != selects objects without the key too
    ("app!=web", {"app": "web"}, False),
    ("app in (web, db)", {"app": "db"}, True),
    ("app in (web, db)", {"app": "cache"}, False),
    ("app in (web, db)", {}, False),
    ("app notin (web)", {"app": "db"}, True),
    ("app notin (web)", {}, True),
    ("app notin (web)", {"app": "web"}, False),
    ("app", {"app": ""}, True),
    ("app", {"tier": "web"}, False),
    ("!app", {"tier": "web"}, True),
    ("!app", {"app": "web"}, False),
    ("App", {"App": "x"}, True),              # keys are case-sensitive and may have capitals
    ("example.com/App-1_x", {"example.com/App-1_x": ""}, True),
    ("app=web,tier=front", {"app": "web", "tier": "front"}, True),
    ("app=web,tier=front", {"app": "web"}, False),           # every requirement must hold
    ("app=web,tier=front", {"tier": "front"}, False),
    ("app in (web,db),tier", {"app": "db", "tier": "x"}, True),
    ("app in (web,db),tier", {"app": "db"}, False),
    (" app = web ", {"app": "web"}, True),
])
def test_label_selector(expr: str, labels: dict[str, str], selected: bool) -> None:
    match = label_selector(expr)
    assert match is not None and match(pod(labels)) is selected
    assert match(pod(None)) is match(pod({}))  # no labels at all: as an empty map


def test_an_empty_label_selector_is_none_and_equalities_are_indexed() -> None:
    assert label_selector("") is None and label_selector(None) is None
    match = label_selector("app=web,tier!=db,env in (prod),x==y")
    assert match is not None and match.equalities == [("app", "web"), ("x", "y")]  # type: ignore


def test_a_malformed_label_selector_is_a_bad_request() -> None:
    with pytest.raises(errors.APIError) as e:
        label_selector("app=web,a b")
    assert (e.value.code, e.value.message) == (
        400, "unable to parse requirement: invalid label selector 'a b'")


@pytest.mark.parametrize("expr, selected", [
    ("metadata.name=p", True), ("metadata.name==p", True), ("metadata.name=q", False),
    ("metadata.name!=q", True), ("metadata.name!=p", False),
    ("status.phase=Running", True), ("status.phase!=Running", False),
    ("spec.unschedulable=true", True), ("spec.unschedulable=True", False),
    ("status.podIP=", True),                  # an absent field is the empty string
    ("metadata.name.x=", True),               # a path through a non-object is empty too
    ("metadata.name=p,status.phase=Running", True), ("metadata.name=p,status.phase=Failed", False),
])
def test_field_selector(expr: str, selected: bool) -> None:
    match = field_selector(expr)
    assert match is not None and match(pod({}, phase="Running")) is selected


def test_a_false_boolean_field_is_the_string_false() -> None:
    schedulable = {"metadata": {"name": "n"}, "spec": {"unschedulable": False}}
    for expr, selected in (("spec.unschedulable=false", True), ("spec.unschedulable=true", False),
                           ("spec.unschedulable=False", False), ("spec.unschedulable!=", True)):
        match = field_selector(expr)
        assert match is not None and match(schedulable) is selected, expr


def test_field_selector_without_an_operator_is_a_bad_request() -> None:
    assert field_selector("") is None
    with pytest.raises(errors.APIError) as e:
        field_selector("metadata.name")
    assert (e.value.code, e.value.message) == (
        400, "invalid selector: 'metadata.name'; can't understand 'metadata.name'")


# -- a Service's selector (a map) and a workload's (a LabelSelector) -------------------------------
@pytest.mark.parametrize("selector, labels, selected", [
    ({"app": "web"}, {"app": "web", "x": "y"}, True),
    ({"app": "web", "tier": "front"}, {"app": "web", "tier": "front"}, True),
    ({"app": "web", "tier": "front"}, {"app": "web"}, False),
    ({"app": "web", "tier": "front"}, {"tier": "front"}, False),
    ({"app": "web"}, None, False),
    ({}, {"app": "web"}, False),              # a Service without a selector selects nothing
    (None, {"app": "web"}, False),
])
def test_match_labels(selector: Any, labels: Any, selected: bool) -> None:
    assert match_labels(selector, labels) is selected


@pytest.mark.parametrize("selector, labels, selected", [
    ({}, {"app": "web"}, True),               # an empty LabelSelector selects everything
    (None, {"app": "web"}, False),
    ({"matchLabels": {"app": "web", "tier": "front"}}, {"app": "web", "tier": "front"}, True),
    ({"matchLabels": {"app": "web", "tier": "front"}}, {"app": "web"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
     {"app": "web"}, True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, None, False),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, {}, True),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]},
     {"app": "web"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]},
     {"app": "db"}, True),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {"app": ""}, True),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {}, True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {"app": "x"}, False),
    ({"matchLabels": {"app": "web"},
      "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"app": "web"}, False),
])
def test_match_label_selector(selector: Any, labels: Any, selected: bool) -> None:
    assert match_label_selector(selector, labels) is selected


# -- defaulting, validation and allocation -----------------------------------------------------------
def service(spec: dict[str, Any], name: str = "web") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": copy.deepcopy(spec)}


@pytest.mark.parametrize("name, spec, message, causes",
                         [c for c in CASES if c[0] == "web"],
                         ids=lambda v: v if isinstance(v, str) and v else None)
def test_validation_causes(name: str, spec: dict[str, Any], message: str,
                           causes: list[tuple[str, str, str]]) -> None:
    svc = service(spec, name)
    services.default(svc)
    errs = services.validate(svc)
    assert [(e.field, e.reason, e.body()) for e in errs] == causes
    if message:
        assert errors.invalid_error("Service", "", name, errs).message == message


def test_defaults() -> None:
    svc = service({"type": "LoadBalancer", "sessionAffinity": "ClientIP", "clusterIP": "10.96.0.9",
                   "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": 5353}]})
    services.default(svc)
    assert svc["spec"] == {
        "type": "LoadBalancer", "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
        "clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"],
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                  {"port": 53, "protocol": "UDP", "targetPort": 5353}],
        "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
        "allocateLoadBalancerNodePorts": True}
    assert svc["status"] == {"loadBalancer": {}}
    plain = service({"ports": [{"port": 80}], "sessionAffinityConfig": {"clientIP": {}}})
    services.default(plain)
    assert plain["spec"] == {"type": "ClusterIP", "sessionAffinity": "None",
                             "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                             "internalTrafficPolicy": "Cluster"}
    alias = service({"type": "ExternalName", "externalName": "example.com"})
    services.default(alias)
    assert alias["spec"] == {"type": "ExternalName", "externalName": "example.com",
                             "sessionAffinity": "None"}


def allocate(spec: dict[str, Any], stored: list[dict[str, Any]] | None = None,
             name: str = "web") -> dict[str, Any]:
    svc = service(spec, name)
    services.default(svc)
    services.Allocator(lambda: stored or []).allocate(svc, None)
    return svc


RANGE = "provided port is not in the valid range. The range of valid ports is 30000-32767"


@pytest.mark.parametrize("port", [29999, 32768, 80, 65535])
def test_a_node_port_outside_the_range_is_refused(port: int) -> None:
    with pytest.raises(errors.APIError) as e:
        allocate({"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]})
    assert e.value.code == 422
    assert e.value.message == (
        f'Service "web" is invalid: spec.ports[0].nodePort: Invalid value: {port}: {RANGE}')


@pytest.mark.parametrize("port", [30000, 31001, 32767])
def test_a_node_port_in_the_range_is_kept(port: int) -> None:
    svc = allocate({"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]})
    assert svc["spec"]["ports"][0]["nodePort"] == port


def test_node_ports_in_use_are_refused_and_picked_ones_are_free() -> None:
    first = allocate({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31001}]}, name="a")
    with pytest.raises(errors.APIError) as e:
        allocate({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31001}]}, [first])
    assert e.value.message == ('Service "web" is invalid: spec.ports[0].nodePort: Invalid value: '
                               "31001: provided port is already allocated")
    # the same number on UDP is another port
    udp = allocate({"type": "NodePort", "ports": [{"port": 80, "protocol": "UDP",
                                                   "nodePort": 31001}]}, [first])
    assert udp["spec"]["ports"][0]["nodePort"] == 31001
    for _ in range(50):
        picked = allocate({"type": "NodePort", "ports": [{"port": 80}, {"port": 81}]}, [first])
        a, b = (p["nodePort"] for p in picked["spec"]["ports"])
        assert 30086 <= a <= 32767 and 30086 <= b <= 32767 and len({a, b, 31001}) == 3
    ip = picked["spec"]["clusterIP"]
    assert picked["spec"]["clusterIPs"] == [ip] and ip.startswith("10.96.")
    plain = allocate({"ports": [{"port": 80}]})
    assert "nodePort" not in plain["spec"]["ports"][0]
    assert (plain["spec"]["ipFamilies"], plain["spec"]["ipFamilyPolicy"]) == (
        ["IPv4"], "SingleStack")
    headless = allocate({"clusterIP": "None", "ports": [{"port": 80}]})
    assert (headless["spec"]["clusterIP"], headless["spec"]["clusterIPs"]) == ("None", ["None"])
