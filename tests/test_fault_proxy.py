"""The fault proxy's tenancy actions against a tiny in-memory upstream (no Langflow): ids learned from
answers, a request for another user's id sent on with that user's credential, a list sent on with the
credential of the user who created last, and nothing for callers the server would refuse anyway."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .faults.proxy import Fault, proxying
from .serving import serve_app

KEYS = {"key-a": "alice", "key-b": "bob"}  # not key-shaped: the secret searches look for sk-...


def _upstream() -> Starlette:
    """Flows owned by whoever created them; every request answers as the user its key names."""
    flows: dict[str, dict[str, str]] = {}
    ids = itertools.count(1)

    def user(request: Request) -> str | None:
        return KEYS.get(request.headers.get("x-api-key") or request.query_params.get("x-api-key") or "")

    async def whoami(request: Request) -> Response:
        who = user(request)
        return JSONResponse({"username": who}) if who else JSONResponse({"detail": "no"}, 401)

    async def create(request: Request) -> Response:
        who = user(request)
        if who is None:
            return JSONResponse({"detail": "no"}, 401)
        flow = {"id": f"00000000-0000-4000-8000-{next(ids):012d}", "owner": who}
        flows[flow["id"]] = flow
        return JSONResponse(flow, 201)

    async def listing(request: Request) -> Response:
        who = user(request)
        if who is None:
            return JSONResponse({"detail": "no"}, 401)
        return JSONResponse([f for f in flows.values() if f["owner"] == who])

    async def read(request: Request) -> Response:
        who = user(request)
        if who is None:
            return JSONResponse({"detail": "no"}, 401)
        flow = flows.get(request.path_params["flow_id"])
        if flow is None or flow["owner"] != who:
            return JSONResponse({"detail": "Flow not found"}, 404)
        return JSONResponse({**flow, "served_as": who})

    return Starlette(
        routes=[
            Route("/api/v1/users/whoami", whoami),
            Route("/api/v1/flows/", create, methods=["POST"]),
            Route("/api/v1/flows/", listing),
            Route("/api/v1/flows/{flow_id}", read),
        ]
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve_app(_upstream(), "the tenancy upstream") as url:
        yield url


def _fault(action: str, *endpoints: str) -> Fault:
    return Fault(f"test-{action}", "contract", "flows", endpoints, action, {}, "test")


def _create(url: str, key: str) -> str:
    created = httpx.post(f"{url}/api/v1/flows/", headers={"x-api-key": key}, json={}, timeout=10)
    assert created.status_code == 201
    return str(created.json()["id"])


def test_ignore_ownership_answers_with_the_owners_credential(upstream: str) -> None:
    with proxying(upstream, _fault("ignore_ownership", "flows.read")) as proxy:
        alices = _create(proxy.url, "key-a")
        read = httpx.get(f"{proxy.url}/api/v1/flows/{alices}", headers={"x-api-key": "key-b"}, timeout=10)
        assert read.status_code == 200 and read.json()["served_as"] == "alice"
        by_query = httpx.get(f"{proxy.url}/api/v1/flows/{alices}", params={"x-api-key": "key-b"}, timeout=10)
        assert by_query.status_code == 200
        # The server still authenticates: no key, or a wrong one, is refused as before.
        assert httpx.get(f"{proxy.url}/api/v1/flows/{alices}", timeout=10).status_code == 401
        wrong = httpx.get(f"{proxy.url}/api/v1/flows/{alices}", headers={"x-api-key": "key-x"}, timeout=10)
        assert wrong.status_code == 401
        unknown = httpx.get(f"{proxy.url}/api/v1/flows/nobodys", headers={"x-api-key": "key-b"}, timeout=10)
        assert unknown.status_code == 404


def test_ignore_owner_filter_lists_the_last_creators_resources(upstream: str) -> None:
    with proxying(upstream, _fault("ignore_owner_filter", "flows.list")) as proxy:
        alices, bobs = _create(proxy.url, "key-a"), _create(proxy.url, "key-b")
        as_alice = httpx.get(f"{proxy.url}/api/v1/flows/", headers={"x-api-key": "key-a"}, timeout=10)
        as_bob = httpx.get(f"{proxy.url}/api/v1/flows/", headers={"x-api-key": "key-b"}, timeout=10)
        assert bobs in {f["id"] for f in as_alice.json()} and alices not in {f["id"] for f in as_alice.json()}
        assert alices in {f["id"] for f in as_bob.json()}
        assert httpx.get(f"{proxy.url}/api/v1/flows/", timeout=10).status_code == 401


def test_without_the_fault_the_proxy_changes_no_credential(upstream: str) -> None:
    with proxying(upstream, _fault("ignore_ownership", "flows.delete")) as proxy:
        alices = _create(proxy.url, "key-a")
        read = httpx.get(f"{proxy.url}/api/v1/flows/{alices}", headers={"x-api-key": "key-b"}, timeout=10)
        assert read.status_code == 404
