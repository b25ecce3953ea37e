"""The derived contract as an OpenAPI 3.1 document: built in memory from the catalog and the JSON
Schemas of one selected edition, for schemathesis (property-based tests) and for people to read
(--dump-contract). The server's own /openapi.json is not used: it is incomplete and mostly untyped."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from conformance.contract.catalog import Endpoint
from conformance.contract.loader import SelectedContract
from conformance.contract.schemas import ID_BASE

# Operations that are not plain request/response HTTP: nothing to generate for them.
NOT_HTTP = ("WS",)


def component_name(ref: str) -> str:
    """schemas/<group>/<name>.json -> a components/schemas key ("flows.flow-create.request")."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", ref.removesuffix(".json").replace("/", "."))


def _rewrite_refs(value: Any, own: str, suffix: str = "") -> Any:
    """$refs into one document: "#/$defs/x" of file `own` and "<ID_BASE>g/n.json#/..." of others."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("$id", "$schema"):
                continue
            if key == "$ref" and isinstance(item, str):
                target, _, fragment = item.partition("#")
                ref = target.removeprefix(ID_BASE) if target else own
                out[key] = f"#/components/schemas/{component_name(ref)}{suffix}{fragment}"
            else:
                out[key] = _rewrite_refs(item, own, suffix)
        return out
    if isinstance(value, list):
        return [_rewrite_refs(v, own, suffix) for v in value]
    return value


VALID_REQUEST = "x-valid-request"  # a schema's narrowing for drawing valid requests (schemas/README.md)


def _as_documented(schema: Any) -> Any:
    """The schema as the documents give it: narrowings for valid requests dropped."""
    if isinstance(schema, dict):
        return {k: _as_documented(v) for k, v in schema.items() if k != VALID_REQUEST}
    if isinstance(schema, list):
        return [_as_documented(v) for v in schema]
    return schema


def _closed(schema: Any) -> Any:
    """What a valid request sends: objects that list their properties take no others (a documented
    client sends the documented fields only; servers forbid some), and where the documents only give
    a type, the `x-valid-request` narrowing applies (e.g. a flow graph has nodes and edges)."""
    if isinstance(schema, dict):
        if VALID_REQUEST in schema:
            narrowed = {k: v for k, v in schema.items() if k not in (VALID_REQUEST, "type")}
            return _closed({**narrowed, **schema[VALID_REQUEST]})
        out = {k: _closed(v) for k, v in schema.items()}
        if isinstance(schema.get("properties"), dict) and not {"additionalProperties", "patternProperties"} & set(
            schema
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _referenced(schema: Any) -> Iterable[str]:
    """Schema files (refs like "group/name.json") a schema refers to."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(ID_BASE):
            yield ref.removeprefix(ID_BASE).partition("#")[0]
        for item in schema.values():
            yield from _referenced(item)
    elif isinstance(schema, list):
        for item in schema:
            yield from _referenced(item)


