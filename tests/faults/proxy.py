"""A reverse proxy in front of a real Langflow that breaks one thing at a time.

Each fault names the catalog endpoints it affects (no path is written twice) and one action, a small
named function below. Contract faults change what a healthy server says; transport faults break the
connection, the gateway or the body. `on_request` lets a test act at a chosen moment of a run (a
SIGINT while the first resource is being created)."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from conformance.contract import load_contract
from conformance.run.kinds import leaves

from ..serving import serve_app

FAULTS_FILE = Path(__file__).with_name("faults.yaml")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
STREAMS = ("text/event-stream", "application/x-ndjson")


@dataclass(frozen=True)
class Fault:
    id: str
    kind: str  # "contract" or "transport"
    group: str
    endpoints: tuple[str, ...]
    action: str
    args: dict[str, Any]
    what: str
    run_with: str = "login"  # the suite's credentials: "login" (username and password) or "api-key"


def load_faults(path: Path = FAULTS_FILE) -> list[Fault]:
    data = yaml.safe_load(path.read_text())
    faults = []
    for kind in ("contract", "transport"):
        for fid, raw in data[kind].items():
            endpoints = tuple(raw["endpoints"])
            args = {k: v for k, v in raw.items() if k not in ("endpoints", "action", "what", "run_with")}
            group = endpoints[0].split(".")[0]
            run_with = raw.get("run_with", "login")
            faults.append(Fault(fid, kind, group, endpoints, raw["action"], args, raw["what"], run_with))
    return faults


@dataclass
class Exchange:
    """One request through the proxy: what the action may read and change."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    endpoint: str | None
    raw_path: bytes = b""
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""


# Actions -------------------------------------------------------------------------------------------
# A request action returns a Response to answer without asking the server, or None to forward.
# A response action changes the exchange's status/headers/body after the server answered.


def _json_body(ex: Exchange) -> Any:
    return json.loads(ex.response_body)


def _set_json(ex: Exchange, value: Any) -> None:
    ex.response_body = json.dumps(value).encode()
    ex.response_headers["content-type"] = "application/json"


def _targets(value: Any, where: str | None) -> Iterator[dict[str, Any]]:
    """The objects a field action applies to: the body itself, each item of a list body, or what
    `where` (a dotted path, `*` for every item) points at."""
    if where:
        items = [value]
        for part in where.split("."):
            items = [x for i in items for x in (i if part == "*" and isinstance(i, list) else [_get(i, part)])]
        yield from (i for i in items if isinstance(i, dict))
    elif isinstance(value, list):
        yield from (i for i in value if isinstance(i, dict))
    elif isinstance(value, dict):
        yield value


def _get(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list) and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    return None


def drop_field(ex: Exchange, field: str, where: str | None = None) -> None:
    body = _json_body(ex)
    for target in _targets(body, where):
        target.pop(field, None)
    _set_json(ex, body)


def retype_field(ex: Exchange, field: str, value: Any, where: str | None = None) -> None:
    body = _json_body(ex)
    for target in _targets(body, where):
        if field in target:
            target[field] = value
    _set_json(ex, body)


def change_status(ex: Exchange, to: int, when: int | None = None) -> None:
    if when is None or ex.status == when:
        ex.status = to


def wrap_list(ex: Exchange, key: str = "items") -> None:
    body = _json_body(ex)
    if isinstance(body, list):
        _set_json(ex, {key: body})


def empty_list(ex: Exchange) -> None:
    if isinstance(_json_body(ex), list):
        _set_json(ex, [])


def replace_body(ex: Exchange, when: int, status: int, body: Any) -> None:
    """An answer swapped for another: an unknown id answered 200, invalid input answered 500."""
    if ex.status == when:
        ex.status = status
        _set_json(ex, body)


def content_type(ex: Exchange, to: str) -> None:
    if ex.status < 300:
        ex.response_headers["content-type"] = to


def replace_text(ex: Exchange, old: str, new: str) -> None:
    ex.response_body = ex.response_body.replace(old.encode(), new.encode())


def drop_events(ex: Exchange, event: str) -> None:
    """NDJSON or SSE: leave out every event of this type."""
    kept = [
        line
        for line in ex.response_body.split(b"\n")
        if not re.search(rb'"event"\s*:\s*"' + event.encode() + rb'"|^event: ?' + event.encode() + rb"\s*$", line)
    ]
    ex.response_body = b"\n".join(kept)


