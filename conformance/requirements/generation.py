"""Property-based requirements: schemathesis generates requests from the derived OpenAPI document
(contract/openapi.py), the run sends them through its own client, and schemathesis's named checks
judge the answers.

What keeps generated traffic safe and quiet:
- resource ids the documented example takes from the run ("@flow.id") are the run's own resources,
  unless schemathesis made that part of the request deliberately invalid;
- names of what a request creates carry the run prefix, and whatever it creates goes into the ledger;
- a check is configured per endpoint in the catalog (`property.checks`), with a reason, never globally.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
import hypothesis
import hypothesis.configuration
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response

from conformance.contract import Endpoint, SchemaStore, SelectedContract
from conformance.contract.openapi import build_document
from conformance.requirements.calls import query_names, rename
from conformance.run.resources import Resources
from conformance.target.client import NO_WAIT
from conformance.target.install import cache_dir
from conformance.target.secrets import mask

POSITIVE, NEGATIVE, STATEFUL = "positive", "negative", "stateful"
# The checks each case runs (schemathesis's names; page_size_respected is ours, below). Each one has
# a seeded bug in tests/fake_langflow.py that trips it.
CHECKS_BY_CASE: dict[str, tuple[str, ...]] = {
    POSITIVE: (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "positive_data_acceptance",
        "page_size_respected",
    ),
    NEGATIVE: (
        "not_a_server_error",
        "negative_data_rejection",
        "content_type_conformance",
        "response_schema_conformance",
    ),
    STATEFUL: (
        "not_a_server_error",
        "status_code_conformance",
        "response_schema_conformance",
        "use_after_free",
        "ensure_resource_availability",
    ),
}
ENABLED_CHECKS = sorted({name for names in CHECKS_BY_CASE.values() for name in names})
# What a 2xx of a generated valid request may also be: the schemathesis default minus 5xx, which
# not_a_server_error reports on its own.
MAX_DESCRIBED_LINES = 4  # per failure, before its curl command
MAX_SHOWN_FAILURES = 4
PAGE_FIELDS = ("items", "total", "page", "size")  # fastapi-pagination's Page, as 002 prints it


@schemathesis.check
def page_size_respected(ctx: Any, response: Any, case: Any) -> bool | None:
    """A paginated answer (a Page: items, total, page, size) honours the page and size asked for."""
    query = case.query or {}
    asked = {k: query[k] for k in ("page", "size") if k in query}
    if not asked or not 200 <= response.status_code < 300:
        return None
    try:
        body = response.json()
        asked = {k: int(v) for k, v in asked.items()}
    except (TypeError, ValueError):
        return None
    if not isinstance(body, dict) or not all(k in body for k in PAGE_FIELDS):
        return None  # not a page (e.g. get_all=true answers a plain list, as documented)
    problems = [f"asked for {k} {v}, the page says {k} {body[k]!r}" for k, v in asked.items() if body[k] != v]
    if "size" in asked and isinstance(body["items"], list) and len(body["items"]) > asked["size"]:
        problems.append(f"asked for size {asked['size']}, the page holds {len(body['items'])} items")
    if problems:
        raise AssertionError("Pagination ignored: " + "; ".join(problems))
    return True


@dataclass(frozen=True)
class CheckSetting:
    """The catalog's `property.checks.<name>`: switched off, or other expected statuses, with a reason."""

    name: str
    reason: str
    enabled: bool = True
    expected_statuses: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PropertyConfig:
    """An endpoint's `property:` entry in the catalog."""

    skip: str | None = None
    pin: dict[str, Any] = field(default_factory=dict)  # values never generated (both modes)
    checks: dict[str, CheckSetting] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=dict)  # answers the documents leave open -> why

    @classmethod
    def of(cls, endpoint: Endpoint) -> PropertyConfig:
        raw = endpoint.raw.get("property") or {}
        checks = {}
        for name, setting in (raw.get("checks") or {}).items():
            statuses = setting.get("expected_statuses")
            checks[name] = CheckSetting(
                name,
                str(setting["reason"]),
                bool(setting.get("enabled", True)),
                tuple(str(s) for s in statuses) if statuses else None,
            )
        statuses = {int(k): str(v) for k, v in (raw.get("statuses") or {}).items()}
        pins = {name: pin["value"] for name, pin in (raw.get("pin") or {}).items()}
        return cls(raw.get("skip"), pins, checks, statuses)

    def enabled(self, case: str) -> list[str]:
        return [n for n in CHECKS_BY_CASE[case] if self.checks.get(n, CheckSetting(n, "")).enabled]


