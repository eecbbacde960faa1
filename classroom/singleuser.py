"""What a student's server runs (as the student): their notebooks, their cluster, then JupyterLab.

1. The lab notebooks are built into ``~/notebooks/<lang>/`` (never over the student's edits:
   labs/notebooks.py keeps an edited notebook and writes a newer version beside it).
2. The student's embedded cluster is started (or reused: its state is in ``~/.labs``), so the
   first cell finds it running; its NodePorts answer on the student's own ``LAB_HOST_IP``.
3. ``jupyterhub-singleuser`` replaces this process, with the arguments the hub passed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def main() -> None:
    from labs import clusters, notebooks
    from labs.errors import LabError
    from labs.paths import JUPYTER_SETTINGS

    home = Path.home()
    os.umask(0o077)   # what the student writes is theirs alone
    lang = os.environ.get("LAB_LANG", "en")
    out = home / "notebooks"
    notebooks.build(notebooks.LANGS, out=out, quiet=True)
    try:
        clusters.EmbeddedCluster().up()
    except LabError as e:   # the notebooks say it again, with the fix, when they need it
        print(f"the embedded cluster did not start: {e}", file=sys.stderr, flush=True)
    first = min((p.name for p in (out / lang).glob("*.ipynb")), default="")
    exe = shutil.which("jupyterhub-singleuser", path=str(Path(sys.executable).parent))
    argv = [exe or "jupyterhub-singleuser", *sys.argv[1:], f"--ServerApp.root_dir={out}",
            f"--LabApp.app_settings_dir={JUPYTER_SETTINGS}",
            # a terminal is an interactive bash, not a login shell: /etc/profile would put the
            # system's PATH before the labs' virtualenv (python, kubectl)
            "--ServerApp.terminado_settings={'shell_command': ['/bin/bash']}"]
    if first:
        argv.append(f"--ServerApp.default_url=/lab/tree/{lang}/{first}")
    os.chdir(out / lang)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
