"""The lab notebooks: one bilingual source per notebook, built into English and Korean notebooks,
plus the small helpers the notebooks' code cells call (the lab's namespace, "run this first",
the learner's own manifest in work/).

Sources are jupytext percent files in ``notebooks/src/`` (see notebooks/README.md). A markdown cell
tagged ``lang="en"`` or ``lang="ko"`` goes only into that language's notebook; every other cell
(all code cells) goes into both, so the two languages cannot drift.

    python -m labs.notebooks build            # notebooks/en/*.ipynb and notebooks/ko/*.ipynb
    python -m labs.notebooks build --lang ko 02-nodeport
    python -m labs.notebooks check            # sources are well formed (CI)

A learner's notebook is never overwritten: a notebook is rewritten only when it does not exist, or
when its cells are still exactly what the last build wrote (outputs aside). Otherwise the new
version is written beside it as ``<name>.new.ipynb`` and the build says so.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbformat imports jsonschema (seconds): only the build needs it
    import nbformat

from . import messages
from .errors import LabError
from .paths import NOTEBOOKS, shown

SOURCES = NOTEBOOKS / "src"
LANGS = messages.LANGS  # one list of languages for the notebooks and the grader
STATE_FILE = ".generated.json"
WORK = "work"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
_LANG_NAMES = {"en": "English", "ko": "한국어"}


class NotebookSourceError(LabError):
    """A notebook source in notebooks/src/ is malformed."""


# -- reading and splitting sources ------------------------------------------------------------------
def sources(names: Iterable[str] = ()) -> list[Path]:
    """The source files, in order (all when no names; a name may omit the number or extension)."""
    found = sorted(SOURCES.glob("*.py"))
    wanted = list(names)
    if not wanted:
        return found
    picked: list[Path] = []
    for name in wanted:
        stem = Path(name).stem
        match = [p for p in found if p.stem == stem or p.stem.split("-", 1)[-1] == stem]
        if not match:
            raise LabError(f"there is no notebook source named {name!r}",
                           fix=f"pick one of: {', '.join(p.stem for p in found)}")
        picked.extend(m for m in match if m not in picked)
    return picked


def read(path: Path) -> nbformat.NotebookNode:
    """A source as a notebook, checked: every markdown cell in one language has its partner."""
    import jupytext

    try:
        nb = jupytext.read(path, fmt="py:percent")
    except Exception as e:  # jupytext raises many kinds on a broken file
        raise NotebookSourceError(f"jupytext cannot read it: {e}", where=shown(path),
                                  fix="keep the percent format: `# %%` cells") from e
    check_languages(nb, path)
    return nb


def _lines(path: Path) -> list[int]:
    """The line of each cell's `# %%` marker (jupytext keeps no positions)."""
    text = path.read_text(encoding="utf-8").splitlines()
    return [i for i, ln in enumerate(text, 1) if ln.startswith("# %%")]


def check_languages(nb: nbformat.NotebookNode, path: Path) -> None:
    lines = _lines(path)

    def where(i: int) -> str:
        return f"{shown(path)}:{lines[i] if i < len(lines) else '?'}"

    run: list[tuple[int, str]] = []  # consecutive language cells: each en has a ko and back

    def close_run(end: int) -> None:
        langs = [lang for _, lang in run]
        for lang in LANGS:
            if lang not in langs:
                missing = run[0][0] if run else end
                raise NotebookSourceError(
                    f"a markdown cell has no {_LANG_NAMES[lang]} version ({lang})",
                    where=where(missing),
                    fix=f'add a `# %% [markdown] lang="{lang}"` cell next to it')
        run.clear()

    for i, cell in enumerate(nb.cells):
        lang = cell.metadata.get("lang")
        if lang is None:
            if run:
                close_run(i)
            continue
        if lang not in LANGS:
            raise NotebookSourceError(f"unknown language {lang!r}", where=where(i),
                                      fix="use " + " or ".join(f'lang="{lg}"' for lg in LANGS))
        if cell.cell_type != "markdown":
            raise NotebookSourceError("only markdown cells have a language; code is shared",
                                      where=where(i), fix="remove lang= from this code cell")
        if run and lang in [lg for _, lg in run]:
            close_run(i)
        run.append((i, lang))
    if run:
        close_run(len(nb.cells))


def split(nb: nbformat.NotebookNode, lang: str, name: str) -> nbformat.NotebookNode:
    """The notebook in one language: shared cells and that language's markdown, no outputs."""
    import nbformat

    out = nbformat.v4.new_notebook()
    out.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"},
                    "labs": {"source": f"src/{name}.py", "lang": lang}}
    for i, cell in enumerate(nb.cells):
        cell_lang = cell.metadata.get("lang")
        if cell_lang not in (None, lang):
            continue
        meta = {k: v for k, v in cell.metadata.items() if k != "lang"}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source, metadata=meta)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source, metadata=meta)
        else:
            new = nbformat.v4.new_raw_cell(cell.source, metadata=meta)
        new.id = hashlib.sha1(f"{name}/{i}".encode()).hexdigest()[:12]  # stable between builds
        out.cells.append(new)
    return out


