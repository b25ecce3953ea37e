"""Requirements: what the suite checks, each with a stable id, a level and its contract source.

Tests are generated per requirement kind from the catalog; the report counts requirements."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .contract import Endpoint, SelectedContract

KINDS = {
    "example": "the documented request succeeds with a documented status, content type and body",
    "auth": "protected endpoints refuse missing and wrong credentials",
    "negative": "unknown ids and invalid input get documented 4xx answers, never 5xx",
    "lifecycle": "create, read, update, list, delete behave together",
    "stream": "streamed responses parse, use documented events and end properly",
    "readonly": "the subset safe to run against production",
}
MUST, SHOULD = "MUST", "SHOULD"
# What each mode allows to run (DESIGN.md "Staging safety").
MODE_ALLOWS = {
    "read-only": {"read"},
    "isolated": {"read", "creates-own"},
    "full": {"read", "creates-own", "user-destructive"},
}
NOT_APPLICABLE = "not applicable: "  # skip reasons with this prefix are reported as not applicable


@dataclass(frozen=True)
class Requirement:
    id: str
    kind: str
    level: str
    endpoint: Endpoint
    skip: str | None = None  # why it cannot run here; NOT_APPLICABLE-prefixed when outside the edition

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
            "sources": [dict(s) for s in e.sources],
        }

    def property_json(self) -> str:
        return json.dumps(self.describe())


def placeholders(value: Any) -> set[str]:
    """Resource references ("@flow.id") in an example request."""
    if isinstance(value, str) and value.startswith("@"):
        return {value[1:].split(".")[0]}
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()


def level_of(endpoint: Endpoint) -> str:
    """Deprecated endpoints are reported, never gating: the documents tell users not to rely on them."""
    return SHOULD if endpoint.deprecated else MUST


def _common_skip(endpoint: Endpoint, contract: SelectedContract, mode: str, superuser: bool | None) -> str | None:
    reason = contract.not_applicable_reason(endpoint)
    if reason:
        return NOT_APPLICABLE + reason
    if endpoint.auth == "superuser" and superuser is False:
        return "superuser credentials not given (the suite's user is not a superuser)"
    if endpoint.safety == "needs-external-service":
        return f"needs an external service ({endpoint.summary or endpoint.operation})"
    if endpoint.safety not in MODE_ALLOWS[mode]:
        return f"mode {mode}: {endpoint.safety} endpoints run only in " + (
            "full mode" if endpoint.safety == "user-destructive" else "isolated or full mode"
        )
    return None


def _example(
    endpoint: Endpoint, contract: SelectedContract, mode: str, superuser: bool | None
) -> Iterator[Requirement]:
    if endpoint.example is None:
        return
    skip = _common_skip(endpoint, contract, mode, superuser)
    if skip is None and endpoint.method == "WS":
        skip = "WebSocket sessions are not exercised yet (stream requirements)"
    if skip is None and endpoint.safety != "read":
        # Whatever an example creates must be deleted through the ledger; until lifecycle requirements
        # pair each create with its delete, creating examples do not run at all.
        skip = f"{endpoint.safety}: runs with the lifecycle requirements, which pair it with its delete"
    needs = placeholders(endpoint.example)
    if skip is None and needs:
        skip = f"needs resources the suite does not create yet: {', '.join(sorted(needs))}"
    yield Requirement(f"{endpoint.id}.example", "example", level_of(endpoint), endpoint, skip)


def _auth(endpoint: Endpoint, contract: SelectedContract, mode: str, superuser: bool | None) -> Iterator[Requirement]:
    if endpoint.auth == "none" or endpoint.method not in ("GET", "HEAD"):
        return
    skip = _common_skip(endpoint, contract, mode, None)  # refusing strangers needs no superuser
    expected = endpoint.expected_status(contract.release)
    if skip is None and expected is not None and 300 <= expected < 400:
        skip = (
            f"{NOT_APPLICABLE}redirects ({expected}) in this release; the target endpoint's own auth "
            "requirement covers it"
        )
    yield Requirement(f"{endpoint.id}.auth-required", "auth", level_of(endpoint), endpoint, skip)


GENERATORS: dict[str, Callable[[Endpoint, SelectedContract, str, bool | None], Iterator[Requirement]]] = {
    "example": _example,
    "auth": _auth,
}


def requirements_for(
    kind: str, contract: SelectedContract, mode: str, superuser: bool | None = None
) -> list[Requirement]:
    generate = GENERATORS.get(kind)
    if generate is None:
        return []
    return [r for endpoint in contract.endpoints for r in generate(endpoint, contract, mode, superuser)]
