"""A Bearer-token gateway in front of a Langflow, the hosted-Langflow pattern (document 003: requests
carry `Authorization: Bearer <application token>` "instead of x-api-key" under `/lf/<id>/`).

The gateway accepts only its application token, refuses a request that brings an `x-api-key` (header
or query) without it, and forwards the rest to Langflow with the prefix stripped, the Authorization
header removed and its own upstream API key as `x-api-key`. Bodies stream both ways unbuffered."""

from __future__ import annotations

import contextlib
import http.cookiejar
import secrets
from collections.abc import AsyncIterator
from contextlib import ExitStack
from urllib.parse import parse_qsl, urlencode

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from conformance.target.secrets import SECRETS

from ..serving import serve_app
from . import Service

# Hop-by-hop headers (RFC 9110 7.6.1) and what the gateway itself owns.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
REQUEST_DROPPED = HOP_BY_HOP | {"host", "authorization", "x-api-key"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Gateway(Service):
    """`with Gateway(upstream, api_key) as gw:` serves `gw.url` (http://127.0.0.1:PORT/lf/<id>);
    clients authenticate with `Authorization: Bearer {gw.token}`."""

    def __init__(self, upstream: str, api_key: str, prefix: str | None = None, token: str | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.api_key = api_key
        self.prefix = prefix or f"/lf/{secrets.token_hex(8)}"
        self.token = token or "AstraCS:" + secrets.token_urlsafe(32)  # shaped like an Astra application token
        SECRETS.add(self.token)
        self.base = ""
        self.client: httpx.AsyncClient | None = None
        self._stack: ExitStack | None = None

    @property
    def url(self) -> str:
        return self.base + self.prefix

    async def handle(self, request: Request) -> Response:
        raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
        prefix = self.prefix.encode()
        if not (raw_path == prefix or raw_path.startswith(prefix + b"/")):
            return JSONResponse({"detail": "Not Found"}, 404)
        refused = self._refusal(request)
        if refused is not None:
            return JSONResponse({"detail": refused}, 401, headers={"WWW-Authenticate": 'Bearer realm="langflow"'})
        query = request.scope.get("query_string", b"")
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if any(name == "x-api-key" for name, _ in pairs):  # the gateway alone holds Langflow's key
            query = urlencode([(n, v) for n, v in pairs if n != "x-api-key"]).encode()
        url = httpx.URL(self.upstream).copy_with(
            raw_path=(raw_path[len(prefix) :] or b"/") + (b"?" + query if query else b"")
        )
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in REQUEST_DROPPED]
        headers.append(("x-api-key", self.api_key))
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        assert self.client is not None
        upstream = self.client.build_request(
            request.method, url, headers=headers, content=request.stream() if has_body else None
        )
        try:
            try:
                answer = await self.client.send(upstream, stream=True)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # A pooled connection uvicorn had just closed: a proxy retries a bodiless request once.
                if has_body:
                    raise
                answer = await self.client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            return JSONResponse({"detail": f"gateway: upstream {type(exc).__name__}"}, 502)
        response = StreamingResponse(answer.aiter_raw(), answer.status_code, background=BackgroundTask(answer.aclose))
        # Raw headers: every Set-Cookie kept, Content-Encoding and Content-Length describe the raw bytes.
        response.raw_headers = [
            (k.encode("latin-1"), self._location(v) if k == "location" else v.encode("latin-1"))
            for k, v in answer.headers.multi_items()
            if k not in HOP_BY_HOP
        ]
        return response

    def _refusal(self, request: Request) -> str | None:
        """Why the request may not pass, or None."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode(), self.token.encode()):
            return None
        if "x-api-key" in request.headers or "x-api-key" in request.query_params:
            return "x-api-key is not accepted here: send Authorization: Bearer <application token>"
        if scheme:
            return "invalid application token"
        return "missing Authorization: Bearer <application token>"

    def _location(self, value: str) -> bytes:
        """An upstream redirect points at the upstream: point it at the gateway (nginx's proxy_redirect)."""
        if value.startswith(self.upstream + "/"):
            value = self.url + value[len(self.upstream) :]
        elif value.startswith("/"):
            value = self.prefix + value
        return value.encode("latin-1")

    def app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            # No cookie jar: one client's login cookie must not authenticate another's requests.
            jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            timeout = httpx.Timeout(10.0, read=None, write=None)  # streams stay open as long as Langflow's
            limits = httpx.Limits(keepalive_expiry=1.5)  # below uvicorn's 5 s: never reuse what it closes
            async with httpx.AsyncClient(timeout=timeout, limits=limits, cookies=jar, follow_redirects=False) as client:
                self.client = client
                yield
                self.client = None

        return Starlette(routes=[Route("/{path:path}", self.handle, methods=METHODS)], lifespan=lifespan)

    def start(self) -> None:
        self._stack = ExitStack()
        try:
            self.base = self._stack.enter_context(serve_app(self.app(), "the Bearer gateway"))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
