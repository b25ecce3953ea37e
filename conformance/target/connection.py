"""How the run reaches the deployment: TLS trust (a private CA, or verification off), a client
certificate, extra headers an access proxy wants, and the environment's HTTP proxy. One Connection
per run; every client of the run (discovery, every requirement kind, streams, cleanup, --sweep,
xdist workers, matrix targets) is built from it."""

from __future__ import annotations

import functools
import os
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.errors import OptionError

_HEADER = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(.*)$")
# Headers the run sets itself: an extra header must not fight the credentials or the framing.
_OWN_HEADERS = {"x-api-key", "authorization", "content-type", "content-length", "host", "connection"}
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def parse_header(raw: str, origin: str = "--header") -> tuple[str, str]:
    match = _HEADER.match(raw.strip())
    if not match or not match.group(2):
        raise OptionError(f"{origin} {raw.split(':')[0]!r}...: give it as 'Name: value'")
    name, value = match.group(1), match.group(2).strip()
    if name.lower() in _OWN_HEADERS:
        raise OptionError(f"{origin} {name}: the run sets that header itself; use --api-key/--token for credentials")
    return name, value


def _readable_pem(path: Path, option: str) -> Path:
    try:
        head = path.read_bytes()[:4096]
    except OSError as exc:
        raise OptionError(f"{option} {path}: cannot read it ({exc.strerror})") from None
    if b"-----BEGIN" not in head:
        raise OptionError(f"{option} {path}: not a PEM file (no -----BEGIN line)")
    return path


@dataclass(frozen=True)
class Connection:
    ca_bundle: Path | None = None  # --ca-bundle, else None (the environment's or the system's trust)
    client_cert: Path | None = None
    client_key: Path | None = None
    insecure: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    ca_source: str = "system trust store"  # where the trust comes from, for the report

    @classmethod
    def from_options(
        cls,
        ca_bundle: str | None,
        client_cert: str | None,
        client_key: str | None,
        insecure: bool,
        headers: tuple[str, ...],
        environ: dict[str, str],
    ) -> Connection:
        ca, source = None, "system trust store"
        if ca_bundle:
            ca, source = _readable_pem(Path(ca_bundle), "--ca-bundle"), f"--ca-bundle {ca_bundle}"
        else:
            for variable in CA_VARIABLES:
                if environ.get(variable):
                    ca = _readable_pem(Path(environ[variable]), f"${variable}")
                    source = f"${variable} ({environ[variable]})"
                    break
        if client_key and not client_cert:
            raise OptionError("--client-key needs --client-cert (the certificate it belongs to)")
        cert = _readable_pem(Path(client_cert), "--client-cert") if client_cert else None
        key = _readable_pem(Path(client_key), "--client-key") if client_key else None
        if insecure and ca_bundle:
            raise OptionError("--insecure and --ca-bundle contradict each other: give one")
        return cls(ca, cert, key, insecure, tuple(parse_header(h) for h in headers), source)

    @functools.cached_property
    def ssl_context(self) -> ssl.SSLContext:
        """Built once per run: loading a CA bundle costs about 20 ms, and some requirements make a
        client each."""
        context = ssl.create_default_context(cafile=str(self.ca_bundle) if self.ca_bundle else None)
        if self.ca_bundle is None and not any(os.environ.get(v) for v in CA_VARIABLES):
            try:  # the system store may be empty (python.org builds): add certifi's, as httpx does
                import certifi

                context.load_verify_locations(certifi.where())
            except ImportError:
                pass
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert is not None:
            context.load_cert_chain(str(self.client_cert), str(self.client_key) if self.client_key else None)
        return context

    @staticmethod
    def proxy_for(url: str) -> str | None:
        """HTTP_PROXY / HTTPS_PROXY / NO_PROXY (and lower-case), as curl and requests read them."""
        import urllib.request

        parts = urlsplit(url)
        proxies = urllib.request.getproxies()
        proxy = proxies.get(parts.scheme) or proxies.get("all")
        if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    def describe(self, url: str) -> dict[str, Any]:
        """For report.json: what was used, never a header value."""
        proxy = self.proxy_for(url)
        return {
            "tls": url.startswith("https://"),
            "ca_bundle": self.ca_source if url.startswith("https://") and not self.insecure else None,
            "client_certificate": str(self.client_cert) if self.client_cert else None,
            "insecure": self.insecure,
            "headers": [name for name, _ in self.headers],
            "proxy": re.sub(r"//[^@/]*@", "//***@", proxy) if proxy else None,
        }


@dataclass
class TlsHint:
    """What a TLS failure means for the reader, and the option that fixes it."""

    what: str
    fix: str
    markers: tuple[str, ...] = field(default=())


TLS_HINTS = (
    TlsHint(
        "the server's certificate is signed by a CA this run does not trust",
        "give that CA with --ca-bundle FILE (or skip verification with --insecure)",
        ("CERTIFICATE_VERIFY_FAILED", "unable to get local issuer", "self-signed certificate", "self signed"),
    ),
    TlsHint(
        "the server's certificate is not valid for this host name",
        "use the host name the certificate names in --server (or --insecure)",
        ("Hostname mismatch", "doesn't match", "IP address mismatch"),
    ),
    TlsHint(
        "the server wants a client certificate",
        "give one with --client-cert FILE (and --client-key FILE)",
        ("CERTIFICATE_REQUIRED", "certificate required", "HANDSHAKE_FAILURE", "bad certificate", "BAD_CERTIFICATE"),
    ),
    TlsHint(
        "the server does not speak TLS on this port",
        "check the scheme of --server (http:// or https://)",
        ("WRONG_VERSION_NUMBER", "record layer failure", "packet length too long"),
    ),
)


def tls_hint(exc: BaseException) -> TlsHint | None:
    """The hint for a TLS failure anywhere in an exception's chain, or None if it is not one."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(f"{type(e).__name__} {e}" for e in seen)
    if not any(isinstance(e, ssl.SSLError) for e in seen) and "SSL" not in text and "ssl" not in text:
        return None
    return next((h for h in TLS_HINTS if any(m in text for m in h.markers)), None)
