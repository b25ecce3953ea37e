"""Credentials on the wire, login with refresh, 429 + Retry-After, and secret masking."""

from __future__ import annotations

import httpx
import pytest

from conformance.errors import CredentialsError
from conformance.target import client as client_mod
from conformance.target.auth import ApiKeyAuth, BearerAuth, LoginAuth, from_wire, to_wire
from conformance.target.client import make_client, stats_of
from conformance.target.secrets import SECRETS, Secrets


def recording_client(auth: httpx.Auth, handler) -> httpx.Client:
    client = make_client("http://lf.test/prefix", auth, 5)
    client._transport.inner = httpx.MockTransport(handler)  # type: ignore[attr-defined]
    return client


def test_api_key_as_header_or_query() -> None:
    seen: list[httpx.Request] = []
    handler = lambda r: (seen.append(r), httpx.Response(200))[1]  # noqa: E731
    recording_client(ApiKeyAuth("sk-header-key-123456789", "header"), handler).get("/api/v1/flows/")
    recording_client(ApiKeyAuth("sk-query-key-1234567890", "query"), handler).get("/api/v1/flows/", params={"a": 1})
    assert seen[0].headers["x-api-key"] == "sk-header-key-123456789" and "x-api-key" not in seen[0].url.params
    assert seen[1].url.params["x-api-key"] == "sk-query-key-1234567890" and seen[1].url.params["a"] == "1"
    assert "x-api-key" not in seen[1].headers


def test_bearer_token() -> None:
    seen: list[httpx.Request] = []
    recording_client(BearerAuth("hosted-app-token-xyz"), lambda r: (seen.append(r), httpx.Response(200))[1]).get("/x")
    assert seen[0].headers["authorization"] == "Bearer hosted-app-token-xyz"


def test_login_then_relogin_when_the_jwt_expires() -> None:
    logins: list[dict] = []
    tokens = iter(["jwt-one-aaaaaaaa", "jwt-two-bbbbbbbb"])
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/prefix/api/v1/login":
            logins.append(dict(httpx.QueryParams(request.content.decode())))
            return httpx.Response(200, json={"access_token": next(tokens), "token_type": "bearer"})
        calls.append(request.headers["authorization"])
        # the first token "expires" after one use
        return httpx.Response(
            401 if request.headers["authorization"] == "Bearer jwt-one-aaaaaaaa" and len(calls) > 1 else 200
        )

    client = recording_client(LoginAuth("http://lf.test/prefix", "/api/v1/login", "ops", "pw-secret-1"), handler)
    assert client.get("/api/v1/flows/").status_code == 200
    assert client.get("/api/v1/flows/").status_code == 200
    assert logins == [{"username": "ops", "password": "pw-secret-1"}] * 2
    assert calls == ["Bearer jwt-one-aaaaaaaa", "Bearer jwt-one-aaaaaaaa", "Bearer jwt-two-bbbbbbbb"]


def test_rejected_login_is_a_credentials_error() -> None:
    handler = lambda r: httpx.Response(401, json={"detail": "Incorrect username or password"})  # noqa: E731
    client = recording_client(LoginAuth("http://lf.test/prefix", "/api/v1/login", "ops", "bad-pass"), handler)
    with pytest.raises(CredentialsError, match="refused --username 'ops'"):
        client.get("/api/v1/flows/")


def test_wire_round_trip() -> None:
    for auth in (ApiKeyAuth("sk-abcdefghijklmnopqrstu", "query"), BearerAuth("tok-abcdef", "auto_login JWT")):
        assert to_wire(from_wire(to_wire(auth))) == to_wire(auth)


def test_429_with_retry_after_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(client_mod.time, "sleep", waits.append)
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": 1})])
    client = recording_client(BearerAuth("t-123456"), lambda r: next(answers))
    response = client.post("/api/v1/login", data={"username": "u"})
    assert response.status_code == 200 and waits == [7.0]
    assert stats_of(client).requests == 2


def test_429_without_retry_after_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod.time, "sleep", lambda s: pytest.fail("must not wait"))
    client = recording_client(BearerAuth("t-123456"), lambda r: httpx.Response(429))
    assert client.get("/x").status_code == 429


def test_masking() -> None:
    secrets = Secrets()
    secrets.add("my-password-1")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlX3Jl"
    key = "sk-AbCdEfGhIj" + "KlMnOpQrStUvWxYz012345"  # split: no key-shaped literal in the repository
    text = f"pw my-password-1 key {key} jwt {jwt}"
    masked = secrets.mask(text)
    assert "my-password-1" not in masked and "sk-AbCd" not in masked and "eyJhbGciOi" not in masked
    assert masked.count("***") == 3
    assert SECRETS.mask("nothing secret here") == "nothing secret here"


def test_the_breakers_stop_waiting_on_a_hung_endpoint_and_on_a_hung_server(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    hung = {"/a", "/b", "/c", "/d", "/e"}

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path.removeprefix("/prefix"))
        if sent[-1] in hung:
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200)

    client = recording_client(ApiKeyAuth("sk-breaker-key-123456789", "header"), handler)
    stats = stats_of(client)
    stats.route = lambda method, path: f"{method} {path.removeprefix('/prefix')}"
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(client_mod.time, "perf_counter", lambda: float(next(clock)))

    def get(path: str) -> str:
        try:
            return str(client.get(path).status_code)
        except client_mod.EndpointStalled:
            return "not sent"
        except httpx.TimeoutException:
            return "timeout"

    # One endpoint hangs: after its second timeout its requests are not sent, the others still are.
    assert [get("/a"), get("/ok"), get("/a"), get("/ok"), get("/a"), get("/ok")] == [
        "timeout",
        "200",
        "timeout",
        "200",
        "not sent",
        "200",
    ]
    # Three in a row: the next request is a probe; when it goes unanswered too, the server counts as
    # hung and requests fail at once until a later probe is answered.
    assert [get("/b"), get("/c"), get("/d")] == ["timeout", "timeout", "timeout"]
    assert stats.hung_since is not None
    assert get("/e") == "timeout" and get("/ok") == "not sent" and sent[-1] == "/e"
    hung.clear()
    for _ in range(10):  # the fake clock moves 10 s a call; the probe goes out after HUNG_REPROBE_S
        if get("/ok") == "200":
            break
    assert stats.hung_since is None and get("/ok") == "200"
    assert stats.waited_s > 0 and set(stats.stalled) == {"GET /a", "GET /b", "GET /c", "GET /d", "GET /e"}


def test_three_endpoints_that_hang_are_no_hung_server() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/prefix/ok":
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200)

    client = recording_client(ApiKeyAuth("sk-breaker-key-123456789", "header"), handler)
    stats_of(client).route = lambda method, path: f"{method} {path}"
    for path in ("/a", "/b", "/c"):
        with pytest.raises(httpx.TimeoutException):
            client.get(path)
    assert client.get("/ok").status_code == 200  # the probe answers: requests go on as before
    assert stats_of(client).hung_since is None and client.get("/ok").status_code == 200
