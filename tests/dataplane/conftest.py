"""The data-plane differential's summary line at the end of the run."""

from __future__ import annotations

import pytest
from dphelpers import SUMMARY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for cluster, t in SUMMARY.items():
        against = "kind's recording" if cluster == "embedded" else "its recording"
        terminalreporter.write_line(
            f"data plane ({cluster} against {against}): {t['agree']}/{t['cases']} cases agree "
            f"({t['known']} known differences)")
