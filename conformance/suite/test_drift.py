"""`drift`: the deployment's own /openapi.json against the contract. A documented endpoint it does
not list fails only if it is not served either (a probe that cannot change anything shows which).
Endpoints the contract does not know and contradicting field types go to the report's `drift`
section (informational, warnings)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conformance.requirements import checks
from conformance.requirements.derive import Requirement
from conformance.requirements.drift import OPENAPI_PATH, probe, probe_request
from conformance.run.plugin import Run

UNKNOWN_ID = "00000000-0000-4000-8000-00000000d1f7"


@pytest.mark.drift("listed")
def test_listed(requirement: Requirement, lf_run: Run, lf_client: httpx.Client, record_property: Any) -> None:
    endpoint = requirement.endpoint
    server = lf_run.server_openapi()
    if isinstance(server, str):
        pytest.skip(server)
    if server.lists(endpoint):
        record_property("drift", json.dumps({"listed": True}))
        return
    request = probe_request(endpoint, UNKNOWN_ID)
    if request is None:
        pytest.skip(
            f"not listed in {OPENAPI_PATH}, and no request can show it is served without acting "
            "(no body to leave out, no id to make unknown)"
        )
    if request["method"] not in ("GET", "HEAD") and lf_run.settings.mode == "read-only":
        pytest.skip(f"not listed in {OPENAPI_PATH}; mode read-only sends no {request['method']}, not even a probe")
    found = probe(lf_client, request)
    record_property("drift", json.dumps({"listed": False, "served": found.served, "probe": found.described}))
    feature = endpoint.feature
    state = ((lf_run.target.profile if lf_run.target else {}).get("features") or {}).get(feature or "", {})
    if not found.served and feature and state.get("on") is not True:
        # A switched-off feature's router is absent by design; discovery could not tell it was on.
        pytest.skip(lf_run.contract.features[feature].skip_reason)
    if not found.served:
        checks.fail(
            f"{endpoint.operation}: documented ({endpoint.sources[0].get('document')} § "
            f"{endpoint.sources[0].get('section')}), but the deployment neither lists it in {OPENAPI_PATH} "
            f"nor serves it ({found.described} {found.text!r})",
            expected=f"listed in {OPENAPI_PATH}, or served",
            actual=f"not listed; probe: {found.described}",
        )
