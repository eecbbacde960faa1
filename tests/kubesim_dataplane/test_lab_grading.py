"""Every lab, solved on the embedded cluster, passes every objective the grader has, including
the probes the data plane answers (curl from nginx01, DNS, and from the host when kind's ports
are free on this machine)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

from labs import catalog

MAPPED = (31001, 31002, 31003, 31004, 31005, 8080)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, bool]]:
    from labs import clusters, session
    from labs.kube import Kube
    host = all(_free(p) for p in MAPPED)
    state = tmp_path_factory.mktemp("kubesim-labs")
    env = dict(os.environ, KUBESIM_POD_START_SECONDS="0.05", KUBESIM_POD_READY_SECONDS="0.05",
               KUBESIM_POD_TERMINATE_SECONDS="0.05")
    if not host:
        env["KUBESIM_HOST_PORTS"] = "off"
    done = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    kube = Kube(Path(done.stdout.strip().splitlines()[-1]))
    session.use(kube, clusters.EmbeddedCluster())
    yield kube, host
    session._state.clear()
    subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                   capture_output=True, timeout=60, cwd=REPO)


@pytest.mark.parametrize("lab", catalog.names())
def test_solved_lab_passes_every_objective(graded: tuple[object, bool], lab: str) -> None:
    from labs import session
    from labs.grading import PASSED, SKIPPED, grade
    kube, host = graded
    session.solve(lab)
    try:
        report = grade(kube, catalog.load(lab), host_ports=host)  # type: ignore[arg-type]
        statuses = {r.id: r.status for r in report.results}
        allowed = {PASSED} if host else {PASSED, SKIPPED}
        assert set(statuses.values()) <= allowed, report.results
        checks = {o.id: o.check for o in catalog.load(lab).objectives}
        probes = [i for i, c in checks.items() if c in ("http", "dns", "dns-records", "dns-pod-names")]
        assert probes and all(statuses[i] == PASSED for i in probes)
    finally:
        session.reset(lab)
