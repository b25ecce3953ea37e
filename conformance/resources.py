"""Resources the run creates (schemas/resources.yaml): placeholders in examples ("@flow.id"), the
lifecycle steps, registration in the ledger, and --sweep of earlier runs' leftovers.

Every create goes through `Resources.create`, which registers the matching delete before returning,
so nothing the suite makes can outlive the run unless the server refuses to delete it."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .contract import Endpoint, SelectedContract
from .contract.yamlfile import load_yaml
from .ledger import RETRY_PAUSES_S, Ledger
from .secrets import SECRETS

# Every run names its resources "lfc-<8 hex>-..." (ledger.run_prefix): --sweep matches exactly that
# shape, so "lfc-admin" or a user's own "lfc-notes" is never touched.
RUN_NAME = re.compile(r"lfc-[0-9a-f]{8}-")
_TEMPLATE = re.compile(r"\{([a-z_0-9]+(?:\.[a-z_0-9]+)*)\}")
# A 1x1 transparent PNG: the smallest image every release's image route accepts.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
CSV = b"name,value\nconformance,1\n"


class ResourceUnavailable(Exception):
    """The server would not create (or find) a resource a requirement needs."""


def json_of(response: httpx.Response) -> Any:
    """The body as JSON, or a one-line ResourceUnavailable naming the request (a gateway's error
    page, a cut-off body) instead of a decoder traceback."""
    try:
        return response.json()
    except ValueError:
        request = response.request
        raise ResourceUnavailable(
            f"{request.method} {request.url.path} answered {response.status_code} with a body that is not JSON: "
            f"{response.text[:80]!r}"
        ) from None


@dataclass(frozen=True)
class Step:
    endpoint: Endpoint
    params: dict[str, Any]
    body: Any
    files: dict[str, Any] | None
    expect: dict[str, Any] | None
    has_body: bool
    check_with: str | None = None  # the role whose answer shows an update ("list" when reads are bytes)


@dataclass
class Kind:
    name: str
    raw: dict[str, Any]

    @property
    def alias(self) -> bool:
        """A second shared instance of another kind ("flow2" for a two-flow download)."""
        return "alias_of" in self.raw

    @property
    def fresh(self) -> bool:
        return bool(self.raw.get("fresh"))

    @property
    def setting(self) -> bool:
        """An install-wide setting the run may change and restores, not a resource it creates."""
        return bool(self.raw.get("setting"))

    @property
    def related(self) -> list[str]:
        """The kinds whose ids a resource of this kind needs: its parent, and what a link joins (`uses`)."""
        return [k for k in [self.raw.get("parent"), *(self.raw.get("uses") or [])] if k]

    def alternatives(self, role: str) -> list[dict[str, Any]]:
        value = self.raw.get(role)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def step(self, role: str, contract: SelectedContract) -> Step | None:
        """The first alternative whose endpoint applies to this target, or None."""
        for alt in self.alternatives(role):
            endpoint = _applicable(contract, alt["endpoint"])
            if endpoint is not None:
                return Step(
                    endpoint,
                    dict(alt.get("params") or {}),
                    alt.get("body"),
                    alt.get("files"),
                    alt.get("expect"),
                    "body" in alt,
                    alt.get("check_with"),
                )
        return None

    def endpoint_ids(self) -> set[str]:
        roles = ("create", "read", "update", "list", "delete")
        ids = {alt["endpoint"] for role in roles for alt in self.alternatives(role)}
        return ids | {_created_by(c)[0] for c in self.raw.get("created_by", []) or []}


def _created_by(entry: str | dict[str, Any]) -> tuple[str, str | None]:
    """(endpoint id, response field holding the created id, when not the kind's own id field)."""
    if isinstance(entry, str):
        return entry, None
    return str(entry["endpoint"]), entry.get("id")


def _applicable(contract: SelectedContract, endpoint_id: str) -> Endpoint | None:
    try:
        endpoint = contract.endpoint(endpoint_id)
    except KeyError:
        return None
    if contract.not_applicable_reason(endpoint):
        return None
    expected = endpoint.expected_status(contract.release)
    if expected is not None and 300 <= expected < 400:
        return None  # a redirect in this release: the endpoint it points to is the real one
    return endpoint


@dataclass
class ResourceKinds:
    kinds: dict[str, Kind]

    @classmethod
    def load(cls, path: Path) -> ResourceKinds:
        data = load_yaml(path) or {}
        kinds = {}
        for name, raw in (data.get("resources") or {}).items():
            if "same_as" in raw:
                raw = {**data["resources"][raw["same_as"]], "alias_of": raw["same_as"]}
            kinds[name] = Kind(name, raw)
        return cls(kinds)

    def __getitem__(self, name: str) -> Kind:
        return self.kinds[name]

    def created_by(self, endpoint_id: str) -> list[tuple[Kind, str | None]]:
        """The kinds an endpoint's success creates (a project upload: a project and its flows), and
        where its answer holds each new id."""
        found: list[tuple[Kind, str | None]] = []
        for kind in self.kinds.values():
            if kind.alias:
                continue
            creates = any(alt["endpoint"] == endpoint_id for alt in kind.alternatives("create"))
            # Two kinds made by the same request (a flow, an agent-typed flow) are one resource: the first
            # registers it, or its delete would run twice.
            if creates and not any(k.raw.get("id", "id") == kind.raw.get("id", "id") for k, f in found if f is None):
                found.append((kind, None))
            for entry in kind.raw.get("created_by", []) or []:
                eid, id_field = _created_by(entry)
                if eid == endpoint_id:
                    found.append((kind, id_field))
        return found

    def naming(self, endpoint_id: str) -> tuple[Kind, list[str]] | None:
        """Request fields that get a run-prefixed name when this endpoint creates or renames."""
        for kind in self.kinds.values():
            if kind.alias:
                continue
            names = kind.raw.get("names") or []
            roles = [alt["endpoint"] for role in ("create", "update") for alt in kind.alternatives(role)]
            created = [_created_by(c)[0] for c in kind.raw.get("created_by", []) or []]
            if endpoint_id in roles or endpoint_id in created:
                return kind, names
        return None


_MISSING = object()


def _lookup(values: dict[str, Any], name: str) -> Any:
    """ "name", or "saved.revision": a field of a value (an install-wide setting as read)."""
    value: Any = values
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def expand(template: Any, values: dict[str, Any]) -> Any:
    """Fill "{name}"-style templates: a whole-string template keeps the value's type."""
    if isinstance(template, str):
        whole = _TEMPLATE.fullmatch(template)
        if whole and _lookup(values, whole.group(1)) is not _MISSING:
            return _lookup(values, whole.group(1))

        def text(match: re.Match[str]) -> str:
            value = _lookup(values, match.group(1))
            return match.group(0) if value is _MISSING else str(value)

        return _TEMPLATE.sub(text, template)
    if isinstance(template, dict):
        return {k: expand(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [expand(v, values) for v in template]
    return template


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


def items_with(value: Any, key: str, wanted: Any) -> Iterator[dict[str, Any]]:
    """Every object anywhere in a JSON answer whose `key` equals `wanted` (lists and pages alike)."""
    if isinstance(value, dict):
        if str(value.get(key)) == str(wanted):
            yield value
        for v in value.values():
            yield from items_with(v, key, wanted)
    elif isinstance(value, list):
        for v in value:
            yield from items_with(v, key, wanted)


@dataclass
class Record:
    kind: str
    id: str
    name: str
    body: Any
    parents: dict[str, str] = field(default_factory=dict)
    password: str | None = None  # a created user's, to log in as it

    def field(self, name: str) -> Any:
        if name == "id":
            return self.id
        if name == "name":
            return self.name
        if isinstance(self.body, dict) and name in self.body:
            return self.body[name]
        raise ResourceUnavailable(f"the created {self.kind} has no field {name!r}")


def request_kwargs(step: Step, values: dict[str, Any], contents: Callable[[str], bytes]) -> dict[str, Any]:
    """httpx request arguments for a step: path parameters into the path, the rest as query."""
    params = expand(step.params, values)
    where = {p["name"]: p.get("in") for p in step.endpoint.parameters}
    path, query, headers = step.endpoint.path, {}, {}
    for name, value in params.items():
        if where.get(name) == "path" or "{" + name + "}" in path:
            path = path.replace("{" + name + "}", str(value))
        elif where.get(name) == "header":
            headers[name] = str(value)
        else:
            query[name] = value
    kwargs: dict[str, Any] = {"method": step.endpoint.method, "url": path, "params": query}
    if headers:
        kwargs["headers"] = headers
    if step.has_body:
        kwargs["json"] = expand(step.body, values)
    if step.files:
        kwargs["files"] = multipart(expand(step.files, values), contents)
    return kwargs


def multipart(parts: dict[str, Any], contents: Callable[[str], bytes]) -> dict[str, tuple[str, bytes, str]]:
    out = {}
    for field_name, part in parts.items():
        content = part.get("content", "")
        data = contents(content) if isinstance(content, str) and content.startswith("@") else str(content).encode()
        out[field_name] = (part["filename"], data, part.get("content_type", "application/octet-stream"))
    return out


def _read(response: httpx.Response) -> bool:
    """Whether a body was read (a stream's was consumed as events: nothing to register from it)."""
    try:
        return bool(response.content)
    except httpx.ResponseNotRead:
        return False


def _ok(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


def _short(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:160]!r}"


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
        # Registered first, so it runs last: whatever the server derived from this run's resources
        # and kept after they were deleted (1.13.0's per-project MCP API keys).
        derived = re.compile(re.escape(f"MCP Project {ledger.prefix}-")).match
        ledger.add(
            "derived",
            f"{owner}:api keys",
            lambda: sweep_kind(self, "api_key", derived, progress=lambda _: None, by_release=True),
        )

    # Names -------------------------------------------------------------------------------------

    def new_name(self, kind: str) -> str:
        """Unique per run, per xdist worker and per resource; always starts with the run prefix."""
        return f"{self.ledger.prefix}-{self._worker}{kind.replace('_', '')}{next(self.ledger.names)}"

    # Content for multipart uploads --------------------------------------------------------------

    def content(self, ref: str) -> bytes:
        if ref == "@csv":
            return CSV
        if ref == "@png":
            return PNG
        if ref == "@flow_export.json":
            name = self.new_name("flow")
            flow = {
                "name": name,
                "endpoint_name": name,
                "description": "langflow-conformance upload",
                "data": self.echo_graph(),
            }
            return json.dumps(flow).encode()
        if ref == "@project_export.zip":
            buffer = io.BytesIO()
            name = self.new_name("flow")
            with zipfile.ZipFile(buffer, "w") as archive:
                flow = {
                    "name": name,
                    "endpoint_name": name,
                    "description": "langflow-conformance upload",
                    "data": self.echo_graph(),
                }
                archive.writestr(f"{name}.json", json.dumps(flow))
            return buffer.getvalue()
        raise ResourceUnavailable(f"no generated content {ref!r}")

    # The echo flow ------------------------------------------------------------------------------

    def echo_graph(self) -> dict[str, Any]:
        """ChatInput -> ChatOutput from the target's own templates (notes §8.2a, §8.3): no LLM, no
        network, and the component code is whatever this release ships."""
        if self._graph is None:
            all_endpoint = self.contract.endpoint("base.all")
            response = self.client.request(all_endpoint.method, all_endpoint.path)
            if not _ok(response):
                raise ResourceUnavailable(f"GET {all_endpoint.path} answered {_short(response)}")
            templates = {
                name: t for group in json_of(response).values() if isinstance(group, dict) for name, t in group.items()
            }
            try:
                chat_in, chat_out = templates["ChatInput"], templates["ChatOutput"]
            except KeyError as missing:
                raise ResourceUnavailable(f"GET {all_endpoint.path} lists no {missing} component") from None
            output = (chat_in.get("outputs") or [{}])[0]
            in_id, out_id = "ChatInput-lfcIn", "ChatOutput-lfcOut"
            target_field = chat_out["template"]["input_value"]
            input_types = target_field.get("input_types") or ["Message"]
            self._graph = {
                "nodes": [
                    {
                        "id": in_id,
                        "type": "genericNode",
                        "position": {"x": 0, "y": 0},
                        "data": {"id": in_id, "type": "ChatInput", "node": chat_in},
                    },
                    {
                        "id": out_id,
                        "type": "genericNode",
                        "position": {"x": 400, "y": 0},
                        "data": {"id": out_id, "type": "ChatOutput", "node": chat_out},
                    },
                ],
                "edges": [_edge(in_id, out_id, output, input_types, target_field.get("type", "str"))],
            }
        return self._graph

    # Creating, finding, deleting ----------------------------------------------------------------

    def values(self, kind: Kind, record: Record | None = None, name: str | None = None) -> dict[str, Any]:
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
        if name is not None:
            values["name"] = name
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
        name = self.new_name(kind_name)
        values = self.values(kind, name=name)
        response = self.client.request(**request_kwargs(step, values, self.content))
        if not _ok(response):
            raise ResourceUnavailable(f"creating a {kind_name}: {step.endpoint.operation} answered {_short(response)}")
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
        return record

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
                if not _ok(response):
                    raise ResourceUnavailable(
                        f"restoring the {kind.name}: {restore.endpoint.operation} answered {_short(response)}"
                    )

            self.ledger.add(kind.name, f"{self.owner}:{kind.name}", put_back)
        current = self._read_setting(kind)
        return Record(kind.name, kind.name, kind.name, current)

    def _read_setting(self, kind: Kind) -> Any:
        read = kind.step("read", self.contract)
        if read is None:
            raise ResourceUnavailable(f"the {kind.name} cannot be read on this release")
        response = self.client.request(**request_kwargs(read, {}, self.content))
        if not _ok(response):
            raise ResourceUnavailable(f"reading the {kind.name}: {read.endpoint.operation} answered {_short(response)}")
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
        found = json_of(response) if _ok(response) else None
        items = found.get("items", found) if isinstance(found, dict) else found
        if not items:
            raise ResourceUnavailable(
                f"the {kind.name} just created is not listed by {endpoint.operation}: {_short(response)}"
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

        def delete() -> None:
            response = self.client.request(**request_kwargs(step, values, self.content))
            if not _ok(response) and not self.is_gone(kind, record):
                raise ResourceUnavailable(f"{step.endpoint.operation} answered {_short(response)}")

        self.ledger.add(kind.name, f"{self.owner}:{record.id}", delete)

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
        return _ok(response) and record.id not in {str(v) for v in leaves(json_of(response))}

    def register_created(self, endpoint: Endpoint, response: httpx.Response) -> list[Record]:
        """After any request to an endpoint that creates resources: put what it made in the ledger."""
        created = self.kinds.created_by(endpoint.id)
        if not created or not _ok(response) or not _read(response):
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


def _edge(source: str, target: str, output: dict[str, Any], input_types: list[str], kind: str) -> dict[str, Any]:
    """The edge shape both the 1.1 and the 1.13 editors save: handle objects, and their `œ`-encoded
    strings, which older releases read."""
    source_handle = {
        "dataType": "ChatInput",
        "id": source,
        "name": output.get("name", "message"),
        "output_types": output.get("types") or ["Message"],
    }
    target_handle = {"fieldName": "input_value", "id": target, "inputTypes": input_types, "type": kind}
    return {
        "id": f"reactflow__edge-{source}-{target}",
        "source": source,
        "target": target,
        "sourceHandle": _encode_handle(source_handle),
        "targetHandle": _encode_handle(target_handle),
        "data": {"sourceHandle": source_handle, "targetHandle": target_handle},
    }


def _encode_handle(handle: dict[str, Any]) -> str:
    return json.dumps(handle, separators=(",", ":")).replace('"', "œ")


# Sweep ------------------------------------------------------------------------------------------

SWEEP_ORDER = ("file_v1", "file", "variable", "api_key", "flow", "project", "user")  # children first
# Names servers derive from ours: v1 uploads get a timestamp ("2026-11-23_10-00-00_<name>"), and
# 1.13.0 gives each new project an API key "MCP Project <project name> - default" that outlives it.
_DERIVED = re.compile(r"^(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_|MCP Project )")


def is_leftover(name: str, pattern: re.Pattern[str] = RUN_NAME) -> bool:
    base = name.rsplit("/", 1)[-1]
    return bool(pattern.match(base) or pattern.match(_DERIVED.sub("", base)))


def objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from objects(v)


def sweep(resources: Resources, progress: Callable[[str], None] = print) -> int:
    """Delete what earlier runs left behind: only resources named like a run's (`RUN_NAME`)."""
    return sum(sweep_kind(resources, kind, is_leftover, progress) for kind in SWEEP_ORDER)


def sweep_kind(
    resources: Resources,
    kind_name: str,
    matches: Callable[[str], object],
    progress: Callable[[str], None] = print,
    by_release: bool = False,
) -> int:
    """Delete the resources of one kind whose name `matches`. `by_release`: use the endpoints of the
    target's release even when the run checks it against another edition (cleanup is not a check)."""
    kind = resources.kinds[kind_name]
    contract = resources.contract.contract.select(resources.contract.release) if by_release else resources.contract
    list_step, delete_step = kind.step("list", contract), kind.step("delete", contract)
    if list_step is None or delete_step is None:
        return 0
    deleted = 0
    id_field, name_field = kind.raw.get("id", "id"), kind.raw.get("name", "name")
    # Children are listed per parent: v1 files of the leftover flows.
    parents: list[str | None] = [None]
    if kind.raw.get("parent") == "flow":
        parents = list(_leftover_ids(resources, resources.kinds["flow"], matches))
    for parent in parents:
        values = {"flow": parent} if parent else {}
        response = resources.client.request(**request_kwargs(list_step, values, resources.content))
        if not _ok(response):
            if kind.raw.get("requires", {}).get("superuser") and response.status_code in (401, 403):
                continue  # not a superuser: there are no users of ours to see
            progress(f"sweep: {list_step.endpoint.operation} answered {_short(response)}; skipping {kind_name}s")
            continue
        body = json_of(response)
        if kind_name == "file_v1":  # the list holds bare names
            found = [(n, n) for n in leaves(body) if isinstance(n, str) and matches(n)]
        else:
            found = [
                (str(o[id_field]), str(o.get(name_field)))
                for o in objects(body)
                if id_field in o and matches(str(o.get(name_field, "")))
            ]
        for ident, name in found:
            ident = ident.split(kind.raw["id_after"], 1)[-1] if kind.raw.get("id_after") else ident
            delete = request_kwargs(delete_step, {**values, "id": ident}, resources.content)
            answer = resources.client.request(**delete)
            for pause in RETRY_PAUSES_S:  # a 5xx may be a passing sqlite lock (finding F15), as in teardown
                if answer.status_code < 500:
                    break
                time.sleep(pause)
                answer = resources.client.request(**delete)
            ok = _ok(answer) or answer.status_code == 404
            deleted += ok
            progress(
                f"sweep: {'deleted' if ok else 'could not delete'} {kind_name} {name}"
                + ("" if ok else f" ({_short(answer)})")
            )
    return deleted


def _leftover_ids(resources: Resources, kind: Kind, matches: Callable[[str], object]) -> list[str]:
    step = kind.step("list", resources.contract)
    if step is None:
        return []
    response = resources.client.request(**request_kwargs(step, {}, resources.content))
    if not _ok(response):
        return []
    return [str(o["id"]) for o in objects(json_of(response)) if "id" in o and matches(str(o.get("name", "")))]
