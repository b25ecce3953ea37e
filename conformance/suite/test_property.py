"""`property`: schemathesis generates requests from the derived contract (positive: valid, negative:
invalid, stateful: create/read/update/delete sequences along links) and its named checks judge each
answer. A failure names the check, the seed, and a curl command that reproduces it."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.contract import SelectedContract
from conformance.requirements import checks
from conformance.requirements.derive import Requirement
from conformance.requirements.generation import (
    STATEFUL,
    Findings,
    PropertyConfig,
    RateLimited,
    apply_pins,
    as_mode,
    json_reproduce,
    pins_for,
    run_cases,
    send_case,
    validate,
)
from conformance.requirements.stateful import run_stateful, stateful_steps
from conformance.run.plugin import Run


def _report(findings: Findings, what: str, record_property: Any) -> None:
    record_property("property", f'{{"seed": {findings.seed}, "sent": {findings.sent}, "batches": {findings.batches}}}')
    if findings.found:
        record_property("reproduce", json_reproduce(findings))
        checks.fail(
            findings.summary(what),
            expected="every generated request passes its checks",
            actual="; ".join(sorted({f"[{f.check}] {f.title}" for f in findings.found.values()})),
        )


@pytest.mark.property("positive", "negative")
def test_property(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract, record_property: Any) -> None:
    endpoint = requirement.endpoint
    case_kind = requirement.case or ""
    resources = lf_run.resources_for(endpoint)
    # Requests that may change or delete what they touch get resources of their own (one set per
    # requirement: every generated request of it may use them up).
    fresh = endpoint.safety != "read" and resources is lf_run.resources()
    resources.guard(endpoint)
    pins = pins_for(endpoint, resources, fresh)
    # A delete uses up its resource: each generated delete gets one of its own (else the second
    # request meets an id already gone, which no document describes).
    per_request = fresh and endpoint.method == "DELETE" and bool(pins.path or pins.query or pins.body)
    enabled = PropertyConfig.of(endpoint).enabled(case_kind)
    findings = Findings(lf_run.settings.seed)
    operation = lf_run.generator().operation(endpoint, case_kind)
    strategy = operation.as_strategy(
        generation_mode=as_mode(case_kind),
        path_parameters=pins.fixed_path or None,
        query=pins.fixed_query or None,
    )

    def send(case: Any) -> bool:
        if not apply_pins(case, endpoint, pins_for(endpoint, resources, fresh) if per_request else pins, lf_contract):
            return False
        response = send_case(resources.client, case, resources.new_name("upload"))
        if response.status_code == 429 and 429 not in endpoint.documented_statuses(lf_contract.release):
            raise RateLimited  # a limiter's answer to our pace, not to the request
        checks.skip_if_feature_off(endpoint, response, lf_contract)
        findings.sent += 1
        resources.register_created(endpoint, response)  # should it create something, the ledger has it
        validate(case, response, enabled, findings, str(resources.client.base_url))
        return True

    run_cases(strategy, send, lf_run.budget, findings, str(resources.client.base_url))
    if findings.rate_limited and findings.sent == 0 and not findings.found:
        pytest.skip("rate limited: the server answered 429 to the first generated request")
    if findings.sent == 0 and not findings.found:
        pytest.skip(
            f"no {case_kind} request could be generated in {lf_run.budget.examples} attempts: nothing the "
            "contract constrains in this request can be made invalid once the run's own ids are in it"
        )
    _report(findings, f"{endpoint.operation}, {requirement.describe_case()}", record_property)


@pytest.mark.property(STATEFUL)
def test_stateful(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract, record_property: Any) -> None:
    kind = lf_run.resource_kinds()[requirement.id.split(".")[-2]]
    steps = stateful_steps(kind, lf_contract)
    assert steps is not None
    resources = lf_run.resources_for(steps["create"].endpoint)
    findings = Findings(lf_run.settings.seed)
    run_stateful(kind, steps, lf_contract, resources, lf_run.budget, findings)
    _report(findings, f"{kind.name}s, {requirement.describe_case()}", record_property)
