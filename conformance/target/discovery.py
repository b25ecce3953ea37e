"""Target discovery, once per run before any test: is it up, is it Langflow, which release, how does
it authenticate, which settings change its behaviour."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from conformance.contract import Contract
from conformance.errors import CredentialsError, TargetError
from conformance.run.options import Settings
from conformance.target import auth as auth_mod
from conformance.target.client import make_client
from conformance.target.connection import tls_hint

# Catalog entries discovery relies on (paths come from the catalog, never from here).
HEALTH_CHECK = "base.health-check"
VERSION = "base.version"
CONFIG = "base.config"
WHOAMI = "users.whoami"  # the cheapest authenticated read: is a request refused, are credentials good
AUTO_LOGIN = "auth.auto-login"
LOGIN = "auth.login"

# Settings that change what the documents promise (notes §0, §3): recorded, and read by the tests.
CONFIG_FLAGS = (
    "event_delivery",
    "webhook_auth_enable",
    "voice_mode_available",
    "max_file_size_upload",
    "auto_saving",
    "type",
)
DISCOVERY_TIMEOUT_S = 8.0  # an unreachable server must end the run within 10 s


@dataclass
class TargetInfo:
    url: str
    release: str
    package: str
    health_status: int | None
    health: Any
    anonymous_status: int
    anonymous_refused: bool
    auth: str  # how the suite authenticates: "api-key (header)", "auto_login JWT", ...
    superuser: bool | None = None  # whether the suite's user is a superuser (whoami), None if unknown
    auto_login: bool = False  # GET /api/v1/auto_login hands out a token (AUTO_LOGIN on)
    gateway: bool = False  # requests without the run's credentials are refused before they reach Langflow
    profile: dict[str, Any] = field(default_factory=dict)  # optional features on/off, switches (profile.py)
    config: dict[str, Any] = field(default_factory=dict)
    embedded: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetInfo:
        return cls(**data)


def _path(contract: Contract, endpoint_id: str) -> str:
    return contract.endpoint(endpoint_id).path


def _unreachable(url: str, exc: Exception) -> TargetError:
    reason = type(exc).__name__
    detail = str(exc).split("\n")[0][:160]
    hint = tls_hint(exc)
    if hint is not None:
        return TargetError(f"TLS: cannot connect to {url}: {hint.what} ({detail}); {hint.fix}")
    return TargetError(
        f"cannot reach Langflow at {url} ({reason}: {detail}); check --server and that the "
        "server is running and reachable from here"
    )


def _short(response: httpx.Response) -> str:
    """Status and the start of the body on one line; an HTML page by its title (a proxy's error page)."""
    text = response.text
    title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
    text = title.group(1) if title else text
    return f"{response.status_code} {' '.join(text.split())[:120]}".strip()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class GatewayRefusal(TargetError):
    """Something in front of Langflow refused a request Langflow serves to anyone."""


def check_langflow(client: httpx.Client, contract: Contract, url: str) -> tuple[int | None, Any, dict[str, Any]]:
    """health_check and version; raise TargetError unless this is a Langflow."""
    try:
        health = client.get(_path(contract, HEALTH_CHECK))
        version = client.get(_path(contract, VERSION))
    except httpx.TransportError as exc:
        raise _unreachable(url, exc) from None
    body = _json(version)
    version_schema = contract.endpoint(VERSION).responses[200].schema
    if version.status_code in (400, 495, 496) and "certificate" in version.text.lower():
        # nginx answers a TLS client without the certificate it requires after the handshake, in HTTP
        raise TargetError(
            f"TLS: {url} wants a client certificate ({_short(version)}); give one with --client-cert FILE "
            "(and --client-key FILE)"
        )
    if _access_proxy_refusal(version):
        raise GatewayRefusal(
            f"{url}: something in front of Langflow refused GET {_path(contract, VERSION)} ({_short(version)}), "
            "though Langflow answers it without credentials; give what that proxy wants with "
            "--header 'Name: value' (or --client-cert/--client-key, or its token with --token)"
        )
    if version.status_code != 200 or body is None or (version_schema and contract.schemas.errors(version_schema, body)):
        raise TargetError(
            f"{url} does not look like Langflow: GET {_path(contract, VERSION)} answered {_short(version)} "
            "(expected JSON with version, main_version, package); check --server, including a path prefix "
            "such as https://HOST/lf/ID"
        )
    return health.status_code, _json(health), body


def _access_proxy_refusal(response: httpx.Response) -> bool:
    """A refusal or a login redirect on /api/v1/version, which Langflow serves to anyone: an access
    proxy (oauth2-proxy, Cloudflare Access, IAP, an API gateway) stands in front."""
    if response.status_code in (401, 403, 407):
        return True
    location = response.headers.get("location", "").lower()
    return response.is_redirect and any(w in location for w in ("login", "oauth", "auth", "sso", "signin"))


def _auto_login_token(auto: httpx.Response) -> str | None:
    body = _json(auto) if auto.status_code == 200 else None
    token = body.get("access_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None


def explicit_auth(settings: Settings, contract: Contract, url: str) -> httpx.Auth | None:
    """The credentials the options give, if any."""
    if settings.api_key:
        return auth_mod.ApiKeyAuth(settings.api_key, settings.auth_in)
    if settings.token:
        return auth_mod.BearerAuth(settings.token)
    if settings.username and settings.password:
        return auth_mod.LoginAuth(url, _path(contract, LOGIN), settings.username, settings.password)
    return None


def choose_auth(
    settings: Settings, contract: Contract, url: str, anonymous: httpx.Response, auto: httpx.Response
) -> httpx.Auth:
    explicit = explicit_auth(settings, contract, url)
    if explicit is not None:
        return explicit
    if anonymous.status_code not in (401, 403):
        return auth_mod.Anonymous()
    # AUTO_LOGIN servers (1.6+ defaults) refuse anonymous requests but hand out a JWT.
    token = _auto_login_token(auto)
    if token:
        return auth_mod.BearerAuth(token, label="auto_login JWT")
    raise CredentialsError(
        f"{url} refuses anonymous requests ({_short(anonymous)}) and auto login is off; "
        "pass --api-key, --token or --username/--password"
    )


def _which(settings: Settings) -> str:
    for flag, value in (
        ("--api-key", settings.api_key),
        ("--token", settings.token),
        ("--username/--password", settings.username),
    ):
        if value:
            source = settings.sources.get(flag.split("/")[0], "command line")
            return flag if source == "command line" else f"{flag} (from {source})"
    return "auto_login"


def discover(
    settings: Settings, contract: Contract, url: str, credentials: httpx.Auth | None = None
) -> tuple[TargetInfo, httpx.Auth]:
    timeout = min(settings.timeout, DISCOVERY_TIMEOUT_S)
    connection = settings.connection
    gateway = False
    with make_client(url, auth_mod.Anonymous(), timeout, connection=connection) as anon:
        try:
            health_status, health, version = check_langflow(anon, contract, url)
        except GatewayRefusal:
            # A gateway that authenticates every request (003: a hosted deployment's application
            # token): with credentials of the run's own, Langflow behind it must answer.
            explicit = credentials or explicit_auth(settings, contract, url)
            if explicit is None:
                raise
            with make_client(url, explicit, timeout, connection=connection) as through:
                health_status, health, version = check_langflow(through, contract, url)
            gateway = True
        try:
            anonymous = anon.get(_path(contract, WHOAMI))
            auto = anon.get(_path(contract, AUTO_LOGIN))
            chosen = credentials or choose_auth(settings, contract, url, anonymous, auto)
        except httpx.TransportError as exc:
            raise _unreachable(url, exc) from None
    with make_client(url, chosen, max(timeout, settings.timeout), connection=connection) as client:
        try:
            me = client.get(_path(contract, WHOAMI))
            if me.status_code in (401, 403):
                raise CredentialsError(
                    f"{url} rejected the credentials given with {_which(settings)} ({_short(me)}); pass valid ones"
                )
            config_response = client.get(_path(contract, CONFIG))
        except httpx.TransportError as exc:
            raise _unreachable(url, exc) from None
    config = _json(config_response) if config_response.status_code == 200 else None
    me_body = _json(me) if me.status_code == 200 else None
    wanted = (*CONFIG_FLAGS, *(str(f.config["flag"]) for f in contract.features if f.config))
    flags = {k: config[k] for k in wanted if isinstance(config, dict) and k in config}
    info = TargetInfo(
        url=url,
        release=str(version["version"]),
        package=str(version["package"]),
        health_status=health_status,
        health=health,
        anonymous_status=anonymous.status_code,
        anonymous_refused=anonymous.status_code in (401, 403),
        auth=getattr(chosen, "label", type(chosen).__name__),
        config=flags,
        auto_login=_auto_login_token(auto) is not None,
        superuser=me_body.get("is_superuser") if isinstance(me_body, dict) else None,
        gateway=gateway,
    )
    return info, chosen
