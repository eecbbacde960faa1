"""Credentials and the kubeconfig: a bearer token and a self-signed certificate in 0600 files."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

NAME = "kubesim"


def atomic_write(path: Path, text: str | bytes, mode: int = 0o600) -> None:
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def token(state_dir: Path) -> str:
    path = state_dir / "token"
    if path.exists():
        t = path.read_text().strip()
        if t:
            return t
    t = secrets.token_urlsafe(32)
    atomic_write(path, t + "\n")
    return t


def certificate(state_dir: Path) -> tuple[Path, Path] | None:
    """A self-signed serving certificate for 127.0.0.1 (made once with the openssl CLI); None when
    openssl is missing or KUBESIM_TLS=0, and the server then speaks plain HTTP on loopback."""
    if os.environ.get("KUBESIM_TLS", "1") == "0":
        return None
    pki = state_dir / "pki"
    crt, key = pki / "apiserver.crt", pki / "apiserver.key"
    if crt.exists() and key.exists():
        return crt, key
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    pki.mkdir(mode=0o700, exist_ok=True)
    tmp_key = pki / ".apiserver.key.tmp"
    try:
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(tmp_key), "-out", str(crt), "-days", "3650",
             "-subj", "/CN=kubesim", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    os.chmod(tmp_key, 0o600)
    os.replace(tmp_key, key)
    return crt, key


def write(state_dir: Path, server: str, tok: str, ca: Path | None) -> Path:
    cluster: dict[str, object] = {"server": server}
    if ca is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca.read_bytes()).decode()
    cfg = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": NAME, "cluster": cluster}],
        "users": [{"name": NAME, "user": {"token": tok}}],
        "contexts": [{"name": NAME, "context": {"cluster": NAME, "user": NAME,
                                                "namespace": "default"}}],
        "current-context": NAME,
    }
    path = state_dir / "kubeconfig"
    atomic_write(path, yaml.safe_dump(cfg, sort_keys=False), 0o600)
    return path.resolve()
