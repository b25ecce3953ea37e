"""`isolation`: what one user creates, another can neither see, change, run nor delete — tried by id
with every documented operation that takes that id, looked for in the other's lists, both ways; a
public flow reachable through the public endpoints and nothing more."""

from __future__ import annotations

import pytest

from conformance.contract import SelectedContract
from conformance.requirements import isolation
from conformance.requirements.derive import Requirement, isolation_case, isolation_kind
from conformance.run.plugin import Run


@pytest.mark.isolation
def test_isolation(requirement: Requirement, lf_run: Run, lf_contract: SelectedContract) -> None:
    pair = lf_run.isolation_pair()
    kinds = lf_run.resource_kinds()
    endpoint, case = requirement.endpoint, requirement.case or ""
    if case == "public":
        isolation.try_public(kinds["flow"], pair.owner, pair.peer, lf_contract)
        return
    kind = kinds[requirement.id.split(".")[-2]] if case == "list" else kinds[isolation_kind(endpoint, kinds) or ""]
    if case == "superuser":  # the run's own user, a superuser, tries an ordinary user's resource
        isolation.try_endpoint(endpoint, isolation_case(endpoint), kind, lf_run.resources(), pair.owner, lf_contract)
        return
    directions = [(pair.peer, pair.owner)] + ([] if pair.reverse else [(pair.owner, pair.peer)])
    for actor, victim in directions:
        if case == "list":
            isolation.try_list(kind, actor, victim, lf_contract)
        else:
            isolation.try_endpoint(endpoint, case, kind, actor, victim, lf_contract)
