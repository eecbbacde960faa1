"""The data-plane differential's test helpers: a kubectl bound to a cluster, and the tally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dpcases import NS

KUBECTL = str(Path(sys.executable).with_name("kubectl"))
SUMMARY: dict[str, dict[str, int]] = {}


def kubectl_for(kubeconfig: Path, cache: Path):
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(cache))

    def kubectl(*args: str, input: str | None = None, check: bool = True, ns: str | None = NS,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [KUBECTL] + (["-n", ns] if ns else []) + list(args)
        done = subprocess.run(argv, capture_output=True, text=True, input=input, env=env,
                              timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    return kubectl


def count(cluster: str, outcome: str) -> None:
    tally = SUMMARY.setdefault(cluster, {"cases": 0, "agree": 0, "known": 0})
    tally["cases"] += 1
    if outcome in ("agree", "known"):
        tally["agree"] += 1
    if outcome == "known":
        tally["known"] += 1
