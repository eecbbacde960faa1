"""The lab spine against a running cluster (the embedded one here): apply with server-side apply,
wait on watches, grade, reset, and API errors pointed at file, line and field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import embedded
import pytest

from labs import catalog, clusters, session
from labs.errors import ApplyError, LabError
from labs.grading import BLOCKED, FAILED, PASSED, SKIPPED, grade
from labs.kube import Kube

PROBES = {"http", "http-host", "dns", "dns-records", "dns-pod-names"}  # answered by the
# embedded data plane (issue 4)


@pytest.fixture(scope="module", params=[
    "embedded", pytest.param("real", marks=pytest.mark.controlplane)])
def kube(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The same tests on the embedded cluster and on a real control plane (the oracle)."""
    if request.param == "real":
        from controlplane.testing import session_control_plane

        kube = Kube(session_control_plane(request).kubeconfig)
        session.use(kube, clusters.CurrentCluster())
        yield kube
        for lab in catalog.names():
            session.reset(lab)
        session._state.clear()
        return
    state = tmp_path_factory.mktemp("embedded")
    kube = Kube(embedded.up(state))
    session.use(kube, clusters.EmbeddedCluster())
    yield kube
    session._state.clear()
    embedded.down(state)


def structural(lab: str, results) -> dict[str, str]:
    checks = {o.id: o.check for o in catalog.load(lab).objectives}
    return {r.id: r.status for r in results if checks[r.id] not in PROBES}


@pytest.mark.parametrize("lab", catalog.names())
def test_solve_then_check_passes_what_the_api_shows(kube, lab):
    fresh = grade(kube, catalog.load(lab), host_ports=False)
    # no namespace yet: the first objective fails with the setup hint, the rest wait for it
    assert [r.status for r in fresh.results] == [FAILED] + [BLOCKED] * (len(fresh.results) - 1)
    session.solve(lab)
    report = grade(kube, catalog.load(lab), host_ports=False)
    if isinstance(session.cluster(start=False), clusters.EmbeddedCluster):
        # the embedded data plane answers curl and DNS from the pods: every objective passes
        assert {r.id: r.status for r in report.results if r.status != SKIPPED} == {
            o.id: PASSED for o in catalog.load(lab).objectives if o.check != "http-host"}
    else:  # KWOK pods have no containers to exec into: what the API shows must pass
        assert set(structural(lab, report.results).values()) == {PASSED}, report.results
    # README "Grading": the namespace, the nodes, 5 lists (7 reads), and one exec into nginx01
    assert report.api_requests == 8


def test_the_loadbalancer_gets_a_node_address_at_run_time(kube):
    session.solve("loadbalancer")
    svc = kube.get("/api/v1/namespaces/lab-loadbalancer/services/web-service-loadbalancer")
    nodes = kube.list("/api/v1/nodes")
    assert svc["spec"]["externalIPs"] == [session.node_ip(kube)]
    assert session.node_ip(kube) in {a["address"] for n in nodes for a in n["status"]["addresses"]}


def test_applying_twice_is_idempotent(kube):
    session.solve("clusterip")
    first = kube.get("/api/v1/namespaces/lab-clusterip/services/web-service")
    session.solve("clusterip")
    again = kube.get("/api/v1/namespaces/lab-clusterip/services/web-service")
    assert again["spec"]["clusterIP"] == first["spec"]["clusterIP"]


def test_a_wrong_selector_is_graded_with_what_the_cluster_shows(kube, tmp_path):
    wrong = tmp_path / "svc.yml"
    wrong.write_text(Path(catalog.MANIFESTS, "nodeport/service-test01.yml").read_text()
                     .replace("app.kubernetes.io/name: web-deploy", "app: web"))
    session.setup("nodeport")
    session.apply("nodeport", [wrong])
    results = {r.id: r for r in grade(kube, catalog.load("nodeport"), host_ports=False).results}
    assert results["selector"].found == "selector app=web matches none of 3 pod(s)"
    assert results["endpoints"].found == "ENDPOINTS <none>: the selector matches no ready pod"
    session.solve("nodeport")


def test_an_api_validation_error_names_file_line_field_and_fix(kube, tmp_path):
    bad = tmp_path / "service.yml"
    bad.write_text(Path(catalog.MANIFESTS, "nodeport/service-test01.yml").read_text()
                   .replace("nodePort: 31001", "nodePort: 80"))
    with pytest.raises(ApplyError) as e:
        session.apply("nodeport", [bad], wait=False)
    text = str(e.value)
    assert e.value.where == f"{bad}:11"
    assert "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. " \
           "The range of valid ports is 30000-32767" in text
    assert "422 Invalid" in text and "NodePorts must be in 30000-32767" in text


