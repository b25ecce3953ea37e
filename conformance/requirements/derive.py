"""Requirements: what the suite checks, each with a stable id, a level and its contract source.

Tests are generated per requirement kind from the catalog; the report counts requirements."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from conformance.contract import Endpoint, SelectedContract
from conformance.requirements.generation import (
    NEGATIVE,
    POSITIVE,
    STATEFUL,
    PropertyConfig,
    can_be_invalid,
    has_request_schema,
)
from conformance.requirements.stateful import stateful_steps
from conformance.run.kinds import Kind, ResourceKinds
from conformance.target.profile import off_reason
from conformance.target.tenants import NO_PEER

KINDS = {
    "example": "the documented request succeeds with a documented status, content type and body",
    "auth": "protected endpoints refuse missing and wrong credentials",
    "negative": "unknown ids and invalid input get documented 4xx answers, never 5xx",
    "lifecycle": "create, read, update, list, delete behave together",
    "stream": "streamed responses parse, use documented events and end properly",
    "property": "generated valid requests are accepted and answered as documented; invalid ones refused, never 5xx",
    "drift": "the deployment's own /openapi.json lists every documented endpoint",
    "isolation": "what one user creates, another can neither see, change, run nor delete",
    "readonly": "the subset safe to run against production",
}
# readonly is a marker on the others
GENERATED = ("example", "auth", "negative", "lifecycle", "stream", "property", "drift", "isolation")
MUST, SHOULD = "MUST", "SHOULD"
# What each mode allows to run (DESIGN.md "Staging safety").
MODE_ALLOWS = {
    "read-only": {"read"},
    "isolated": {"read", "creates-own"},
    "full": {"read", "creates-own", "user-destructive", "install-wide"},
}
FULL_ONLY = ("user-destructive", "install-wide")
NOT_APPLICABLE = "not applicable: "  # skip reasons with this prefix are reported as not applicable
AUTO_LOGIN_EXEMPT = (
    f"{NOT_APPLICABLE}the release notes exempt this route from the API-key rule while AUTO_LOGIN is on, "
    "and it is on here (1.5.0 release notes, notes §3)"
)


@dataclass(frozen=True)
class Requirement:
    id: str
    kind: str
    level: str
    endpoint: Endpoint
    skip: str | None = None  # why it cannot run here; NOT_APPLICABLE-prefixed when outside the edition
    case: str | None = None  # which variant of the kind: "unknown-id", "key-in-query", a resource kind...

    def describe(self) -> dict[str, Any]:
        e = self.endpoint
        return {
            "id": self.id,
            "kind": self.kind,
            "level": self.level,
            "endpoint": e.id,
            "group": e.group,
            "method": e.method,
            "path": e.path,
            "api_version": e.api_version,
            "case": self.case,
            "sources": [dict(s) for s in e.sources],
        }

    def describe_case(self) -> str:
        case = self.case or ""
        if self.kind == "isolation":
            return ISOLATION_CASES.get(case, case)
        return AUTH_CASES.get(case) or NEGATIVE_CASES.get(case) or PROPERTY_CASES.get(case) or case

    def property_json(self) -> str:
        return json.dumps(self.describe())


def placeholders(value: Any) -> set[str]:
    """Resource references ("@flow.id") in an example request (multipart contents are not)."""
    if isinstance(value, str) and value.startswith("@"):
        return {value[1:].split(".")[0]}
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for k, v in value.items() if k != "files")) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()


def level_of(endpoint: Endpoint) -> str:
    """Deprecated endpoints are reported, never gating: the documents tell users not to rely on them."""
    return SHOULD if endpoint.deprecated else MUST


@dataclass(frozen=True)
class Context:
    """What requirement generation knows about the run before any test."""

    contract: SelectedContract
    mode: str
    superuser: bool | None  # is the suite's user a superuser (None: unknown)
    kinds: ResourceKinds
    login: bool = False  # username and password are known (login, @superuser placeholders)
    bearer: bool = False  # a Bearer JWT is at hand (from the login, or AUTO_LOGIN's)
    profile: dict[str, Any] | None = None  # the deployment profile (profile.py): features on or off
    peer: bool = False  # --peer-api-key given: a second user to try the run's resources as

    def mode_skip(self, safety: str) -> str | None:
        if safety in MODE_ALLOWS[self.mode]:
            return None
        where = "full mode" if safety in FULL_ONLY else "isolated or full mode"
        return f"mode {self.mode}: {safety} requests run only in {where}"

    def creation_skip(self, endpoint: Endpoint) -> str | None:
        """read-only mode creates nothing: a request that needs one of the run's resources cannot run."""
        needed = sorted(placeholders(endpoint.example or {}) - {"superuser"})
        if self.mode != "read-only" or not needed:
            return None
        return f"mode read-only: the request needs a {', '.join(needed)} the run would have to create"

    def throwaway_skip(self) -> str | None:
        """user-destructive requests run as a throwaway user, which only a superuser can create."""
        if self.superuser is False:
            return "superuser credentials not given: full mode creates a throwaway user for user-destructive requests"
        return None