def has_request_schema(endpoint: Endpoint) -> bool:
    return bool(endpoint.parameters) or bool((endpoint.body or {}).get("schema"))


_CONSTRAINTS = ("format", "enum", "const", "pattern", "minimum", "maximum", "minLength", "maxLength", "items")


def can_be_invalid(endpoint: Endpoint, schemas: SchemaStore) -> bool:
    """Whether the contract constrains anything a request could violate: a body schema that is not
    "any value", or a parameter that is more than a plain string (on the wire, every string is one)."""
    body = endpoint.body or {}
    if body.get("schema") and schemas.schema(body["schema"]).keys() & {"type", "properties", "anyOf", "oneOf", "$ref"}:
        return True
    for parameter in endpoint.parameters:
        schema = parameter.get("schema") or {}
        constraints = set(_CONSTRAINTS)
        if parameter.get("in") == "path":  # an empty or overlong path segment is no request at all
            constraints -= {"minLength", "maxLength"}
        if schema.get("type", "string") != "string" or schema.keys() & constraints:
            return True
    return False


def is_stream_only(endpoint: Endpoint) -> bool:
    return bool(endpoint.stream)


# Only credentials are masked in reproductions (schemathesis's default list also hides session ids,
# which Langflow requests need to be reproduced); the run's own secret values are masked on top.
MARKERS = ["password", "secret", "token", "api-key", "apikey"]
SANITIZED = [
    "x-api-key",
    "authorization",
    "cookie",
    "set-cookie",
    "password",
    "api_key",
    "access_token",
    "refresh_token",
]


def schemathesis_config(endpoints: list[Endpoint], seed: int, stateful: bool = False) -> schemathesis.Config:
    """Per-operation check settings from the catalog; every operation not named keeps the defaults."""
    operations = []
    for endpoint in endpoints:
        config = PropertyConfig.of(endpoint)
        checks: dict[str, Any] = {}
        if config.statuses:
            accepted = [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, *map(str, config.statuses)]
            checks["positive_data_acceptance"] = {"expected-statuses": accepted}
        for setting in config.checks.values():
            entry: dict[str, Any] = {"enabled": setting.enabled}
            if setting.expected_statuses:
                entry["expected-statuses"] = list(setting.expected_statuses)
            checks[setting.name] = entry
        if checks:
            operations.append({"include-operation-id": endpoint.id, "checks": checks})
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "operations": operations,
            "output": {"sanitization": {"keys-to-sanitize": SANITIZED, "sensitive-markers": MARKERS}},
            # A sequence only makes sense of valid requests (invalid ones are the negative cases'
            # business), and only along the links the resources table gives (no inferred ones).
            **(
                {"generation": {"mode": "positive"}, "phases": {"stateful": {"inference": {"algorithms": []}}}}
                if stateful
                else {}
            ),
        }
    )


class DerivedSchema:
    """The run's schemathesis schemas, loaded once per process from the derived document: valid
    requests are drawn from closed request objects (documented fields only), invalid ones from the
    documents' own (open) objects, so an ignored extra field is never taken for a wrongly accepted one."""

    def __init__(self, contract: SelectedContract, seed: int) -> None:
        self.contract = contract
        self.seed = seed
        # Hypothesis keeps its unicode tables (built in about 4 s) under its home directory: ours,
        # not .hypothesis/ in whatever directory a run starts in, so that the next run finds them.
        with contextlib.suppress(Exception):
            hypothesis.configuration.set_hypothesis_home_dir(str(cache_dir() / "hypothesis"))

    def _load(self, closed: bool) -> Any:
        load_all_checks()
        document = build_document(self.contract, closed_requests=closed)
        config = schemathesis_config(self.contract.endpoints, self.seed)
        schema = schemathesis.openapi.from_dict(document, config=config)
        _cache_checks_config(schema.config)
        return schema

    @cached_property
    def closed(self) -> Any:
        return self._load(closed=True)

    @cached_property
    def open(self) -> Any:
        return self._load(closed=False)

    def operation(self, endpoint: Endpoint, case: str) -> Any:
        return (self.open if case == NEGATIVE else self.closed).find_operation_by_id(endpoint.id)


