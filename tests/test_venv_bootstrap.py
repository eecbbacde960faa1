"""`make setup` on a Python without ensurepip (Debian/Ubuntu without python3-venv): the virtualenv
is made without pip and pip installs itself from its wheel, checked against PyPI's sha256. PyPI is
played by a server on 127.0.0.1 serving a stand-in wheel that records how it was run."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "labs" / "venv_bootstrap.py"
NO_ENSUREPIP = "import sys; sys.modules['ensurepip'] = None; sys.argv = sys.argv[1:]; "


def _wheel(path: Path) -> bytes:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pip/__init__.py", "")
        z.writestr("pip/__main__.py",
                   "import sys, pathlib\n"
                   "pathlib.Path(sys.prefix, 'pip-ran.txt').write_text(' '.join(sys.argv[1:]))\n")
    return path.read_bytes()


@pytest.fixture
def fake_pypi(tmp_path: Path) -> Iterator[tuple[str, dict]]:
    data = _wheel(tmp_path / "pip-26.3-py3-none-any.whl")
    meta = {"releases": {"26.3": [{"packagetype": "bdist_wheel", "filename": "pip-26.3-py3-none-any.whl",
                      "url": "", "digests": {"sha256": hashlib.sha256(data).hexdigest()}}]}}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps(meta).encode() if self.path.endswith("/json") else data
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    meta["releases"]["26.3"][0]["url"] = "../../packages/pip-26.3-py3-none-any.whl"  # relative
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield base + "/pypi/pip/json", meta
    server.shutdown()


def _bootstrap(target: Path, index: str) -> subprocess.CompletedProcess[str]:
    code = NO_ENSUREPIP + f"import runpy; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    return subprocess.run([sys.executable, "-I", "-c", code, "x", str(target)],
                          capture_output=True, text=True, timeout=120,
                          env={"LAB_PIP_JSON": index, "PATH": "/usr/bin:/bin"})


def test_without_ensurepip_pip_installs_itself_from_its_wheel(tmp_path: Path, fake_pypi) -> None:
    index, _ = fake_pypi
    done = _bootstrap(tmp_path / "venv", index)
    assert done.returncode == 0, done.stderr
    assert "has no ensurepip" in done.stdout
    assert (tmp_path / "venv" / "bin" / "python").exists()
    ran = (tmp_path / "venv" / "pip-ran.txt").read_text()
    assert ran.startswith("install --no-index") and ran.endswith("pip-26.3-py3-none-any.whl")


def test_a_wheel_that_does_not_match_pypis_digest_is_refused(tmp_path: Path, fake_pypi) -> None:
    index, meta = fake_pypi
    meta["releases"]["26.3"][0]["digests"]["sha256"] = "0" * 64
    done = _bootstrap(tmp_path / "venv", index)
    assert done.returncode != 0
    assert "PyPI says " + "0" * 64 in done.stderr and "Run `make setup` again" in done.stderr
    assert not (tmp_path / "venv" / "pip-ran.txt").exists()
