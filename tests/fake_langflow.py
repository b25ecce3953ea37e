"""A small fake Langflow (Starlette, in memory) for the project's own tests: it answers a handful of
documented endpoints the way the contract says, and each of BUGS can be switched on to prove the
property layer finds it. It is never a conformance target; verdicts come from real releases only.

Requests are validated against the contract itself (catalog parameters, request JSON Schemas), so a
healthy fake refuses exactly what the contract calls invalid, with FastAPI's 422 body."""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.contract import load_contract

from .serving import serve_app

RELEASE = "1.7.3"  # the fake claims this release: contract edition 1.7
API_KEY = "sk-fake-conformance-key-" + "0" * 16  # built: no key-shaped literal in the repository

# bug -> (what it does, the check that must find it, the requirement that must fail)
BUGS: dict[str, tuple[str, str, str]] = {
    "server-error-on-invalid": (
        "POST /api/v1/variables/ answers 500 instead of 422 for a body that violates the contract",
        "not_a_server_error",
        "variables.create.property-negative",
    ),
    "accepts-invalid": (
        "POST /api/v1/projects/ creates a project from a body that violates the contract (201, not 422)",
        "negative_data_rejection",
        "projects.create.property-negative",
    ),
    "changed-field-type": (
        "GET /api/v1/flows/{flow_id} answers `locked` as a string",
        "response_schema_conformance",
        "flows.read.property-positive",
    ),
    "dropped-required-field": (
        "POST /api/v1/variables/ answers without `default_fields`",
        "response_schema_conformance",
        "variables.create.property-positive",
    ),
    "undocumented-status": (
        "POST /api/v1/variables/ answers 200 instead of the documented 201",
        "status_code_conformance",
        "variables.create.property-positive",
    ),
    "wrong-content-type": (
        "GET /api/v1/flows/ sends its JSON as text/plain",
        "content_type_conformance",
        "flows.list.property-positive",
    ),
    "rejects-valid": (
        "PATCH /api/v1/projects/{project_id} refuses every valid update (400)",
        "positive_data_acceptance",
        "projects.update.property-positive",
    ),
    "ignores-pagination": (
        "GET /api/v1/monitor/transactions answers page 1 of size 50 whatever page and size are asked",
        "page_size_respected",
        "monitor.transactions-list.property-positive",
    ),
    "readable-after-delete": (
        "DELETE /api/v1/projects/{project_id} answers 204 but the project stays readable",
        "use_after_free",
        "projects.project.stateful",
    ),
    "created-not-found": (
        "GET /api/v1/flows/{flow_id} answers 404 for a flow just created",
        "ensure_resource_availability",
        "flows.flow.stateful",
    ),
}
# The requirements the fake can serve (for `-k`): everything a bug above lives in, healthy or not.
REQUIREMENTS = sorted({r for _, _, r in BUGS.values()} | {"variables.variable.stateful", "projects.project.stateful"})
TRANSACTIONS_PER_FLOW = 7

