"""Write single-layer container images as docker-archive tarballs (what `docker save` writes and
what `ctr images import` and `docker load` read), straight from a directory tree: no Docker daemon
and no registry are involved in making the pod images.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

LABEL = "io.k8s-service-labs.built-locally"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def layer_from_dirs(out: Path, sources: list[Path]) -> None:
    """A layer tar of the union of `sources` (later ones win), owners and modes as they are."""
    args = ["tar", "--numeric-owner", "--sort=name", "--mtime=@0", "--xattrs", "-cf", str(out)]
    for src in sources:
        args += ["-C", str(src), "."]
    subprocess.run(args, check=True)


def write_archive(out: Path, layer: Path, ref: str, *, entrypoint: list[str] | None = None,
                  cmd: list[str] | None = None, env: list[str] | None = None,
                  labels: dict[str, str] | None = None, stop_signal: str = "",
                  exposed: list[str] | None = None, user: str = "") -> None:
    """A docker-archive with one image, tagged `ref`, whose only layer is `layer`."""
    diff_id = "sha256:" + _sha256_file(layer)
    config = {
        "Env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Labels": {LABEL: "true", **(labels or {})},
    }
    if entrypoint:
        config["Entrypoint"] = entrypoint
    if cmd:
        config["Cmd"] = cmd
    if stop_signal:
        config["StopSignal"] = stop_signal
    if exposed:
        config["ExposedPorts"] = {p: {} for p in exposed}
    if user:
        config["User"] = user
    image = {
        "architecture": "amd64" if os.uname().machine in ("x86_64", "amd64") else "arm64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z",
                     "created_by": "k8s-service-labs kindrig (built locally, never pushed)"}],
    }
    config_bytes = json.dumps(image, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = diff_id.split(":")[1] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [layer_name]}]
    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, "w") as tar:
        for name, data in ((config_name, config_bytes),
                           ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.add(layer, arcname=layer_name)
    tmp.rename(out)


def scratch_layer(out: Path, files: dict[str, Path | bytes], dirs: tuple[str, ...] = ("tmp",)) -> None:
    """A layer holding only `files` (path in image -> source file or bytes), mode 0755."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for sub in dirs:
            (root / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(root / sub, 0o1777 if sub == "tmp" else 0o755)
        for dest, src in files.items():
            target = root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src if isinstance(src, bytes) else src.read_bytes())
            os.chmod(target, 0o755)
        layer_from_dirs(out, [root])
