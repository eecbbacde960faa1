"""The command line: `python -m labs ...`, called by the Makefile targets."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from . import catalog, clusters, messages, notebooks, reports, session
from .errors import LabError
from .paths import JUPYTER_SETTINGS, REPORTS, shown

err = Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything (ours and child processes') to stderr, keeping stdout for `eval`."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def lang() -> str:
    """The language of what the CLI prints: LAB_LANG, else the locale (English when LAB_LANG is
    not a language of the labs: that error itself is then printed in English)."""
    try:
        return messages.choose()
    except LabError:
        return messages.DEFAULT


def need_lab(name: str | None, action: str) -> str:
    if not name:
        raise messages.error(LabError, "lab.unnamed", action=action,
                             labs=", ".join(catalog.names()))
    catalog.load(name)  # says which labs exist when the name is wrong
    return name


def cmd_cluster(args: argparse.Namespace) -> int:
    if args.action == "up":
        with stdout_to_stderr():
            backend = session.cluster(start=True)
            kube = backend.connect()
            version = kube.version().get("gitVersion", "?")
            err.print(messages.label("cli.cluster", lang(), cluster=backend.describe(),
                                     version=version, server=kube.server))
        print(f"export KUBECONFIG={backend.kubeconfig().resolve()}")
        return 0
    backend = clusters.select()
    if args.action == "down":
        backend.down()
        clusters.forget()
        err.print(messages.label("cli.stopped", lang(), cluster=backend.describe()))
        return 0
    kube = backend.connect()  # status
    print(f"{backend.describe()}: {kube.server}, Kubernetes {kube.version().get('gitVersion')}")
    print(f"export KUBECONFIG={backend.kubeconfig().resolve()}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    lang = messages.choose(args.lang)
    names = args.labs or catalog.names()
    for n in names:
        catalog.load(n)
    backend = session.cluster()
    err.print(messages.label("cli.checking", lang, labs=", ".join(names),
                             cluster=backend.describe()))
    results = session.check(*names)
    reports.print_reports(results, Console(highlight=False, width=max(120, err.width)), lang)
    js, junit = reports.write(results, Path(args.reports), lang)
    print(messages.label("cli.reports", lang, files=f"{shown(js)}, {shown(junit)}"))
    return 0 if all(r.passed for r in results) else 1


def cmd_lab_action(args: argparse.Namespace) -> int:
    name = need_lab(args.lab, args.command)
    getattr(session, args.command)(name)
    if args.command == "solve":
        err.print(messages.label("cli.solved", lang(), lab=name))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    sys.stdout.write(session.render(need_lab(args.lab, "render"), args.file))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    words = lang()
    for n in catalog.names():
        lab = catalog.load(n)
        title = catalog.in_lang(lab.texts, "title", words, lab.title)
        pad = " " * max(1, 33 - messages.cells(title))  # Hangul takes two columns
        print(f"{n:14} {title}{pad}"
              + messages.label("cli.list", words, ns=lab.namespace, n=len(lab.objectives)))
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    backend = session.cluster(start=True)
    kubeconfig = backend.kubeconfig().resolve()
    lang = messages.choose()  # LAB_LANG, else the locale, as for `make check`
    err.print(messages.label("cli.lab-cluster", lang, cluster=backend.describe(),
                             kubeconfig=kubeconfig))
    root = notebooks.build_for_lab(lang)  # never over a learner's edits (labs/notebooks.py)
    env = jupyter_env(kubeconfig, backend.name)
    argv = jupyter_argv(root, browser=not (os.environ.get("CI") or not sys.stdin.isatty()))
    err.print(messages.label("cli.jupyter", lang))
    os.execve(sys.executable, argv, env)
    return 0  # not reached


def jupyter_env(kubeconfig: Path, cluster: str) -> dict[str, str]:
    """The environment JupyterLab and its kernels run in: the lab cluster and the venv's tools."""
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "LAB_CLUSTER": cluster,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def jupyter_argv(root: Path, *, browser: bool, port: int | None = None) -> list[str]:
    """JupyterLab as `make lab` starts it: on 127.0.0.1, in the notebooks of one language, with
    the first notebook opened and the labs' settings (no news prompt: jupyter/settings)."""
    first = min((p.name for p in root.glob("*.ipynb")), default="")
    argv = [sys.executable, "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={root}", f"--LabApp.app_settings_dir={JUPYTER_SETTINGS}"]
    if first:
        argv.append(f"--LabApp.default_url=/lab/tree/{first}")
    if port is not None:
        argv += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if not browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # containers and CI machines run as root
    return argv


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m labs", description="Kubernetes Service labs")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cluster", help="start, stop or show the lab cluster")
    c.add_argument("action", choices=["up", "down", "status"])
    c.set_defaults(func=cmd_cluster)
    c = sub.add_parser("check", help="grade labs (all when none named)")
    c.add_argument("labs", nargs="*")
    c.add_argument("--reports", default=str(REPORTS), help="where JSON and JUnit XML go")
    c.add_argument("--lang", choices=messages.LANGS,
                   help="language of the table and the reports (default: LAB_LANG, else ko when "
                        "the locale (LC_ALL, LC_MESSAGES, LANG) starts with ko, else en)")
    c.set_defaults(func=cmd_check)
    for name, text in (("setup", "apply what a lab gives"),
                       ("solve", "apply a lab's reference solution"),
                       ("reset", "delete a lab's namespace")):
        c = sub.add_parser(name, help=text)
        c.add_argument("lab", nargs="?")
        c.set_defaults(func=cmd_lab_action)
    c = sub.add_parser("render", help="print a lab's manifests with run-time values filled in")
    c.add_argument("lab", nargs="?")
    c.add_argument("--file", help="one manifest, e.g. loadbalancer/service-test01.yml")
    c.set_defaults(func=cmd_render)
    sub.add_parser("list", help="list the labs").set_defaults(func=cmd_list)
    sub.add_parser("lab", help="start the cluster and JupyterLab").set_defaults(func=cmd_lab)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LabError as e:
        words = lang()
        err.print(f"[bold red]{messages.label('error', words)}:[/] ", markup=True, end="")
        err.print(messages.error_text(e, words), markup=False)
        return 2
    except KeyboardInterrupt:
        return 130
