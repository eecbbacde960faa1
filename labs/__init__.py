"""Kubernetes Service labs: the public API the notebooks and the CLI use.

    import labs
    labs.setup("nodeport")            # apply what the lab gives, wait for it
    labs.probe("nodeport", "http://web-service-nodeport/", 10)
    labs.check("nodeport")            # in a notebook: the check panel

Everything else in the package is internal.
"""

from __future__ import annotations

from . import _imports  # noqa: F401  (first: keeps `import labs` fast; see the module)
from .catalog import Lab, Objective
from .errors import LabError
from .grading import Report, Result
from .session import apply, cluster, connect, lookup, node_ip, probe, render, reset, setup, solve
from .session import check as _check
from .waiting import wait_endpoints, wait_pod_ready, wait_rollout


def check(*names: str) -> list[Report] | Report:
    """Grade labs: one Report (shown as the check panel in a notebook), or a list for several."""
    reports = _check(*names)
    return reports[0] if len(names) == 1 else reports


__all__ = [
    "Lab", "LabError", "Objective", "Report", "Result",
    "apply", "check", "cluster", "connect", "lookup", "node_ip", "probe", "render", "reset",
    "setup", "solve", "wait_endpoints", "wait_pod_ready", "wait_rollout",
]
