"""A private certificate authority made with the openssl CLI: a CA, a server certificate for
127.0.0.1 and localhost, and a client certificate for mutual TLS, all in a temporary directory."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import require

DAYS = "7"
# P-256 keys: generated in milliseconds, accepted by every TLS stack we meet.
NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
# Key identifiers and key usage: what strict verifiers (Python 3.13's VERIFY_X509_STRICT) insist on.
LEAF = "basicConstraints=critical,CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
SERVER_EXT = LEAF + (
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
)
CLIENT_EXT = LEAF + "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"


@dataclass(frozen=True)
class Certificates:
    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(directory: Path, *args: str) -> None:
    done = subprocess.run([require("openssl"), *args], cwd=directory, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}")


def _issue(directory: Path, name: str, subject: str, extensions: str) -> None:
    """A key and a certificate request, signed by the CA in the same directory."""
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(directory, "req", "-new", *NEW_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
    _openssl(
        directory,
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        DAYS,
        "-sha256",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.crt",
    )


def make_certificates(directory: Path) -> Certificates:
    _openssl(
        directory,
        "req",
        "-x509",
        *NEW_KEY,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        DAYS,
        "-sha256",
        "-subj",
        "/CN=langflow-conformance test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    _issue(directory, "server", "/CN=localhost", SERVER_EXT)
    _issue(directory, "client", "/CN=langflow-conformance client", CLIENT_EXT)
    return Certificates(
        directory,
        *(directory / f"{name}.{ext}" for name in ("ca", "server", "client") for ext in ("crt", "key")),
    )


@contextmanager
def private_ca() -> Iterator[Certificates]:
    """The certificates, removed with their directory afterwards (also when making them fails)."""
    directory = Path(tempfile.mkdtemp(prefix="lfc-ca-"))
    try:
        yield make_certificates(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
