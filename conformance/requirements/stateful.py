"""Stateful property-based requirements: per resource kind (schemas/resources.yaml), OpenAPI links
from its create to its read, update and delete (and from the delete back to the read), and a
schemathesis state machine that walks them. Every request goes through the run's client, every
create into the ledger, so generated sequences only ever touch what they made."""

from __future__ import annotations

from typing import Any

import httpx
import hypothesis
import schemathesis
from schemathesis.core.transport import Response
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.generation.stateful.state_machine import normalize_name

from conformance.contract import SelectedContract
from conformance.contract.openapi import build_document
from conformance.requirements.checks import skip_if_feature_off
from conformance.requirements.generation import (
    STATEFUL,
    Budget,
    Findings,
    PropertyConfig,
    apply_pins,
    batches,
    pins_for,
    schemathesis_config,
    send_case,
    settings_for,
    validate,
)
from conformance.run.kinds import Kind, Step
from conformance.run.resources import Resources

ROLES = ("create", "read", "update", "delete")


class StopScenario(Exception):
    """The server did not answer: end the state machine run (hypothesis would replay the step)."""


STEPS_PER_SCENARIO = 6


def id_parameter(step: Step) -> str | None:
    """The path parameter a step fills with the resource's own id ("{id}")."""
    path_params = {p["name"] for p in step.endpoint.parameters if p.get("in") == "path"}
    return next((n for n, v in step.params.items() if v == "{id}" and n in path_params), None)


def stateful_steps(kind: Kind, contract: SelectedContract) -> dict[str, Step] | None:
    """The kind's steps a state machine can link, or None when the create answer does not name the
    id the others take (listed-then-found messages, v1 files known by a path)."""
    if kind.fresh or kind.alias or "find" in kind.raw or kind.raw.get("id_after") or kind.raw.get("parent"):
        return None
    create = kind.step("create", contract)
    if create is None:
        return None
    steps = {"create": create}
    for role in ROLES[1:]:
        step = kind.step(role, contract)
        if step is not None and id_parameter(step):
            steps[role] = step
    return steps if len(steps) > 1 else None


def _link(step: Step, value: str) -> dict[str, Any]:
    param = id_parameter(step)
    assert param is not None
    return {"operationId": step.endpoint.id, "parameters": {param: value}}


def linked_document(kind: Kind, steps: dict[str, Step], contract: SelectedContract) -> dict[str, Any]:
    """The kind's operations, with links: create -> read/update/delete by the id it answers, and
    delete -> read (a deleted resource must be gone). Whether an update shows on read is the
    lifecycle requirement's business; here it would only draw scenarios away from the create."""
    document = build_document(contract, [s.endpoint for s in steps.values()], closed_requests=True)
    id_field = kind.raw.get("id", "id")
    links: dict[str, dict[str, Any]] = {"create": {}, "delete": {}}
    for role in ("read", "update", "delete"):
        if role in steps:
            links["create"][f"{kind.name}-{role}"] = _link(steps[role], f"$response.body#/{id_field}")
    if "read" in steps:  # twice: a transition is drawn per link, and a read right after the create is
        # what shows a resource that was never made (ensure_resource_availability)
        links["create"][f"{kind.name}-read-again"] = _link(steps["read"], f"$response.body#/{id_field}")
    if "delete" in steps and "read" in steps:
        param = id_parameter(steps["delete"])
        links["delete"][f"{kind.name}-read-after-delete"] = _link(steps["read"], f"$request.path.{param}")
    for role, role_links in links.items():
        if role not in steps or not role_links:
            continue
        endpoint = steps[role].endpoint
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                response["links"] = role_links
    return document


def run_stateful(
    kind: Kind,
    steps: dict[str, Step],
    contract: SelectedContract,
    resources: Resources,
    budget: Budget,
    findings: Findings,
) -> None:
    """Walk the kind's links with a state machine; failures are collected in `findings`, not raised."""
    endpoints = {s.endpoint.id: s.endpoint for s in steps.values()}
    schema = schemathesis.openapi.from_dict(
        linked_document(kind, steps, contract),
        config=schemathesis_config(list(endpoints.values()), findings.seed, stateful=True),
    )
    for step in steps.values():
        resources.guard(step.endpoint)
    # Names and catalog pins only: ids come from the links, never from the run's shared resources.
    pins = {eid: pins_for(e, resources, fresh=True, resources_in_path=False) for eid, e in endpoints.items()}

    base = schema.as_state_machine()
    create = steps["create"].endpoint
    start = normalize_name(f"RANDOM -> {create.method} {create.path}")
    # Every scenario starts with a create: reads, updates and deletes of random ids only meet 404s,
    # and they would spend the example budget that create -> read -> delete -> read needs.
    randoms = {name: None for name in base.root_rules if name != start}

    class Machine(base):  # type: ignore[misc,valid-type]
        root_rules = frozenset({start})
        locals().update(randoms)

        def call(self, case: Any, **kwargs: Any) -> Response:
            endpoint = endpoints[case.operation.definition.raw["operationId"]]
            apply_pins(case, endpoint, pins[endpoint.id], contract)
            if findings.abandoned:
                raise StopScenario
            try:
                response = send_case(resources.client, case, resources.new_name(kind.name))
            except httpx.TransportError as exc:
                findings.no_answer(case, exc, str(resources.client.base_url))
                raise StopScenario from None
            resources.register_created(endpoint, response)
            skip_if_feature_off(endpoint, response, contract)
            findings.sent += 1
            return Response.from_any(response)

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            endpoint = endpoints[case.operation.definition.raw["operationId"]]
            checks = PropertyConfig.of(endpoint).enabled(STATEFUL)
            validate(case, response, checks, findings, str(resources.client.base_url), recorder=self.recorder)

    for batch_seed in batches(findings, budget):
        settings = hypothesis.settings(settings_for(budget.examples), stateful_step_count=STEPS_PER_SCENARIO)
        try:
            run_state_machine_as_test(hypothesis.seed(batch_seed)(Machine), settings=settings)
        except StopScenario:
            return  # the server stopped answering: findings has the request that went unanswered
        except Exception:
            # Hypothesis replays a scenario the server stopped answering, meets StopScenario earlier
            # than the first time, and calls its own test flaky: the unanswered request is the finding.
            if findings.abandoned:
                return
            raise
