"""`negative`: unknown ids get 404, bodies without their required fields or with a wrongly typed
field get a documented 4xx with the documented error body -- never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.contract import SelectedContract
from conformance.requirements import checks
from conformance.requirements.calls import example_request, send
from conformance.requirements.derive import Context, Requirement, body_schema, id_parameters, wrong_type_field
from conformance.run.plugin import Run

UNKNOWN_ID = "00000000-0000-4000-8000-00000000abcd"
WRONG = {
    "string": {"lfc": "an object where a string belongs"},
    "integer": "not-a-number",
    "number": "not-a-number",
    "boolean": "not-a-boolean",
    "array": "not-an-array",
    "object": "not-an-object",
}


def _context(lf_run: Run, lf_contract: SelectedContract) -> Context:
    assert lf_run.target is not None
    return Context(
        lf_contract,
        lf_run.settings.mode,
        lf_run.target.superuser,
        lf_run.resource_kinds(),
        profile=lf_run.target.profile,
    )


@pytest.mark.negative
def test_negative(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    endpoint = requirement.endpoint
    resources = lf_run.resources_for(endpoint)
    resources.guard(endpoint)  # should the server wrongly take an invalid write, it is undone
    release = lf_contract.release
    if requirement.case == "unknown-id":
        request = example_request(endpoint, filler=UNKNOWN_ID)
        url = endpoint.path  # every id in the path unknown, even literal ones in the example
        for name in id_parameters(endpoint):
            url = url.replace("{" + name + "}", UNKNOWN_ID)
        request["url"] = url if "{" not in url else request["url"]
        statuses: tuple[int, ...] | None = (404,)
        why = "an unknown id"
    else:
        # Real resources in the path: the refusal must come from the body, not a missing resource.
        request = example_request(endpoint, resources=resources)
        schema = body_schema(endpoint, _context(lf_run, lf_contract))
        assert schema is not None
        body: dict[str, Any]
        if requirement.case == "missing-fields":
            body, why = {}, f"no body fields (required: {', '.join(schema['required'])})"
        else:
            name = wrong_type_field(schema)
            assert name is not None
            wanted = schema["properties"][name]["type"]
            example_body = request.get("json")
            body = dict(example_body) if isinstance(example_body, dict) else {}
            body[name] = WRONG[wanted]
            why = f"{name!r} of the wrong type (documented: {wanted})"
        request["json"] = body
        statuses = None
    exchange = send(resources.client, endpoint, **request)
    resources.register_created(endpoint, exchange.response)  # should it wrongly succeed, nothing is left
    checks.skip_if_feature_off(endpoint, exchange.response, lf_contract)
    checks.is_error_answer(endpoint, exchange.response, release, lf_contract.schemas, statuses, why)
