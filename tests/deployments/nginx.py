"""nginx in front of a Langflow: TLS with the private CA's server certificate, the API under a path
prefix, streams and uploads passed through unbuffered; optionally a client certificate or an extra
header required, as a mutual-TLS ingress or an access proxy (oauth2-proxy, Cloudflare Access) would."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from conformance.target.provision import free_port

from . import Service, require
from .ca import Certificates

START_TIMEOUT_S = 10.0

# Every nginx of the tests runs unprivileged out of its own directory.
HEAD = """\
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
"""

CONFIG = (
    HEAD
    + """\
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
{client_cert}
        client_max_body_size 100m;
        location {prefix}/ {{
{header_check}
            proxy_pass {upstream}/;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Prefix {prefix};
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}
        location / {{ return 404; }}
    }}
}}
"""
)


class Nginx(Service):
    """`with Nginx(upstream, certs, "/lf/abc123") as front:` serves `front.url`
    (https://127.0.0.1:PORT/lf/abc123) from `upstream` (http://127.0.0.1:P) with the prefix stripped.

    require_client_cert: the TLS client must present a certificate the CA signed (nginx answers 400
    without one). required_header (name, value): requests without that exact header get 403; the
    header is not passed on."""

    def __init__(
        self,
        upstream: str,
        certs: Certificates,
        prefix: str = "/lf/langflow-conformance",
        *,
        require_client_cert: bool = False,
        required_header: tuple[str, str] | None = None,
    ) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"prefix must start and not end with '/': {prefix!r}")
        self.upstream = upstream.rstrip("/")
        self.certs = certs
        self.prefix = prefix
        self.require_client_cert = require_client_cert
        self.required_header = required_header
        self.port = 0
        self.directory: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{self.prefix}"

    @property
    def error_log(self) -> Path:
        assert self.directory is not None
        return self.directory / "error.log"

    def config(self) -> str:
        client_cert = header_check = ""
        if self.require_client_cert:
            client_cert = f"        ssl_client_certificate {self.certs.ca_cert};\n        ssl_verify_client on;"
        if self.required_header is not None:
            name, value = self.required_header
            variable = "$http_" + name.lower().replace("-", "_")
            header_check = (
                f'            if ({variable} != "{value}") {{ return 403; }}\n            proxy_set_header {name} "";'
            )
        assert self.directory is not None
        return CONFIG.format(
            # A root master hands requests to unprivileged workers; any other user runs everything itself.
            user="user nobody nogroup;" if os.geteuid() == 0 else "",
            dir=self.directory,
            port=self.port,
            cert=self.certs.server_cert,
            key=self.certs.server_key,
            client_cert=client_cert,
            header_check=header_check,
            prefix=self.prefix,
            upstream=self.upstream,
        )

    def start(self) -> None:
        nginx = require("nginx")
        self.directory = Path(tempfile.mkdtemp(prefix="lfc-nginx-"))
        atexit.register(self.stop)
        try:
            self.directory.chmod(0o711)  # workers (nobody) reach their temp dirs; the config stays private
            self.port = free_port()
            conf = self.directory / "nginx.conf"
            conf.write_text(self.config())
            conf.chmod(0o600)  # it may hold the required header's value
            cmd = [nginx, "-p", str(self.directory), "-e", str(self.error_log), "-c", str(conf), "-g", "daemon off;"]
            self.process = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            deadline = time.monotonic() + START_TIMEOUT_S
            while not self._listening():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
                    raise RuntimeError(f"nginx did not start: {' | '.join(log.strip().splitlines()[-3:])}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def _listening(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True
        return False

    def stop(self) -> None:
        atexit.unregister(self.stop)
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # fast shutdown: open streams are cut
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        directory, self.directory = self.directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


FORWARD_CONFIG = (
    HEAD
    + """\
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 100m;
        location / {{
            proxy_pass http://$http_host$request_uri;
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
        }}
    }}
}}
"""
)


class ForwardProxy(Nginx):
    """A plain-HTTP forward proxy (what HTTP_PROXY names) that logs every request it carries: proof that
    a run went through it, or did not (NO_PROXY)."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1", None, "/proxy")  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        assert self.directory is not None
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        return FORWARD_CONFIG.format(user=user, dir=self.directory, port=self.port)

    def carried(self) -> list[str]:
        """The request lines the proxy has logged so far."""
        assert self.directory is not None
        log = self.directory / "access.log"
        return [line for line in (log.read_text().splitlines() if log.exists() else []) if '"' in line]