def _common_skip(
    endpoint: Endpoint, ctx: Context, safety: str | None = None, superuser_needed: bool = True
) -> str | None:
    reason = ctx.contract.not_applicable_reason(endpoint)
    if reason:
        return NOT_APPLICABLE + reason
    off = off_reason(ctx.profile, ctx.contract, endpoint.feature)
    if off:
        return off
    if superuser_needed and endpoint.auth == "superuser" and ctx.superuser is False:
        return "superuser credentials not given (the suite's user is not a superuser)"
    if endpoint.safety == "needs-external-service":
        return f"needs an external service ({endpoint.summary or endpoint.operation})"
    safety = safety or endpoint.safety
    skip = ctx.mode_skip(safety)
    if skip is None and safety == "user-destructive":
        skip = ctx.throwaway_skip()
    if skip is None and safety == "install-wide" and ctx.superuser is False:
        skip = "superuser credentials not given: install-wide writes (restored at the end) need a superuser"
    return skip


def _redirects(endpoint: Endpoint, ctx: Context) -> bool:
    expected = endpoint.expected_status(ctx.contract.release)
    return expected is not None and 300 <= expected < 400


def _example(endpoint: Endpoint, ctx: Context) -> Iterator[Requirement]:
    if endpoint.example is None or endpoint.stream:
        return  # streams have their own requirement kind
    skip = _common_skip(endpoint, ctx)
    if skip is None and endpoint.method == "WS":
        skip = "WebSocket sessions are not exercised (voice mode needs an OpenAI or ElevenLabs key)"
    if skip is None and "superuser" in placeholders(endpoint.example) and not ctx.login:
        skip = "superuser credentials not given (--username/--password): the example logs in"
    skip = skip or ctx.creation_skip(endpoint)
    yield Requirement(f"{endpoint.id}.example", "example", level_of(endpoint), endpoint, skip)


def _stream(endpoint: Endpoint, ctx: Context) -> Iterator[Requirement]:
    if endpoint.example is None or not endpoint.stream:
        return
    skip = _common_skip(endpoint, ctx) or ctx.creation_skip(endpoint)
    yield Requirement(f"{endpoint.id}.stream", "stream", level_of(endpoint), endpoint, skip)


AUTH_CASES = {
    "auth-required": "no credentials and a wrong key are refused",
    "key-in-header": "the API key is accepted as the x-api-key header",
    "key-in-query": "the API key is accepted as the x-api-key query parameter",
    "bearer": "a Bearer token from /login is accepted",
    "superuser-only": "an ordinary user is refused",
    "auth-switch": "without credentials it is refused exactly when the deployment's config switch is on",
}


def _auth(endpoint: Endpoint, ctx: Context) -> Iterator[Requirement]:
    if endpoint.raw.get("auth_switch") and endpoint.example is not None:
        skip = _common_skip(endpoint, ctx)
        yield Requirement(f"{endpoint.id}.auth-switch", "auth", level_of(endpoint), endpoint, skip, "auth-switch")
    # Only requests that change nothing, even if the server wrongly lets them through.
    if endpoint.auth == "none" or endpoint.method not in ("GET", "HEAD") or endpoint.example is None:
        return
    skip = _common_skip(endpoint, ctx, superuser_needed=False)  # refusing strangers needs no superuser
    if skip is None and _redirects(endpoint, ctx):
        skip = f"{NOT_APPLICABLE}redirects in this release; the target endpoint's own auth requirements cover it"
    level = level_of(endpoint)
    yield Requirement(f"{endpoint.id}.auth-required", "auth", level, endpoint, skip, "auth-required")
    if endpoint.stream:
        return  # long-lived answers: acceptance is what the stream requirement shows
    accepted_skip = skip or _common_skip(endpoint, ctx) or ctx.creation_skip(endpoint)
    for case in ("key-in-header", "key-in-query"):
        yield Requirement(f"{endpoint.id}.{case}", "auth", level, endpoint, accepted_skip, case)
    bearer_skip = accepted_skip or (
        None if ctx.bearer or ctx.login else "username and password not given: no Bearer token to send"
    )
    yield Requirement(f"{endpoint.id}.bearer", "auth", level, endpoint, bearer_skip, "bearer")
    if endpoint.auth == "superuser":
        ordinary = skip
        no_ordinary = ctx.mode_skip("user-destructive") or ctx.throwaway_skip()
        if ordinary is None and ctx.superuser is not False and no_ordinary:
            ordinary = (
                f"needs an ordinary user: only full mode with superuser credentials creates one (mode {ctx.mode})"
            )
        yield Requirement(f"{endpoint.id}.superuser-only", "auth", level, endpoint, ordinary, "superuser-only")


