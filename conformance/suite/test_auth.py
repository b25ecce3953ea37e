"""`auth`: endpoints the contract protects refuse a request without credentials and one with a wrong key."""

from __future__ import annotations

import httpx
import pytest

from conformance import checks
from conformance.auth import API_KEY_HEADER
from conformance.calls import example_request, send
from conformance.contract import SelectedContract
from conformance.requirements import Requirement
from conformance.target import TargetInfo

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
WRONG_KEY = "sk-lfc-wrong-key-00000000"


@pytest.mark.auth
def test_auth_required(
    requirement: Requirement, lf_anonymous: httpx.Client, lf_target: TargetInfo, lf_contract: SelectedContract
) -> None:
    endpoint = requirement.endpoint
    if lf_contract.edition.auth_required == "deployment" and not lf_target.anonymous_refused:
        pytest.skip(
            f"not applicable: contract edition {lf_contract.edition.id} leaves authentication to the "
            f"deployment, and this one accepts anonymous requests"
        )
    if endpoint.raw.get("auth_exempt_with_auto_login") and lf_target.auto_login:
        pytest.skip(
            "not applicable: the release notes exempt this route from the API-key rule while AUTO_LOGIN "
            "is on, and it is on here (1.5.0 release notes, notes §3)"
        )
    # Unknown ids stand in for resources: the request must be refused before they matter.
    request = example_request(endpoint, filler=UNKNOWN_ID)
    unknown_ids = UNKNOWN_ID in request["url"]
    checks.is_refused(endpoint, send(lf_anonymous, endpoint, **request).response, "no credentials", unknown_ids)
    wrong = {**request, "headers": {**request.get("headers", {}), API_KEY_HEADER: WRONG_KEY}}
    checks.is_refused(endpoint, send(lf_anonymous, endpoint, **wrong).response, "a wrong x-api-key", unknown_ids)
