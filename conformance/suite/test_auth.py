"""`auth`: protected endpoints refuse missing and wrong credentials, accept the API key as header and
as query parameter and a Bearer token from /login, and superuser-only endpoints refuse other users."""

from __future__ import annotations

import httpx
import pytest

from conformance.contract import Endpoint, SelectedContract
from conformance.requirements import checks
from conformance.requirements.calls import example_request, send
from conformance.requirements.derive import AUTO_LOGIN_EXEMPT, NOT_APPLICABLE, Requirement
from conformance.run.plugin import Run
from conformance.target.auth import API_KEY_HEADER, ApiKeyAuth, BearerAuth, LoginAuth
from conformance.target.discovery import LOGIN, WHOAMI, TargetInfo

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
WRONG_KEY = "sk-lfc-wrong-key-00000000"


def _not_enforced_skip(lf_target: TargetInfo, lf_contract: SelectedContract, endpoint: Endpoint) -> None:
    edition = lf_contract.edition_of(endpoint)
    if edition.auth_rule(lf_contract.release) == "deployment" and not lf_target.anonymous_refused:
        pytest.skip(
            f"not applicable: contract edition {edition.id} leaves authentication to the deployment for "
            f"Langflow {lf_contract.release}, and this one accepts anonymous requests"
        )


@pytest.mark.auth("auth-required")
def test_auth_required(
    requirement: Requirement,
    lf_run: Run,
    lf_anonymous: httpx.Client,
    lf_target: TargetInfo,
    lf_contract: SelectedContract,
) -> None:
    endpoint = requirement.endpoint
    _not_enforced_skip(lf_target, lf_contract, endpoint)
    if endpoint.raw.get("auth_exempt_with_auto_login") and lf_target.auto_login:
        pytest.skip(AUTO_LOGIN_EXEMPT)
    # Unknown ids stand in for resources: the request must be refused before they matter.
    request = example_request(endpoint, filler=UNKNOWN_ID)
    unknown_ids = UNKNOWN_ID in request["url"]
    checks.is_refused(endpoint, send(lf_anonymous, endpoint, **request).response, "no credentials", unknown_ids)
    wrong = {**request, "headers": {**request.get("headers", {}), API_KEY_HEADER: WRONG_KEY}}
    checks.is_refused(endpoint, send(lf_anonymous, endpoint, **wrong).response, "a wrong x-api-key", unknown_ids)
    if isinstance(lf_run.auth, BearerAuth) and lf_run.settings.token:  # the run's credential is a token
        bearer = {**request, "headers": {**request.get("headers", {}), "Authorization": f"Bearer {WRONG_KEY}"}}
        checks.is_refused(
            endpoint, send(lf_anonymous, endpoint, **bearer).response, "a wrong Bearer token", unknown_ids
        )


def _api_key(lf_run: Run) -> str:
    """The run's key, or a key the run creates (and deletes) when it logged in instead."""
    if isinstance(lf_run.auth, ApiKeyAuth):
        return lf_run.auth.key
    if lf_run.settings.mode == "read-only":
        pytest.skip("mode read-only: the run has no API key of its own and may not create one")
    return str(lf_run.resources().get("api_key").field("api_key"))


def _key_alone_refused(lf_run: Run) -> str | None:
    """On a run that authenticates with --token: why an API key sent by itself is no credential
    here, when the deployment refuses it (a gateway that authenticates with its token, 003), else None."""
    if not lf_run.settings.token:
        return None
    if "key_alone" not in lf_run.cache:
        whoami = lf_run.contract.endpoint(WHOAMI)
        with lf_run.make_client(ApiKeyAuth(_api_key(lf_run))) as client:
            answer = client.request(whoami.method, whoami.path)
        lf_run.cache["key_alone"] = (
            f"the deployment refuses an x-api-key sent without the run's Bearer token ({whoami.operation} answered "
            f"{answer.status_code}): it authenticates with the token instead of x-api-key (003, hosted API pane)"
            if answer.status_code in (401, 403)
            else None
        )
    return lf_run.cache["key_alone"]  # type: ignore[no-any-return]


def _bearer(lf_run: Run, lf_client: httpx.Client) -> str:
    if "bearer" not in lf_run.cache and isinstance(lf_run.auth, LoginAuth) and lf_run.auth.token:
        lf_run.cache["bearer"] = lf_run.auth.token
    if "bearer" not in lf_run.cache:
        assert lf_run.login is not None
        login = lf_run.contract.endpoint(LOGIN)
        username, password = lf_run.login
        response = lf_client.post(login.path, data={"username": username, "password": password}, auth=None)
        if response.status_code != 200:
            pytest.fail(f"{login.operation} with the run's username and password: {response.status_code}")
        lf_run.cache["bearer"] = response.json()["access_token"]
    return str(lf_run.cache["bearer"])


@pytest.mark.auth("key-in-header", "key-in-query", "bearer")
def test_credentials_accepted(
    requirement: Requirement,
    lf_run: Run,
    lf_target: TargetInfo,
    lf_contract: SelectedContract,
    lf_client: httpx.Client,
) -> None:
    endpoint = requirement.endpoint
    case = requirement.case
    if case == "bearer":
        auth: httpx.Auth = BearerAuth(_bearer(lf_run, lf_client), "login JWT")
    else:
        refused = _key_alone_refused(lf_run)
        if refused:
            pytest.skip(NOT_APPLICABLE + refused)
        auth = ApiKeyAuth(_api_key(lf_run), "query" if case == "key-in-query" else "header")
    lf_run.resources().guard(endpoint)
    request = example_request(endpoint, resources=lf_run.resources())
    with lf_run.make_client(auth) as client:
        exchange = send(client, endpoint, **request)
    checks.skip_if_feature_off(endpoint, exchange.response, lf_contract)
    # Accepted means not refused; whether the answer is right is the example requirement's business.
    if exchange.response.status_code in (401, 403):
        checks.fail(
            f"{endpoint.operation}: {requirement.describe_case()}, but it was refused with "
            f"{exchange.response.status_code} {exchange.response.text[:120]!r}",
            expected="accepted (not 401/403)",
            actual=f"{exchange.response.status_code} {exchange.response.text[:200]}",
        )


@pytest.mark.auth("superuser-only")
def test_superuser_only(
    requirement: Requirement, lf_run: Run, lf_target: TargetInfo, lf_contract: SelectedContract
) -> None:
    endpoint = requirement.endpoint
    ordinary = lf_run.throwaway_resources() if lf_target.superuser is not False else lf_run.resources()
    request = example_request(endpoint, filler=UNKNOWN_ID)
    checks.is_refused(endpoint, send(ordinary.client, endpoint, **request).response, "an ordinary user's credentials")


@pytest.mark.auth("auth-switch")
def test_auth_switch(
    requirement: Requirement,
    lf_run: Run,
    lf_target: TargetInfo,
    lf_contract: SelectedContract,
    lf_anonymous: httpx.Client,
) -> None:
    endpoint = requirement.endpoint
    switch = endpoint.raw["auth_switch"]
    on = lf_target.config.get(switch["config"])
    if on is None:  # the config is not readable: the documented default applies
        on = switch.get("default", False)
    resources = lf_run.resources()
    request = example_request(endpoint, resources=resources, fresh=True)
    response = send(lf_anonymous, endpoint, **request).response
    if on:
        checks.is_refused(endpoint, response, f"no credentials while {switch['config']} is true")
    else:
        release = lf_contract.release
        checks.status_is_documented(endpoint, response, release, endpoint.expected_status(release))
