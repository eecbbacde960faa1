"""Targets for the differential suite.

The real control plane (built from Go modules, shared with tests/controlplane) is always a target:
its answers are the recorded expectations.  More targets are listed in DIFFERENTIAL_TARGETS,
comma-separated, each either `name=/path/to/kubeconfig` or `kubesim` (started here with
`python -m kubesim up --state-dir DIR`, which writes DIR/kubeconfig).  Every case runs on every
target; any difference from the recording, or between targets, is a failing test.

    DIFFERENTIAL_TARGETS=kubesim make test
    DIFFERENTIAL_TARGETS=mine=$HOME/.kube/config .venv/bin/python -m pytest tests/differential
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from runner import Cluster, load_cases

from controlplane.testing import Target, prebuild, session_control_plane, terminal_summary

REPO = Path(__file__).resolve().parents[2]
RESULTS = pytest.StashKey[dict]()


def target_names() -> list[str]:
    extra = [t.strip() for t in os.environ.get("DIFFERENTIAL_TARGETS", "").split(",") if t.strip()]
    return ["real"] + [t.split("=", 1)[0] for t in extra]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cases = load_cases()
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", cases, ids=[c.name for c in cases])
    if "target_name" in metafunc.fixturenames:
        names = target_names()
        metafunc.parametrize("target_name", names, ids=names)


def pytest_report_header(config: pytest.Config) -> str:
    return f"differential targets: {', '.join(target_names())} ({len(load_cases())} cases)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """test_targets_agree compares targets with each other: only collected with two or more."""
    if len(target_names()) > 1:
        return
    drop = [i for i in items if i.originalname == "test_targets_agree"]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if i.originalname != "test_targets_agree"]


def pytest_collection_finish(session: pytest.Session) -> None:
    prebuild(session)


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Target:
    return session_control_plane(request)


def _start_kubesim(request: pytest.FixtureRequest) -> Path:
    state = Path(tempfile.mkdtemp(prefix="kubesim-"))
    log = open(state / "kubesim-up.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                            cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                       cwd=REPO, capture_output=True, timeout=60)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()

    request.config.add_cleanup(stop)
    kubeconfig = state / "kubeconfig"
    deadline = time.monotonic() + 60
    while True:
        if kubeconfig.exists():
            try:
                c = Cluster(kubeconfig)
                code, _ = c.request("GET", "/version")
                c.close()
                if code == 200:
                    return kubeconfig
            except Exception:  # noqa: BLE001 - not serving yet
                pass
        if time.monotonic() > deadline or (proc.poll() not in (None, 0)):
            pytest.fail(f"kubesim did not come up; see {state / 'kubesim-up.log'}", pytrace=False)
        time.sleep(0.1)


@pytest.fixture(scope="session")
def differential_targets(request: pytest.FixtureRequest, control_plane: Target):
    """name -> Cluster for every target."""
    kubeconfigs = {"real": control_plane.kubeconfig}
    for entry in os.environ.get("DIFFERENTIAL_TARGETS", "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, _, path = entry.partition("=")
        if path:
            kubeconfigs[name] = Path(path)
        elif name == "kubesim":
            kubeconfigs[name] = _start_kubesim(request)
        else:
            pytest.fail(f"DIFFERENTIAL_TARGETS: {entry!r} has no kubeconfig (use name=/path)",
                        pytrace=False)
    clusters = {name: Cluster(k) for name, k in kubeconfigs.items()}
    yield clusters
    for c in clusters.values():
        c.close()


@pytest.fixture(scope="session")
def differential_results(request: pytest.FixtureRequest) -> dict:
    """(case name, target name) -> normalised result, filled by the tests."""
    return request.config.stash.setdefault(RESULTS, {})


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    terminal_summary(terminalreporter, config)
    results = config.stash.get(RESULTS, None)
    if not results:
        return
    by_target: dict[str, list[bool]] = {}
    for (_, target), (_, ok) in results.items():
        by_target.setdefault(target, []).append(ok)
    for target, oks in sorted(by_target.items()):
        terminalreporter.write_line(
            f"differential: {sum(oks)}/{len(oks)} cases agree with the real server's "
            f"recording on target {target!r}")