def _file_parts(raw: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    """A multipart body: parts with a contentMediaType are files (format binary, sent with that type)."""
    properties = raw.get("properties") or {}
    files = {n: p for n, p in properties.items() if isinstance(p, dict) and p.get("contentMediaType")}
    if not files:
        return {"schema": ref}
    schema = {
        "type": "object",
        "required": list(raw.get("required") or []),
        "properties": {
            n: ({"type": "string", "format": "binary"} if n in files else {"$ref": f"{ref['$ref']}/properties/{n}"})
            for n in properties
        },
    }
    return {"schema": schema, "encoding": {n: {"contentType": p["contentMediaType"]} for n, p in files.items()}}


class OpenApiBuilder:
    """One OpenAPI document per selected contract (edition + release)."""

    def __init__(self, contract: SelectedContract, closed_requests: bool = False) -> None:
        self.contract = contract
        self.closed_requests = closed_requests
        self.components: dict[str, Any] = {}

    def ref(self, schema_ref: str, request: bool = False) -> dict[str, str]:
        """A $ref to a schema file, pulling it (and what it refers to) into components; with
        closed_requests, request schemas get closed copies of their own (`.closed`)."""
        request = request and self.closed_requests
        suffix = ".closed" if request else ""
        pending = [schema_ref]
        while pending:
            current = pending.pop()
            key = component_name(current) + suffix
            if key in self.components:
                continue
            raw = self.contract.schemas.schema(current)
            rewritten = _rewrite_refs(copy.deepcopy(raw), current, suffix)
            self.components[key] = _closed(rewritten) if request else _as_documented(rewritten)
            pending.extend(_referenced(raw))
        return {"$ref": f"#/components/schemas/{component_name(schema_ref)}{suffix}"}

    def response_schema(self, spec: Any) -> dict[str, Any] | None:
        if not spec.schema:
            return None
        main = self.ref(spec.schema)
        variants = [self.ref(v.schema) for v in spec.tolerated if v.schema]
        return {"anyOf": [main, *variants]} if variants else main

    def parameters(self, endpoint: Endpoint) -> list[dict[str, Any]]:
        out = []
        for p in endpoint.parameters:
            parameter = {
                "name": p["name"],
                "in": p.get("in", "query"),
                "required": bool(p.get("required")) or p.get("in") == "path",
                "schema": copy.deepcopy(p.get("schema") or {"type": "string"}),
            }
            if p.get("description"):
                parameter["description"] = p["description"]
            out.append(parameter)
        return out

    def operation(self, endpoint: Endpoint, also: list[Endpoint]) -> dict[str, Any]:
        release = self.contract.release
        source = "; ".join(f"{s.get('document')} § {s.get('section')}" for s in endpoint.sources)
        op: dict[str, Any] = {
            "operationId": endpoint.id,
            "summary": endpoint.summary,
            "description": f"Sources: {source}",
            "tags": [endpoint.group],
            "parameters": self.parameters(endpoint),
            "responses": {},
            "x-auth": endpoint.auth,
            "x-safety": endpoint.safety,
        }
        if endpoint.deprecated:
            op["deprecated"] = True
        if also:
            op["x-also-catalog-ids"] = [e.id for e in also]
        body = endpoint.body or {}
        if body:
            media = body.get("content_type", "application/json")
            schema = self.ref(body["schema"], request=True) if body.get("schema") else {}
            content: dict[str, Any] = {"schema": schema}
            if media == "multipart/form-data" and body.get("schema"):
                content = _file_parts(self.contract.schemas.schema(body["schema"]), schema)
            op["requestBody"] = {"required": True, "content": {media: content}}
        for status, spec in sorted(endpoint.documented_statuses(release).items()):
            response: dict[str, Any] = {"description": f"documented {status}"}
            schema = self.response_schema(spec)
            if spec.content_types:
                response["content"] = {ct: ({"schema": schema} if schema else {}) for ct in spec.content_types}
            op["responses"][str(status)] = response
        for status, why in sorted((endpoint.raw.get("property") or {}).get("statuses", {}).items()):
            # Answers the documents leave open, which generated requests may get (catalog `property.statuses`).
            op["responses"].setdefault(str(status), {"description": f"tolerated: {why}", "x-tolerated": True})
        if not op["responses"]:
            op["responses"]["default"] = {"description": "not documented"}
        return op

    def document(self, endpoints: list[Endpoint] | None = None) -> dict[str, Any]:
        """Every applicable HTTP endpoint (or just `endpoints`); entries sharing a method and path
        (a streamed and a plain variant) become one operation, the first one listed."""
        chosen = endpoints if endpoints is not None else applicable(self.contract)
        grouped: dict[tuple[str, str], list[Endpoint]] = {}
        for endpoint in chosen:
            grouped.setdefault((endpoint.path, endpoint.method.lower()), []).append(endpoint)
        paths: dict[str, dict[str, Any]] = {}
        for (path, method), same in grouped.items():
            primary = next((e for e in same if not e.stream), same[0])
            paths.setdefault(path, {})[method] = self.operation(primary, [e for e in same if e is not primary])
        edition = self.contract.edition
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Langflow API, as documented (derived by langflow-conformance)",
                "version": self.contract.release,
                "description": (
                    f"Contract edition {edition.id} ({', '.join(edition.documents)}) for Langflow "
                    f"{self.contract.release}. Derived from the documents, not from the server's /openapi.json."
                ),
            },
            "paths": paths,
            "components": {
                "schemas": self.components,
                "securitySchemes": {
                    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                    "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "x-api-key"},
                    "bearer": {"type": "http", "scheme": "bearer"},
                },
            },
        }


def applicable(contract: SelectedContract) -> list[Endpoint]:
    """Endpoints of this release's edition that are HTTP operations (not WebSockets)."""
    return [e for e in contract.endpoints if e.method not in NOT_HTTP and not contract.not_applicable_reason(e)]


def build_document(
    contract: SelectedContract, endpoints: list[Endpoint] | None = None, closed_requests: bool = False
) -> dict[str, Any]:
    """`closed_requests`: request objects accept only their documented fields (for drawing valid requests)."""
    return OpenApiBuilder(contract, closed_requests).document(endpoints)