NEGATIVE_CASES = {
    "unknown-id": "an unknown id in the path is answered 404 with the documented error body",
    "missing-fields": "a body without its required fields is answered 4xx (never 5xx)",
    "wrong-type": "a body field of the wrong type is answered 4xx (never 5xx)",
}


def body_schema(endpoint: Endpoint, ctx: Context) -> dict[str, Any] | None:
    body = endpoint.body or {}
    if body.get("content_type", "application/json") != "application/json" or not body.get("schema"):
        return None
    schema = ctx.contract.schemas.schema(body["schema"])
    return schema if schema.get("type") == "object" and schema.get("properties") else None


def wrong_type_field(schema: dict[str, Any]) -> str | None:
    """The field a wrong-type request breaks: the first required one with a declared type (an
    optional field may be ignored by design, so its type proves nothing)."""
    props = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if isinstance(props.get(name), dict) and props[name].get("type") in (
            "string",
            "integer",
            "boolean",
            "array",
            "object",
            "number",
        ):
            return name
    return None


def id_parameters(endpoint: Endpoint) -> list[str]:
    """Path parameters naming a resource (a placeholder in the example, a uuid, or `..._id`); a
    folder of bundled pictures is not one."""
    given = ((endpoint.example or {}).get("params")) or {}
    return [
        p["name"]
        for p in endpoint.parameters
        if p.get("in") == "path"
        and (
            str(given.get(p["name"], "")).startswith("@")
            or (p.get("schema") or {}).get("format") == "uuid"
            or p["name"].endswith("_id")
        )
    ]


def _negative(endpoint: Endpoint, ctx: Context) -> Iterator[Requirement]:
    if endpoint.method == "WS" or _redirects(endpoint, ctx):
        return
    skip = _common_skip(endpoint, ctx)
    level = level_of(endpoint)
    if 404 in endpoint.responses and id_parameters(endpoint) and endpoint.example is not None:
        yield Requirement(f"{endpoint.id}.unknown-id", "negative", level, endpoint, skip, "unknown-id")
    schema = body_schema(endpoint, ctx)
    if schema is None or endpoint.example is None:
        return
    skip = skip or ctx.creation_skip(endpoint)
    if schema.get("required"):
        yield Requirement(f"{endpoint.id}.missing-fields", "negative", level, endpoint, skip, "missing-fields")
    if wrong_type_field(schema):
        yield Requirement(f"{endpoint.id}.wrong-type", "negative", level, endpoint, skip, "wrong-type")


def _lifecycles(ctx: Context) -> Iterator[Requirement]:
    """One requirement per resource kind that has a create and a delete on this release."""
    for kind in ctx.kinds.kinds.values():
        if kind.fresh or kind.alias:
            continue
        create, delete = kind.step("create", ctx.contract), kind.step("delete", ctx.contract)
        if create is None or delete is None:
            continue
        requires = kind.raw.get("requires") or {}
        safety = "user-destructive" if requires.get("mode") == "full" else "creates-own"
        skip = _common_skip(delete.endpoint, ctx, safety)
        if skip is None and requires.get("superuser") and ctx.superuser is False:
            skip = f"superuser credentials not given: only a superuser can create a {kind.name}"
        level = MUST if not (create.endpoint.deprecated or delete.endpoint.deprecated) else SHOULD
        yield Requirement(
            f"{delete.endpoint.group}.{kind.name}.lifecycle", "lifecycle", level, delete.endpoint, skip, kind.name
        )


PROPERTY_CASES = {
    POSITIVE: "generated valid requests are accepted with a documented status and a body that validates",
    NEGATIVE: "generated invalid requests are refused with a 4xx, never a 5xx",
    STATEFUL: "generated create/read/update/delete sequences: what was created is there, what was deleted is gone",
}


