"""Every notebook, in both languages, executed headless on a real kind cluster (the kind rig's,
or your own with `make test-kind`): every cell, with the challenge solved, host-side checks
included. The unsolved run (hints, objectives waiting) and re-running are checked on the embedded
cluster, where a run costs a tenth of kind's; the grader's verdicts on a fresh kind lab are in
tests/test_kind_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs import clusters, notebooks

from .test_execute import CORE, project_copy, runs_twice

pytestmark = pytest.mark.kind


@pytest.fixture(scope="module")
def kind_project(tmp_path_factory: pytest.TempPathFactory):
    kubeconfig = clusters.KindCluster().up()
    with project_copy(tmp_path_factory.mktemp("project-kind"), kubeconfig, "kind") as root:
        yield root


@pytest.mark.parametrize("lang", notebooks.LANGS)
@pytest.mark.parametrize("name", CORE)
def test_notebook_runs_headless_twice_on_kind(kind_project: Path, name: str, lang: str) -> None:
    runs_twice(kind_project, name, lang, host_ports=True, once=True)
