"""Tenant isolation (requirement kind `isolation`): one user's resources, tried by another user by id
with every documented operation that takes that id, and looked for in the other user's lists.

A try is refused (403 or 404; the catalog's `isolation.refused` where the documents say which), an
answer that is not a refusal shows nothing of the resource (its id or name), and a write leaves it
as its owner reads it back. Public flows are the documented exception: reachable through the public
endpoints and nothing more."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.contract import Endpoint, SelectedContract
from conformance.requirements import checks
from conformance.requirements.calls import example_request, send
from conformance.requirements.checks import fail, text_of
from conformance.requirements.streams import StreamResult
from conformance.run.kinds import Kind, Record, Step, items_with, leaves, request_kwargs
from conformance.run.resources import Resources

REFUSED = (403, 404)
# Fields a read shows differently without anyone changing the resource.
VOLATILE = {"updated_at", "last_used_at", "total_uses", "last_login_at", "timestamp", "access_type_changed_at"}


@dataclass(frozen=True)
class Attempt:
    """One request of one user for another's resource, and its answer, for the failure message."""

    who: str
    request: dict[str, Any]
    status: int
    text: str

    def describe(self) -> str:
        return f"{self.request['method']} {self.request['url']} as {self.who} -> {self.status} {self.text[:160]!r}"


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def read_back(owner: Resources, kind: Kind, record: Record, contract: SelectedContract, children_too: bool) -> Any:
    """The resource as its owner sees it (its read, else its item in the owner's list), and (`children_too`:
    what a delete or a write into it may change) the lists of what lives under it (a flow's messages and
    files), or None when nothing can be read."""
    own = _read_one(owner, kind, record, contract)
    children: dict[str, Any] = {}
    for child in owner.kinds.kinds.values() if children_too else ():
        listing = child.step("list", contract) if child.raw.get("parent") == kind.name and not child.alias else None
        if listing is not None:
            answer = owner.client.request(**request_kwargs(listing, {kind.name: record.id}, owner.content))
            try:
                children[child.name] = _clean(answer.json())
            except ValueError:
                children[child.name] = answer.status_code
    return None if own is None and not children else {"resource": own, "children": children}


def _read_one(owner: Resources, kind: Kind, record: Record, contract: SelectedContract) -> Any:
    values = owner.values(kind, record)
    read = kind.step("read", contract)
    if read is not None:
        answer = owner.client.request(**request_kwargs(read, values, owner.content))
        if not 200 <= answer.status_code < 300:
            return f"read answered {answer.status_code}"
        try:
            return _clean(answer.json())
        except ValueError:
            return answer.content  # a download: its bytes
    listing = kind.step("list", contract)
    if listing is None:
        return None
    answer = owner.client.request(**request_kwargs(listing, values, owner.content))
    try:
        body = answer.json()
    except ValueError:
        return None
    item = next(items_with(body, kind.raw.get("id", "id"), record.id), None)
    return _clean(item) if item is not None else f"not in the owner's list ({answer.status_code})"


def mentions(answer: httpx.Response, record: Record, stream: StreamResult | None = None) -> bool:
    """Does an answer show anything of this resource: its id or name, or bytes (a download)? An event
    stream (its body consumed as events): do its events?"""
    if stream is not None:
        body: Any = stream.events
    else:
        text = text_of(answer)
        try:
            body = json.loads(text)
        except ValueError:
            return bool(answer.content) and not text.strip().startswith("<")  # bytes; an HTML error page is not
    values = {str(v) for v in leaves(body)}  # field values, not the words of a message ("Flow X not found")
    return record.id in values or bool(record.name and record.name in values)


def is_refusal(endpoint: Endpoint, answer: httpx.Response, contract: SelectedContract) -> bool:
    """A refusal the documents shape otherwise (`refusal`: JSON-RPC's, or /responses' error object in a 200)."""
    refusal = endpoint.raw.get("refusal")
    if not refusal or answer.status_code != int(refusal["status"]):
        return False
    spec = endpoint.documented_statuses(contract.release).get(answer.status_code)
    variant = next((v for v in (spec.tolerated if spec else ()) if v.id == refusal["variant"]), None)
    try:
        body = answer.json()
    except (ValueError, httpx.ResponseNotRead):  # an event stream is no error object
        return False
    return variant is not None and bool(variant.schema) and not contract.schemas.errors(variant.schema, body)


def ran(endpoint: Endpoint, request: dict[str, Any], answer: httpx.Response, stream: StreamResult | None) -> bool:
    """Did a run endpoint run the flow: its echo came back (without an echo to tell, or as a 2xx event
    stream of the run, any 2xx did)?"""
    echo = endpoint.raw.get("echo")
    if not echo or stream is not None:
        return True
    try:
        checks.echoes(endpoint, request, answer)
    except checks.ContractViolation:
        return False
    return True


