"""The bilingual notebook sources and their build: no cluster needed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from labs import notebooks
from labs.errors import LabError
from labs.paths import CHECKS

SOURCES = notebooks.sources()
HANGUL = re.compile(r"[\uac00-\ud7a3]")
CORE = ["00-intro", "01-clusterip", "02-nodeport", "03-loadbalancer", "04-externalname",
        "05-headless"]


def test_the_five_notebooks_exist() -> None:
    assert [s.stem for s in SOURCES] == CORE


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built")
    results = notebooks.build(out=out, quiet=True)
    assert {(r.name, r.lang, r.action) for r in results} == {
        (n, lang, "created") for n in CORE for lang in notebooks.LANGS}
    return out


def _cells(path: Path) -> list[nbformat.NotebookNode]:
    return nbformat.read(path, as_version=4).cells


@pytest.mark.parametrize("name", CORE)
def test_every_source_builds_and_validates(built: Path, name: str) -> None:
    for lang in notebooks.LANGS:
        nb = nbformat.read(built / lang / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert all("lang" not in c.metadata for c in nb.cells)
    assert (built / "en" / "work").is_dir() and (built / "ko" / "work").is_dir()


@pytest.mark.parametrize("name", CORE)
def test_english_and_korean_have_identical_code_cells(built: Path, name: str) -> None:
    en, ko = (_cells(built / lang / f"{name}.ipynb") for lang in ("en", "ko"))
    code = [[(c.source, c.metadata.get("tags")) for c in cells if c.cell_type == "code"]
            for cells in (en, ko)]
    assert code[0] == code[1]
    assert len(code[0]) >= 5
    md = [[c for c in cells if c.cell_type == "markdown"] for cells in (en, ko)]
    assert len(md[0]) == len(md[1])  # every English cell has its Korean partner
    assert all(HANGUL.search(c.source) for c in md[1])
    assert not any(HANGUL.search(c.source) for c in md[0])


@pytest.mark.parametrize("name", CORE[1:])
def test_lab_notebooks_have_the_parts_a_lab_needs(built: Path, name: str) -> None:
    lab = name.split("-", 1)[1]
    assert (CHECKS / f"{lab}.yaml").exists()
    cells = _cells(built / "en" / f"{name}.ipynb")
    text = "\n".join(c.source for c in cells)
    tags = [t for c in cells for t in c.metadata.get("tags", [])]
    assert tags.count("challenge") == 1 and tags.count("check") == 1
    assert "```mermaid" in text
    assert "nb.fresh(" in text and f'labs.reset("{lab}")' in text
    assert f'labs.check("{lab}")' in text and "lw.hints(" in text
    assert re.search(rf"!kubectl apply -n lab-{lab} -f ", text)
    assert f"!kubectl get all -n lab-{lab}" in text
    assert "kubectl exec -n" in text or "labs.lookup(" in text
    assert "Break it" in text


def test_clusterip_and_nodeport_teach_random_not_round_robin(built: Path) -> None:
    for name in ("01-clusterip", "02-nodeport"):
        text = "\n".join(c.source for c in _cells(built / "en" / f"{name}.ipynb"))
        assert "1.26" in text and "random" in text


# -- learner edits are never overwritten -----------------------------------------------------------
def _source_copy(tmp_path: Path) -> Path:
    src = tmp_path / "src" / "02-nodeport.py"
    src.parent.mkdir()
    shutil.copy(notebooks.SOURCES / "02-nodeport.py", src)
    return src


def _change_source(src: Path) -> None:
    src.write_text(src.read_text(encoding="utf-8").replace(
        "## 8. Check", "## 8. Check your work"), encoding="utf-8")


def test_rebuild_leaves_an_unchanged_notebook_and_its_outputs_alone(tmp_path: Path) -> None:
    src, out = _source_copy(tmp_path), tmp_path / "out"
    assert notebooks.build_one(src, "en", out).action == "created"
    target = out / "en" / "02-nodeport.ipynb"
    nb = nbformat.read(target, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    nbformat.write(nb, target)
    before = target.read_bytes()
    assert notebooks.build_one(src, "en", out).action == "unchanged"
    assert target.read_bytes() == before


def test_rebuild_updates_a_notebook_nobody_edited(tmp_path: Path) -> None:
    src, out = _source_copy(tmp_path), tmp_path / "out"
    notebooks.build_one(src, "en", out)
    _change_source(src)
    assert notebooks.build_one(src, "en", out).action == "updated"
    text = (out / "en" / "02-nodeport.ipynb").read_text(encoding="utf-8")
    assert "Check your work" in text
    assert not (out / "en" / "02-nodeport.new.ipynb").exists()


def test_rebuild_never_overwrites_an_edited_notebook(tmp_path: Path) -> None:
    src, out = _source_copy(tmp_path), tmp_path / "out"
    notebooks.build_one(src, "en", out)
    target = out / "en" / "02-nodeport.ipynb"
    nb = nbformat.read(target, as_version=4)
    challenge = next(c for c in nb.cells if "challenge" in c.metadata.get("tags", []))
    challenge.source = challenge.source.replace("type: TODO", "type: NodePort")
    nbformat.write(nb, target)
    edited = target.read_bytes()
    (out / "en" / "work" / "web-service-nodeport.yml").write_text("mine\n")

    again = notebooks.build_one(src, "en", out)  # same source: nothing new to offer
    assert (again.action, again.note) == ("kept", "you edited it; no newer version")
    assert not (out / "en" / "02-nodeport.new.ipynb").exists()

    _change_source(src)
    result = notebooks.build_one(src, "en", out)
    assert result.action == "kept"
    assert result.line() == ("kept      " + str(target) +
                             "  (you edited it; the new version is 02-nodeport.new.ipynb)")
    assert target.read_bytes() == edited
    assert "Check your work" in (out / "en" / "02-nodeport.new.ipynb").read_text(encoding="utf-8")
    assert (out / "en" / "work" / "web-service-nodeport.yml").read_text() == "mine\n"
    # and the next build still knows it is the learner's
    assert notebooks.build_one(src, "en", out).action == "kept"
    assert target.read_bytes() == edited


def test_an_unreadable_notebook_is_kept(tmp_path: Path) -> None:
    src, out = _source_copy(tmp_path), tmp_path / "out"
    notebooks.build_one(src, "en", out)
    target = out / "en" / "02-nodeport.ipynb"
    target.write_text("{ half a notebook")
    _change_source(src)
    assert notebooks.build_one(src, "en", out).action == "kept"
    assert target.read_text() == "{ half a notebook"


def test_a_notebook_without_a_record_is_treated_as_the_learners(tmp_path: Path) -> None:
    src, out = _source_copy(tmp_path), tmp_path / "out"
    notebooks.build_one(src, "en", out)
    (out / "en" / notebooks.STATE_FILE).unlink()
    target = out / "en" / "02-nodeport.ipynb"
    nb = nbformat.read(target, as_version=4)
    nb.cells[0].source += "\nmy note"
    nbformat.write(nb, target)
    _change_source(src)
    assert notebooks.build_one(src, "en", out).action == "kept"
    assert "my note" in target.read_text(encoding="utf-8")
    state = out / "en" / notebooks.STATE_FILE
    assert not state.exists() or json.loads(state.read_text()) == {}


# -- malformed sources ----------------------------------------------------------------------------------
def test_a_markdown_cell_without_its_partner_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "09-broken.py"
    src.write_text('# %% [markdown] lang="en"\n# Hello\n\n# %%\nx = 1\n', encoding="utf-8")
    with pytest.raises(notebooks.NotebookSourceError) as e:
        notebooks.read(src)
    assert e.value.what == "a markdown cell has no 한국어 version (ko)"
    assert e.value.where.endswith("09-broken.py:1")
    assert e.value.fix == 'add a `# %% [markdown] lang="ko"` cell next to it'


def test_a_code_cell_with_a_language_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "09-broken.py"
    src.write_text('# %% [markdown] lang="en"\n# A\n\n# %% [markdown] lang="ko"\n# 가\n\n'
                   '# %% lang="ko"\nx = 1\n', encoding="utf-8")
    with pytest.raises(notebooks.NotebookSourceError) as e:
        notebooks.read(src)
    assert e.value.what == "only markdown cells have a language; code is shared"
    assert e.value.where.endswith("09-broken.py:7")


def test_unknown_notebook_and_language_say_what_exists() -> None:
    with pytest.raises(LabError) as e:
        notebooks.sources(["nodeprot"])
    assert "02-nodeport" in (e.value.fix or "")
    with pytest.raises(LabError) as e:
        notebooks.build(["fr"], quiet=True)
    assert e.value.fix == "LAB_LANG is one of: en, ko"


def test_cli_check_passes() -> None:
    assert notebooks.main(["check"]) == 0