def truncate(ex: Exchange) -> None:
    ex.response_body = ex.response_body[: max(1, len(ex.response_body) // 2)]


def non_json(ex: Exchange) -> None:
    ex.response_body = b"<html><body><h1>Welcome</h1>An error occurred.</body></html>"


def huge_body(ex: Exchange, megabytes: int = 10) -> None:
    _set_json(ex, ["x" * 1000] * (megabytes * 1000))


# Request actions: answered (or altered) before the server sees anything.


def skip_auth(ex: Exchange, proxy: FaultProxy) -> None:
    """Auth not enforced: a request without credentials is sent on with the proxy's own key."""
    has_query_key = any(k == "x-api-key" for k, _ in ex.query)
    if "x-api-key" not in ex.headers and "authorization" not in ex.headers and not has_query_key:
        assert proxy.api_key, "skip_auth needs the proxy's api_key"
        ex.headers["x-api-key"] = proxy.api_key


def ignore_query_key(ex: Exchange, proxy: FaultProxy) -> None:
    ex.query = [(k, v) for k, v in ex.query if k != "x-api-key"]


def ignore_bearer(ex: Exchange, proxy: FaultProxy) -> None:
    if ex.headers.get("authorization", "").lower().startswith("bearer "):
        del ex.headers["authorization"]


def no_op_delete(ex: Exchange, proxy: FaultProxy, status: int = 204) -> Response:
    """A delete that does not delete: answered without asking the server."""
    return Response(status_code=status)


def no_op_update(ex: Exchange, proxy: FaultProxy) -> None:
    """An update that does not update: the server is asked to read, not to change."""
    ex.method, ex.body = "GET", b""
    ex.headers.pop("content-type", None)


def remove_route(ex: Exchange, proxy: FaultProxy) -> Response:
    """The endpoint is gone: FastAPI's own answer when no route matches."""
    return Response(b'{"detail":"Not Found"}', status_code=404, media_type="application/json")


def gateway_error(ex: Exchange, proxy: FaultProxy) -> Response:
    return Response(b"<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html")


async def slow(ex: Exchange, proxy: FaultProxy, seconds: float) -> None:
    await asyncio.sleep(seconds)


# Tenancy: who owns what, learned by watching the run (Tenancy.learn), and requests sent on with the
# credential of another user -- from outside, exactly a server that ignores ownership.

WHOAMI = "/api/v1/users/whoami"
Credential = tuple[str, str]  # (where, value): ("authorization", "Bearer ..."), ("x-api-key", K), ("query", K)


def credential_of(ex: Exchange) -> Credential | None:
    """The credential Langflow would go by: a Bearer token first, then x-api-key (query, then header)."""
    if "authorization" in ex.headers:
        return ("authorization", ex.headers["authorization"])
    query = next((v for k, v in ex.query if k == "x-api-key"), None)
    if query is not None:
        return ("query", query)
    return ("x-api-key", ex.headers["x-api-key"]) if "x-api-key" in ex.headers else None


def _send_as(ex: Exchange, credential: Credential) -> None:
    """The request's own credentials (and cookies, which may carry a login) replaced by `credential`."""
    for name in ("authorization", "x-api-key", "cookie"):
        ex.headers.pop(name, None)
    ex.query = [(k, v) for k, v in ex.query if k != "x-api-key"]
    where, value = credential
    if where == "query":
        ex.query.append(("x-api-key", value))
    else:
        ex.headers[where] = value


def _named_ids(ex: Exchange) -> list[str]:
    """Every value the request names: path segments, query values, the JSON body's strings."""
    named = [*ex.path.split("/"), *(v for _, v in ex.query)]
    try:
        body = json.loads(ex.body) if ex.body else None
    except (ValueError, UnicodeDecodeError):  # a form, a file
        body = None
    return named + [v for v in leaves(body) if isinstance(v, str)]


@dataclass
class Tenancy:
    """Ids the run's answers carried, each with the credential of the request that first showed it
    (its creator, or its owner's list), and which credentials showed new ids, most recent last."""

    owners: dict[str, Credential] = field(default_factory=dict)
    creators: list[Credential] = field(default_factory=list)
    valid: dict[Credential, bool] = field(default_factory=dict)  # does the server take it

    def learn(self, credential: Credential | None, body: bytes) -> None:
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return
        # The object itself, a list's items, and a page's items ({"api_keys": [...]}, {"files": [...]}).
        items = value if isinstance(value, list) else [value]
        if isinstance(value, dict):
            items += [i for v in value.values() if isinstance(v, list) for i in v]
        new = [str(i["id"]) for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]
        new = [i for i in new if i not in self.owners]
        if credential is None or not new:
            return
        self.owners.update(dict.fromkeys(new, credential))
        with contextlib.suppress(ValueError):
            self.creators.remove(credential)
        self.creators.append(credential)


async def ignore_ownership(ex: Exchange, proxy: FaultProxy) -> None:
    """A server that finds a resource by id alone: a request naming another user's id (in its path,
    query or JSON body) is sent on with that user's credential, so it reads, changes, deletes or runs
    what the caller does not own."""
    caller = credential_of(ex)
    other = next((o for i in _named_ids(ex) if (o := proxy.tenancy.owners.get(i)) and o != caller), None)
    if other is not None and await _authenticated(proxy, caller):
        _send_as(ex, other)


async def ignore_owner_filter(ex: Exchange, proxy: FaultProxy) -> None:
    """A list that does not filter by its caller: sent on with the credential of the user who most
    recently created something, other than the caller, so it lists that user's resources."""
    caller = credential_of(ex)
    other = next((c for c in reversed(proxy.tenancy.creators) if c != caller), None)
    if other is not None and await _authenticated(proxy, caller):
        _send_as(ex, other)


async def _authenticated(proxy: FaultProxy, credential: Credential | None) -> bool:
    """Does the server take this credential (asked once)? Such a server still authenticates: a request
    without credentials, or with a wrong key, stays refused."""
    if credential is None:
        return False
    if credential not in proxy.tenancy.valid:
        probe = Exchange("GET", WHOAMI, [], {}, b"", None)
        _send_as(probe, credential)
        answer = await proxy.client.get(WHOAMI, params=probe.query, headers=probe.headers)
        if answer.status_code not in (200, 401, 403):
            return False  # a busy server's 5xx is no verdict on the credential: ask again next time
        proxy.tenancy.valid[credential] = answer.status_code == 200
    return proxy.tenancy.valid[credential]


# Status and headers only: the body (an endless event stream, say) is not read.
HEADER_ACTIONS: dict[str, Callable[..., None]] = {f.__name__: f for f in (change_status, content_type)}
RESPONSE_ACTIONS: dict[str, Callable[..., None]] = {
    f.__name__: f
    for f in (
        drop_field,
        retype_field,
        wrap_list,
        empty_list,
        replace_body,
        replace_text,
        drop_events,
        truncate,
        non_json,
        huge_body,
    )
}
REQUEST_ACTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        skip_auth,
        ignore_query_key,
        ignore_bearer,
        no_op_delete,
        no_op_update,
        remove_route,
        gateway_error,
        slow,
        ignore_ownership,
        ignore_owner_filter,
    )
}
# Request actions that need to know who owns what: every JSON answer of the run is read to learn it.
TENANCY_ACTIONS = {ignore_ownership.__name__, ignore_owner_filter.__name__}
RESET = "reset"  # the connection is cut after the headers: no action function can express that


