"""The assembled production-like deployment: Langflow on PostgreSQL with Langflow's default settings,
behind nginx terminating TLS with a private CA under a path prefix."""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from conformance.target.provision import EmbeddedLangflow, ensure_installed, provision
from conformance.target.secrets import SECRETS

from ..faults.mutation import api_key_for
from .ca import Certificates, private_ca
from .nginx import Nginx
from .postgres import Postgres, ensure_driver

RELEASE = "1.13.0"
# Langflow's defaults: nothing switched on beyond login required (the provisioner adds the superuser
# and the database).
DEFAULT_SETTINGS = {"LANGFLOW_AUTO_LOGIN": "false", "DO_NOT_TRACK": "true"}
ACCESS_HEADER = "X-Access-Token"


@dataclass(frozen=True)
class ProductionLike:
    url: str  # https://127.0.0.1:PORT/lf/<id>: TLS by the private CA
    mtls_url: str  # the same, requiring a client certificate the CA signed
    header_url: str  # the same, requiring header (name, value)
    header: tuple[str, str]
    certs: Certificates
    api_key: str  # the superuser's
    direct_url: str  # Langflow itself, plain HTTP
    langflow: EmbeddedLangflow
    postgres: Postgres
    started_in: float  # seconds, with the release already installed

    @property
    def ca(self) -> Path:
        return self.certs.ca_cert

    @property
    def client_cert(self) -> Path:
        return self.certs.client_cert

    @property
    def client_key(self) -> Path:
        return self.certs.client_key

    def tls(self, client_cert: bool = False) -> ssl.SSLContext:
        """What a client verifies the deployment with: the private CA, and the client certificate
        for mtls_url."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if client_cert:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


@contextmanager
def production_like(release: str = RELEASE) -> Iterator[ProductionLike]:
    """Everything started in order and stopped in reverse, also when a start fails half-way."""
    ensure_driver(ensure_installed(release))
    started = time.monotonic()
    with ExitStack() as stack:
        certs = stack.enter_context(private_ca())
        postgres = stack.enter_context(Postgres())
        langflow = provision(release, settings=DEFAULT_SETTINGS, database_url=postgres.url)
        stack.callback(langflow.stop)
        api_key = api_key_for(langflow.url, langflow.username, langflow.password)
        prefix = f"/lf/{secrets.token_hex(6)}"
        header = (ACCESS_HEADER, secrets.token_urlsafe(24))
        SECRETS.add(header[1])
        front = stack.enter_context(Nginx(langflow.url, certs, prefix))
        mtls = stack.enter_context(Nginx(langflow.url, certs, prefix, require_client_cert=True))
        guarded = stack.enter_context(Nginx(langflow.url, certs, prefix, required_header=header))
        yield ProductionLike(
            url=front.url,
            mtls_url=mtls.url,
            header_url=guarded.url,
            header=header,
            certs=certs,
            api_key=api_key,
            direct_url=langflow.url,
            langflow=langflow,
            postgres=postgres,
            started_in=time.monotonic() - started,
        )
