"""Checks: small named functions, each asserting one property of a response against the contract.

Each fails the test with a one-line message and no traceback: what the contract expects, what came
back, and where the contract says so."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import httpx
import pytest

from .contract import Endpoint, ResponseSpec, SchemaStore
from .streams import StreamResult, event_type


def fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def _source(endpoint: Endpoint) -> str:
    if not endpoint.sources:
        return "no source"
    s = endpoint.sources[0]
    return f"{s.get('document')} § {s.get('section')}"


def status_is_documented(
    endpoint: Endpoint, response: httpx.Response, release: str, expected: int | None = None
) -> ResponseSpec:
    documented = endpoint.documented_statuses(release)
    wanted = [expected] if expected is not None else sorted(documented)
    if response.status_code not in wanted:
        body = response.text.replace("\n", " ")[:200]
        fail(
            f"{endpoint.operation}: expected status {' or '.join(map(str, wanted))}, got "
            f"{response.status_code} {body!r} ({_source(endpoint)})"
        )
    spec = documented.get(response.status_code)
    if spec is None:
        fail(
            f"{endpoint.operation}: status {response.status_code} is not documented "
            f"(documented: {sorted(documented)}; {_source(endpoint)})"
        )
    if spec.location and not response.headers.get("location", "").endswith(spec.location):
        fail(
            f"{endpoint.operation}: expected a redirect to {spec.location}, got location "
            f"{response.headers.get('location')!r} ({_source(endpoint)})"
        )
    return spec


def content_type_matches(endpoint: Endpoint, spec: ResponseSpec, response: httpx.Response) -> None:
    if not spec.accepts_content_type(response.headers.get("content-type", "")):
        actual = response.headers.get("content-type", "").split(";")[0].strip()
        fail(
            f"{endpoint.operation}: expected content type {' or '.join(spec.content_types)}, got "
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
    errors, variant = _matches(schemas, spec, body)
    if not errors:
        return variant
    shown = "; ".join(errors[:3]) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
    fail(f"{endpoint.operation}: body does not match {spec.schema}: {shown} ({_source(endpoint)})")


def is_refused(endpoint: Endpoint, response: httpx.Response, how: str, unknown_ids: bool = False) -> None:
    """401/403; with stand-in ids in the path, a 404 for the unknown resource reveals nothing either."""
    allowed = (401, 403, 404) if unknown_ids else (401, 403)
    if response.status_code not in allowed:
        fail(
            f"{endpoint.operation} with {how}: expected {' or '.join(map(str, allowed))} (the endpoint requires "
            f"an API key), got {response.status_code} ({_source(endpoint)})"
        )


def _matches(schemas: SchemaStore, spec: ResponseSpec, instance: Any) -> tuple[list[str], str | None]:
    """Errors against the main schema, or ([], variant id) when a tolerated variant matches."""
    assert spec.schema
    errors = schemas.errors(spec.schema, instance)
    if errors:
        for variant in spec.tolerated:
            if variant.schema and not schemas.errors(variant.schema, instance):
                return [], variant.id
    return errors, None


def stream_matches(endpoint: Endpoint, spec: ResponseSpec, stream: StreamResult, schemas: SchemaStore) -> None:
    """Every event parses and validates, its type is documented, and the stream ends with its end event."""
    documented = (endpoint.stream or {}).get("event_types") or []
    end_event = (endpoint.stream or {}).get("end_event")
    for index, event in enumerate(stream.events):
        kind = event_type(event)
        if documented and kind is not None and kind not in documented:
            fail(
                f"{endpoint.operation}: event {index} has type {kind!r}, documented types are "
                f"{', '.join(documented)} ({_source(endpoint)})"
            )
        if spec.schema:
            errors, _ = _matches(schemas, spec, event)
            if errors:
                fail(
                    f"{endpoint.operation}: event {index} ({kind}) does not match {spec.schema}: "
                    f"{'; '.join(errors[:2])} ({_source(endpoint)})"
                )
    if end_event and not stream.saw_end_event:
        how = "went idle" if stream.idle else "closed"
        fail(
            f"{endpoint.operation}: the stream {how} after {len(stream.events)} events without its "
            f"{end_event!r} event ({_source(endpoint)})"
        )
