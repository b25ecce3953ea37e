"""`example`: the documented request succeeds with a documented status, content type and body."""

from __future__ import annotations

import httpx
import pytest

from conformance import checks
from conformance.calls import send_example
from conformance.contract import SelectedContract
from conformance.requirements import Requirement


@pytest.mark.example
def test_example(requirement: Requirement, lf_client: httpx.Client, lf_contract: SelectedContract) -> None:
    endpoint = requirement.endpoint
    exchange = send_example(lf_client, endpoint)
    disabled = endpoint.raw.get("disabled")
    if disabled and exchange.response.status_code == disabled["status"]:
        pytest.skip(f"feature disabled on this deployment: {disabled['reason']}")
    release = lf_contract.release
    spec = checks.status_is_documented(endpoint, exchange.response, release, endpoint.expected_status(release))
    checks.content_type_matches(endpoint, spec, exchange.response)
    if exchange.stream is not None:
        checks.stream_matches(endpoint, spec, exchange.stream, lf_contract.schemas)
    else:
        checks.body_matches_schema(endpoint, spec, exchange.response, lf_contract.schemas)
