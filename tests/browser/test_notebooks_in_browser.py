"""Every notebook, in both languages, as a learner sees it: JupyterLab in Debian's chromium.

JupyterLab is started as `python -m labs lab` starts it (labs.cli.jupyter_argv: the labs' own
settings, 127.0.0.1), on a free port, with the embedded cluster (LAB_CLUSTER=embedded), in a copy of
the project. For each notebook: open it, run all cells, then assert that every widget rendered (no
"Error displaying widget", no "Model not found"), that each Mermaid block became an SVG, that the
check panel has one row per objective, and that its "Check again" button grades again after the
lab is solved from another cell; no JavaScript error may be logged. Screenshots go to
reports/screenshots/; the README's picture (docs/img/lab-nodeport.png) is taken here too.

Needs Debian's chromium (`make browser` installs it as root; else: sudo apt-get install chromium).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import embedded
import pytest

from labs import catalog, cli, notebooks
from labs.paths import JUPYTER_SETTINGS, MANIFESTS, PROJECT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: "
                                 "make setup")
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip("Debian's chromium is not installed: sudo apt-get install chromium "
                "(`make browser` does it as root)", allow_module_level=True)

NOTEBOOKS = ["00-intro", "01-clusterip", "02-nodeport", "03-loadbalancer", "04-externalname",
             "05-headless"]
SCREENSHOTS = PROJECT / "reports" / "screenshots"
README_PICTURE = PROJECT / "docs" / "img" / "lab-nodeport.png"
AGAIN = {"en": "Check again", "ko": "다시 채점"}
RUN_ALL = 240_000  # ms: the longest notebook runs in well under a minute


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab on a free port over a project copy, kernels on a fresh embedded cluster."""
    root = tmp_path_factory.mktemp("project")
    (root / "manifests").symlink_to(MANIFESTS)
    notebooks.build(out=root / "notebooks", quiet=True)
    state = root / ".labs"
    kubeconfig = embedded.up(state / "embedded")
    # The shipped settings, plus every cell rendered (not only those scrolled into view), so the
    # test sees each diagram and widget.
    settings = root / "jupyter-settings"
    settings.mkdir()
    overrides = json.loads((JUPYTER_SETTINGS / "overrides.json").read_text())
    overrides["@jupyterlab/notebook-extension:tracker"] = {"windowingMode": "none"}
    (settings / "overrides.json").write_text(json.dumps(overrides))
    port, token = free_port(), secrets.token_hex(16)
    argv = [a if not a.startswith("--LabApp.app_settings_dir=")
            else f"--LabApp.app_settings_dir={settings}"
            for a in cli.jupyter_argv(root / "notebooks", browser=False, port=port)]
    argv += [f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
             f"--ServerApp.runtime_dir={root / 'runtime'}"]
    env = {**cli.jupyter_env(kubeconfig, "embedded"), "LAB_STATE_DIR": str(state),
           "LAB_REPORTS": str(root / "reports"), "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces")}
    log = (root / "jupyter.log").open("w")
    server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (root / "jupyter.log").read_text()
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.2)
        yield f"{base}|{token}"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        embedded.down(state / "embedded")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def wait_js(page: Any, script: str, timeout: float = 60_000) -> Any:
    return page.wait_for_function(script, timeout=timeout).json_value()


NOTEBOOK_JS = "window.jupyterapp && window.jupyterapp.shell.currentWidget"


def run_cell(page: Any, source: str) -> None:
    """Add a cell at the end of the notebook with ``source`` and run it (as a learner would)."""
    page.evaluate("""async (source) => {
        const app = window.jupyterapp, nb = app.shell.currentWidget.content;
        nb.activeCellIndex = nb.widgets.length - 1;
        await app.commands.execute('notebook:insert-cell-below');
        nb.activeCell.model.sharedModel.setSource(source);
        await app.commands.execute('notebook:run-cell');
    }""", source)


