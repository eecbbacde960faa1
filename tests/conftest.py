"""Shared test setup: `tests/` on sys.path, and the kind marker's opt-in."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# The tests never touch the project's own lab state (.labs/) or reports: a learner's running
# cluster stays theirs. Set before `labs` is imported, and inherited by every CLI subprocess.
_SCRATCH = tempfile.mkdtemp(prefix="labs-tests-")
os.environ["LAB_STATE_DIR"] = os.path.join(_SCRATCH, "state")
os.environ["LAB_REPORTS"] = os.path.join(_SCRATCH, "reports")

KIND_REASON = ("needs a kind cluster: `make test` runs these inside the kind rig (python -m kindrig "
               "test: root and Debian's docker.io); on your own kind cluster, `make cluster` then "
               "`make test-kind`")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-kind", action="store_true",
                     help="run the end-to-end tests marked `kind` on a kind cluster")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-kind"):
        return
    skip = pytest.mark.skip(reason=KIND_REASON)
    for item in items:
        if "kind" in item.keywords:
            item.add_marker(skip)
