"""Benchmark the lab notebooks: time to execute every core notebook headless (nbclient), each in
its own kernel as a learner runs it, against a fresh embedded cluster.

    python -m benchmarks.notebooks_bench            # English; exit 1 if the target is missed
    python -m benchmarks.notebooks_bench --lang ko

Target (issue 5): all core notebooks in under 60 s in total. Printed per notebook: kernel start,
the first cell (``import labs`` and the lab's setup), the other cells, and how long ``import labs``
alone takes in a fresh interpreter (a fixed cost of every kernel).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from labs import notebooks
from labs.paths import MANIFESTS

TARGET = 60.0
CORE = ["00-intro", "01-clusterip", "02-nodeport", "03-loadbalancer", "04-externalname"]


def kubesim(cmd: str, state: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "kubesim", cmd, "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"kubesim {cmd} failed: {done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def import_seconds() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import labs"], check=True)
    return time.perf_counter() - t0 - interpreter_seconds()


def interpreter_seconds() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def execute(path: Path) -> tuple[float, float, float]:
    """(kernel start, first cell, other cells) in seconds; raises if a cell fails."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    with client.setup_kernel():
        started = time.perf_counter()
        first = None
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
                if first is None:
                    first = time.perf_counter()
        done = time.perf_counter()
    return started - t0, (first or done) - started, done - (first or done)


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.notebooks_bench")
    p.add_argument("--lang", choices=notebooks.LANGS, default="en")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="nb-bench-") as tmp:
        root = Path(tmp)
        state = root / "kubesim"
        kubeconfig = kubesim("up", state)
        try:
            (root / "manifests").symlink_to(MANIFESTS)
            notebooks.build([args.lang], out=root / "notebooks", quiet=True)
            os.environ.update(KUBECONFIG=kubeconfig, LAB_CLUSTER="current",
                              LAB_STATE_DIR=str(root / ".labs"),
                              PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
            print(f"import labs alone: {import_seconds():.1f} s per kernel")
            print(f"{'notebook':18} {'kernel':>7} {'1st cell':>9} {'rest':>6} {'total':>7}")
            total = 0.0
            for name in CORE:
                k, first, rest = execute(root / "notebooks" / args.lang / f"{name}.ipynb")
                total += k + first + rest
                print(f"{name:18} {k:6.1f}s {first:8.1f}s {rest:5.1f}s {k + first + rest:6.1f}s",
                      flush=True)
        finally:
            kubesim("down", state)
    verdict = "met" if total < TARGET else "MISSED"
    print(f"all {len(CORE)} notebooks ({args.lang}): {total:.1f} s  (target < {TARGET:.0f} s: {verdict})")
    return 0 if total < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
