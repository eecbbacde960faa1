"""Per-run PKI for the control plane, made with the `cryptography` package.

One CA signs the apiserver's serving certificate and a client certificate per component; the
service-account signing key is separate.  Every private key and kubeconfig is written 0600.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)


def _write(path: Path, data: bytes, private: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600 if private else 0o644)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Pki:
    dir: Path
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    @classmethod
    def create(cls, directory: Path) -> Pki:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "k8s-service-labs-ca")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        _write(directory / "ca.crt", _cert_pem(cert), private=False)
        _write(directory / "ca.key", _key_pem(key), private=True)
        return cls(directory, cert, key)

    def issue(self, name: str, common_name: str, organizations: tuple[str, ...] = (),
              server_names: tuple[str, ...] = (), server_ips: tuple[str, ...] = ()
              ) -> tuple[Path, Path]:
        """Write <name>.crt/<name>.key; a client cert, or a serving cert when SANs are given."""
        key = _key()
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        now = datetime.datetime.now(datetime.timezone.utc)
        serving = bool(server_names or server_ips)
        b = (
            x509.CertificateBuilder().subject_name(x509.Name(attrs))
            .issuer_name(self.ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                         content_commitment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if serving
                else [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.ca_key.public_key()), critical=False)
        )
        if serving:
            sans: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names]
            sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in server_ips]
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = b.sign(self.ca_key, hashes.SHA256())
        crt, keyf = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        _write(crt, _cert_pem(cert), private=False)
        _write(keyf, _key_pem(key), private=True)
        return crt, keyf

    def service_account_keys(self) -> tuple[Path, Path]:
        key = _key()
        priv, pub = self.dir / "sa.key", self.dir / "sa.pub"
        _write(priv, _key_pem(key), private=True)
        _write(pub, key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            private=False)
        return priv, pub

    def kubeconfig(self, path: Path, server: str, user: str, crt: Path, key: Path,
                   cluster: str = "k8s-service-labs") -> Path:
        def b64(p: Path) -> str:
            return base64.b64encode(p.read_bytes()).decode()

        doc = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {
                "server": server, "certificate-authority-data": b64(self.ca_file)}}],
            "users": [{"name": user, "user": {
                "client-certificate-data": b64(crt), "client-key-data": b64(key)}}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
            "current-context": cluster,
        }
        _write(path, yaml.safe_dump(doc, sort_keys=False).encode(), private=True)
        return path
