"""Credentials as httpx.Auth flows: API key (header or query), Bearer token, and login with refresh."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from conformance.errors import CredentialsError
from conformance.target.secrets import SECRETS

API_KEY_HEADER = "x-api-key"


class Anonymous(httpx.Auth):
    label = "none"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request


class ApiKeyAuth(httpx.Auth):
    """x-api-key as a header or as a query parameter; both are documented (001 'Authentication')."""

    def __init__(self, key: str, where: str = "header") -> None:
        SECRETS.add(key)
        self.key, self.where = key, where
        self.label = f"api-key ({where})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.where == "query":
            request.url = request.url.copy_merge_params({API_KEY_HEADER: self.key})
        else:
            request.headers[API_KEY_HEADER] = self.key
        yield request


class BearerAuth(httpx.Auth):
    def __init__(self, token: str, label: str = "bearer token") -> None:
        SECRETS.add(token)
        self.token, self.label = token, label

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class LoginAuth(httpx.Auth):
    """POST /api/v1/login with form fields, use the JWT, log in again once when it expires (401)."""

    requires_response_body = True

    def __init__(self, root: str, login_path: str, username: str, password: str) -> None:
        SECRETS.add(password)
        self.root, self.username, self.password = root.rstrip("/"), username, password
        self.login_url = self.root + login_path
        self.token: str | None = None
        self.label = f"login as {username}"

    def _login_request(self) -> httpx.Request:
        return httpx.Request("POST", self.login_url, data={"username": self.username, "password": self.password})

    def _store(self, response: httpx.Response) -> None:
        if response.status_code in (400, 401, 403, 422):
            raise CredentialsError(
                f"{self.login_url} refused --username {self.username!r} / --password "
                f"({response.status_code}); check the credentials"
            )
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise CredentialsError(
                f"{self.login_url} answered {response.status_code} without an access_token; "
                "is --server a Langflow with login enabled?"
            ) from None
        SECRETS.add(token)
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token is None:
            self._store((yield self._login_request()))
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            # The JWT expired during a long run: log in again once.
            self._store((yield self._login_request()))
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


def to_wire(auth: httpx.Auth) -> dict[str, str]:
    """What an xdist worker needs to rebuild the controller's credentials (sent in-process, never written)."""
    if isinstance(auth, ApiKeyAuth):
        return {"kind": "api-key", "key": auth.key, "where": auth.where}
    if isinstance(auth, BearerAuth):
        return {"kind": "bearer", "token": auth.token, "label": auth.label}
    if isinstance(auth, LoginAuth):
        return {
            "kind": "login",
            "root": auth.root,
            "login_url": auth.login_url,
            "username": auth.username,
            "password": auth.password,
        }
    return {"kind": "none"}


def from_wire(data: dict[str, str]) -> httpx.Auth:
    kind = data["kind"]
    if kind == "api-key":
        return ApiKeyAuth(data["key"], data["where"])
    if kind == "bearer":
        return BearerAuth(data["token"], data["label"])
    if kind == "login":
        login = LoginAuth(data["root"], "", data["username"], data["password"])
        login.login_url = data["login_url"]
        return login
    return Anonymous()