def _cache_checks_config(config: Any) -> None:
    """schemathesis works out an operation's checks configuration from the whole config hierarchy on
    every validate_response (about 0.8 ms each, five per generated request): it cannot change during a
    run, so it is worked out once per operation and phase."""
    compute = config.checks_config_for
    known: dict[tuple[str, str | None], Any] = {}

    def checks_config_for(*, operation: Any = None, phase: str | None = None) -> Any:
        key = (operation.label if operation is not None else "", phase)
        if key not in known:
            known[key] = compute(operation=operation, phase=phase)
        return known[key]

    config.checks_config_for = checks_config_for


# Sending ----------------------------------------------------------------------------------------


def httpx_kwargs(case: Any, base_url: str, file_prefix: str | None = None) -> dict[str, Any]:
    """schemathesis's (requests-style) transport arguments for httpx.Client.request; uploaded file
    names get `file_prefix` (the run's), so --sweep finds what an upload left."""
    raw = case.as_transport_kwargs(base_url=base_url)
    headers = {
        k: v
        for k, v in dict(raw.get("headers") or {}).items()
        if k.lower() not in ("user-agent", "connection", "accept-encoding", "accept")
    }
    out: dict[str, Any] = {"method": raw["method"], "url": raw["url"], "headers": headers}
    if raw.get("params"):
        out["params"] = raw["params"]
    if "json" in raw:
        out["json"] = raw["json"]
    data = raw.get("data")
    if isinstance(data, (bytes, str)):
        out["content"] = data
    elif data:
        out["data"] = data
    if raw.get("files"):
        out["files"] = [_file_part(name, part, file_prefix) for name, part in raw["files"]]
    return out


def _file_part(name: str, part: Any, prefix: str | None) -> tuple[str, tuple[Any, ...]]:
    """A part as httpx takes it; an invalid (negative) part value is sent as its text, as a form would."""
    filename, content, *rest = part if isinstance(part, tuple) else (name, part)
    if not isinstance(content, (bytes, str)):
        content = json.dumps(content).encode()
    return name, (f"{prefix}-{filename}" if prefix else filename, content, *rest)


def send_case(client: httpx.Client, case: Any, file_prefix: str | None = None) -> httpx.Response:
    """A generated request; a rate limit's 429 is its answer, not something to wait out (a limiter may
    ask for 60 s per request: generation stops there instead, see Findings.rate_limited)."""
    kwargs = httpx_kwargs(case, str(client.base_url).rstrip("/"), file_prefix)
    return client.request(**kwargs, extensions={NO_WAIT: True})


# Pins: the run's own resources and prefixed names in generated requests ---------------------------


@dataclass
class Pins:
    """What a generated request of one endpoint gets from the run instead of from generation."""

    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    fixed_path: dict[str, Any] = field(default_factory=dict)  # catalog `property.pin`: never generated
    fixed_query: dict[str, Any] = field(default_factory=dict)
    fixed_body: dict[str, Any] = field(default_factory=dict)
    names: tuple[str, ...] = ()  # body fields that get a run-prefixed name
    query_names: tuple[str, ...] = ()  # query parameters that do (a v2 file rename)
    new_name: Callable[[], str] | None = None


