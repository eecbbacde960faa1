"""pytest support: one real control plane per test session, shared by every conftest that asks.

tests/controlplane/conftest.py and tests/differential/conftest.py both define a session fixture
that calls `session_control_plane(request)`; the ControlPlane lives in the pytest config's stash,
so it is started once and stopped in config cleanup (which pytest runs even after failures, on
Ctrl-C and on internal errors).  The cold build runs in `prebuild()`, called from
pytest_collection_finish, so its minutes are not counted against a test's timeout.

CONTROLPLANE_KUBECONFIG=<path> makes the tests use an already running control plane (e.g. the one
`make control-plane` prints) instead of starting one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import build
from .cluster import ControlPlane, ControlPlaneError

_CP = pytest.StashKey["Target"]()
_BUILD_ERROR = pytest.StashKey[str]()
_PREBUILT = pytest.StashKey[bool]()


@dataclass
class Target:
    """A cluster reachable through a kubeconfig; what tests and the differential runner use."""

    name: str
    kubeconfig: Path
    version: str = ""
    control_plane: ControlPlane | None = None

    def api_client(self):
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)
        return client.ApiClient(cfg)


def prebuild(session: pytest.Session) -> None:
    """Build the binaries before any test runs, if a control-plane test was collected."""
    if session.config.stash.get(_PREBUILT, False):
        return
    session.config.stash[_PREBUILT] = True
    if not any(item.get_closest_marker("controlplane") for item in session.items):
        return
    if os.environ.get("CONTROLPLANE_KUBECONFIG"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def log(msg: str) -> None:
        if reporter:
            reporter.write_line(msg)
        else:
            print(msg)

    t0 = time.monotonic()
    try:
        path = build.ensure_built(log=log)
        log(f"controlplane: binaries ready in {path} ({time.monotonic() - t0:.1f} s)")
    except build.BuildError as e:
        session.config.stash[_BUILD_ERROR] = str(e)


def session_control_plane(request: pytest.FixtureRequest) -> Target:
    config = request.config
    if _CP in config.stash:
        return config.stash[_CP]
    if _BUILD_ERROR in config.stash:
        pytest.fail(f"cannot build the real control plane: {config.stash[_BUILD_ERROR]}",
                    pytrace=False)
    existing = os.environ.get("CONTROLPLANE_KUBECONFIG")
    if existing:
        target = Target("real", Path(existing).resolve())
        target.version = _server_version(target)
        config.stash[_CP] = target
        return target
    run_dir = Path(tempfile.mkdtemp(prefix="controlplane-"))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    cp = ControlPlane(run_dir, log=(reporter.write_line if reporter else print))
    if not os.environ.get("CONTROLPLANE_KEEP"):  # CONTROLPLANE_KEEP=1 keeps logs and certs
        config.add_cleanup(lambda: shutil.rmtree(run_dir, ignore_errors=True))
    config.add_cleanup(cp.stop)  # cleanups run last-in first-out: stop, then delete
    try:
        cp.start()
    except (ControlPlaneError, build.BuildError) as e:
        pytest.fail(f"the real control plane did not start: {e}", pytrace=False)
    target = Target("real", cp.kubeconfig, cp.version(), cp)
    if reporter:
        reporter.write_line(
            f"controlplane: real Kubernetes {target.version} ready in "
            f"{cp.timings['start']:.1f} s on {cp.server} (run dir {run_dir})")
    config.stash[_CP] = target
    return target


def _server_version(target: Target) -> str:
    from kubernetes import client

    return client.VersionApi(target.api_client()).get_code().git_version


def wait_for(what: str, fn, timeout: float = 60.0):
    """Poll fn() until it returns something truthy; fail with the last value after timeout."""
    deadline = time.monotonic() + timeout
    delay, last = 0.05, None
    while True:
        try:
            last = fn()
        except Exception as e:  # noqa: BLE001 - keep polling; report the last error
            last = e
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


_SUMMARY_DONE = pytest.StashKey[bool]()


def terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """One line in the pytest summary: which real control plane the tests ran against."""
    if config.stash.get(_SUMMARY_DONE, False) or _CP not in config.stash:
        return
    config.stash[_SUMMARY_DONE] = True
    target = config.stash[_CP]
    cp = target.control_plane
    from . import versions

    if cp is None:
        terminalreporter.write_line(f"controlplane: real Kubernetes {target.version} "
                                    f"(reused, {target.kubeconfig})")
        return
    built = cp.bin.parent / "build-seconds"
    build_note = f"; its cold build took {built.read_text().strip()} s" if built.exists() else ""
    terminalreporter.write_line(
        f"controlplane: real Kubernetes {target.version} (etcd {versions.ETCD}, kwok "
        f"{versions.KWOK}) started in {cp.timings.get('start', 0):.1f} s{build_note}")
