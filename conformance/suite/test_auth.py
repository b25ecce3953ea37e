"""`auth`: endpoints the contract protects refuse a request without credentials and one with a wrong key."""

from __future__ import annotations

import httpx
import pytest

from conformance import checks
from conformance.auth import API_KEY_HEADER
from conformance.calls import example_request
from conformance.contract import SelectedContract
from conformance.requirements import Requirement
from conformance.target import TargetInfo

WRONG_KEY = "sk-langflow-conformance-wrong-key-0000000000"


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
    kwargs = example_request(endpoint) if endpoint.example else {"method": endpoint.method, "url": endpoint.path}
    method, url = kwargs.pop("method"), kwargs.pop("url")
    checks.is_refused(endpoint, lf_anonymous.request(method, url, **kwargs), "no credentials")
    checks.is_refused(
        endpoint, lf_anonymous.request(method, url, headers={API_KEY_HEADER: WRONG_KEY}, **kwargs), "a wrong x-api-key"
    )