# The proxy ----------------------------------------------------------------------------------------


class Router:
    """Which catalog endpoint a request is for (literal segments win over placeholders)."""

    def __init__(self, release: str) -> None:
        contract = load_contract().select(release)
        routes = []
        for e in contract.endpoints:
            for path in (e.path, *e.aliases):
                literal = len(re.sub(r"\{[^}]+\}", "", path))
                pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path.rstrip("/"))) + "/?$")
                routes.append((-literal, e.method, pattern, e.id))
        self.routes = sorted(routes, key=lambda r: r[0])
        self.openapi_removals: dict[str, list[tuple[str, str]]] = {}
        self.by_id = {e.id: e for e in contract.endpoints}

    def endpoint(self, method: str, path: str) -> str | None:
        for _, m, pattern, eid in self.routes:
            if m == method and pattern.match(path):
                return eid
        return None


@dataclass
class FaultProxy:
    upstream: str
    router: Router
    fault: Fault | None = None
    api_key: str | None = None
    on_request: Callable[[Exchange], Awaitable[None] | None] | None = None
    hits: int = 0  # requests the fault applied to
    url: str = ""
    tenancy: Tenancy = field(default_factory=Tenancy)
    client: httpx.AsyncClient = field(init=False)

    def applies(self, ex: Exchange) -> bool:
        return self.fault is not None and ex.endpoint in self.fault.endpoints

    async def handle(self, request: Request) -> Response:
        ex = Exchange(
            method=request.method,
            path=request.url.path,
            query=list(request.query_params.multi_items()),
            headers={k.lower(): v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP},
            body=await request.body(),
            endpoint=self.router.endpoint(request.method, request.url.path),
            raw_path=request.scope.get("raw_path") or request.url.path.encode(),
        )
        if self.on_request is not None:
            done = self.on_request(ex)
            if done is not None:
                await done
        fault = self.fault if self.applies(ex) else None
        if fault is not None:
            self.hits += 1
        if fault is not None and fault.action in REQUEST_ACTIONS:
            result = REQUEST_ACTIONS[fault.action](ex, self, **fault.args)
            if asyncio.iscoroutine(result):
                result = await result
            if isinstance(result, Response):
                return result
        if ex.path == "/openapi.json" and self.fault is not None and self.fault.action == "remove_route":
            return await self._openapi_without(ex, self.fault)
        client: httpx.AsyncClient = self.client
        # The path as the client sent it, byte for byte: negative tests send what httpx would not build.
        url = httpx.URL(self.upstream).copy_with(
            raw_path=ex.raw_path + (b"?" + urlencode(ex.query).encode() if ex.query else b"")
        )
        upstream = client.build_request(
            ex.method, url, headers={**ex.headers, "accept-encoding": "identity"}, content=ex.body
        )
        try:
            answer = await client.send(upstream, stream=True)
        except httpx.HTTPError as exc:  # what a gateway says when the server behind it fails
            return Response(f"proxy: upstream {type(exc).__name__}".encode(), 502, media_type="text/plain")
        headers = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        status = answer.status_code
        if fault is not None and fault.action in HEADER_ACTIONS:  # the body streams through unread
            ex.status, ex.response_headers = status, headers
            HEADER_ACTIONS[fault.action](ex, **fault.args)
            status, headers = ex.status, ex.response_headers
        if self._learns(status, headers):  # a JSON answer: who owns the ids it carries
            try:
                body = await answer.aread()
            finally:
                await answer.aclose()
            self.tenancy.learn(credential_of(ex), body)
            return Response(body, status, headers=headers)
        if fault is None or fault.action in REQUEST_ACTIONS or fault.action in HEADER_ACTIONS:
            return StreamingResponse(
                answer.aiter_raw(), status, headers=headers, background=BackgroundTask(answer.aclose)
            )
        try:
            ex.response_body = await answer.aread()
        finally:
            await answer.aclose()
        ex.status, ex.response_headers = answer.status_code, headers
        if fault.action == RESET:
            return _ResetResponse()
        # Not the JSON this fault changes (an error page, say): the answer stays as it was.
        with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
            RESPONSE_ACTIONS[fault.action](ex, **fault.args)
        return Response(ex.response_body, ex.status, headers=ex.response_headers)

    def _learns(self, status: int, headers: dict[str, str]) -> bool:
        tenancy = self.fault is not None and self.fault.action in TENANCY_ACTIONS
        return tenancy and 200 <= status < 300 and headers.get("content-type", "").startswith("application/json")

    async def _openapi_without(self, ex: Exchange, fault: Fault) -> Response:
        answer = await self.client.get(ex.path, headers={"accept-encoding": "identity"})
        document = answer.json()
        for eid in fault.endpoints:
            e = self.router.by_id[eid]
            document.get("paths", {}).get(e.path, {}).pop(e.method.lower(), None)
        return Response(json.dumps(document), answer.status_code, media_type="application/json")

    def app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            # No cookie jar: a login's session cookie would authenticate every later request of every client.
            jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            # A new connection per request: a server closes its end after an unhandled exception's 500
            # (Starlette re-raises it to uvicorn once the answer is sent), and a pooled connection it is
            # closing would turn the next request into a 502 of the proxy, not the server's answer.
            limits = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=self.upstream, timeout=600.0, cookies=jar, limits=limits) as client:
                self.client = client
                yield

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=methods)], lifespan=lifespan)


class _ResetResponse(Response):
    """Headers, then the connection cut with a TCP reset (SO_LINGER 0), the way a crashed or killed
    upstream behind a load balancer looks to a client."""

    def __init__(self) -> None:
        super().__init__(status_code=200, media_type="application/json")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b'{"id": ', "more_body": True})
        raise ConnectionResetError("fault: connection reset")


@contextmanager
def proxying(
    upstream: str,
    fault: Fault | None = None,
    api_key: str | None = None,
    release: str = "1.13.0",
    on_request: Callable[[Exchange], Awaitable[None] | None] | None = None,
) -> Iterator[FaultProxy]:
    """A proxy to `upstream` with at most one fault; `proxy.url` is where to point the suite."""
    proxy = FaultProxy(upstream, Router(release), fault, api_key, on_request)
    # Quiet: a cut connection is the fault itself, not an error of the proxy worth a traceback.
    with serve_app(proxy.app(), "the fault proxy", log_level="critical") as url:
        proxy.url = url
        yield proxy
