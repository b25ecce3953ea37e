"""`example` and `stream`: the documented request succeeds with a documented status, content type and
body (every event of a stream); the run endpoints echo their input through the run's echo flow."""

from __future__ import annotations

import pytest

from conformance import checks
from conformance.calls import example_request, send
from conformance.contract import SelectedContract
from conformance.plugin import Run
from conformance.requirements import Requirement


def _run_example(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    endpoint = requirement.endpoint
    resources = lf_run.resources_for(endpoint)
    # Anything that may change or delete what it touches gets resources of its own; the throwaway
    # user's resources exist for user-destructive requests, so theirs are shared (and primed).
    fresh = endpoint.safety != "read" and resources is lf_run.resources()
    request = example_request(endpoint, resources=resources, fresh=fresh)
    exchange = send(resources.client, endpoint, **request)
    resources.register_created(endpoint, exchange.response)
    checks.skip_if_feature_off(endpoint, exchange.response, lf_contract)
    release = lf_contract.release
    checks.response_matches(endpoint, exchange, release, lf_contract.schemas, endpoint.expected_status(release))
    if exchange.stream is None:
        checks.echoes(endpoint, request, exchange.response)


@pytest.mark.example
def test_example(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    _run_example(requirement, lf_run, lf_contract)


@pytest.mark.stream
def test_stream(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    _run_example(requirement, lf_run, lf_contract)
