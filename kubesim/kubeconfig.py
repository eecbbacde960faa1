"""Credentials and the kubeconfig: a bearer token and a self-signed certificate in 0600 files."""

from __future__ import annotations

import base64
import os
import secrets
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
    """A self-signed serving certificate for 127.0.0.1 and localhost, made once with the
    `cryptography` package (ECDSA P-256, ten years); None when KUBESIM_TLS=0, and the server then
    speaks plain HTTP on loopback."""
    if os.environ.get("KUBESIM_TLS", "1") == "0":
        return None
    pki = state_dir / "pki"
    crt, key = pki / "apiserver.crt", pki / "apiserver.key"
    if crt.exists() and key.exists():
        return crt, key
    pki.mkdir(mode=0o700, exist_ok=True)
    cert_pem, key_pem = _self_signed()
    atomic_write(key, key_pem, 0o600)
    atomic_write(crt, cert_pem, 0o644)
    return crt, key


def _self_signed() -> tuple[bytes, bytes]:
    # Imported here: only the first start of a state directory needs it (~50 ms of imports).
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(private, hashes.SHA256()))
    key_pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


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
