"""One kubesim server per test session, real kubectl 1.37 and the official Python client pointed at it,
and a fresh namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubesim_testkit import Sim, run_kubesim, wait_until


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    state = tmp_path_factory.mktemp("kubesim-state")
    done = run_kubesim("up", state)
    assert done.returncode == 0, done.stderr
    kubeconfig = Path(done.stdout.strip().splitlines()[-1])
    yield Sim(state, kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))
    run_kubesim("down", state)


@pytest.fixture
def ns(sim: Sim) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    code, body, _ = sim.request("POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert code == 201, body
    yield name
    sim.request("DELETE", f"/api/v1/namespaces/{name}")
    # wait until it is gone, so fixed nodePorts (31001, ...) are free for the next test
    wait_until(f"namespace {name} deleted",
               lambda: sim.request("GET", f"/api/v1/namespaces/{name}")[0] == 404)


@pytest.fixture
def api(sim: Sim) -> Iterator[Any]:
    from kubernetes import config
    client = config.new_client_from_config(config_file=str(sim.kubeconfig))
    yield client
    client.close()
