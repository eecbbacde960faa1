"""The embedded cluster answers every data-plane case as kind did when it was recorded, or as
the recorded known difference says (each listed in kubesim/dataplane/README.md).

DATAPLANE_RECORD_EMBEDDED=1 records the embedded cluster's answer of each case marked `differs`
(after you have checked that the difference is the one its reason names)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dpcases import Target, diff, load_cases, load_recorded, run_case, setup, write_recorded
from dphelpers import count, kubectl_for
from externals import USERNS, needs_userns

REPO = Path(__file__).resolve().parents[2]
CASES = load_cases()
RECORDED = load_recorded()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    state = tmp_path_factory.mktemp("dp-embedded")
    ports = {"nodeport": free_port(), "lb": free_port()}
    env = {**os.environ,
           "KUBESIM_HOST_PORTS": f"{ports['nodeport']}:31004,{ports['lb']}:80"}
    done = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    kubeconfig = Path(done.stdout.strip().splitlines()[-1])
    target = Target("embedded", kubectl_for(kubeconfig, state / "kubectl-cache"), ports)
    try:
        facts = setup(target, timeout=60)
        yield target, facts
    finally:
        subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                       capture_output=True, text=True, timeout=60, cwd=REPO)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_embedded_cluster_answers_as_kind(embedded, case):
    target, facts = embedded
    recorded = RECORDED.get(case["name"], {})
    assert "kind" in recorded, (
        f"case {case['name']} has no kind recording: run `make record-dataplane` (needs the "
        "kind rig) and commit tests/dataplane/recorded.yaml")
    if case.get("sandbox") and not USERNS:
        pytest.skip(f"case {case['name']} reads the pod's own files: {needs_userns.kwargs['reason']}")
    got = run_case(target, case, facts)
    if case.get("differs") and os.environ.get("DATAPLANE_RECORD_EMBEDDED"):
        write_recorded({case["name"]: got}, "embedded")
        return
    if case.get("differs"):
        want = recorded.get("embedded")
        assert want is not None, f"{case['name']} is a known difference without a recording"
        outcome = "known" if got == want else "differs"
        count("embedded", outcome)
        assert got == want, (f"known difference ({case['differs']}) changed:\n"
                             f"{diff(want, got)}")
    else:
        outcome = "agree" if got == recorded["kind"] else "differs"
        count("embedded", outcome)
        assert got == recorded["kind"], diff(recorded["kind"], got)
