"""Where the project's files and the labs' state live."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT = Path(os.environ.get("LAB_HOME", Path(__file__).resolve().parent.parent))
MANIFESTS = PROJECT / "manifests"
CHECKS = PROJECT / "checks"
NOTEBOOKS = PROJECT / "notebooks"
# JupyterLab's settings for the labs (`python -m labs lab` passes it as app_settings_dir):
# overrides.json turns off the news prompt; the learner's own ~/.jupyter is never written.
JUPYTER_SETTINGS = PROJECT / "jupyter" / "settings"
STATE = Path(os.environ.get("LAB_STATE_DIR", PROJECT / ".labs"))
REPORTS = Path(os.environ.get("LAB_REPORTS", PROJECT / "reports"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "k8s-service-labs"


def shown(path: Path) -> str:
    """A path as a learner reads it: relative to the project when inside it."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT))
    except ValueError:
        return str(path)
