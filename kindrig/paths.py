"""Where the rig keeps what it builds and runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache() -> Path:
    """Built artefacts (Go programs, root filesystems, image archives), reused across runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "k8s-service-labs" / "kindrig"


def run() -> Path:
    """The private Docker daemon's sockets and pid files (short: unix socket paths are limited)."""
    return Path(os.environ.get("RIG_RUN_DIR", "/run/k8s-service-labs-rig"))