Handler = Callable[[Request], Awaitable[Response]]


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _detail(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@dataclass
class Fake:
    bugs: set[str] = field(default_factory=set)
    # Not a contract bug but a busy server (finding F15): project deletes answer 500 for this many
    # seconds after the first one.
    busy_deletes_s: float = 0.0
    busy_since: float | None = None
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.contract = load_contract().select(RELEASE)

    # The contract as the fake's validator ----------------------------------------------------

    def invalid(self, endpoint_id: str, request: Request, body: Any) -> list[dict[str, Any]]:
        """FastAPI-style 422 details for what the contract calls invalid in this request."""
        endpoint = self.contract.endpoint(endpoint_id)
        errors: list[dict[str, Any]] = []
        for p in endpoint.parameters:
            where = p.get("in", "query")
            raw = request.path_params.get(p["name"]) if where == "path" else request.query_params.get(p["name"])
            if raw is None:
                if p.get("required"):
                    errors.append({"loc": [where, p["name"]], "msg": "Field required", "type": "missing"})
                continue
            problem = _param_problem(p.get("schema") or {}, raw)
            if problem:
                errors.append({"loc": [where, p["name"]], "msg": problem, "type": "value_error"})
        schema = (endpoint.body or {}).get("schema")
        if schema:
            for message in self.contract.schemas.errors(schema, body):
                errors.append({"loc": ["body"], "msg": message, "type": "value_error"})
        return errors

    # Discovery ----------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "chat": "ok", "db": "ok"})

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": RELEASE, "main_version": RELEASE, "package": "Langflow"})

    async def whoami(self, request: Request) -> Response:
        return JSONResponse(
            {
                "id": self.user_id,
                "username": "fake-admin",
                "profile_image": None,
                "store_api_key": None,
                "is_active": True,
                "is_superuser": True,
                "create_at": _now(),
                "updated_at": _now(),
                "last_login_at": _now(),
                "optins": {"github_starred": False, "dialog_dismissed": False, "discord_clicked": False},
            }
        )

    async def auto_login(self, request: Request) -> Response:
        return _detail(400, {"message": "Auto login is disabled. Please enable it in the settings"})

    async def config(self, request: Request) -> Response:
        return JSONResponse(
            {
                "feature_flags": {"mvp_components": False},
                "serialization_max_items_length": 1000,
                "serialization_max_text_length": 6000,
                "frontend_timeout": 0,
                "auto_saving": True,
                "auto_saving_interval": 1000,
                "health_check_max_retries": 5,
                "max_file_size_upload": 1024,
                "webhook_polling_interval": 5000,
                "public_flow_cleanup_interval": 3600,
                "public_flow_expiration": 86400,
                "event_delivery": "streaming",
                "webhook_auth_enable": False,
                "voice_mode_available": False,
                "default_folder_name": "Starter Project",
                "hide_getting_started_progress": False,
            }
        )

    async def all_components(self, request: Request) -> Response:
        """Just the templates the run's echo flow is assembled from."""
        chat_in = {"template": {"input_value": {"type": "str"}}, "outputs": [{"name": "message", "types": ["Message"]}]}
        chat_out = {"template": {"input_value": {"type": "str", "input_types": ["Message"]}}, "outputs": []}
        return JSONResponse({"input_output": {"ChatInput": chat_in, "ChatOutput": chat_out}})

    # Flows ----------------------------------------------------------------------------------------

    def flow_out(self, flow: dict[str, Any]) -> dict[str, Any]:
        out = dict(flow)
        if "changed-field-type" in self.bugs:
            out["locked"] = "false"
        return out

    async def flow_create(self, request: Request) -> Response:
        body = await _json(request)
        errors = self.invalid("flows.create", request, body)
        if errors:
            return _detail(422, errors)
        flow_id = str(uuid.uuid4())
        self.flows[flow_id] = {
            "id": flow_id,
            "name": body["name"],
            "description": body.get("description"),
            "icon": body.get("icon"),
            "icon_bg_color": body.get("icon_bg_color"),
            "gradient": body.get("gradient"),
            "data": body.get("data"),
            "is_component": bool(body.get("is_component", False)),
            "updated_at": _now(),
            "webhook": bool(body.get("webhook", False)),
            "endpoint_name": body.get("endpoint_name"),
            "tags": body.get("tags"),
            "locked": bool(body.get("locked", False)),
            "user_id": self.user_id,
            "folder_id": body.get("folder_id"),
            "mcp_enabled": False,
            "action_name": None,
            "action_description": None,
            "access_type": "PRIVATE",
        }
        return JSONResponse(self.flow_out(self.flows[flow_id]), status_code=201)

    async def flow_list(self, request: Request) -> Response:
        errors = self.invalid("flows.list", request, None)
        if errors:
            return _detail(422, errors)
        q = request.query_params
        flows = [self.flow_out(f) for f in self.flows.values()]
        get_all = q.get("get_all", "true").lower() in ("true", "1", "yes", "on")
        content: Any = flows if get_all else _page(flows, int(q.get("page", 1)), int(q.get("size", 50)))
        if "wrong-content-type" in self.bugs:
            return Response(JSONResponse(content).body, media_type="text/plain")
        return JSONResponse(content)

    async def flow_read(self, request: Request) -> Response:
        errors = self.invalid("flows.read", request, None)
        if errors:
            return _detail(422, errors)
        flow = self.flows.get(request.path_params["flow_id"])
        if flow is None or "created-not-found" in self.bugs:
            return _detail(404, "Flow not found")
        return JSONResponse(self.flow_out(flow))

    async def updating(
        self, request: Request, endpoint_id: str, store: dict[str, dict[str, Any]], missing: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | Response:
        """An update's body and the stored item it changes, or the answer that refuses it."""
        body = await _json(request)
        errors = self.invalid(endpoint_id, request, body)
        if errors:
            return _detail(422, errors)
        item = store.get(next(iter(request.path_params.values())))
        return (body, item) if item is not None else _detail(404, missing)

    async def flow_update(self, request: Request) -> Response:
        found = await self.updating(request, "flows.update", self.flows, "Flow not found")
        if isinstance(found, Response):
            return found
        body, flow = found
        for key, value in body.items():
            if key in flow and key not in ("id", "user_id") and (value is not None or key not in ("name", "locked")):
                flow[key] = value
        flow["updated_at"] = _now()
        return JSONResponse(self.flow_out(flow))

    async def flow_delete(self, request: Request) -> Response:
        flow = self.flows.pop(request.path_params["flow_id"], None)
        return JSONResponse({"message": "Flow deleted successfully"}) if flow else _detail(404, "Flow not found")

    # Projects -------------------------------------------------------------------------------------

    async def project_create(self, request: Request) -> Response:
        body = await _json(request)
        errors = self.invalid("projects.create", request, body)
        if errors and "accepts-invalid" not in self.bugs:
            return _detail(422, errors)
        project_id = str(uuid.uuid4())
        given = body if isinstance(body, dict) else {}
        self.projects[project_id] = {
            "id": project_id,
            "name": str(given.get("name") or f"Project {project_id[:8]}"),
            "description": given.get("description") if isinstance(given.get("description"), str) else None,
            "parent_id": None,
            "auth_settings": None,
        }
        return JSONResponse(self.projects[project_id], status_code=201)

    async def project_list(self, request: Request) -> Response:
        starter = {"id": str(uuid.UUID(int=1)), "name": "Starter Project", "description": None, "parent_id": None}
        return JSONResponse([starter, *self.projects.values()])

    async def project_read(self, request: Request) -> Response:
        errors = self.invalid("projects.read", request, None)
        if errors:
            return _detail(422, errors)
        project_id = request.path_params["project_id"]
        project = self.projects.get(project_id)
        if project is None and "readable-after-delete" in self.bugs:
            project = self.deleted_projects.get(project_id)
        if project is None:
            return _detail(404, "Project not found")
        flows = [self.flow_out(f) for f in self.flows.values() if f["folder_id"] == project_id]
        q = request.query_params
        if "page" in q or "size" in q:
            page = _page(flows, int(q.get("page", 1)), int(q.get("size", 50)))
            return JSONResponse({"folder": project, "flows": page})
        return JSONResponse({**project, "flows": flows})

    async def project_update(self, request: Request) -> Response:
        found = await self.updating(request, "projects.update", self.projects, "Project not found")
        if isinstance(found, Response):
            return found
        body, project = found
        if "rejects-valid" in self.bugs:
            return _detail(400, "Projects cannot be changed")
        for key in ("name", "description"):
            if isinstance(body.get(key), str) and (key != "name" or body[key]):
                project[key] = body[key]
        return JSONResponse(project)

    async def project_delete(self, request: Request) -> Response:
        errors = self.invalid("projects.delete", request, None)
        if errors:
            return _detail(422, errors)
        self.busy_since = self.busy_since or time.monotonic()
        if time.monotonic() - self.busy_since < self.busy_deletes_s:
            return _detail(500, "Could not delete the project.")
        project = self.projects.pop(request.path_params["project_id"], None)
        if project is None:
            return _detail(404, "Project not found")
        self.deleted_projects[project["id"]] = project
        return Response(status_code=204)

    # Variables ------------------------------------------------------------------------------------

    def variable_out(self, variable: dict[str, Any]) -> dict[str, Any]:
        out = dict(variable)
        if "dropped-required-field" in self.bugs:
            out.pop("default_fields")
        return out

    async def variable_create(self, request: Request) -> Response:
        body = await _json(request)
        errors = self.invalid("variables.create", request, body)
        if errors:
            if "server-error-on-invalid" in self.bugs:
                return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
            return _detail(422, errors)
        variable_id = str(uuid.uuid4())
        self.variables[variable_id] = {
            "id": variable_id,
            "name": body["name"],
            "type": body.get("type") or "Generic",
            "value": body["value"],
            "default_fields": body.get("default_fields") or [],
        }
        status = 200 if "undocumented-status" in self.bugs else 201
        return JSONResponse(self.variable_out(self.variables[variable_id]), status_code=status)

    async def variable_list(self, request: Request) -> Response:
        return JSONResponse([self.variable_out(v) for v in self.variables.values()])

    async def variable_update(self, request: Request) -> Response:
        found = await self.updating(request, "variables.update", self.variables, "Variable not found")
        if isinstance(found, Response):
            return found
        body, variable = found
        for key in ("name", "value", "type", "default_fields"):
            if body.get(key) is not None:
                variable[key] = body[key]
        return JSONResponse(self.variable_out(variable))

    async def variable_delete(self, request: Request) -> Response:
        variable = self.variables.pop(request.path_params["variable_id"], None)
        return Response(status_code=204) if variable else _detail(404, "Variable not found")

    # Monitor --------------------------------------------------------------------------------------

    async def transactions(self, request: Request) -> Response:
        errors = self.invalid("monitor.transactions-list", request, None)
        if errors:
            return _detail(422, errors)
        q = request.query_params
        flow_id = q["flow_id"]
        items = [
            {
                "timestamp": _now(),
                "vertex_id": f"ChatInput-{n}",
                "target_id": f"ChatOutput-{n}",
                "inputs": {},
                "outputs": {},
                "status": "success",
                "error": None,
                "flow_id": flow_id,
                "id": str(uuid.uuid5(uuid.UUID(flow_id), str(n))),
            }
            for n in range(TRANSACTIONS_PER_FLOW if flow_id in self.flows else 0)
        ]
        page, size = int(q.get("page", 1)), int(q.get("size", 50))
        if "ignores-pagination" in self.bugs:
            page, size = 1, 50
        return JSONResponse(_page(items, page, size))

    async def openapi(self, request: Request) -> Response:
        """A server document as incomplete as a real one: it lists the variables routes only (with
        `value` typed as an integer, against the contract's string) and one route no document knows."""
        variable = {
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "value": {"type": "integer"}},
        }
        ok = {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/VariableRead"}}}}}
        return JSONResponse(
            {
                "openapi": "3.1.0",
                "info": {"title": "Langflow", "version": RELEASE},
                "paths": {
                    "/api/v1/variables/": {"get": {"responses": ok}, "post": {"responses": {"201": ok["200"]}}},
                    "/api/v1/variables/{variable_id}": {"patch": {"responses": ok}, "delete": {"responses": {}}},
                    "/api/v1/fake-extras/ping": {"get": {"responses": {}}},
                },
                "components": {"schemas": {"VariableRead": variable}},
            }
        )

    def app(self) -> Starlette:
        def guarded(handler: Handler, anonymous: bool = False) -> Handler:
            async def endpoint(request: Request) -> Response:
                key = request.headers.get("x-api-key") or request.query_params.get("x-api-key")
                if not anonymous and key != API_KEY:
                    return _detail(403, "An API key as query or header, or a JWT token must be passed")
                return await handler(request)

            return endpoint

        routes = [
            Route("/health_check", guarded(self.health, anonymous=True)),
            Route("/openapi.json", guarded(self.openapi, anonymous=True)),
            Route("/api/v1/version", guarded(self.version, anonymous=True)),
            Route("/api/v1/auto_login", guarded(self.auto_login, anonymous=True)),
            Route("/api/v1/users/whoami", guarded(self.whoami)),
            Route("/api/v1/config", guarded(self.config)),
            Route("/api/v1/all", guarded(self.all_components)),
            Route("/api/v1/flows/", guarded(self.flow_create), methods=["POST"]),
            Route("/api/v1/flows/", guarded(self.flow_list), methods=["GET"]),
            Route("/api/v1/flows/{flow_id}", guarded(self.flow_read), methods=["GET"]),
            Route("/api/v1/flows/{flow_id}", guarded(self.flow_update), methods=["PATCH"]),
            Route("/api/v1/flows/{flow_id}", guarded(self.flow_delete), methods=["DELETE"]),
            Route("/api/v1/projects/", guarded(self.project_create), methods=["POST"]),
            Route("/api/v1/projects/", guarded(self.project_list), methods=["GET"]),
            Route("/api/v1/projects/{project_id}", guarded(self.project_read), methods=["GET"]),
            Route("/api/v1/projects/{project_id}", guarded(self.project_update), methods=["PATCH"]),
            Route("/api/v1/projects/{project_id}", guarded(self.project_delete), methods=["DELETE"]),
            Route("/api/v1/variables/", guarded(self.variable_create), methods=["POST"]),
            Route("/api/v1/variables/", guarded(self.variable_list), methods=["GET"]),
            Route("/api/v1/variables/{variable_id}", guarded(self.variable_update), methods=["PATCH"]),
            Route("/api/v1/variables/{variable_id}", guarded(self.variable_delete), methods=["DELETE"]),
            Route("/api/v1/monitor/transactions", guarded(self.transactions)),
        ]
        # FastAPI's answers when no route matches: what drift tells "not served" by.
        missing = {
            404: lambda request, exc: _detail(404, "Not Found"),
            405: lambda request, exc: _detail(405, "Method Not Allowed"),
        }
        return Starlette(routes=routes, exception_handlers=missing)  # type: ignore[arg-type]


def _page(items: list[Any], page: int, size: int) -> dict[str, Any]:
    start = (page - 1) * size
    return {
        "items": items[start : start + size],
        "total": len(items),
        "page": page,
        "size": size,
        "pages": math.ceil(len(items) / size) if size else 0,
    }


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _param_problem(schema: dict[str, Any], raw: str) -> str | None:
    """What is wrong with a path or query value for its schema (the types a URL can carry)."""
    kind = schema.get("type", "string")
    if kind == "integer":
        try:
            value = int(raw)
        except ValueError:
            return "Input should be a valid integer"
        if "minimum" in schema and value < schema["minimum"]:
            return f"Input should be greater than or equal to {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"Input should be less than or equal to {schema['maximum']}"
    elif kind == "boolean" and raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        return "Input should be a valid boolean"
    elif schema.get("format") == "uuid":
        try:
            uuid.UUID(raw)
        except ValueError:
            return "Input should be a valid UUID"
    return None


@contextmanager
def serving(bugs: set[str] | None = None, fake: Fake | None = None) -> Iterator[str]:
    """Run a fake (a given one, to look at its state afterwards) on a free loopback port; yields its URL."""
    unknown = set(bugs or ()) - set(BUGS)
    assert not unknown, f"unknown bugs {unknown}"
    with serve_app((fake or Fake(bugs=set(bugs or ()))).app(), "the fake Langflow") as url:
        yield url
