"""Every notebook, in both languages, executed headless with nbclient against the embedded cluster.

Each notebook runs three times in one kernel, top to bottom: as a learner first opens it (the
challenge not solved: its objectives fail, each with its hint), then with the lab's reference
solution in the challenge cell (every check passes), then the same again (the same result: the
notebooks are re-runnable). The intro notebook has no challenge and runs twice.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import embedded
import nbformat
import pytest
from nbclient import NotebookClient

from labs import catalog, messages, notebooks
from labs.paths import MANIFESTS

CORE = ["00-intro", "01-clusterip", "02-nodeport", "03-loadbalancer", "04-externalname",
        "05-headless"]
# what the setup cell gives, not the challenge
SETUP_CHECKS = {"deployment-ready", "statefulset-ready", "pod-ready"}
# `!kubectl` failing inside a cell does not raise: its message is looked for instead.
SLOW_CELL = 45.0  # seconds
KUBECTL_ERROR = re.compile(r"^(error: |Error from server|The \w+ \"[^\"]+\" is invalid)", re.M)


@contextlib.contextmanager
def project_copy(root: Path, kubeconfig: Path, cluster: str, **env: str) -> Iterator[Path]:
    """Built notebooks and the real manifests under `root`, and the environment the notebooks'
    kernels inherit: the cluster's kubeconfig, the backend, reports inside the copy."""
    (root / "manifests").symlink_to(MANIFESTS)
    notebooks.build(out=root / "notebooks", quiet=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBECONFIG", str(kubeconfig))
        mp.setenv("LAB_CLUSTER", cluster)
        mp.setenv("LAB_REPORTS", str(root / "reports"))
        mp.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        for key, value in env.items():
            mp.setenv(key, value)
        yield root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    """A project copy and a fresh embedded cluster, reached as LAB_CLUSTER=current."""
    state = tmp_path_factory.mktemp("kubesim")
    kubeconfig = embedded.up(state)
    root = tmp_path_factory.mktemp("project")
    with project_copy(root, kubeconfig, "current", LAB_STATE_DIR=str(root / ".labs")):
        yield root
    embedded.down(state)


def solution_yaml(lab: str) -> str:
    texts = [p.read_text(encoding="utf-8") for p in catalog.load(lab).manifests("solution")]
    assert len(texts) == 1
    return texts[0]


def with_solution(nb: nbformat.NotebookNode, lab: str) -> nbformat.NotebookNode:
    solved = nbformat.from_dict(nb)
    cell = next(c for c in solved.cells if "challenge" in c.metadata.get("tags", []))
    cell.source, n = re.subn(r'my_service = """.*?"""', lambda _: f'my_service = """\n'
                             f'{solution_yaml(lab)}"""', cell.source, flags=re.S)
    assert n == 1
    return solved


def text_of(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def run(client: NotebookClient, nb: nbformat.NotebookNode) -> list[str]:
    """Execute every cell (an error raises CellExecutionError); the text each code cell showed."""
    client.nb = nb
    shown = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        started = time.monotonic()
        client.execute_cell(cell, i)
        seconds = time.monotonic() - started
        if seconds > SLOW_CELL:  # shown in pytest's warnings summary: a learner would wait this long
            warnings.warn(f"cell {i} took {seconds:.0f} s: {cell.source[:70]!r}", stacklevel=1)
        text = text_of(cell)
        tags = cell.metadata.get("tags", [])
        if "expect-error" in tags:
            assert KUBECTL_ERROR.search(text), f"cell {i} should show the API's error:\n{text}"
        else:
            assert not KUBECTL_ERROR.search(text), f"cell {i} ({cell.source[:60]!r}):\n{text}"
        shown.append(text)
    return shown


def check_results(nb: nbformat.NotebookNode, lang: str) -> dict[str, tuple[str, str]]:
    """The check panel's text in the notebook's language: objective title -> (PASS/FAIL/SKIP,
    the lines under it)."""
    cell = next(c for c in nb.cells if "check" in c.metadata.get("tags", []))
    text = text_of(cell)
    marks = {messages.label(status, lang): word for status, word in
             (("passed", "PASS"), ("failed", "FAIL"), ("skipped", "SKIP"), ("blocked", "WAIT"))}
    results: dict[str, tuple[str, str]] = {}
    for m in re.finditer(rf"^({'|'.join(marks)})  (.+)$\n?((?:      .*\n?)*)", text, re.M):
        results[m.group(2)] = (marks[m.group(1)], m.group(3))
    assert results, text
    return results


@pytest.mark.parametrize("lang", notebooks.LANGS)
@pytest.mark.parametrize("name", CORE)
def test_notebook_runs_headless_twice(project: Path, name: str, lang: str) -> None:
    runs_twice(project, name, lang, host_ports=False)


def runs_twice(project: Path, name: str, lang: str, host_ports: bool, once: bool = False) -> None:
    """Unsolved (setup checks pass, the challenge's fail with their hints), then solved twice
    (everything passes, the same each time; host-side checks skip only where the cluster maps no
    host ports). `once`: only the solved run, a single time (every cell still runs)."""
    path = project / "notebooks" / lang / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    lab = name.split("-", 1)[1]
    with client.setup_kernel():
        if lab == "intro" and once:
            assert run(client, nb)
            return
        if lab == "intro":
            first, again = run(client, nb), run(client, nbformat.from_dict(nb))
            assert len(first) == len(again)
            assert "new: " in "".join(again)
            return

        objectives = catalog.load(lab).objectives
        title = {o.id: o.text("title", lang) for o in objectives}  # what this notebook shows
        hint = messages.field_labels(lang)["hint"]
        unsolved = [] if once else run(client, nb)
        results = {} if once else check_results(nb, lang)
        assert once or set(results) == set(title.values())
        for o in objectives if not once else []:
            status, details = results[title[o.id]]
            if o.check in SETUP_CHECKS:
                assert status == "PASS", (o.id, details)
            elif o.check == "http-host" and not host_ports:  # no host port mapping to test
                assert status == "SKIP", (o.id, details)
            elif o.id == "service-type":  # the challenge is not solved: it fails, says what to do
                assert status == "FAIL", (o.id, details)
                assert f"{hint}{o.text('hint', lang)}" in details
            else:  # ...once: what needs the Service waits for it instead of repeating it
                assert status == "WAIT", (o.id, details)
                assert messages.label("waits-for", lang, titles="") in details
                assert hint not in details

        outcomes, details = [], []
        for _ in range(1 if once else 2):
            solved = with_solution(nb, lab)
            shown = run(client, solved)
            outcomes.append({t: s for t, (s, _) in check_results(solved, lang).items()})
            details.append({t: d for t, (s, d) in check_results(solved, lang).items()
                            if s != "PASS"})
            assert once or len(shown) == len(unsolved)
        assert set(outcomes[0]) == set(title.values())
        assert all(o == outcomes[0] for o in outcomes), details
        assert "FAIL" not in outcomes[0].values(), details[0]
        skipped = {t for t, s in outcomes[0].items() if s == "SKIP"}
        # only the host-side curl skips, and only where the cluster maps no host ports
        allowed = set() if host_ports else {title[o.id] for o in objectives
                                            if o.check == "http-host"}
        assert skipped <= allowed, skipped
    challenge = next(c for c in nb.cells if "challenge" in c.metadata.get("tags", []))
    saved = re.search(r'nb.my_manifest\("([^"]+)"', challenge.source)
    assert saved and (path.parent / "work" / saved.group(1)).read_text(encoding="utf-8").strip() \
        == solution_yaml(lab).strip()


@pytest.mark.parametrize(("lang", "first_run", "fix"), [
    ("en", "fix: run the cells of section 3 first (or Run > Run All Cells)",
     "fix: run the cells of section 1 first (or Run > Run All Cells)"),
    ("ko", "fix: 3번 섹션의 셀을 먼저 실행하세요 (또는 Run > Run All Cells)",
     "fix: 1번 섹션의 셀을 먼저 실행하세요 (또는 Run > Run All Cells)"),
], ids=["en", "ko"])
def test_a_cell_run_out_of_order_says_what_to_run_first(project: Path, lang: str, first_run: str,
                                                        fix: str) -> None:
    from nbclient.exceptions import CellExecutionError

    path = project / "notebooks" / lang / "02-nodeport.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    explorer = next((i, c) for i, c in code if "lw.port_explorer" in c.source)
    cleanup = code[-1]
    client = NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        client.execute_cell(code[0][1], code[0][0])  # set up, but skip creating the Service
        with pytest.raises(CellExecutionError):
            client.execute_cell(explorer[1], explorer[0])
        error = explorer[1].outputs[-1]
        assert error.output_type == "error" and error.ename == "LabError"
        assert error.evalue.endswith(first_run)
        assert "service/web-service-nodeport" in error.evalue
        assert len(error.traceback) == 1  # what, where, fix: no library traceback
        client.execute_cell(cleanup[1], cleanup[0])  # the namespace is gone now
        with pytest.raises(CellExecutionError):
            client.execute_cell(explorer[1], explorer[0])
        assert explorer[1].outputs[-1].evalue.endswith(fix)