def refused_statuses(endpoint: Endpoint) -> tuple[int, ...]:
    documented = (endpoint.raw.get("isolation") or {}).get("refused")
    return tuple(int(s) for s in documented) if documented else REFUSED


def try_endpoint(
    endpoint: Endpoint,
    case: str,
    kind: Kind,
    actor: Resources,
    victim: Resources,
    contract: SelectedContract,
    record: Record | None = None,
) -> None:
    """The actor tries the victim's resource (`record`, else one of the kind) with this endpoint's
    documented request."""
    # Reads and runs leave the resource as it is: they use the shared one; what may change or delete it
    # gets one of its own, read back before and after.
    changes = case not in ("read", "run")
    record = record or victim.get(kind.name, fresh=changes)
    given = {kind.name: record, **{r: victim.get(r) for r in kind.related if r in record.parents}}
    children_too = case in ("delete", "write")
    before = read_back(victim, kind, record, contract, children_too) if changes else None
    request = example_request(endpoint, resources=victim, fresh=changes, given=given)
    exchange = send(actor.client, endpoint, **request)
    actor.register_created(endpoint, exchange.response)  # should it make something, the ledger has it
    answer = exchange.response
    attempt = Attempt(actor.owner, request, answer.status_code, text_of(answer))
    refused = refused_statuses(endpoint)
    if answer.status_code not in refused and not is_refusal(endpoint, answer, contract):
        # A 2xx is a leak when it shows the resource, or (a run) when the flow ran; one that shows
        # nothing passes if the resource is unchanged below (a search answering [] for another's id,
        # a batch that ignores ids the caller does not own).
        success = 200 <= answer.status_code < 300
        shown = mentions(answer, record, exchange.stream)
        leaked = success and (shown or (case == "run" and ran(endpoint, request, answer, exchange.stream)))
        if leaked or not success:
            what = "reached" if leaked else "was not refused the documented way"
            fail(
                f"{endpoint.operation}: {attempt.who} {what} the {kind.name} {record.id} of {victim.owner}: "
                f"{attempt.describe()}",
                expected=f"refused with {' or '.join(map(str, refused))}, and nothing of it shown",
                actual=f"{answer.status_code} {attempt.text[:200]}",
            )
    if before is not None:
        after = read_back(victim, kind, record, contract, children_too)
        if after != before:
            fail(
                f"{endpoint.operation}: the {kind.name} {record.id} of {victim.owner} changed after "
                f"{attempt.describe()}",
                expected="the resource as it was",
                actual=str(after)[:300],
            )


def try_list(kind: Kind, actor: Resources, victim: Resources, contract: SelectedContract) -> None:
    """The actor's list (for a child kind: of the victim's parent) does not contain the victim's resource."""
    listing = kind.step("list", contract)
    assert listing is not None
    record = victim.get(kind.name)
    values = {**actor.values(kind), **record.parents} if kind.related else actor.values(kind)
    request = request_kwargs(listing, values, actor.content)
    answer = actor.client.request(**request)
    if answer.status_code in REFUSED:
        return
    if not 200 <= answer.status_code < 300 or mentions(answer, record):
        shown = Attempt(actor.owner, request, answer.status_code, text_of(answer))
        fail(
            f"{listing.endpoint.operation}: the list of {actor.owner} shows the {kind.name} {record.id} of "
            f"{victim.owner}: {shown.describe()}",
            expected="another user's resources never listed",
            actual=f"{answer.status_code} {shown.text[:200]}",
        )


def try_public(kind: Kind, owner: Resources, peer: Resources, contract: SelectedContract) -> None:
    """A flow made public is reachable through the public endpoints, and still not otherwise."""
    public = kind.raw["public"]
    record = owner.get(kind.name, fresh=True)
    update = kind.step("update", contract)
    assert update is not None
    make_public = request_kwargs(update, owner.values(kind, record), owner.content) | {"json": public["update"]}
    made = owner.client.request(**make_public)
    if not 200 <= made.status_code < 300:
        fail(f"{update.endpoint.operation}: could not make the flow public: {made.status_code} {made.text[:160]}")
    for raw in public["reachable"]:
        endpoint = contract.endpoint(str(raw["endpoint"]))
        step = Step(endpoint, dict(raw.get("params") or {}), None, None, None, False)
        answer = peer.client.request(**request_kwargs(step, owner.values(kind, record), owner.content))
        if not (200 <= answer.status_code < 300 and mentions(answer, record)):
            fail(
                f"{endpoint.operation}: the public flow {record.id} of {owner.owner} is not reachable by "
                f"{peer.owner}: {answer.status_code} {text_of(answer)[:160]!r}",
                expected="the public flow, to anyone",
                actual=f"{answer.status_code} {text_of(answer)[:200]}",
            )
    read = kind.step("read", contract)
    if read is not None:  # public is not shared: the flow's own read still refuses other users
        try_endpoint(read.endpoint, "read", kind, peer, owner, contract, record)
