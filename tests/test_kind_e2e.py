"""The four labs end to end on a real kind cluster: reset, check (all fail), solve, check (all
pass, probes and the host's NodePort included), and a lab solved a different valid way.

Needs Docker and network access to pull kind's node image and nginx: `make test-kind`.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from labs import catalog, clusters, session
from labs.grading import BLOCKED, FAILED, PASSED, grade

pytestmark = pytest.mark.kind


@pytest.fixture(scope="module")
def kube():
    backend = clusters.KindCluster()
    backend.up()
    kube = backend.connect()
    session.use(kube, backend)
    yield kube
    session._state.clear()


@pytest.mark.parametrize("lab", catalog.names())
def test_a_lab_fails_fresh_and_passes_after_its_solution(kube, lab):
    session.reset(lab)
    fresh = grade(kube, catalog.load(lab), host_ports=True, cluster="kind")
    assert [r.status for r in fresh.results] == [FAILED] + [BLOCKED] * (len(fresh.results) - 1)
    session.solve(lab)
    solved = grade(kube, catalog.load(lab), host_ports=True, cluster="kind")
    assert {r.id: r.status for r in solved.results} == {r.id: PASSED for r in solved.results}


def test_the_node_port_answers_on_the_hosts_loopback(kube):
    session.solve("nodeport")
    with urllib.request.urlopen("http://127.0.0.1:31001/", timeout=5) as resp:
        assert resp.status == 200 and resp.headers["X-Pod-Name"].startswith("deploy-test01-")


def test_the_external_ip_answers_through_host_port_8080(kube):
    session.solve("loadbalancer")
    with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5) as resp:
        assert b"From=deploy-test01-" in resp.read()


def test_load_balancing_reaches_every_pod(kube):
    session.solve("clusterip")
    results = session.probe("clusterip", "http://web-service/", 60)
    assert {r.status for r in results} == {200}
    assert len({r.pod for r in results}) == 3


def test_a_named_target_port_solves_the_lab_too(kube, tmp_path):
    session.reset("nodeport")
    session.setup("nodeport")
    mine = tmp_path / "svc.yml"
    mine.write_text(Path(catalog.MANIFESTS, "nodeport/service-test01.yml").read_text()
                    .replace("targetPort: 80 ", "targetPort: http "))
    session.apply("nodeport", [mine])
    report = grade(kube, catalog.load("nodeport"), host_ports=True, cluster="kind")
    assert report.passed, report.results
