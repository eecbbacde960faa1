"""What a classroom needs on the hub machine besides .venv: a virtualenv every student can run,
and the proxy (configurable-http-proxy, from npm), both under ``.classroom/``.

Why a second virtualenv: students' servers run as the students' own Unix users, and .venv's
interpreter may live where they cannot execute it (a pyenv Python under /root, 0700). The
students' virtualenv is made from a Python that every user can execute (``CLASSROOM_PY``, else
the system's ``/usr/bin/python3``) and holds the same pinned packages (``.[classroom]``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from labs.errors import LabError
from labs.paths import PROJECT

HOME = Path(os.environ.get("CLASSROOM_DIR", PROJECT / ".classroom"))
STUDENT_VENV = Path(os.environ.get("CLASSROOM_VENV", PROJECT / ".classroom" / "venv"))
PROXY_DIR = PROJECT / "classroom" / "proxy"   # package.json + package-lock.json (pinned)
CHP = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"


def everyone_can_run(path: Path) -> str | None:
    """None when every user can execute ``path`` (each directory above it searchable by others,
    the file executable by others), else the first path component that stops them."""
    path = path.resolve()
    for part in [*reversed(path.parents), path]:
        mode = part.stat().st_mode
        if not mode & stat.S_IXOTH:
            return str(part)
    return None


def student_python() -> Path:
    """The interpreter the students' virtualenv is made from."""
    candidates = [os.environ.get("CLASSROOM_PY", ""), "/usr/bin/python3",
                  getattr(sys, "_base_executable", "")]
    refused = []
    for c in filter(None, candidates):
        p = Path(c)
        if not p.exists():
            continue
        blocked = everyone_can_run(p)
        if blocked is None:
            return p
        refused.append(f"{p} ({blocked} is not searchable/executable by other users)")
    raise LabError("no Python that every student can execute: " + "; ".join(refused or ["none found"]),
                   fix="install the system's python3 (apt-get install python3 python3-venv), or "
                       "point CLASSROOM_PY at a Python 3.10+ under a world-readable directory")


def _stamp() -> str:
    return hashlib.sha256((PROJECT / "pyproject.toml").read_bytes()).hexdigest()[:16]


def ensure_student_venv(*, quiet: bool = False) -> Path:
    """Create or update .classroom/venv (pip's log in .classroom/venv/pip.log); its bin/."""
    stamp = STUDENT_VENV / f".installed-{_stamp()}"
    if stamp.exists():
        return STUDENT_VENV / "bin"
    python = student_python()
    STUDENT_VENV.parent.mkdir(parents=True, exist_ok=True)
    STUDENT_VENV.parent.chmod(0o755)   # students run the venv under it; the hub's state is 0700
    old = os.umask(0o022)
    try:
        if not (STUDENT_VENV / "bin" / "python").exists():
            subprocess.run([str(python), "-m", "venv", str(STUDENT_VENV)], check=True)
        if not quiet:
            print(f"Installing the students' virtualenv in {STUDENT_VENV} from {python} "
                  f"(pip's log: {STUDENT_VENV / 'pip.log'})", file=sys.stderr, flush=True)
        with open(STUDENT_VENV / "pip.log", "w") as log:
            done = subprocess.run([str(STUDENT_VENV / "bin" / "pip"), "install", "--progress-bar",
                                   "off", "-e", f"{PROJECT}[classroom]"], stdout=log,
                                  stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise LabError(f"pip could not install the students' virtualenv (exit {done.returncode})",
                           where=str(STUDENT_VENV / "pip.log"),
                           fix="read the end of that log; then run the same command again")
        for old_stamp in STUDENT_VENV.glob(".installed-*"):
            old_stamp.unlink()
        stamp.touch()
    finally:
        os.umask(old)
    return STUDENT_VENV / "bin"


def ensure_proxy() -> Path:
    """configurable-http-proxy from npm, at the version in classroom/proxy/package-lock.json."""
    if CHP.exists():
        return CHP
    npm = shutil.which("npm")
    if not npm:
        raise LabError("JupyterHub's proxy (configurable-http-proxy) comes from npm, and npm is "
                       "not on PATH", fix="apt-get install nodejs npm (Node.js 20 or newer)")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=PROXY_DIR, capture_output=True, text=True)
    if done.returncode != 0 or not CHP.exists():
        raise LabError(f"npm ci failed in {PROXY_DIR}: {done.stderr.strip()[-400:]}",
                       fix="check that the npm registry answers (npm ping), then run make "
                           "classroom again")
    return CHP
