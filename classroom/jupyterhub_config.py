# JupyterHub's configuration for `make classroom`: everything comes from the settings file that
# `python -m classroom hub` writes (CLASSROOM_SETTINGS); see classroom/hub.py.
import os
from pathlib import Path

from classroom.hub import configure, load_settings

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - JupyterHub provides it
configure(c, load_settings(Path(os.environ["CLASSROOM_SETTINGS"])))
