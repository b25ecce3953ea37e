"""Checks: small named functions, each asserting one property of a response against the contract.

Each fails the test with a one-line message and no traceback: what the contract expects, what came
back, and where the contract says so."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import httpx
import pytest

from .contract import Endpoint, ResponseSpec, SchemaStore


def fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def _source(endpoint: Endpoint) -> str:
    if not endpoint.sources:
        return "no source"
    s = endpoint.sources[0]
    return f"{s.get('document')} § {s.get('section')}"


def status_is_documented(endpoint: Endpoint, response: httpx.Response, expected: int | None = None) -> ResponseSpec:
    documented = sorted(endpoint.responses)
    wanted = [expected] if expected is not None else documented
    if response.status_code not in wanted:
        body = response.text.replace("\n", " ")[:200]
        fail(
            f"{endpoint.operation}: expected status {' or '.join(map(str, wanted))}, got "
            f"{response.status_code} {body!r} ({_source(endpoint)})"
        )
    spec = endpoint.responses.get(response.status_code)
    if spec is None:
        fail(
            f"{endpoint.operation}: status {response.status_code} is not documented "
            f"(documented: {documented}; {_source(endpoint)})"
        )
    return spec


def content_type_matches(endpoint: Endpoint, spec: ResponseSpec, response: httpx.Response) -> None:
    if not spec.content_type:
        return
    actual = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if actual != spec.content_type.lower():
        fail(
            f"{endpoint.operation}: expected content type {spec.content_type}, got "
            f"{actual or 'none'} ({_source(endpoint)})"
        )


def body_matches_schema(
    endpoint: Endpoint, spec: ResponseSpec, response: httpx.Response, schemas: SchemaStore
) -> str | None:
    """Validate the JSON body; return the id of the tolerated variant it matched, if any."""
    if not spec.schema:
        return None
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, ValueError):
        fail(f"{endpoint.operation}: body is not JSON: {response.text[:120]!r}")
    errors = schemas.errors(spec.schema, body)
    if not errors:
        return None
    for variant in spec.tolerated:
        if variant.schema and not schemas.errors(variant.schema, body):
            return variant.id
    shown = "; ".join(errors[:3]) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
    fail(f"{endpoint.operation}: body does not match {spec.schema}: {shown} ({_source(endpoint)})")


def is_refused(endpoint: Endpoint, response: httpx.Response, how: str) -> None:
    if response.status_code not in (401, 403):
        fail(
            f"{endpoint.operation} with {how}: expected 401 or 403 (the endpoint requires "
            f"an API key), got {response.status_code} ({_source(endpoint)})"
        )
