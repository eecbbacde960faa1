"""The data-plane cases on a kind cluster: kind still answers as recorded (the recording is
what the embedded cluster is held to). DATAPLANE_RECORD=1 (`make record-dataplane`) writes the
recording instead of comparing."""

from __future__ import annotations

import os

import pytest
from dpcases import Target, diff, load_cases, load_recorded, run_case, setup, write_recorded
from dphelpers import count, kubectl_for

from labs import clusters

pytestmark = pytest.mark.kind
CASES = load_cases()
RECORD = bool(os.environ.get("DATAPLANE_RECORD"))
RECORDED = load_recorded()
RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def kind(tmp_path_factory):
    backend = clusters.KindCluster()
    kubeconfig = backend.up()
    target = Target("kind", kubectl_for(kubeconfig, tmp_path_factory.mktemp("kubectl-cache")),
                    {"nodeport": 31004, "lb": 8080})
    facts = setup(target)
    yield target, facts
    if RECORD and RESULTS:
        write_recorded(RESULTS, "kind")
    target.kubectl("delete", "namespace", "dpdiff", "--wait=false", ns=None, check=False)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_kind_answers_as_recorded(kind, case):
    target, facts = kind
    got = run_case(target, case, facts)
    if case.get("stat"):
        assert got["verdict"]["uniform"] and got["verdict"]["repeats_like_random"], got
    if RECORD:
        RESULTS[case["name"]] = got
        return
    recorded = RECORDED.get(case["name"], {}).get("kind")
    assert recorded is not None, f"no recording for {case['name']}: make record-dataplane"
    count("kind", "agree" if got == recorded else "differs")
    assert got == recorded, diff(recorded, got)