def pins_for(endpoint: Endpoint, resources: Resources, fresh: bool, resources_in_path: bool = True) -> Pins:
    """Placeholders of the documented example become the run's resources (fresh ones for requests that
    may change or delete them); the catalog's `property.pin` values are held as they are.
    `resources_in_path` False: ids in the path and query stay generated (stateful runs link them)."""
    example = endpoint.example or {}
    resolve = resources.placeholders(fresh)
    where = {p["name"]: p.get("in", "query") for p in endpoint.parameters}
    pins = Pins()
    for name, value in (example.get("params") or {}).items():
        if resources_in_path and isinstance(value, str) and value.startswith("@"):
            (pins.path if where.get(name) == "path" else pins.query)[name] = resolve(value)
    body = example.get("body")
    if isinstance(body, dict):
        for name, value in body.items():
            if isinstance(value, str) and value.startswith("@"):
                pins.body[name] = resolve(value)
    for name, value in PropertyConfig.of(endpoint).pin.items():
        fixed = {"path": pins.fixed_path, "query": pins.fixed_query}.get(where.get(name, "body"), pins.fixed_body)
        fixed[name] = value
    naming = resources.kinds.naming(endpoint.id)
    if naming is not None:
        kind, fields = naming
        pins.names = tuple(fields)
        pins.query_names = tuple(query_names(endpoint, fields))
        pins.new_name = lambda: resources.new_name(kind.name)
    return pins


def _negative(case: Any, location: ParameterLocation) -> bool:
    meta = case.meta
    return meta is not None and meta.is_negative_at(location)


def _body_errors(contract: SelectedContract, endpoint: Endpoint, body: Any) -> list[str]:
    ref = (endpoint.body or {}).get("schema")
    return contract.schemas.errors(ref, body) if ref else []


def apply_pins(case: Any, endpoint: Endpoint, pins: Pins, contract: SelectedContract) -> bool:
    """Put the run's values into a generated case. False when that would make a deliberately invalid
    request valid (the invalid part was exactly what we replaced): such a case is not sent."""
    if pins.path and not _negative(case, ParameterLocation.PATH):
        case.path_parameters = {**(case.path_parameters or {}), **pins.path}
    if pins.query and not _negative(case, ParameterLocation.QUERY):
        case.query = {**(case.query or {}), **pins.query}
    # Catalog pins hold whatever was generated (the plain cases already draw them fixed).
    if pins.fixed_path:
        case.path_parameters = {**(case.path_parameters or {}), **pins.fixed_path}
    if pins.fixed_query:
        case.query = {**(case.query or {}), **pins.fixed_query}
    if pins.new_name is not None and pins.query_names and not _negative(case, ParameterLocation.QUERY):
        # The run's prefix first, so --sweep finds what a generated rename left; the generated
        # characters after it, since they are what the rename is tested with. An empty name stays
        # empty: the server must refuse it (1.7.3 accepts it, finding F19).
        query = dict(case.query or {})
        for name in pins.query_names:
            if isinstance(query.get(name), str) and query[name]:
                query[name] = pins.new_name() + query[name]
        case.query = query
    if not isinstance(case.body, dict):
        return True
    negative_body = _negative(case, ParameterLocation.BODY)
    body = copy.deepcopy(case.body)
    for name, value in pins.body.items():
        if name in body or not negative_body:
            body[name] = value
    body.update(pins.fixed_body)
    if pins.new_name is not None:  # the object itself, or each object of a list in it (a batch)
        body = rename(body, list(pins.names), pins.new_name)
    valid = not _body_errors(contract, endpoint, body)
    if negative_body and valid:
        return False
    if not negative_body and not valid:
        # Our name broke a constraint of the generated body: keep the generated value for that field.
        for name in pins.names:
            if name in case.body:
                body[name] = case.body[name]
        if _body_errors(contract, endpoint, body):
            body = {**copy.deepcopy(case.body), **pins.body, **pins.fixed_body}
    case.body = body
    return True


# Failures ---------------------------------------------------------------------------------------


@dataclass
class Found:
    """One distinct failure: which check, what it said (with the curl command), and the seed."""

    check: str
    title: str
    message: str
    curl: str
    seed: int

    def describe(self) -> str:
        # Schema dumps can run to pages: a few short lines of what failed, then the curl command, so
        # the reproduction survives the report's one-message limit.
        what = self.message.split("Reproduce with")[0].strip().splitlines()
        lines = [_clip(line) for line in what if line.strip()][:MAX_DESCRIBED_LINES]
        return f"[{self.check}] " + "\n    ".join([*lines, f"Reproduce with: {self.curl}"])


def _clip(line: str, width: int = 120) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


