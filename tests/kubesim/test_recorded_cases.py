"""The differential suite's cases, recorded on the real control plane (tests/differential/cases),
replayed against kubesim alone: any difference from the real API server's answer fails here,
without needing the real control plane built."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubesim_testkit import Sim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "differential"))
import runner  # noqa: E402

CASES = [c for c in runner.load_cases() if c.expect is not None]


@pytest.fixture(scope="module")
def cluster(sim: Sim) -> Iterator[Any]:
    c = runner.Cluster(sim.kubeconfig)
    yield c
    c.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_answer_as_the_real_api_server(cluster: Any, case: Any) -> None:
    observed = runner.run_case(cluster, case, timeout=20.0)
    assert runner.diff(case.expect, observed) == []