def objective_rows(page: Any) -> list[str]:
    return page.eval_on_selector_all(".jp-Cell.lab-check-cell table.lab-checks tr.lab-objective",
                                     "rows => rows.map(r => r.dataset.status)")


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_notebook_in_a_browser(jupyter: str, browser: Any, name: str, lang: str) -> None:
    base, token = jupyter.split("|")
    errors: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    try:
        page.goto(f"{base}/lab/tree/{lang}/{name}.ipynb?reset&token={token}")
        wait_js(page, f"{NOTEBOOK_JS} && window.jupyterapp.shell.currentWidget.context"
                      " && window.jupyterapp.shell.currentWidget.context.isReady")
        wait_js(page, "window.jupyterapp.shell.currentWidget.sessionContext.session"
                      " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel")
        ran = page.evaluate("async () => await window.jupyterapp.commands.execute("
                            "'notebook:run-all-cells')")
        assert ran is not False, "a cell failed: run all stopped"
        wait_js(page, """() => {
            const w = window.jupyterapp.shell.currentWidget;
            const cells = w.content.widgets.filter(c => c.model.type === 'code');
            return w.sessionContext.session.kernel.status === 'idle'
                && cells.every(c => c.model.executionCount !== null);
        }""", RUN_ALL)
        page.wait_for_timeout(500)  # the last outputs' widgets render

        text = page.inner_text(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        assert "Error displaying widget" not in text and "Model not found" not in text
        widgets = page.evaluate("""() => {
            const w = window.jupyterapp.shell.currentWidget;
            const outs = [...w.node.querySelectorAll('.jp-OutputArea-output')].filter(o =>
                o.dataset.mimeType === 'application/vnd.jupyter.widget-view+json');
            return {views: outs.length,
                    rendered: outs.filter(o => o.querySelector('.jupyter-widgets')).length};
        }""")
        assert widgets["views"] == widgets["rendered"], widgets
        mermaid = """() => {  // diagrams drawn: an inline SVG or an SVG image, not an error
            const w = window.jupyterapp.shell.currentWidget;
            const count = t => (String(t || '').match(/```mermaid/g) || []).length;
            const blocks = w.content.widgets.map(c => c.model.type === 'markdown'
                ? count(c.model.sharedModel.getSource())
                : c.model.type === 'code' ? c.model.outputs.toJSON().map(o =>
                    count([].concat((o.data || {})['text/markdown'] || []).join(''))
                    + ((o.data || {})['text/vnd.mermaid'] ? 1 : 0)).reduce((a, b) => a + b, 0)
                : 0).reduce((a, b) => a + b, 0);
            const drawn = [...w.node.querySelectorAll('.jp-RenderedMermaid')].filter(d =>
                !d.classList.contains('jp-mod-warning')
                && d.querySelector('svg, img[src^="data:image/svg+xml"]')).length;
            return {blocks, drawn};
        }"""
        try:
            wait_js(page, f"() => {{ const m = ({mermaid})(); return m.drawn >= m.blocks; }}",
                    20_000)
        finally:
            counts = page.evaluate(mermaid)
        assert counts["drawn"] == counts["blocks"], counts
        # jupyter/settings/overrides.json: no "get notified about official Jupyter news?" prompt
        assert page.locator(".jp-toast-container, .Toastify").get_by_text("Jupyter news").count() == 0
        if name == "00-intro":
            page.screenshot(path=str(SCREENSHOTS / f"{lang}-{name}.png"))
            assert not errors, errors
            return

        lab = name.split("-", 1)[1]
        objectives = catalog.load(lab).objectives
        page.evaluate("""() => {  // the check cell: the one whose source calls labs.check
            const w = window.jupyterapp.shell.currentWidget;
            const cell = w.content.widgets.find(c => c.model.type === 'code'
                && /^labs\\.check\\(/m.test(c.model.sharedModel.getSource()));
            cell.node.classList.add('lab-check-cell');
        }""")
        before = objective_rows(page)
        assert len(before) == len(objectives), before
        assert "failed" in before  # the challenge is not solved yet: something fails
        check = page.locator(".jp-Cell.lab-check-cell")
        check.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"{lang}-{name}-unsolved.png"))
        if (lang, name) == ("en", "02-nodeport"):
            README_PICTURE.parent.mkdir(parents=True, exist_ok=True)
            shot_with_diagram(page, README_PICTURE)

        run_cell(page, f'import labs\nlabs.solve("{lab}")')
        wait_js(page, "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                      ".status === 'idle'", 120_000)
        deadline = time.monotonic() + 90
        while True:  # the objects need a moment to become ready: press again until they pass
            check.get_by_role("button", name=AGAIN[lang]).click()
            page.wait_for_function("""() => !document.querySelector(
                '.lab-check-cell .widget-button').disabled""", timeout=90_000)
            after = objective_rows(page)
            if set(after) <= {"passed", "skipped"} or time.monotonic() > deadline:
                break
            page.wait_for_timeout(2000)
        assert len(after) == len(objectives)
        assert set(after) <= {"passed", "skipped"}, after
        check.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"{lang}-{name}-solved.png"))
        assert not errors, errors
    finally:
        page.close()


def shot_with_diagram(page: Any, path: Path) -> None:
    """The README's picture: the NodePort notebook's path diagram and, below it, the check panel."""
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.locator(".jp-Cell.lab-check-cell").scroll_into_view_if_needed()
    page.screenshot(path=str(path))
