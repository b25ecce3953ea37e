"""Resource kinds (schemas/resources.yaml) and the requests they describe: each kind's steps
(create, read, list, delete, ...) on the selected contract's endpoints, templates filled from a
resource's values, and what a created resource is (Record)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conformance.contract import Endpoint, SelectedContract
from conformance.contract.yamlfile import load_yaml

_TEMPLATE = re.compile(r"\{([a-z_0-9]+(?:\.[a-z_0-9]+)*)\}")


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
    while_: dict[str, list[Any]] | None = None  # a settle step: asked again while its answer shows these


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
    def settle_s(self) -> float:
        """Seconds a new resource is left alone before its first use, or at most waits for its `settle`
        step to show it settled (resources.yaml)."""
        return float(self.raw.get("settle_s", 0))

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
                    alt.get("while"),
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


def has_body(response: httpx.Response) -> bool:
    """Whether a body was read (a stream's was consumed as events: nothing to register from it)."""
    try:
        return bool(response.content)
    except httpx.ResponseNotRead:
        return False


def succeeded(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


def summary(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:160]!r}"
