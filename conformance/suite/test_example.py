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
    response = send_example(lf_client, endpoint)
    expected = (endpoint.example or {}).get("status")
    spec = checks.status_is_documented(endpoint, response, expected)
    checks.content_type_matches(endpoint, spec, response)
    checks.body_matches_schema(endpoint, spec, response, lf_contract.schemas)
