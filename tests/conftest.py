"""Shared test setup: `tests/` on sys.path, and the kind marker's opt-in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

KIND_REASON = ("needs a kind cluster and a Docker engine that can pull images: "
               "run `make test-kind` (it starts the cluster with `make cluster`)")


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