@dataclass
class Findings:
    seed: int  # the run's seed; batches after the first use the next ones
    found: dict[tuple[str, str], Found] = field(default_factory=dict)
    sent: int = 0
    batches: int = 0
    current_seed: int = 0  # the batch being drawn: the seed that reproduces what it finds
    abandoned: bool = False  # the server stopped answering: no more requests for this requirement
    rate_limited: bool = False  # a 429: the server asked for no more requests now (not a failure)

    def no_answer(self, case: Any, exc: httpx.TransportError, base_url: str) -> None:
        """A request the server did not answer (a timeout, a dropped connection) is a failure too,
        and the last one this requirement sends: every further one could cost another timeout."""
        title = f"no answer: {type(exc).__name__}"
        curl = mask(case.as_curl_command(base_url=base_url))
        message = f"{title}: {str(exc)[:160] or 'the server did not answer'}\nReproduce with:\n    {curl}"
        self.found.setdefault(("transport", title), Found("transport", title, message, curl, self.current_seed))
        self.abandoned = True

    def add(self, check: str, group: FailureGroup, curl: str, seed: int) -> None:
        for failure in group.exceptions:
            key = (check, failure.title)
            if key not in self.found:
                message = mask(str(group.args[0] if group.args else failure.message))
                self.found[key] = Found(check, failure.title, message, mask(curl), seed)

    def reproduce(self) -> list[dict[str, Any]]:
        return [{"check": f.check, "title": f.title, "curl": f.curl, "seed": f.seed} for f in self.found.values()]

    def summary(self, what: str) -> str:
        shown = list(self.found.values())[:MAX_SHOWN_FAILURES]
        more = len(self.found) - len(shown)
        head = (
            f"{what}: {len(self.found)} distinct failure(s) in {self.sent} generated requests "
            f"(seed {self.seed}; rerun with --seed {self.seed})"
        )
        body = "\n  ".join(f.describe() for f in shown)
        return f"{head}\n  {body}" + (f"\n  ... and {more} more (report.json)" if more else "")


def validate(case: Any, response: Any, checks: list[str], findings: Findings, base_url: str, **kw: Any) -> None:
    """Run each enabled check on its own, so every failure is attributed to the check that raised it."""
    answer = Response.from_any(response)
    for name in checks:
        try:
            case.validate_response(answer, checks=[CHECKS.get_one(name)], **kw)
        except FailureGroup as group:
            curl = case.as_curl_command(headers=dict(answer.request.headers), base_url=base_url)
            findings.add(name, group, curl, findings.current_seed)


# Running ----------------------------------------------------------------------------------------


@dataclass
class Budget:
    examples: int  # per batch
    seconds: float  # keep generating batches (successive seeds) until this much time is spent; 0: one batch


def settings_for(examples: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,  # deterministic, and nothing written into the user's working directory
        phases=(Phase.explicit, Phase.generate),  # no shrinking: the curl command is the reproduction
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def batches(findings: Findings, budget: Budget) -> Iterator[int]:
    """Seeds of successive batches: one, or as many as fit in budget.seconds."""
    started = time.monotonic()
    while True:
        findings.current_seed = findings.seed + findings.batches
        findings.batches += 1
        yield findings.current_seed
        if time.monotonic() - started >= budget.seconds:
            return


def run_cases(strategy: Any, send: Callable[[Any], bool], budget: Budget, findings: Findings, base_url: str) -> None:
    """Draw cases from `strategy` with a fixed seed per batch; `send` returns False for a case it
    would not send (the draw does not count)."""
    for batch_seed in batches(findings, budget):

        @hypothesis.given(case=strategy)
        @settings_for(budget.examples)
        @hypothesis.seed(batch_seed)
        def draw(case: Any) -> None:
            if findings.abandoned:
                return
            try:
                sent = send(case)
            except httpx.TransportError as exc:
                findings.no_answer(case, exc, base_url)
                return
            except RateLimited:
                findings.rate_limited = findings.abandoned = True
                return
            if not sent:
                hypothesis.reject()

        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            draw()
        if findings.abandoned:
            return


class RateLimited(Exception):
    """A generated request was answered 429: no more of them for this requirement."""


def as_mode(case: str) -> GenerationMode:
    return GenerationMode.POSITIVE if case == POSITIVE else GenerationMode.NEGATIVE


def json_reproduce(findings: Findings) -> str:
    return json.dumps(findings.reproduce())
