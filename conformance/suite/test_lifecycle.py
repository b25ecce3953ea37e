"""`lifecycle`: create -> read -> update -> list -> delete -> gone, for each resource kind of
schemas/resources.yaml that has a create and a delete on this release."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conformance.contract import SelectedContract
from conformance.requirements import checks
from conformance.requirements.calls import Exchange
from conformance.requirements.derive import Requirement
from conformance.run.kinds import Record, Step, expand, items_with, leaves, request_kwargs
from conformance.run.plugin import Run
from conformance.run.resources import Resources


def _call(
    resources: Resources, step: Step, values: dict[str, Any], contract: SelectedContract, what: str
) -> httpx.Response:
    response = resources.client.request(**request_kwargs(step, values, resources.content))
    endpoint = step.endpoint
    if not 200 <= response.status_code < 300:
        checks.fail(
            f"{what}: {endpoint.operation} answered {response.status_code} {response.text[:160]!r}",
            expected="a 2xx answer",
            actual=f"{response.status_code} {response.text[:200]}",
        )
    checks.response_matches(endpoint, Exchange(response), contract.release, contract.schemas, None)
    return response


def _shows(body: Any, record: Record, id_field: str, expect: dict[str, Any]) -> list[str]:
    """What differs between `expect` and the object for this record in a read or list answer."""
    item = body if isinstance(body, dict) and str(body.get(id_field)) == record.id else None
    item = item or next(items_with(body, id_field, record.id), None)
    if item is None:
        return [f"no object with {id_field} {record.id}"]
    return [f"{k} is {item.get(k)!r}, expected {v!r}" for k, v in expect.items() if item.get(k) != v]


def _listed(body: Any, record: Record) -> bool:
    return record.id in {str(v) for v in leaves(body)} or any(str(v).endswith("/" + record.id) for v in leaves(body))


@pytest.mark.lifecycle
def test_lifecycle(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    kinds = lf_run.resource_kinds()
    kind = kinds[requirement.case or ""]
    resources = lf_run.resources()
    create = kind.step("create", lf_contract)
    assert create is not None
    # create: through the resources table, so the ledger holds its delete from the first moment
    record = resources.create(kind.name)
    values = resources.values(kind, record)
    id_field = kind.raw.get("id", "id")
    label = f"{kind.name} {record.name}"

    read = kind.step("read", lf_contract)
    if read is not None:
        _call(resources, read, values, lf_contract, f"reading the new {label}")

    update = kind.step("update", lf_contract)
    if update is not None:
        _call(resources, update, values, lf_contract, f"updating the {label}")
        expect = expand(update.expect or {}, values)
        seen_by = (
            kind.step(update.check_with, lf_contract) if update.check_with else read or kind.step("list", lf_contract)
        )
        assert seen_by is not None
        body = _call(resources, seen_by, values, lf_contract, f"reading the updated {label}").json()
        differences = _shows(body, record, id_field, expect)
        if differences:
            checks.fail(
                f"{update.endpoint.operation}: the update is not visible on "
                f"{seen_by.endpoint.operation}: {'; '.join(differences)}",
                expected=f"the update visible on {seen_by.endpoint.operation}",
                actual="; ".join(differences),
            )

    listing = kind.step("list", lf_contract)
    if listing is not None:
        body = _call(resources, listing, values, lf_contract, f"listing {kind.name}s").json()
        if not _listed(body, record):
            checks.fail(
                f"{listing.endpoint.operation}: the {label} just created is not listed",
                expected=f"the new {label} in the list",
                actual="not listed",
            )

    delete = kind.step("delete", lf_contract)
    assert delete is not None
    _call(resources, delete, values, lf_contract, f"deleting the {label}")
    resources.forget(record)

    if kind.raw.get("gone") == "read" and read is not None:
        response = resources.client.request(**request_kwargs(read, values, resources.content))
        if response.status_code != 404:
            checks.fail(
                f"{read.endpoint.operation}: the deleted {label} should be 404, got "
                f"{response.status_code} {response.text[:120]!r}",
                expected="status 404 after the delete",
                actual=f"{response.status_code} {response.text[:200]}",
            )
    elif listing is not None:
        body = _call(resources, listing, values, lf_contract, f"listing {kind.name}s after the delete").json()
        if _listed(body, record):
            checks.fail(
                f"{listing.endpoint.operation}: the deleted {label} is still listed",
                expected=f"the deleted {label} gone from the list",
                actual="still listed",
            )
