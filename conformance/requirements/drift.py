"""Drift between a deployment's own /openapi.json and the documented contract: documented endpoints
the server does not list (probed before they fail: 1.13.0 serves login, api_key, variables and more
without listing them), server endpoints the contract does not know (informational, per group), and
documented fields whose type the server's schema contradicts (warnings)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.contract import Endpoint, SelectedContract

OPENAPI_PATH = "/openapi.json"  # FastAPI's default, which Langflow keeps
ROUTE_MISSING = {"detail": "Not Found"}  # Starlette's answer when no route matches
_PARAM = re.compile(r"\{[^}]+\}")
_VERSIONED = re.compile(r"^/api/v\d+/")


def shape(path: str) -> str:
    """A path with its parameter names erased, so /flows/{flow_id} and /flows/{id} compare equal."""
    return _PARAM.sub("{}", path)


def group_of(path: str) -> str:
    """The first path segment under /api/vN (or the root): what a list of unknown endpoints is grouped by."""
    rest = _VERSIONED.sub("", path).lstrip("/")
    return rest.split("/", 1)[0] or "/"


@dataclass
class ServerDocument:
    """The deployment's OpenAPI document: its operations by (method, path shape)."""

    raw: dict[str, Any]

    @property
    def operations(self) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
        out: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for path, item in (self.raw.get("paths") or {}).items():
            for method, op in (item or {}).items():
                if isinstance(op, dict) and method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
                    out[(method.upper(), shape(path))] = (path, op)
        return out

    def lists(self, endpoint: Endpoint) -> bool:
        ops = self.operations
        return any((endpoint.method, shape(p)) in ops for p in (endpoint.path, *endpoint.aliases))

    def resolve(self, schema: Any) -> Any:
        """Follow a local $ref (#/components/schemas/X) once, and again while it points on."""
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 10:
            target: Any = self.raw
            for part in schema["$ref"].lstrip("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema, seen = target, seen + 1
        return schema


def fetch(client: httpx.Client) -> ServerDocument | str:
    """The server's document, or why there is none to compare with."""
    response = client.get(OPENAPI_PATH)
    if response.status_code != 200:
        return f"the deployment serves no {OPENAPI_PATH} ({response.status_code}): API docs may be switched off"
    try:
        raw = response.json()
    except ValueError:
        return f"{OPENAPI_PATH} is not JSON"
    if not isinstance(raw, dict) or not isinstance(raw.get("paths"), dict):
        return f"{OPENAPI_PATH} has no paths: not an OpenAPI document"
    return ServerDocument(raw)


# Probing an unlisted endpoint ---------------------------------------------------------------------


def probe_request(endpoint: Endpoint, unknown_id: str) -> dict[str, Any] | None:
    """A request that shows whether the route exists and cannot change anything, or None:
    reads; requests with a required body, sent without it (refused before any handler runs); and
    requests whose path names a resource, sent with an unknown id."""
    path = _PARAM.sub(unknown_id, endpoint.path)
    required_body = bool((endpoint.body or {}).get("schema"))
    names_resource = _PARAM.search(endpoint.path) is not None
    if endpoint.method in ("GET", "HEAD") or required_body or names_resource:
        return {"method": endpoint.method, "url": path}
    return None


def served(response: httpx.Response) -> bool:
    """Anything but the router's own 404 or 405 means a route answered."""
    if response.status_code == 405:
        return False
    if response.status_code == 404:
        try:
            return bool(response.json() != ROUTE_MISSING)
        except ValueError:
            return True
    return True


@dataclass
class Probe:
    described: str  # "GET /path -> 404", each hop
    served: bool
    text: str  # the start of a refusal's body, for the failure message


def probe(client: httpx.Client, request: dict[str, Any]) -> Probe:
    """Send a probe and read no more than its headers, unless it was refused. Two answers say
    nothing by themselves: a HEAD 404 has no body to tell the router's own from a handler's (asked
    again as GET), and FastAPI's trailing-slash redirect only says the other spelling matches some
    route (followed once, same method)."""
    hops: list[str] = []
    for _ in range(3):
        with client.stream(**request) as response:  # a stream (SSE) is never read on
            status = response.status_code
            if status in (404, 405):
                response.read()
            hops.append(f"{request['method']} {request['url']} -> {status}")
            location = response.headers.get("location", "")
            if request["method"] == "HEAD" and status == 404:
                request = {**request, "method": "GET"}
                continue
            target = httpx.URL(location).path if location else ""
            if status in (307, 308) and target.rstrip("/") == str(request["url"]).rstrip("/"):
                request = {**request, "url": target}
                continue
            text = response.text[:120] if status in (404, 405) else ""
            return Probe("; ".join(hops), served(response), text)
    return Probe("; ".join(hops), True, "")


# Unknown endpoints and type conflicts (report, not requirements) ---------------------------------


def unknown_endpoints(server: ServerDocument, contract: SelectedContract) -> dict[str, list[str]]:
    """Server operations no catalog entry (of any edition) describes, per group."""
    known = {
        (str(raw["method"]).upper(), shape(p))
        for _, raw, _ in contract.contract.catalog.entries
        for p in (raw["path"], *(raw.get("aliases") or ()))
    }
    groups: dict[str, list[str]] = {}
    for (method, path_shape), (path, _) in sorted(server.operations.items(), key=lambda kv: kv[1][0]):
        if (method, path_shape) not in known:
            groups.setdefault(group_of(path), []).append(f"{method} {path}")
    return dict(sorted(groups.items()))


JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")


def types_of(schema: Any, resolve: Any) -> set[str] | None:
    """The JSON types a schema allows, or None when it does not say (or says anything)."""
    schema = resolve(schema)
    if not isinstance(schema, dict):
        return None
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {str(t) for t in declared}
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            parts = [types_of(s, resolve) for s in schema[key]]
            if any(p is None for p in parts):
                return None
            return set().union(*parts)  # type: ignore[arg-type]
    if "properties" in schema or "$ref" in schema:
        return {"object"}
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        names = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
        return {names.get(type(v), "object") for v in values}
    return None


def compatible(documented: set[str], server: set[str]) -> bool:
    widen = {"integer": {"integer", "number"}, "number": {"number", "integer"}}
    expanded = set().union(*(widen.get(t, {t}) for t in documented))
    return bool(expanded & server)


@dataclass
class Conflict:
    endpoint: str
    where: str
    field: str
    documented: list[str]
    server: list[str]

    def describe(self) -> str:
        return (
            f"{self.endpoint} {self.where}: {self.field} is documented as {'|'.join(self.documented)}, "
            f"the server's schema says {'|'.join(self.server)}"
        )


def _pairs(endpoint: Endpoint, server_op: dict[str, Any], contract: SelectedContract) -> list[tuple[str, Any, Any]]:
    """(where, documented schema, server schema) for the request body and each typed 2xx answer."""
    pairs = []
    body_ref = (endpoint.body or {}).get("schema")
    server_body = (server_op.get("requestBody") or {}).get("content") or {}
    if body_ref and server_body:
        server_schema = next(iter(server_body.values()), {}).get("schema")
        pairs.append(("request body", contract.schemas.schema(body_ref), server_schema))
    for status, spec in endpoint.documented_statuses(contract.release).items():
        answer = (server_op.get("responses") or {}).get(str(status)) or {}
        content = (answer.get("content") or {}).get("application/json") or {}
        if spec.schema and 200 <= status < 300 and content.get("schema"):
            pairs.append((f"response {status}", contract.schemas.schema(spec.schema), content["schema"]))
    return pairs


def type_conflicts(server: ServerDocument, contract: SelectedContract, endpoints: list[Endpoint]) -> list[Conflict]:
    """Top-level fields both schemas type, whose types do not overlap."""
    ops = server.operations
    conflicts = []
    for endpoint in endpoints:
        found = ops.get((endpoint.method, shape(endpoint.path)))
        if found is None:
            continue
        for where, documented, theirs in _pairs(endpoint, found[1], contract):
            ours = (documented or {}).get("properties") or {}
            their_props = (server.resolve(theirs) or {}).get("properties") or {}
            for name, field_schema in ours.items():
                if name not in their_props:
                    continue
                mine = types_of(field_schema, lambda s: s)
                other = types_of(their_props[name], server.resolve)
                if mine and other and not compatible(mine, other):
                    conflicts.append(Conflict(endpoint.id, where, name, sorted(mine), sorted(other)))
    return conflicts


def section(server: ServerDocument | str, contract: SelectedContract, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's `drift` section, from the drift requirements' results and the server document."""
    if isinstance(server, str):
        return {"openapi": server}
    drift_results = [r for r in results if r["kind"] == "drift"]
    probed = [
        {"endpoint": r["endpoint"], "operation": f"{r['method']} {r['path']}", **r["drift"]}
        for r in drift_results
        if isinstance(r.get("drift"), dict) and not r["drift"].get("listed")
    ]
    applicable = [e for e in contract.endpoints if e.method != "WS" and not contract.not_applicable_reason(e)]
    return {
        "openapi": f"{OPENAPI_PATH}: {len(server.operations)} operations",
        "documented_not_listed_but_served": [p for p in probed if p.get("served")],
        "documented_missing": [p for p in probed if not p.get("served")],
        "unknown_to_contract": unknown_endpoints(server, contract),
        "type_conflicts": [c.describe() for c in type_conflicts(server, contract, applicable)],
    }
