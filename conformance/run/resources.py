"""Resources the run creates (kinds in schemas/resources.yaml): placeholders in examples ("@flow.id"),
shared instances for reads and fresh ones for writes, install-wide settings saved and restored, and
registration in the ledger.

Every create goes through `Resources.create`, which registers the matching delete before returning,
so nothing the suite makes can outlive the run unless the server refuses to delete it."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from conformance.contract import Endpoint, SelectedContract
from conformance.run.content import echo_graph, upload
from conformance.run.kinds import (
    Kind,
    Record,
    ResourceKinds,
    ResourceUnavailable,
    Step,
    has_body,
    json_of,
    leaves,
    request_kwargs,
    succeeded,
    summary,
)
from conformance.run.ledger import Ledger
from conformance.run.sweep import is_leftover, sweep_kind
from conformance.target.client import EndpointStalled
from conformance.target.secrets import SECRETS

SETTLE_POLL_S = 0.2


class Resources:
    """Resources of one user (one client): shared instances for reads, fresh ones for writes."""

    def __init__(
        self,
        client: httpx.Client,
        contract: SelectedContract,
        kinds: ResourceKinds,
        ledger: Ledger,
        *,
        superuser: tuple[str, str] | None = None,
        owner: str = "run",
        may_create: bool = True,
    ) -> None:
        self.client = client
        self.contract = contract
        self.kinds = kinds
        self.ledger = ledger
        self.superuser = superuser
        self.owner = owner
        self.may_create = may_create  # False in read-only mode: nothing is ever created
        self.shared: dict[str, Record] = {}
        self.saved: dict[str, Any] = {}  # install-wide settings as they were before the run changed them
        self._graph: dict[str, Any] | None = None
        self._worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        client.event_hooks["response"] = [*client.event_hooks["response"], self._observe]
        # Registered first, so it runs last: whatever the server derived from this run's resources
        # and kept after they were deleted (1.13.0's per-project MCP API keys).
        derived = re.compile(re.escape(f"MCP Project {ledger.prefix}-")).match
        ledger.add(
            "derived",
            f"{owner}:api keys",
            lambda: sweep_kind(self, "api_key", derived, progress=lambda _: None, by_release=True),
        )

    def _observe(self, response: httpx.Response) -> None:
        if 200 <= response.status_code < 300:
            self.ledger.deleted(response.request.method, response.request.url.path)

    # Names -------------------------------------------------------------------------------------

    def new_name(self, kind: str) -> str:
        """Unique per run, per xdist worker and per resource; always starts with the run prefix."""
        return f"{self.ledger.prefix}-{self._worker}{kind.replace('_', '')}{next(self.ledger.names)}"

    # Content for multipart uploads and the echo flow -------------------------------------------

    def content(self, ref: str) -> bytes:
        return upload(ref, self.new_name, self.echo_graph)

    def echo_graph(self) -> dict[str, Any]:
        if self._graph is None:
            self._graph = echo_graph(self.client, self.contract)
        return self._graph

    # Creating, finding, deleting ----------------------------------------------------------------

    def values(self, kind: Kind, record: Record | None = None) -> dict[str, Any]:
        values: dict[str, Any] = {"password": "Lfc-" + secrets.token_urlsafe(12)}
        # The parent, and the other resources a link kind joins (`uses`): fresh ones when the server
        # allows one link per pair (`fresh_parents`), else the run's shared instances.
        fresh = bool(kind.raw.get("fresh_parents"))
        for other in kind.related:
            values[other] = record.parents[other] if record else self.get(other, fresh=fresh).id
        if "echo_graph" in json.dumps(kind.raw):
            values["echo_graph"] = self.echo_graph()
        if record is not None:
            values.update(id=record.id, name=record.name, **record.parents)
        return values

    def get(self, kind_name: str, fresh: bool = False) -> Record:
        kind = self.kinds[kind_name]
        if kind.setting:
            return self.setting(kind)
        if fresh or kind.fresh:
            return self.create(kind_name)
        if kind_name not in self.shared:
            record = self.create(kind_name)
            prime = kind.step("prime", self.contract)
            if prime is not None:  # best effort: reads of an empty history still validate
                answer = self.client.request(**request_kwargs(prime, self.values(kind, record), self.content))
                self.register_created(prime.endpoint, answer)
            self.shared[kind_name] = record
        return self.shared[kind_name]

    def create(self, kind_name: str) -> Record:
        kind = self.kinds[kind_name]
        if not self.may_create:
            raise ResourceUnavailable(f"mode read-only: no {kind_name} may be created")
        step = kind.step("create", self.contract)
        if step is None:
            raise ResourceUnavailable(f"no {kind_name} can be created on this release (no create endpoint applies)")
        values = self.values(kind)
        for attempt in (1, 2):
            name = values["name"] = self.new_name(kind_name)
            try:
                response = self.client.request(**request_kwargs(step, values, self.content))
                break
            except EndpointStalled:
                raise  # not sent: nothing was made
            except httpx.TimeoutException:
                # Unanswered is not refused: a busy server (1.13.0 on SQLite in a loaded CI) may have
                # made it. It is deleted by its name at the end; the create is tried once more.
                self._delete_by_name_at_end(kind_name, name)
                if attempt == 2:
                    raise
        if not succeeded(response):
            raise ResourceUnavailable(f"creating a {kind_name}: {step.endpoint.operation} answered {summary(response)}")
        body = json_of(response) if response.content else None
        parents = {p: values[p] for p in kind.related}
        ident = self._find(kind, values) if "find" in kind.raw else self.ident(kind, body)
        # A kind whose name is its id (a v1 file's stored name) is known by what the server made of it.
        shown = ident if kind.raw.get("name") == kind.raw.get("id") else name
        record = Record(kind_name, ident, shown, body, parents, values["password"])
        SECRETS.add(values["password"])
        if kind.raw.get("secret") and isinstance(body, dict):
            SECRETS.add(str(body.get(kind.raw["secret"])))
        self.track(kind, record)
        if kind.settle_s:  # the reason is the kind's comment in resources.yaml
            self.settle(kind, record)
        return record

    def settle(self, kind: Kind, record: Record) -> None:
        """Wait `settle_s`; with a `settle` step, only while its answer still shows the resource busy."""
        step = kind.step("settle", self.contract)
        deadline = time.monotonic() + kind.settle_s
        while step is not None and step.while_ and time.monotonic() < deadline:
            answer = self.client.request(**request_kwargs(step, self.values(kind, record), self.content))
            body = json_of(answer) if succeeded(answer) else None
            if not isinstance(body, dict) or not any(body.get(f) in busy for f, busy in step.while_.items()):
                return
            time.sleep(SETTLE_POLL_S)
        time.sleep(max(0.0, deadline - time.monotonic()))

    def _delete_by_name_at_end(self, kind_name: str, name: str) -> None:
        exactly = re.compile(re.escape(name) + r"\b")  # "…flow1" is not "…flow12"

        def delete() -> None:
            sweep_kind(self, kind_name, lambda found: is_leftover(found, exactly), lambda _: None, by_release=True)

        self.ledger.add(kind_name, f"{self.owner}:named {name}", delete)

    def setting(self, kind: Kind) -> Record:
        """An install-wide setting (`setting: true`): read before the run's first write and its restore
        registered in the ledger then; every use reads it again, so a write names the current state."""
        if kind.name not in self.saved:
            if not self.may_create:
                raise ResourceUnavailable(f"mode read-only: the {kind.name} may not be changed")
            self.saved[kind.name] = self._read_setting(kind)
            restore = kind.step("restore", self.contract)
            if restore is None:
                raise ResourceUnavailable(
                    f"the {kind.name} cannot be restored on this release: no restore step applies"
                )

            def put_back() -> None:
                values = {"saved": self.saved[kind.name], "current": self._read_setting(kind)}
                response = self.client.request(**request_kwargs(restore, values, self.content))
                if not succeeded(response):
                    raise ResourceUnavailable(
                        f"restoring the {kind.name}: {restore.endpoint.operation} answered {summary(response)}"
                    )

            self.ledger.add(kind.name, f"{self.owner}:{kind.name}", put_back)
        current = self._read_setting(kind)
        return Record(kind.name, kind.name, kind.name, current)

    def _read_setting(self, kind: Kind) -> Any:
        read = kind.step("read", self.contract)
        if read is None:
            raise ResourceUnavailable(f"the {kind.name} cannot be read on this release")
        response = self.client.request(**request_kwargs(read, {}, self.content))
        if not succeeded(response):
            raise ResourceUnavailable(
                f"reading the {kind.name}: {read.endpoint.operation} answered {summary(response)}"
            )
        return json_of(response)

    def guard(self, endpoint: Endpoint) -> None:
        """Before anything is sent to an endpoint whose example names the setting it writes (`setting:`),
        that setting is read and its restore registered: generated and invalid requests too may change it."""
        name = (endpoint.example or {}).get("setting")
        if name:
            self.get(str(name))

    def _find(self, kind: Kind, values: dict[str, Any]) -> str:
        find = kind.raw["find"]
        endpoint = self.contract.endpoint(find["endpoint"])
        step = Step(endpoint, dict(find.get("params") or {}), None, None, None, False)
        response = self.client.request(**request_kwargs(step, values, self.content))
        found = json_of(response) if succeeded(response) else None
        items = found.get("items", found) if isinstance(found, dict) else found
        if not items:
            raise ResourceUnavailable(
                f"the {kind.name} just created is not listed by {endpoint.operation}: {summary(response)}"
            )
        return str(items[0][kind.raw.get("id", "id")])

    def ident(self, kind: Kind, body: Any, id_field: str | None = None) -> str:
        key = id_field or kind.raw.get("id", "id")
        if not isinstance(body, dict) or body.get(key) in (None, ""):
            raise ResourceUnavailable(f"the {kind.name} create answer has no {key!r}: {str(body)[:160]}")
        value = str(body[key])
        after = kind.raw.get("id_after")
        return value.split(after, 1)[-1] if after and not id_field else value

    def track(self, kind: Kind, record: Record) -> None:
        """Register the delete before anything else can go wrong."""
        step = kind.step("delete", self.contract)
        if step is None:
            return  # nothing to delete (a build job), or it goes with its parent
        values = self.values(kind, record)
        request = request_kwargs(step, values, self.content)

        def delete() -> None:
            response = self.client.request(**request)
            if not succeeded(response) and not _not_found(response) and not self.is_gone(kind, record):
                raise ResourceUnavailable(f"{step.endpoint.operation} answered {summary(response)}")

        plain = not (request.get("params") or request.get("json") or request.get("files"))
        self.ledger.add(
            kind.name, f"{self.owner}:{record.id}", delete, request=f"DELETE {request['url']}" if plain else None
        )

    def forget(self, record: Record) -> None:
        self.ledger.discard(record.kind, f"{self.owner}:{record.id}")
        if self.shared.get(record.kind) is record:
            del self.shared[record.kind]

    def is_gone(self, kind: Kind, record: Record) -> bool:
        if kind.raw.get("gone") == "read" and (step := kind.step("read", self.contract)):
            response = self.client.request(**request_kwargs(step, self.values(kind, record), self.content))
            return response.status_code == 404
        step = kind.step("list", self.contract)
        if step is None:
            return False
        response = self.client.request(**request_kwargs(step, self.values(kind, record), self.content))
        return succeeded(response) and record.id not in {str(v) for v in leaves(json_of(response))}

    def register_created(self, endpoint: Endpoint, response: httpx.Response) -> list[Record]:
        """After any request to an endpoint that creates resources: put what it made in the ledger."""
        created = self.kinds.created_by(endpoint.id)
        if not created or not succeeded(response) or not has_body(response):
            return []
        try:
            body = json_of(response)
        except ValueError:
            return []
        records: list[Record] = []
        for kind, id_field in created:
            for item in body if isinstance(body, list) else [body]:
                try:
                    ident = self.ident(kind, item, id_field)
                except ResourceUnavailable:
                    continue
                if any(r.kind == kind.name and r.id == ident for r in records):
                    continue
                name = str(item.get(kind.raw.get("name", "name"), "")) if isinstance(item, dict) else ""
                parents = {p: self.get(p).id for p in kind.related}
                record = Record(kind.name, ident, name, item, parents)
                if kind.raw.get("secret") and isinstance(item, dict):
                    SECRETS.add(str(item.get(kind.raw["secret"])))
                self.track(kind, record)
                records.append(record)
        return records

    # Placeholders -------------------------------------------------------------------------------

    def placeholders(self, fresh: bool, given: dict[str, Record] | None = None) -> Callable[[str], Any]:
        """A resolver for one request: every "@flow..." in it names the same flow (`given`: these records)."""
        made: dict[str, Record] = dict(given or {})

        def resolve(value: str) -> Any:
            kind_name, _, field_name = value[1:].partition(".")
            if kind_name in self.kinds.kinds:
                if kind_name not in made:
                    made[kind_name] = self.get(kind_name, fresh=fresh)
                return made[kind_name].field(field_name or "id")
            return self.placeholder(value, fresh)

        return resolve

    def placeholder(self, value: str, fresh: bool) -> Any:
        """ "@flow.id" -> the id of the run's (or a fresh) flow; "@superuser.username" -> the login."""
        kind_name, _, field_name = value[1:].partition(".")
        if kind_name == "superuser":
            if self.superuser is None:
                raise ResourceUnavailable("superuser credentials not given (--username/--password)")
            return self.superuser[0] if field_name == "username" else self.superuser[1]
        if kind_name not in self.kinds.kinds:
            raise ResourceUnavailable(f"unknown placeholder {value!r}")
        return self.get(kind_name, fresh=fresh).field(field_name or "id")


def _not_found(response: httpx.Response) -> bool:
    """The server says this resource does not exist (not the router's 404 for a path it does not serve)."""
    return response.status_code == 404 and response.text.strip() != '{"detail":"Not Found"}'
