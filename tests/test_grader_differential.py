"""The grader's verdicts on the real control plane (the oracle) and on the embedded cluster must
agree: the same labs in the same states (fresh, set up, solved, broken) give the same status and
the same findings, modulo addresses and generated names.

Probe objectives are left out: the real control plane's pods are KWOK's, with no containers.
"""

from __future__ import annotations

import re
from pathlib import Path

import embedded
import pytest

from labs import catalog, clusters, session
from labs.grading import grade
from labs.kube import Kube

pytestmark = pytest.mark.controlplane
PROBES = {"http", "http-host", "dns", "dns-records", "dns-pod-names"}


@pytest.fixture(scope="module")
def targets(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    from controlplane.testing import session_control_plane

    state = tmp_path_factory.mktemp("embedded-diff")
    both = {"real": (Kube(session_control_plane(request).kubeconfig), clusters.CurrentCluster()),
            "embedded": (Kube(embedded.up(state)), clusters.EmbeddedCluster())}
    yield both
    try:
        session.use(*both["real"])
        for lab in catalog.names():
            session.reset(lab)
    finally:  # the embedded cluster stops even when a reset fails
        session._state.clear()
        embedded.down(state)


def normalised(text: str) -> str:
    text = re.sub(r"\b\d{1,3}(\.\d{1,3}){3}\b", "<ip>", text)
    text = re.sub(r"\b[a-z0-9-]+-(control-plane|worker\d*)\b", "<node>", text)
    return re.sub(r"deploy-test01-[a-z0-9]+-[a-z0-9]{5}", "deploy-test01-<pod>", text)


def verdicts(targets, lab: str, step) -> dict[str, dict[str, tuple[str, str]]]:
    out = {}
    for name, (kube, backend) in targets.items():
        session.use(kube, backend)
        step()
        report = grade(kube, catalog.load(lab), host_ports=False)
        checks = {o.id: o.check for o in catalog.load(lab).objectives}
        out[name] = {r.id: (r.status, normalised(r.found)) for r in report.results
                     if checks[r.id] not in PROBES}
    return out


def wrong_selector(tmp: Path, lab: str, service_file: str) -> Path:
    f = tmp / "wrong.yml"
    f.write_text((catalog.MANIFESTS / service_file).read_text()
                 .replace("app.kubernetes.io/name: web-deploy", "app: web"))
    return f


@pytest.mark.parametrize("lab", catalog.names())
def test_fresh_setup_and_solved_labs_get_the_same_verdicts(targets, lab):
    steps = {"fresh": lambda: session.reset(lab), "set up": lambda: session.setup(lab),
             "solved": lambda: session.solve(lab)}
    for state, step in steps.items():
        got = verdicts(targets, lab, step)
        assert got["embedded"] == got["real"], f"{lab} {state}"


def test_a_wrong_selector_gets_the_same_verdicts(targets, tmp_path):
    bad = wrong_selector(tmp_path, "nodeport", "nodeport/service-test01.yml")
    got = verdicts(targets, "nodeport", lambda: (session.reset("nodeport"),
                                                 session.setup("nodeport"),
                                                 session.apply("nodeport", [bad])))
    assert got["embedded"] == got["real"]
    assert got["real"]["endpoints"] == ("failed",
                                        "ENDPOINTS <none>: the selector matches no ready pod")
