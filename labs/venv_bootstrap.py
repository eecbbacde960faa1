"""Create the project's virtualenv with pip in it, on a Python that cannot do it alone.

`make setup` runs this with the system's Python before anything is installed, so it uses the
standard library only (run as ``python3 -I labs/venv_bootstrap.py .venv``: not imported as part of
the package). Debian and Ubuntu ship Python without ``ensurepip`` unless the python3-venv package is
installed, and ``python3 -m venv`` then stops with "ensurepip is not available". Instead of asking
for root to install that package, this creates the environment without pip and installs pip into it
from PyPI's own wheel (checked against the sha256 PyPI publishes), the way pip's wheel can install
itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import venv
from pathlib import Path

PIP = "26.3"  # pip's version when ensurepip is missing (the Makefile upgrades it right after)
INDEX = "https://pypi.org/pypi/pip/json"


def has_ensurepip() -> bool:
    try:
        import ensurepip  # noqa: F401
    except ImportError:
        return False
    return True


def pip_wheel(dest: Path) -> Path:
    """Download pip's py3 wheel from PyPI into ``dest``; its sha256 must match PyPI's."""
    index = os.environ.get("LAB_PIP_JSON", INDEX)  # the tests serve their own on 127.0.0.1
    with urllib.request.urlopen(index, timeout=60) as resp:
        meta = json.load(resp)
    for f in meta["releases"].get(PIP, []):
        if f["packagetype"] == "bdist_wheel" and f["filename"].endswith("-py3-none-any.whl"):
            break
    else:
        raise SystemExit(f"venv_bootstrap: PyPI lists no wheel for pip {PIP}")
    # Mirrors may give file URLs relative to the JSON document's.
    with urllib.request.urlopen(urllib.parse.urljoin(index, f["url"]), timeout=120) as resp:
        data = resp.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != f["digests"]["sha256"]:
        raise SystemExit(f"venv_bootstrap: {f['filename']} has sha256 {digest}, PyPI says "
                         f"{f['digests']['sha256']}; the download is corrupt or was altered. "
                         "Run `make setup` again; if it repeats, check your network's proxy.")
    path = dest / f["filename"]
    path.write_bytes(data)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python3 -I labs/venv_bootstrap.py DIR", file=sys.stderr)
        return 2
    target = Path(argv[1])
    if has_ensurepip():
        venv.EnvBuilder(with_pip=True).create(target)
        return 0
    print(f"venv_bootstrap: this Python has no ensurepip (Debian/Ubuntu without python3-venv); "
          f"creating {target} without it and installing pip {PIP} from PyPI")
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            wheel = pip_wheel(Path(tmp))
        except OSError as e:
            raise SystemExit(f"venv_bootstrap: could not download pip from PyPI ({e}). Either "
                             "let this machine reach pypi.org, or install your distribution's "
                             "venv package (Debian/Ubuntu: apt-get install python3-venv) and run "
                             "`make setup` again.") from e
        # A wheel is a zip archive Python can import from: pip installs itself from its own wheel.
        done = subprocess.run([str(python), f"{wheel}/pip", "install", "--no-index",
                               "--progress-bar", "off", "--quiet", str(wheel)])
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