def cells_hash(nb: nbformat.NotebookNode) -> str:
    """What a learner writes: each cell's type and source (outputs and metadata aside)."""
    cells = [[c.get("cell_type"), c.get("source") if isinstance(c.get("source"), str)
              else "".join(c.get("source") or [])] for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


# -- building ------------------------------------------------------------------------------------
@dataclass
class Built:
    name: str
    lang: str
    path: Path
    action: str     # created | updated | unchanged | kept
    note: str = ""

    def line(self) -> str:
        text = f"{self.action:9} {shown(self.path)}"
        return f"{text}  ({self.note})" if self.note else text


def _load_state(directory: Path) -> dict[str, str]:
    try:
        data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _write(nb: nbformat.NotebookNode, path: Path) -> None:
    import nbformat

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def build_one(source: Path, lang: str, out: Path = NOTEBOOKS) -> Built:
    import nbformat

    name = source.stem
    directory = out / lang
    directory.mkdir(parents=True, exist_ok=True)
    (directory / WORK).mkdir(exist_ok=True)  # the learner's manifests; never written by the build
    target = directory / f"{name}.ipynb"
    nb = split(read(source), lang, name)
    new_hash = cells_hash(nb)
    state = _load_state(directory)
    result: Built
    if not target.exists():
        _write(nb, target)
        result = Built(name, lang, target, "created")
    else:
        try:
            current = cells_hash(nbformat.read(target, as_version=4))
        except Exception:  # unreadable: treat as the learner's, never overwrite it
            current = "unreadable"
        if current == new_hash:
            result = Built(name, lang, target, "unchanged")  # keep it (and its outputs) as it is
        elif current == state.get(target.name):
            _write(nb, target)
            result = Built(name, lang, target, "updated")
        elif new_hash == state.get(target.name):  # edited, and the source has not changed since
            result = Built(name, lang, target, "kept", "you edited it; no newer version")
        else:
            beside = target.with_name(f"{name}.new.ipynb")
            _write(nb, beside)
            result = Built(name, lang, target, "kept",
                           f"you edited it; the new version is {beside.name}")
    if result.action in ("created", "updated", "unchanged"):
        state[target.name] = new_hash
        state_path = directory / STATE_FILE
        tmp = state_path.with_name(f"{STATE_FILE}.tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, state_path)
    return result


def build(langs: Sequence[str] = LANGS, names: Iterable[str] = (), out: Path = NOTEBOOKS,
          *, quiet: bool = False) -> list[Built]:
    """Build every source (or the named ones) into each language's folder."""
    for lang in langs:
        if lang not in LANGS:
            raise LabError(f"no notebooks in language {lang!r}",
                           fix=f"LAB_LANG is one of: {', '.join(LANGS)}")
    results = [build_one(src, lang, out) for lang in langs for src in sources(names)]
    if not quiet:
        for r in results:
            if r.action != "unchanged":
                print(r.line(), file=sys.stderr)
    return results


def build_for_lab(lang: str) -> Path:
    """What `make lab` runs first: build the chosen language; the folder JupyterLab opens."""
    build([lang])
    return NOTEBOOKS / lang


# -- helpers the notebooks' code cells call -----------------------------------------------------------
def here_lang() -> str:
    """The language of the running notebook (its folder), for messages from code cells."""
    return Path.cwd().name if Path.cwd().name in LANGS else "en"


_FIRST = {
    "en": ("{obj} does not exist in namespace {ns} yet", "run the cells of {section} first "
           "(or Run > Run All Cells)"),
    "ko": ("{ns} 네임스페이스에 {obj}이(가) 아직 없습니다", "{section}의 셀을 먼저 실행하세요 "
           "(또는 Run > Run All Cells)"),
}
_NO_NS = {"en": "the lab's namespace {ns} does not exist (not set up yet, or cleaned up)",
          "ko": "실습 네임스페이스 {ns}이(가) 없습니다(아직 준비하지 않았거나 이미 정리함)"}
_KINDS = {"namespace": "/api/v1/namespaces/{name}",
          "deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
          "pod": "/api/v1/namespaces/{ns}/pods/{name}",
          "service": "/api/v1/namespaces/{ns}/services/{name}",
          "configmap": "/api/v1/namespaces/{ns}/configmaps/{name}"}


def require(lab: Any, *objects: str, section: str) -> None:
    """Raise a LabError naming the section to run first when an object is missing.

    ``require("nodeport", "deployment/deploy-test01", "pod/nginx01", section="1")``.
    """
    from . import session

    the_lab = _lab(lab)
    kube = session.connect()
    lang = here_lang()
    what, fix = _FIRST[lang]
    sect = f"section {section}" if lang == "en" else f"{section}번 섹션"
    ns = the_lab.namespace
    if kube.get(f"/api/v1/namespaces/{ns}") is None:
        raise LabError(_NO_NS[lang].format(ns=ns), fix=fix.format(
            section="section 1" if lang == "en" else "1번 섹션"))
    for obj in objects:
        kind, _, name = obj.partition("/")
        if kube.get(_KINDS[kind].format(ns=ns, name=name)) is None:
            raise LabError(what.format(obj=obj, ns=ns), fix=fix.format(section=sect))


def _lab(lab: Any) -> Any:
    from . import session

    return intro_lab() if lab == "intro" else session.lab(lab)


def intro_lab() -> Any:
    """The intro notebook's own namespace (no objectives): web Deployment and client pod."""
    from .catalog import Lab

    return Lab("intro", "Pods, labels and selectors", "lab-intro",
               ("common/web-echo-config.yml", "common/deploy-test01.yml",
                "common/nginx-test01.yml"), (), (), SOURCES / "00-intro.py")


def start(lab: Any) -> Any:
    """The first cell of a lab notebook: connect, say which cluster, make `!kubectl` use it."""
    from . import session
    from .errors import LabError as _LabError

    the_lab = _lab(lab)
    backend = session.cluster()
    kube = session.connect()
    os.environ["KUBECONFIG"] = str(backend.kubeconfig().resolve())
    venv_bin = str(Path(sys.executable).parent)
    if venv_bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:
        ip = None
    if ip is not None:  # a LabError shows as what/where/fix, not a library traceback
        def show(shell: Any, etype: type, value: BaseException, tb: Any,
                 tb_offset: Any = None) -> list[str]:
            stb = [f"\x1b[1;31m{etype.__name__}\x1b[0m: {value}"]
            shell._showtraceback(etype, value, stb)  # an error output: what, where, fix
            return stb

        ip.set_custom_exc((_LabError,), show)
    version = kube.version().get("gitVersion", "?")
    if here_lang() == "ko":
        print(f"클러스터: {backend.describe()} (LAB_CLUSTER={backend.name}, 쿠버네티스 {version}, "
              f"{kube.server})\n실습 네임스페이스: {the_lab.namespace}")
    else:
        print(f"Cluster: {backend.describe()} (LAB_CLUSTER={backend.name}, Kubernetes {version}, "
              f"{kube.server})\nLab namespace: {the_lab.namespace}")
    return the_lab


def fresh(lab: Any) -> Any:
    """Set the lab up from scratch: delete its namespace, apply what the lab gives, wait."""
    from . import session

    the_lab = start(lab)
    session.reset(the_lab)
    session.setup(the_lab)
    return the_lab


def scratch(file: str, text: str) -> Path:
    """Write an experiment's manifest to work/<file> (the notebook's own, rewritten each run)."""
    work = Path.cwd() / WORK
    work.mkdir(exist_ok=True)
    path = work / file
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def expect_error() -> Iterator[None]:
    """For "break it" cells: show the LabError the block raises, as the learner should see it."""
    try:
        yield
    except LabError as e:
        head = "예상한 오류입니다:" if here_lang() == "ko" else "The expected error:"
        print(f"{head}\n{e}")
        return
    raise LabError("the experiment did not fail as expected",
                   fix="someone changed the lab's objects: run the notebook's setup cell again")


_TODO = re.compile(r"\bTODO\b")


def my_manifest(file: str, text: str) -> Path | None:
    """Write the learner's manifest (a challenge cell's YAML) to work/<file>.

    The cell is the source of truth; a different file already there is kept as ``<file>.bak``.
    Returns the path, or None while the YAML still has TODOs (then nothing is written or applied).
    """
    work = Path.cwd() / WORK
    work.mkdir(exist_ok=True)
    path = work / file
    text = text.strip() + "\n"
    todo = [i for i, ln in enumerate(text.splitlines(), 1) if _TODO.search(ln)]
    if todo:
        if here_lang() == "ko":
            print(f"아직 TODO가 남아 있습니다({', '.join(map(str, todo))}번째 줄). "
                  "채운 뒤 이 셀을 다시 실행하세요.")
        else:
            print(f"Still TODO on line(s) {', '.join(map(str, todo))}: fill them in, "
                  "then run this cell again.")
        return None
    if path.exists() and path.read_text(encoding="utf-8") != text:
        path.with_name(path.name + ".bak").write_text(path.read_text(encoding="utf-8"),
                                                      encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    print(f"{'저장' if here_lang() == 'ko' else 'wrote'} {WORK}/{file}")
    return path


# -- command line ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labs.notebooks",
                                description="Build the lab notebooks from notebooks/src/")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write notebooks/<lang>/*.ipynb (never over your edits)")
    b.add_argument("names", nargs="*", help="e.g. 02-nodeport (all when none)")
    b.add_argument("--lang", choices=LANGS, action="append", help="one language (default both)")
    sub.add_parser("check", help="check every source (languages paired, jupytext readable)")
    args = p.parse_args(argv)
    try:
        if args.command == "check":
            for src in sources():
                read(src)
                print(f"ok {shown(src)}")
            return 0
        results = build(args.lang or LANGS, args.names, quiet=True)
        for r in results:
            print(r.line())
        return 0
    except LabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
