"""The runc wrapper of the rig's private Docker engine: it removes exactly the capabilities the
bounding set lacks, from the bundle's config.json on create and from the --process spec on exec,
and passes everything else to the real runc untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kindrig import runc_capshim

SHIM = Path(runc_capshim.__file__)
ALL = ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"]


def fake_runc(tmp_path: Path) -> Path:
    """A stand-in runc that records its arguments."""
    script = tmp_path / "runc"
    script.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\n")
    script.chmod(0o755)
    return script


def run_shim(tmp_path: Path, *args: str, missing: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, RIG_REAL_RUNC=str(fake_runc(tmp_path)), RIG_CAPSHIM_MISSING=missing)
    return subprocess.run([sys.executable, str(SHIM), *args], env=env, capture_output=True,
                          text=True, check=True)


def process(caps: list[str]) -> dict:
    return {"args": ["sh"], "capabilities": {k: list(caps) for k in
                                              ("bounding", "effective", "permitted")}}


def test_create_drops_missing_caps_from_the_bundle(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2",
                                                    "process": process(ALL)}))
    run_shim(tmp_path, "--root", "/x", "create", "--bundle", str(bundle), "id1",
             missing="CAP_SYS_RESOURCE")
    spec = json.loads((bundle / "config.json").read_text())
    for names in spec["process"]["capabilities"].values():
        assert names == ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
    assert (tmp_path / "args").read_text().split() == [
        "--root", "/x", "create", "--bundle", str(bundle), "id1"]


def test_exec_drops_missing_caps_from_the_process_spec(tmp_path):
    spec = tmp_path / "process.json"
    spec.write_text(json.dumps(process(ALL)))
    run_shim(tmp_path, "exec", "--process", str(spec), "--detach", "id1",
             missing="CAP_SYS_RESOURCE,CAP_SYS_ADMIN")
    caps = json.loads(spec.read_text())["capabilities"]
    assert caps["effective"] == ["CAP_CHOWN", "CAP_NET_ADMIN"]


def test_nothing_changes_when_no_capability_is_missing(tmp_path):
    bundle = tmp_path / "b"
    bundle.mkdir()
    original = json.dumps({"process": process(ALL)})
    (bundle / "config.json").write_text(original)
    run_shim(tmp_path, "create", "--bundle", str(bundle), "id", missing="")
    assert (bundle / "config.json").read_text() == original


def test_other_commands_pass_through(tmp_path):
    run_shim(tmp_path, "--root", "/r", "state", "id9", missing="CAP_SYS_RESOURCE")
    assert (tmp_path / "args").read_text().split() == ["--root", "/r", "state", "id9"]


def test_missing_caps_reads_the_bounding_set():
    with open("/proc/self/status") as f:
        bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    expected = {n for i, n in enumerate(runc_capshim.CAP_NAMES) if not bnd & (1 << i)}
    os.environ.pop("RIG_CAPSHIM_MISSING", None)
    assert runc_capshim.missing_caps() == expected
    assert ("CAP_SYS_RESOURCE" in expected) == (not bnd & (1 << 24))
