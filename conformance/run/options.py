"""The plugin's command-line options: one table, read by pytest_addoption, README and the tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.errors import OptionError
from conformance.target.urls import normalize_server_url

if TYPE_CHECKING:  # the option table is read by every pytest run (activation.py): no TLS imports at load
    from conformance.target.connection import Connection


def _direct() -> Connection:
    from conformance.target.connection import Connection

    return Connection()


DEFAULT_LANGFLOW_VERSION = "1.13.0"
DEFAULT_SEED = "20261205"
# Generated requests per property requirement (per batch): keeps the whole default suite within a
# minute against a local server (README, "Speed").
DEFAULT_EXAMPLES = "3"
MODES = ("read-only", "isolated", "full")
AUTH_IN = ("header", "query")
API_VERSIONS = ("v1", "v2", "unversioned")


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    help: str
    default: str | None = None
    choices: tuple[str, ...] | None = None
    secret: bool = False
    flag_only: bool = False  # a switch without a value (its variable: 1/true/yes)
    repeatable: bool = False  # may be given more than once (--server: a matrix of deployments)

    @property
    def dest(self) -> str:
        return "lfc_" + self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option(
        "--server",
        "LANGFLOW_SERVER_URL",
        "Langflow root URL, with its path prefix if it has one (https://HOST/lf/ID). "
        "Without it, an embedded local Langflow is installed and started. Repeat it to run the suite "
        "against several deployments (a matrix).",
        repeatable=True,
    ),
    Option(
        "--api-key",
        "LANGFLOW_API_KEY",
        "Langflow API key, sent as x-api-key (with repeated --server: once for all, or once per server).",
        secret=True,
        repeatable=True,
    ),
    Option(
        "--auth-in",
        "LANGFLOW_AUTH_IN",
        "Send the API key as a header or as the x-api-key query parameter.",
        default="header",
        choices=AUTH_IN,
    ),
    Option("--token", "LANGFLOW_TOKEN", "Bearer token (hosted deployments' application token, or a JWT).", secret=True),
    Option(
        "--peer-api-key",
        "LANGFLOW_CONFORMANCE_PEER_API_KEY",
        "API key of a second ordinary user: the isolation requirements try your resources as that user "
        "(without it, superuser credentials let the run create two users of its own).",
        secret=True,
    ),
    Option("--username", "LANGFLOW_USERNAME", "Log in with POST /api/v1/login as this user."),
    Option("--password", "LANGFLOW_PASSWORD", "Password for --username.", secret=True),
    Option(
        "--langflow-version",
        "LANGFLOW_CONFORMANCE_LANGFLOW_VERSION",
        "Release the embedded local Langflow installs (only without --server).",
        default=DEFAULT_LANGFLOW_VERSION,
    ),
    Option(
        "--mode",
        "LANGFLOW_CONFORMANCE_MODE",
        "read-only: safe reads only; isolated: creates and deletes its own resources; "
        "full: also user-destructive endpoints, as a throwaway user.",
        default="isolated",
        choices=MODES,
    ),
    Option("--report-dir", "LANGFLOW_CONFORMANCE_REPORT_DIR", "Where reports/<run-id>/ is written.", default="reports"),
    Option(
        "--contract-edition",
        "LANGFLOW_CONFORMANCE_EDITION",
        "Check against this contract edition instead of the one chosen from the server's release.",
    ),
    Option("--timeout", "LANGFLOW_CONFORMANCE_TIMEOUT", "Seconds per HTTP request.", default="30"),
    Option(
        "--ca-bundle",
        "LANGFLOW_CONFORMANCE_CA_BUNDLE",
        "PEM file of the CA(s) that signed the server's certificate (a private CA). Default: SSL_CERT_FILE, "
        "REQUESTS_CA_BUNDLE, else the system's trust store.",
    ),
    Option("--client-cert", "LANGFLOW_CONFORMANCE_CLIENT_CERT", "PEM client certificate for mutual TLS."),
    Option(
        "--client-key",
        "LANGFLOW_CONFORMANCE_CLIENT_KEY",
        "PEM private key of --client-cert (when the certificate file does not hold it).",
    ),
    Option(
        "--insecure",
        "LANGFLOW_CONFORMANCE_INSECURE",
        "Do not verify the server's TLS certificate (warned about on the terminal and in every report view).",
        flag_only=True,
    ),
    Option(
        "--header",
        "LANGFLOW_CONFORMANCE_HEADER",
        "'Name: value' sent on every request of the run, e.g. the token an access proxy (oauth2-proxy, "
        "Cloudflare Access, IAP) wants; repeat it for several (the variable: one per line). Values are secret.",
        secret=True,
        repeatable=True,
    ),
    Option(
        "--seed",
        "LANGFLOW_CONFORMANCE_SEED",
        "Hypothesis seed of the property-based requirements (printed in the report; a failure names it).",
        default=DEFAULT_SEED,
    ),
    Option(
        "--examples",
        "LANGFLOW_CONFORMANCE_EXAMPLES",
        "Generated requests per property requirement (per stateful requirement: generated scenarios).",
        default=DEFAULT_EXAMPLES,
    ),
    Option(
        "--property-time",
        "LANGFLOW_CONFORMANCE_PROPERTY_TIME",
        "Keep generating each property requirement for this many seconds, in batches of --examples with "
        "successive seeds (deep nightly runs); 0: one batch.",
        default="0",
    ),
    Option(
        "--dump-contract",
        "LANGFLOW_CONFORMANCE_DUMP_CONTRACT",
        "Write the OpenAPI 3.1 document derived from the contract (for the target's release, or "
        "--langflow-version without --server) to this file, and exit.",
    ),
    Option(
        "--baseline",
        "LANGFLOW_CONFORMANCE_BASELINE",
        "`known`: the deviations docs/findings.md writes up for the target's release; or a YAML file of known "
        "failures (requirement id, reason, optional expiry date). Only other failures, expired entries and "
        "stale entries (now passing) fail the run.",
    ),
    Option(
        "--update-baseline",
        "LANGFLOW_CONFORMANCE_UPDATE_BASELINE",
        "Write this run's failures to this baseline file (keeping the reasons and expiry dates of entries "
        "--baseline already had).",
    ),
    Option(
        "--allow-stale",
        "LANGFLOW_CONFORMANCE_ALLOW_STALE",
        "A baselined requirement that now passes does not fail the run.",
        flag_only=True,
    ),
    Option(
        "--gate",
        "LANGFLOW_CONFORMANCE_GATE",
        "API versions whose failures decide the exit code, comma-separated (SHOULD failures never do).",
        default="v1,v2,unversioned",
    ),
    Option(
        "--max-skip-share",
        "LANGFLOW_CONFORMANCE_MAX_SKIP_SHARE",
        "Percent of MUST requirements that may be skipped (other than by --mode) before the run counts "
        "as vacuous and fails.",
        default="30",
    ),
    Option(
        "--compare",
        "LANGFLOW_CONFORMANCE_COMPARE",
        "A previous run's report.json: mark what changed since (newly failing, newly passing, new "
        "endpoints, release change) in every view.",
    ),
    Option(
        "--matrix",
        "LANGFLOW_CONFORMANCE_MATRIX",
        "Comma-separated embedded releases (1.1.1,1.4.3,1.7.3,1.13.0): run the suite against each and "
        "write a combined matrix report.",
    ),
    Option(
        "--matrix-jobs",
        "LANGFLOW_CONFORMANCE_MATRIX_JOBS",
        "Matrix targets run at the same time.",
        default="2",
    ),
    Option(
        "--sweep",
        "LANGFLOW_CONFORMANCE_SWEEP",
        "Delete what earlier runs left behind (resources named lfc-...), nothing else, and exit.",
        flag_only=True,
    ),
)
TRUE = ("1", "true", "yes", "on")
LINES = "\n"
LINE_LISTS = {"--header"}  # values that may hold commas: one per line in their variable


@dataclass
class Settings:
    server: str | None
    api_key: str | None
    auth_in: str
    token: str | None
    username: str | None
    password: str | None
    langflow_version: str
    mode: str
    report_dir: Path
    contract_edition: str | None
    timeout: float
    sweep: bool = False
    seed: int = int(DEFAULT_SEED)
    examples: int = int(DEFAULT_EXAMPLES)
    property_time: float = 0.0
    dump_contract: Path | None = None
    baseline: Path | None = None
    update_baseline: Path | None = None
    allow_stale: bool = False
    gate: tuple[str, ...] = API_VERSIONS
    max_skip_share: float = 30.0
    compare: Path | None = None
    matrix: tuple[str, ...] = ()  # embedded releases
    servers: tuple[str, ...] = ()  # every --server given (more than one: a matrix of deployments)
    api_keys: tuple[str, ...] = ()
    matrix_jobs: int = 2
    peer_api_key: str | None = None
    connection: Connection = field(default_factory=_direct)
    sources: dict[str, str] = field(default_factory=dict)  # option -> "command line" / "$ENV" / "default"

    @property
    def embedded(self) -> bool:
        return self.server is None

    @property
    def is_matrix(self) -> bool:
        return bool(self.matrix) or len(self.servers) > 1


def _raw_values(getoption: Any, environ: dict[str, str]) -> tuple[dict[str, str | None], dict[str, str]]:
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        value = getoption(opt.dest)
        if isinstance(value, list):  # a repeatable option: its values joined, split again below
            value = (LINES if opt.flag in LINE_LISTS else ",").join(value) if value else None
        source = "command line"
        if value is None and environ.get(opt.env):
            value, source = environ[opt.env], f"${opt.env}"
        if value is None:
            value, source = opt.default, "default"
        values[opt.flag] = value
        sources[opt.flag] = source
    return values, sources


def resolve(getoption: Any, environ: dict[str, str] | None = None) -> Settings:
    """Command line over environment over default; raise OptionError naming the option to fix."""
    environ = dict(os.environ) if environ is None else environ
    v, sources = _raw_values(getoption, environ)

    def origin(flag: str) -> str:
        return flag if sources[flag] in ("command line", "default") else f"{flag} (from {sources[flag]})"

    for opt in OPTIONS:
        if opt.choices and v[opt.flag] not in opt.choices:
            raise OptionError(f"{origin(opt.flag)} must be one of {', '.join(opt.choices)}, not {v[opt.flag]!r}")
    try:
        timeout = float(v["--timeout"] or "")
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 3600:
        raise OptionError(
            f"{origin('--timeout')} must be a number of seconds between 0 and 3600, not {v['--timeout']!r}"
        )
    numbers = {}
    for flag, low, high, kind in (
        ("--seed", 0, 2**32 - 1, int),
        ("--examples", 1, 100000, int),
        ("--property-time", 0, 86400, float),
        ("--max-skip-share", 0, 100, float),
        ("--matrix-jobs", 1, 16, int),
    ):
        try:
            numbers[flag] = kind(v[flag] or "")
        except ValueError:
            numbers[flag] = low - 1
        if not low <= numbers[flag] <= high:
            raise OptionError(f"{origin(flag)} must be a number from {low} to {high}, not {v[flag]!r}")
    servers = tuple(normalize_server_url(u) for u in _listed(v["--server"]))
    api_keys = _listed(v["--api-key"])
    if len(servers) > 1 and len(api_keys) not in (0, 1, len(servers)):
        raise OptionError(
            f"{len(servers)} --server values and {len(api_keys)} --api-key values: give one key for all, "
            "or one per server in the same order"
        )
    if len(servers) <= 1 and len(api_keys) > 1:
        raise OptionError("--api-key is given more than once; that pairs keys with repeated --server values")
    server = servers[0] if servers else None
    matrix = _listed(v["--matrix"])
    if matrix and servers:
        raise OptionError("--matrix runs embedded releases; for deployments repeat --server instead")
    gate = _listed(v["--gate"])
    unknown = [g for g in gate if g not in API_VERSIONS]
    if unknown or not gate:
        raise OptionError(f"{origin('--gate')} takes API versions from {', '.join(API_VERSIONS)}, not {v['--gate']!r}")
    if bool(v["--username"]) != bool(v["--password"]):
        raise OptionError("--username and --password go together; give both or neither")
    given = [f for f in ("--api-key", "--token", "--username") if v[f]]
    if len(given) > 1:
        raise OptionError(f"give one kind of credentials, not {' and '.join(given)}")
    if server is None and given:
        raise OptionError(f"{given[0]} needs --server; the embedded Langflow makes its own credentials")
    version = v["--langflow-version"] or DEFAULT_LANGFLOW_VERSION
    if server is not None and sources["--langflow-version"] == "command line":
        raise OptionError("--langflow-version chooses the embedded Langflow; it cannot be used with --server")
    from packaging.version import InvalidVersion, Version

    for flag, release in [("--langflow-version", version), *(("--matrix", m) for m in matrix)]:
        try:
            Version(release)
        except InvalidVersion:
            raise OptionError(f"{origin(flag)} {release!r} is not a release number like 1.13.0") from None
    from conformance.target.connection import Connection

    headers = tuple(h for h in (v["--header"] or "").split(LINES) if h.strip())
    connection = Connection.from_options(
        v["--ca-bundle"],
        v["--client-cert"],
        v["--client-key"],
        str(v["--insecure"]).lower() in TRUE,
        headers,
        environ,
    )
    return Settings(
        server=server,
        api_key=api_keys[0] if api_keys else None,
        auth_in=v["--auth-in"] or "header",
        token=v["--token"],
        username=v["--username"],
        password=v["--password"],
        langflow_version=version,
        mode=v["--mode"] or "isolated",
        report_dir=Path(v["--report-dir"] or "reports"),
        contract_edition=v["--contract-edition"],
        timeout=timeout,
        sweep=str(v["--sweep"]).lower() in TRUE,
        seed=int(numbers["--seed"]),
        examples=int(numbers["--examples"]),
        property_time=float(numbers["--property-time"]),
        dump_contract=Path(v["--dump-contract"]) if v["--dump-contract"] else None,
        baseline=_path(v["--baseline"]),
        update_baseline=_path(v["--update-baseline"]),
        allow_stale=str(v["--allow-stale"]).lower() in TRUE,
        gate=gate,
        max_skip_share=float(numbers["--max-skip-share"]),
        compare=_path(v["--compare"]),
        matrix=matrix,
        servers=servers,
        api_keys=api_keys,
        matrix_jobs=int(numbers["--matrix-jobs"]),
        peer_api_key=v["--peer-api-key"],
        connection=connection,
        sources=sources,
    )


def _listed(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