def test_a_duplicate_node_port_is_refused_with_the_api_message(kube, tmp_path):
    session.solve("nodeport")
    other = tmp_path / "other.yml"
    other.write_text(Path(catalog.MANIFESTS, "nodeport/service-test01.yml").read_text()
                     .replace("name: web-service-nodeport", "name: web-service-copy"))
    with pytest.raises(ApplyError) as e:
        session.apply("nodeport", [other], wait=False)
    assert "provided port is already allocated" in str(e.value)
    assert e.value.where == f"{other}:11"


def test_reset_deletes_exactly_the_lab_namespace(kube):
    session.solve("externalname")
    session.solve("clusterip")
    session.reset("externalname")
    assert kube.get("/api/v1/namespaces/lab-externalname") is None
    assert kube.get("/api/v1/namespaces/lab-clusterip") is not None
    results = grade(kube, catalog.load("externalname"), host_ports=False).results
    assert results[0].status == FAILED and "no namespace" in results[0].found
    assert all(r.status == BLOCKED and r.needs == (results[0].id,) for r in results[1:])


def test_reset_leaves_a_namespace_the_labs_did_not_create(kube):
    kube.request("POST", "/api/v1/namespaces",
                 body={"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "lab-clusterip-x"}})
    lab = catalog.load("clusterip")
    mine = catalog.Lab("x", "x", "lab-clusterip-x", (), (), (), lab.path)
    with pytest.raises(LabError) as e:
        session.reset(mine)
    assert "was not created by the labs" in e.value.what
    assert kube.get("/api/v1/namespaces/lab-clusterip-x") is not None


def test_waiting_times_out_with_what_it_last_saw(kube):
    from labs.waiting import wait_rollout

    kube.ensure_namespace("lab-wait")
    with pytest.raises(LabError) as e:
        wait_rollout(kube, "lab-wait", "absent", timeout=1)
    assert "timed out after 1 s waiting for deployment/absent" in e.value.what
    assert e.value.details == ["last seen: not found"]


def test_the_cli_check_exits_non_zero_and_writes_json_and_junit(kube, tmp_path):
    env = {**os.environ, "LAB_CLUSTER": "current", "KUBECONFIG": str(kube.kubeconfig)}
    done = subprocess.run([sys.executable, "-m", "labs", "check", "externalname",
                           "--reports", str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "check-results.json").exists() and (tmp_path / "junit.xml").exists()
    assert "externalname:" in done.stdout and "failed" in done.stdout


def test_headless_pod_names_need_the_statefulsets_service_name(kube, tmp_path):
    """Only a StatefulSet whose spec.serviceName is the headless Service gets per-pod names; the
    Service's own name lists the ready pods either way (CoreDNS answers from EndpointSlices)."""
    if not isinstance(session.cluster(start=False), clusters.EmbeddedCluster):
        pytest.skip("KWOK pods have no containers to exec into")
    other = tmp_path / "statefulset-web.yml"
    other.write_text(Path(catalog.MANIFESTS, "headless/statefulset-web.yml").read_text()
                     .replace("serviceName: web-headless", "serviceName: web-other"))
    lab = catalog.load("headless")
    session.reset(lab)
    session.apply(lab, [Path(catalog.MANIFESTS, "common/web-echo-config.yml"), other,
                        Path(catalog.MANIFESTS, "common/nginx-test01.yml"),
                        Path(catalog.MANIFESTS, "headless/service-headless.yml")])
    results = {r.id: r for r in grade(kube, lab, host_ports=False).results}
    assert results["headless"].found == "serviceName of the StatefulSet web: web-other"
    assert results["dns-pod-names"].found == (
        "web-0.web-headless.lab-headless.svc.cluster.local: lookup failed: name not found"
        " - the StatefulSet web names the Service web-other in spec.serviceName")
    assert results["dns-records"].status == PASSED, results["dns-records"].found
    assert results["curl-dns"].status == PASSED
    session.reset(lab)


def test_a_headless_service_with_a_cluster_ip_answers_with_its_virtual_ip(kube, tmp_path):
    if not isinstance(session.cluster(start=False), clusters.EmbeddedCluster):
        pytest.skip("KWOK pods have no containers to exec into")
    vip = tmp_path / "service.yml"
    vip.write_text(Path(catalog.MANIFESTS, "headless/service-headless.yml").read_text()
                   .replace("clusterIP: None", "clusterIP: null"))
    lab = catalog.load("headless")
    session.reset(lab)
    session.setup(lab)
    session.apply(lab, [vip])
    svc = kube.get("/api/v1/namespaces/lab-headless/services/web-headless")
    ip = svc["spec"]["clusterIP"]
    results = {r.id: r for r in grade(kube, lab, host_ports=False).results}
    assert results["headless"].found == f"CLUSTER-IP {ip}"
    assert results["dns-records"].found.startswith(f"web-headless -> {ip}: the Service's cluster IP")
    assert results["dns-pod-names"].found.endswith(
        "lookup failed: name not found - web-headless is not headless, so its pods get no names "
        "in DNS")
    session.reset(lab)