def _property(endpoint: Endpoint, ctx: Context) -> Iterator[Requirement]:
    """Every HTTP endpoint with a request schema; a streamed twin of a plain operation (the same method
    and path, told apart by a parameter the plain one pins) is covered by that plain one."""
    if endpoint.method == "WS" or not has_request_schema(endpoint):
        return
    twins = [e for e in ctx.contract.endpoints if e is not endpoint and e.operation == endpoint.operation]
    if endpoint.stream and any(not t.stream for t in twins):
        return
    skip = _common_skip(endpoint, ctx)
    if skip is None and _redirects(endpoint, ctx):
        skip = f"{NOT_APPLICABLE}redirects in this release; the target endpoint's own requirements cover it"
    if skip is None and endpoint.stream:
        skip = (
            "answers an event stream that may stay open: generated requests would each hold one; "
            f"its {endpoint.id}.stream requirement checks it"
        )
    skip = skip or PropertyConfig.of(endpoint).skip or ctx.creation_skip(endpoint)
    if skip is None and "superuser" in placeholders(endpoint.example or {}) and not ctx.login:
        skip = "superuser credentials not given (--username/--password): the request logs in"
    cases = (POSITIVE, NEGATIVE) if can_be_invalid(endpoint, ctx.contract.schemas) else (POSITIVE,)
    for case in cases:
        yield Requirement(f"{endpoint.id}.property-{case}", "property", level_of(endpoint), endpoint, skip, case)


def _stateful(ctx: Context) -> Iterator[Requirement]:
    """One per resource kind whose create answer names the id its read, update and delete take."""
    for kind in ctx.kinds.kinds.values():
        steps = stateful_steps(kind, ctx.contract)
        if steps is None:
            continue
        create, delete = steps["create"], steps.get("delete") or steps["create"]
        requires = kind.raw.get("requires") or {}
        safety = "user-destructive" if requires.get("mode") == "full" else "creates-own"
        skip = _common_skip(create.endpoint, ctx, safety)
        if skip is None and requires.get("superuser") and ctx.superuser is False:
            skip = f"superuser credentials not given: only a superuser can create a {kind.name}"
        level = MUST if not any(s.endpoint.deprecated for s in steps.values()) else SHOULD
        yield Requirement(
            f"{delete.endpoint.group}.{kind.name}.stateful", "property", level, delete.endpoint, skip, STATEFUL
        )


def _properties(ctx: Context) -> Iterator[Requirement]:
    for endpoint in ctx.contract.endpoints:
        yield from _property(endpoint, ctx)
    yield from _stateful(ctx)


def _drift(endpoint: Endpoint, ctx: Context) -> Iterator[Requirement]:
    if endpoint.method == "WS":
        return
    # Only the edition and the features decide: a listing needs no mode, service or superuser (a
    # switched-off feature's router is absent on purpose).
    reason = ctx.contract.not_applicable_reason(endpoint)
    skip = NOT_APPLICABLE + reason if reason else off_reason(ctx.profile, ctx.contract, endpoint.feature)
    yield Requirement(f"{endpoint.id}.listed", "drift", level_of(endpoint), endpoint, skip, "listed")


ISOLATION_CASES = {
    "read": "another user's request for it by id is refused (403/404), and shows nothing of it",
    "update": "another user's update of it is refused, and it is unchanged",
    "delete": "another user's delete of it is refused, and it is unchanged",
    "write": "another user's request that acts on it is refused, and it is unchanged",
    "run": "another user cannot run it",
    "list": "another user's lists and searches never contain it",
    "public": "a public flow is reachable through the documented public endpoints and nothing more",
    "superuser": "not even a superuser reaches another user's resource (where the documents say so)",
}
RUNS = ("run", "build", "workflows", "a2a", "mcp")  # endpoint groups where a POST runs what it names


def isolation_kind(endpoint: Endpoint, kinds: ResourceKinds) -> str | None:
    """The resource kind an endpoint's request names by id (`@kind.field` in its example): the most
    specific one when several appear (a v1 file, not the flow it lives in)."""
    example = endpoint.example or {}
    named = {k for k in placeholders(example) if k in kinds.kinds}
    if any(not owned(kinds[k]) for k in named):
        return None  # it also names a user, a role, a setting: install-wide, not one user's
    used = named
    related = {r for k in used for r in kinds[k].related}
    specific = used - related
    if len(specific) > 1:  # a flow's update names its project too: the id in the path is the one it acts on
        path = {p["name"] for p in endpoint.parameters if p.get("in") == "path"}
        specific &= placeholders({k: v for k, v in (example.get("params") or {}).items() if k in path})
    return next(iter(specific)) if len(specific) == 1 else None


