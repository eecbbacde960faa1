"""A real control plane (built from Go modules) for the tests in this directory.

The fixture is session-scoped and shared with tests/differential (see controlplane/testing.py):
one control plane per pytest run, stopped at the end even when tests fail.  Without Go the
tests fail with the reason; they never skip.
"""

from __future__ import annotations

import pytest

from controlplane.testing import Target, prebuild, session_control_plane, terminal_summary


def pytest_collection_finish(session: pytest.Session) -> None:
    prebuild(session)


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Target:
    """The running real control plane: .kubeconfig (0600 admin kubeconfig), .version."""
    return session_control_plane(request)


@pytest.fixture(scope="session")
def k8s(control_plane: Target):
    """The official `kubernetes` client's ApiClient for the real control plane."""
    client = control_plane.api_client()
    yield client
    client.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    terminal_summary(terminalreporter, config)
