"""Every notebook, in both languages, executed headless on a real kind cluster (the kind rig's,
or your own with `make test-kind`): every cell, with the challenge solved, host-side checks
included. The unsolved run (hints, objectives waiting) and re-running are checked on the embedded
cluster, where a run costs a tenth of kind's; the grader's verdicts on a fresh kind lab are in
tests/test_kind_e2e.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from labs import clusters, notebooks
from labs.paths import MANIFESTS

from .test_execute import CORE, runs_twice

pytestmark = pytest.mark.kind


@pytest.fixture(scope="module")
def kind_project(tmp_path_factory: pytest.TempPathFactory):
    kubeconfig = clusters.KindCluster().up()
    root = tmp_path_factory.mktemp("project-kind")
    (root / "manifests").symlink_to(MANIFESTS)
    notebooks.build(out=root / "notebooks", quiet=True)
    with pytest.MonkeyPatch.context() as mp:  # what the kernels inherit
        mp.setenv("KUBECONFIG", str(kubeconfig))
        mp.setenv("LAB_CLUSTER", "kind")
        mp.setenv("LAB_REPORTS", str(root / "reports"))
        mp.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        yield root


@pytest.mark.parametrize("lang", notebooks.LANGS)
@pytest.mark.parametrize("name", CORE)
def test_notebook_runs_headless_twice_on_kind(kind_project: Path, name: str, lang: str) -> None:
    runs_twice(kind_project, name, lang, host_ports=True, once=True)