def owned(kind: Kind, listed: bool = False) -> bool:
    """Kinds one user owns and another must not reach: not install-wide objects (roles, users,
    settings), not a second name for a kind (flow2). `listed`: kinds with a list of their own, not a
    kind that is another's resource (an agent-typed flow is in the flows list: the flow kind's covers it)."""
    requires = kind.raw.get("requires") or {}
    same = bool(kind.raw.get("same_resource_as")) and listed
    return not (kind.alias or kind.setting or requires.get("mode") == "full" or same)


def isolation_case(endpoint: Endpoint) -> str:
    if endpoint.method in ("GET", "HEAD"):
        return "read"
    if endpoint.method in ("PUT", "PATCH"):
        return "update"
    if endpoint.method == "DELETE":
        return "delete"
    return "run" if endpoint.group in RUNS else "write"


def _isolation_skip(endpoint: Endpoint, ctx: Context) -> str | None:
    skip = _common_skip(endpoint, ctx, "creates-own", superuser_needed=False)
    if skip:
        return skip
    if _redirects(endpoint, ctx):
        return f"{NOT_APPLICABLE}redirects in this release; the target endpoint's own requirements cover it"
    if ctx.mode == "read-only":
        return "mode read-only: the isolation requirements need resources of two users, which it does not create"
    if ctx.superuser is False and not ctx.peer:
        return NO_PEER
    switches = (ctx.profile or {}).get("switches") or {}
    if endpoint.raw.get("auth_exempt_with_auto_login") and switches.get("auto_login"):
        return f"{AUTO_LOGIN_EXEMPT}: any caller reaches it, so no user is kept out"
    switch = endpoint.raw.get("auth_switch")
    if switch and switches.get(switch["config"]) is False:
        return (
            f"not applicable: {switch['config']} is off here, and the documents then let anyone run a flow this "
            "way (it runs as its owner)"
        )
    return None


def _isolation(ctx: Context) -> Iterator[Requirement]:
    """Per endpoint that takes a resource's id, and per kind's list, from the catalog and resources.yaml."""
    for endpoint in ctx.contract.endpoints:
        if endpoint.method == "WS" or endpoint.example is None or endpoint.auth != "api-key":
            continue
        kind = isolation_kind(endpoint, ctx.kinds)
        if kind is None:
            continue
        case = isolation_case(endpoint)
        skip = _isolation_skip(endpoint, ctx)
        yield Requirement(f"{endpoint.id}.isolation-{case}", "isolation", MUST, endpoint, skip, case)
        if (endpoint.raw.get("isolation") or {}).get("superuser") == "refused":
            skip = skip or (
                None if ctx.superuser else "superuser credentials not given: the run's user is no superuser"
            )
            skip = skip or ("the run's own user owns the resources (--peer-api-key)" if ctx.peer else None)
            rid = f"{endpoint.id}.isolation-superuser"
            yield Requirement(rid, "isolation", MUST, endpoint, skip, "superuser")
    for kind in ctx.kinds.kinds.values():
        listing = kind.step("list", ctx.contract) if owned(kind, listed=True) else None
        if listing is None or listing.endpoint.auth != "api-key":
            continue
        skip = _isolation_skip(listing.endpoint, ctx)
        yield Requirement(
            f"{listing.endpoint.group}.{kind.name}.isolation-list", "isolation", MUST, listing.endpoint, skip, "list"
        )
        public = kind.raw.get("public")
        if public:
            reachable = ctx.contract.endpoint(str(public["reachable"][0]["endpoint"]))
            skip = _isolation_skip(listing.endpoint, ctx) or ctx.contract.not_applicable_reason(reachable)
            yield Requirement(
                f"{reachable.group}.{kind.name}.isolation-public", "isolation", MUST, reachable, skip, "public"
            )


def _per_endpoint(
    generate: Callable[[Endpoint, Context], Iterator[Requirement]],
) -> Callable[[Context], Iterator[Requirement]]:
    def each(ctx: Context) -> Iterator[Requirement]:
        for endpoint in ctx.contract.endpoints:
            yield from generate(endpoint, ctx)

    return each


GENERATORS: dict[str, Callable[[Context], Iterator[Requirement]]] = {
    "example": _per_endpoint(_example),
    "stream": _per_endpoint(_stream),
    "auth": _per_endpoint(_auth),
    "negative": _per_endpoint(_negative),
    "lifecycle": _lifecycles,
    "property": _properties,
    "drift": _per_endpoint(_drift),
    "isolation": _isolation,
}


def requirements_for(kind: str, ctx: Context) -> list[Requirement]:
    generate = GENERATORS.get(kind)
    return list(generate(ctx)) if generate else []
