"""Controllers in-process: a Registry on an in-memory Store, a fake clock, the queues drained on
the test's thread (no server, no sleeping; each test takes milliseconds). The HTTP tests in
test_controllers.py and test_workloads.py check the same controllers through the API."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from kubesim.cluster import Controllers
from kubesim.controllers import FakeClock, Manager
from kubesim.controllers.endpoints import EndpointsController
from kubesim.controllers.events import EventRecorder
from kubesim.controllers.replicaset import ReplicaSetController
from kubesim.kubelet.status import Timing
from kubesim.registry import R, Registry
from kubesim.store import Store

PODS, RS, SVC, EPS, EVENTS = (R["pods"], R["replicasets"], R["services"], R["endpointslices"],
                              R["events"])
NS = "lab"


@pytest.fixture()
def reg() -> Registry:
    r = Registry(Store(None))
    r.create(R["namespaces"], None, {"metadata": {"name": NS}})
    return r


def manager(reg: Registry, *factories: Any) -> tuple[Manager, FakeClock]:
    clock = FakeClock()
    m = Manager(reg.store, reg, factories, clock=clock,
                event=EventRecorder(reg.store, reg, clock.time))
    m.attach()
    m.run_until_idle()
    return m, clock


def replicaset(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                         "containers": [{"name": "c", "image": "nginx:1.29"}]}}}}


def owned_pods(reg: Registry) -> list[dict[str, Any]]:
    return [p for p in reg.store.list(PODS, NS) if not p["metadata"].get("deletionTimestamp")]


def test_replicaset_creates_and_removes_pods_and_counts_them(reg: Registry) -> None:
    t0 = time.perf_counter()
    m, _ = manager(reg, ReplicaSetController)
    rs = reg.create(RS, NS, replicaset(3))
    m.run_until_idle()
    pods = owned_pods(reg)
    assert len(pods) == 3
    assert all(p["metadata"]["name"].startswith("web-") and
               p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
               for p in pods)
    assert reg.store.get(RS, NS, "web")["status"]["replicas"] == 3
    reasons = sorted(e["reason"] for e in reg.store.list(EVENTS, NS))
    assert reasons == ["SuccessfulCreate"] * 3

    scaled = copy.deepcopy(reg.store.get(RS, NS, "web"))
    scaled["spec"]["replicas"] = 1
    reg.update(RS, NS, "web", scaled)
    m.run_until_idle()
    assert len(owned_pods(reg)) == 1
    assert reg.store.get(RS, NS, "web")["status"]["replicas"] == 1
    assert sum(e["reason"] == "SuccessfulDelete" for e in reg.store.list(EVENTS, NS)) == 2

    # a pod deleted by someone else is replaced
    reg.store.delete(PODS, NS, owned_pods(reg)[0]["metadata"]["name"])
    m.run_until_idle()
    assert len(owned_pods(reg)) == 1
    assert time.perf_counter() - t0 < 2.0


def running_pod(name: str, ip: str, ready: bool, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": "kubesim-worker",
                     "containers": [{"name": "c", "image": "nginx:1.29",
                                     "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


def set_status(reg: Registry, name: str, ready: bool) -> None:
    pod = copy.deepcopy(reg.store.get(PODS, NS, name))
    pod["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    reg.update(PODS, NS, name, pod, subresource="status", check_rv=False)


def slice_of(reg: Registry, svc: str) -> dict[str, Any]:
    [s] = [s for s in reg.store.list(EPS, NS)
           if s["metadata"]["labels"].get("kubernetes.io/service-name") == svc]
    return s


def test_endpointslice_follows_pods_readiness_and_labels(reg: Registry) -> None:
    m, _ = manager(reg, EndpointsController)
    reg.create(SVC, NS, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}})
    for i, ready in ((1, True), (2, False)):
        reg.create(PODS, NS, running_pod(f"web-{i}", f"10.244.1.{i}", ready, {"app": "web"}))
        set_status(reg, f"web-{i}", ready)  # a create drops the status, as the API server does
    m.run_until_idle()
    s = slice_of(reg, "web")
    assert s["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]  # the named port
    assert [(e["addresses"], e["conditions"]["ready"]) for e in s["endpoints"]] == [
        (["10.244.1.1"], True), (["10.244.1.2"], False)]

    set_status(reg, "web-2", True)
    m.run_until_idle()
    assert [e["conditions"]["ready"] for e in slice_of(reg, "web")["endpoints"]] == [True, True]

    relabeled = copy.deepcopy(reg.store.get(PODS, NS, "web-1"))
    relabeled["metadata"]["labels"] = {"app": "other"}
    reg.update(PODS, NS, "web-1", relabeled)
    m.run_until_idle()
    assert [e["addresses"] for e in slice_of(reg, "web")["endpoints"]] == [["10.244.1.2"]]


def test_a_pod_write_reaches_only_the_services_that_may_select_it(reg: Registry) -> None:
    m, _ = manager(reg, EndpointsController)
    for i in range(100):
        reg.create(SVC, NS, {"metadata": {"name": f"svc-{i}"}, "spec": {
            "selector": {"app": f"a{i}"}, "ports": [{"port": 80}]}})
    m.run_until_idle()
    reg.create(PODS, NS, running_pod("p", "10.244.1.9", True, {"app": "a7", "tier": "x"}))
    assert list(m.queues["endpoints"].pending) == [(NS, "svc-7")]


def test_configmap_writes_wake_only_the_pods_waiting_for_them(reg: Registry) -> None:
    clock = FakeClock()
    ctl = Controllers(reg.store, reg, timing=Timing(start=0, ready=0, terminate=0),
                      clock=clock)
    ctl.attach()
    waiting = running_pod("needs-cm", "", False, {})
    waiting["spec"]["volumes"] = [{"name": "v", "configMap": {"name": "settings"}}]
    del waiting["status"]
    reg.create(PODS, NS, waiting)
    for i in range(50):  # bound to a node no kubelet serves: left alone
        absent = running_pod(f"absent-{i}", "", False, {})
        absent["spec"]["nodeName"] = "no-such-node"
        del absent["status"]
        reg.create(PODS, NS, absent)
    ctl.run_until_idle()
    clock.advance(0.01)
    ctl.run_until_idle()
    assert reg.store.get(PODS, NS, "absent-0").get("status", {}).get("phase") in (None, "Pending")
    assert not reg.store.get(PODS, NS, "absent-0").get("status", {}).get("containerStatuses")
    assert reg.store.get(PODS, NS, "needs-cm")["status"]["phase"] == "Pending"
    assert any(e["reason"] == "FailedMount" for e in reg.store.list(EVENTS, NS))

    reg.create(R["configmaps"], NS, {"metadata": {"name": "settings"}})
    assert list(ctl.queues["kubelet"].pending) == [(NS, "needs-cm")]
    ctl.run_until_idle()
    assert reg.store.get(PODS, NS, "needs-cm")["status"]["phase"] == "Running"
