"""Checks: small named functions, each asserting one property of a response against the contract.

Each fails the test with a one-line message and no traceback: what the contract expects, what came
back, and where the contract says so."""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import httpx
import pytest

from conformance.contract import Endpoint, ResponseSpec, SchemaStore, SelectedContract
from conformance.requirements.calls import Exchange
from conformance.requirements.streams import StreamResult, event_type


def text_of(response: httpx.Response) -> str:
    """The body for a message; a stream's body was consumed as events."""
    try:
        return response.text
    except httpx.ResponseNotRead:
        return "<event stream>"


class ContractViolation(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """A failed check: pytest's own failure (one line, no traceback) that also carries what the
    contract expects and what came back, for report.json's `expected` and `actual`."""

    def __init__(self, message: str, expected: str | None, actual: str | None) -> None:
        super().__init__(message, pytrace=False)
        self.expected, self.actual = expected, actual


def fail(message: str, expected: Any = None, actual: Any = None) -> NoReturn:
    raise ContractViolation(  # from None: the message says it all, whatever was being handled
        message, None if expected is None else str(expected)[:500], None if actual is None else str(actual)[:500]
    ) from None


def _source(endpoint: Endpoint) -> str:
    if not endpoint.sources:
        return "no source"
    s = endpoint.sources[0]
    return f"{s.get('document')} § {s.get('section')}"


def skip_if_feature_off(endpoint: Endpoint, response: httpx.Response, contract: SelectedContract) -> None:
    """An answer that says the endpoint's optional feature is off (features.yaml `off_when`) skips the
    requirement with the setting that turns it on: discovery's probe may not have told (a read-only
    run, a feature without a probe)."""
    if not endpoint.feature:
        return
    feature = contract.contract.features[endpoint.feature]
    text = text_of(response)
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = None
    if feature.says_off(response.status_code, body, text):
        pytest.skip(feature.skip_reason)


def status_is_documented(
    endpoint: Endpoint, response: httpx.Response, release: str, expected: int | None = None
) -> ResponseSpec:
    documented = endpoint.documented_statuses(release)
    wanted = [expected] if expected is not None else sorted(documented)
    if response.status_code not in wanted:
        body = text_of(response).replace("\n", " ")[:200]
        fail(
            f"{endpoint.operation}: expected status {' or '.join(map(str, wanted))}, got "
            f"{response.status_code} {body!r} ({_source(endpoint)})",
            expected=f"status {' or '.join(map(str, wanted))}",
            actual=f"{response.status_code} {body}",
        )
    spec = documented.get(response.status_code)
    if spec is None:
        fail(
            f"{endpoint.operation}: status {response.status_code} is not documented "
            f"(documented: {sorted(documented)}; {_source(endpoint)})",
            expected=f"a documented status: {', '.join(map(str, sorted(documented)))}",
            actual=response.status_code,
        )
    for name, value in spec.headers:
        if response.headers.get(name) != value:
            fail(
                f"{endpoint.operation}: a {response.status_code} should carry {name}: {value}, got "
                f"{response.headers.get(name)!r} ({_source(endpoint)})",
                expected=f"{name}: {value}",
                actual=f"{name}: {response.headers.get(name)}",
            )
    if spec.location and not _location_matches(spec.location, response.headers.get("location", "")):
        fail(
            f"{endpoint.operation}: expected a redirect to {spec.location}, got location "
            f"{response.headers.get('location')!r} ({_source(endpoint)})",
            expected=f"Location {spec.location}",
            actual=f"Location {response.headers.get('location')}",
        )
    return spec


def _location_matches(template: str, location: str) -> bool:
    """/api/v1/projects/{folder_id} matches the Location a redirect of a real id carries."""
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    return re.search(pattern + "$", location.split("?")[0]) is not None


def content_type_matches(endpoint: Endpoint, spec: ResponseSpec, response: httpx.Response) -> None:
    if not spec.accepts_content_type(response.headers.get("content-type", "")):
        actual = response.headers.get("content-type", "").split(";")[0].strip()
        fail(
            f"{endpoint.operation}: expected content type {' or '.join(spec.content_types)}, got "
            f"{actual or 'none'} ({_source(endpoint)})",
            expected=f"content type {' or '.join(spec.content_types)}",
            actual=f"content type {actual or 'none'}",
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
        fail(
            f"{endpoint.operation}: body is not JSON: {text_of(response)[:120]!r}",
            expected=f"a JSON body matching {spec.schema}",
            actual=text_of(response)[:200],
        )
    errors, variant = _matches(schemas, spec, body)
    if not errors:
        return variant
    # An error quotes the offending value, which may be megabytes: each is cut to a readable length.
    clipped = [e if len(e) <= 120 else e[:100] + "…" + e[-19:] for e in errors[:3]]
    shown = "; ".join(clipped) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
    fail(
        f"{endpoint.operation}: body does not match {spec.schema}: {shown} ({_source(endpoint)})",
        expected=f"a body matching {spec.schema}",
        actual=shown,
    )


def is_refused(endpoint: Endpoint, response: httpx.Response, how: str, unknown_ids: bool = False) -> None:
    """401/403; with stand-in ids in the path, a 404 for the unknown resource reveals nothing either."""
    allowed = (401, 403, 404) if unknown_ids else (401, 403)
    if response.status_code not in allowed:
        fail(
            f"{endpoint.operation} with {how}: expected {' or '.join(map(str, allowed))} (the endpoint requires "
            f"an API key), got {response.status_code} ({_source(endpoint)})",
            expected=f"status {' or '.join(map(str, allowed))}",
            actual=f"{response.status_code} {text_of(response)[:200]}",
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
    end_event = (endpoint.stream or {}).get("end_event")
    type_field = (endpoint.stream or {}).get("type_field")
    documented = [*((endpoint.stream or {}).get("event_types") or []), *([end_event] if end_event else [])]
    for index, event in enumerate(stream.events):
        kind = event_type(event, type_field)
        sse_data = event.get("data") if isinstance(event, dict) else event
        tolerated = any(v.schema and not schemas.errors(v.schema, sse_data) for v in spec.tolerated) or any(
            v.schema and not schemas.errors(v.schema, event) for v in spec.tolerated
        )
        if documented and kind is not None and kind not in documented and not tolerated:
            fail(
                f"{endpoint.operation}: event {index} has type {kind!r}, documented types are "
                f"{', '.join(documented)} ({_source(endpoint)})",
                expected=f"event types {', '.join(documented)}",
                actual=f"event {index} of type {kind}",
            )
        # SSE events are validated by their data; NDJSON lines are the event objects themselves.
        instance = (
            event.get("data") if (endpoint.stream or {}).get("framing") == "sse" and isinstance(event, dict) else event
        )
        if spec.schema and not (kind == end_event and isinstance(instance, str)):
            errors, _ = _matches(schemas, spec, instance)
            if errors:
                fail(
                    f"{endpoint.operation}: event {index} ({kind}) does not match {spec.schema}: "
                    f"{'; '.join(errors[:2])} ({_source(endpoint)})",
                    expected=f"events matching {spec.schema}",
                    actual="; ".join(errors[:2]),
                )
    if end_event and not stream.saw_end_event:
        how = "went idle" if stream.idle else "closed"
        fail(
            f"{endpoint.operation}: the stream {how} after {len(stream.events)} events without its "
            f"{end_event!r} event ({_source(endpoint)})",
            expected=f"a stream ending with {end_event!r}",
            actual=f"{how} after {len(stream.events)} events",
        )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def dig(value: Any, path: str) -> Any:
    """`outputs.0.outputs.0.results.message.text` into a JSON value; None when absent."""
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def response_matches(
    endpoint: Endpoint, exchange: Exchange, release: str, schemas: SchemaStore, expected: int | None
) -> ResponseSpec:
    """Status documented (and the expected one), content type, then the body or every stream event."""
    spec = status_is_documented(endpoint, exchange.response, release, expected)
    content_type_matches(endpoint, spec, exchange.response)
    if exchange.stream is not None:
        stream_matches(endpoint, spec, exchange.stream, schemas)
    else:
        body_matches_schema(endpoint, spec, exchange.response, schemas)
    return spec


WHOLE_BODY = "(body)"  # an `echo.output` that is the whole (text) body


def echoes(endpoint: Endpoint, request: dict[str, Any], response: httpx.Response) -> None:
    """The run endpoints' echo flow returns its input (catalog `echo`: where the text goes in and out)."""
    echo = endpoint.raw.get("echo")
    if not echo:
        return
    sent = dig({"body": request.get("json"), "params": request.get("params") or {}}, echo["input"])
    if echo["output"] == WHOLE_BODY:
        got: Any = response.text
    else:
        try:
            got = dig(response.json(), echo["output"])
        except ValueError:
            got = None
    if got != sent:
        fail(
            f"{endpoint.operation}: the echo flow should return its input {sent!r} at {echo['output']}, "
            f"got {str(got)[:120]!r} ({_source(endpoint)})",
            expected=f"{sent!r} at {echo['output']}",
            actual=repr(got),
        )


def is_error_answer(
    endpoint: Endpoint,
    response: httpx.Response,
    release: str,
    schemas: SchemaStore,
    statuses: tuple[int, ...] | None,
    why: str,
) -> None:
    """A refusal of bad input: the expected (or any documented) 4xx with its documented body, never 5xx."""
    status = response.status_code
    documented = endpoint.documented_statuses(release)
    refusal = endpoint.raw.get("refusal")
    if statuses is None and refusal and status == int(refusal["status"]):
        # Refused the documented way of this protocol (JSON-RPC: 200 with an error object), not a 4xx.
        spec = documented.get(status)
        variant = next((v for v in (spec.tolerated if spec else ()) if v.id == refusal["variant"]), None)
        if variant is None or not variant.schema:
            fail(f"{endpoint.operation}: the catalog's refusal names no tolerated variant {refusal['variant']!r}")
        errors = schemas.errors(variant.schema, _json_or_none(response))
        if errors:
            fail(
                f"{endpoint.operation} with {why}: expected a refusal ({status} with a {variant.id} body), got "
                f"{status} {text_of(response)[:160]!r} ({_source(endpoint)})",
                expected=f"status {status} with a body matching {variant.schema}",
                actual="; ".join(errors[:2]),
            )
        return
    if statuses is not None and status not in statuses:
        fail(
            f"{endpoint.operation} with {why}: expected {' or '.join(map(str, statuses))}, got {status} "
            f"{text_of(response)[:160]!r} ({_source(endpoint)})",
            expected=f"status {' or '.join(map(str, statuses))}",
            actual=f"{status} {text_of(response)[:200]}",
        )
    if not 400 <= status < 500:
        fail(
            f"{endpoint.operation} with {why}: expected a 4xx refusal, got {status} {text_of(response)[:160]!r} "
            f"({_source(endpoint)})",
            expected="a 4xx refusal",
            actual=f"{status} {text_of(response)[:200]}",
        )
    spec = documented.get(status)
    if spec is None:
        return  # refused, and not with a 5xx; which 4xx it should be is the example requirements' business
    content_type_matches(endpoint, spec, response)
    body_matches_schema(endpoint, spec, response, schemas)


def resumes(endpoint: Endpoint, first: StreamResult, replay: StreamResult, after: str) -> None:
    """A stream resumed from `after` (a Last-Event-ID) replays what came after it, and nothing before."""
    ids = [str(e["id"]) for e in first.events if isinstance(e, dict) and "id" in e]
    later = ids[ids.index(after) + 1 :] if after in ids else []
    again = [str(e["id"]) for e in replay.events if isinstance(e, dict) and "id" in e]
    if again != later[: len(again)] or (later and not again):
        fail(
            f"{endpoint.operation}: resumed after event id {after!r}, the stream replayed ids {again[:8]} "
            f"instead of those after it {later[:8]} ({_source(endpoint)})",
            expected=f"the events after id {after}: {later[:8]}",
            actual=f"ids {again[:8]}",
        )
