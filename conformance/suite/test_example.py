"""`example` and `stream`: the documented request succeeds with a documented status, content type and
body (every event of a stream); the run endpoints echo their input through the run's echo flow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conformance.contract import Endpoint, SelectedContract
from conformance.requirements import checks
from conformance.requirements.calls import example_request, send
from conformance.requirements.derive import Requirement
from conformance.requirements.streams import StreamResult
from conformance.run.plugin import Run
from conformance.target.auth import Anonymous


def _run_example(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    endpoint = requirement.endpoint
    resources = lf_run.resources_for(endpoint)
    # Anything that may change or delete what it touches gets resources of its own; the throwaway
    # user's resources exist for user-destructive requests, so theirs are shared (and primed).
    fresh = endpoint.safety != "read" and resources is lf_run.resources()
    resources.guard(endpoint)
    request = example_request(endpoint, resources=resources, fresh=fresh)
    if (endpoint.example or {}).get("anonymous"):  # the rule is about callers without credentials
        with lf_run.make_client(Anonymous()) as anonymous:
            exchange = send(anonymous, endpoint, **request)
    else:
        exchange = send(resources.client, endpoint, **request)
    resources.register_created(endpoint, exchange.response)
    checks.skip_if_feature_off(endpoint, exchange.response, lf_contract)
    release = lf_contract.release
    checks.response_matches(endpoint, exchange, release, lf_contract.schemas, endpoint.expected_status(release))
    if exchange.stream is None:
        checks.echoes(endpoint, request, exchange.response)
    elif (endpoint.stream or {}).get("resume"):
        _resumes(endpoint, request, exchange.stream, resources.client)


def _resumes(endpoint: Endpoint, request: dict[str, Any], first: StreamResult, client: httpx.Client) -> None:
    """A resumable stream (`stream.resume`), asked again from its first event's id, replays the rest."""
    header = str(endpoint.stream["resume"]["header"])  # type: ignore[index]
    ids = [str(e["id"]) for e in first.events if isinstance(e, dict) and "id" in e]
    if not ids:
        checks.fail(
            f"{endpoint.operation}: the stream's events carry no id, so it cannot be resumed with {header}",
            expected=f"events with ids ({header} resumption)",
            actual=f"{len(first.events)} events without an id",
        )
    again = send(client, endpoint, **{**request, "headers": {**request.get("headers", {}), header: ids[0]}})
    assert again.stream is not None, "the resumed request was not answered with a stream"
    checks.resumes(endpoint, first, again.stream, ids[0])


@pytest.mark.example
def test_example(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    _run_example(requirement, lf_run, lf_contract)


@pytest.mark.stream
def test_stream(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    _run_example(requirement, lf_run, lf_contract)
