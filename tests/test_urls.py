"""Server URLs with path prefixes (hosted: https://HOST/lf/ID) and tolerated trailing slashes."""

from __future__ import annotations

import httpx
import pytest

from conformance.errors import OptionError
from conformance.target.auth import Anonymous
from conformance.target.client import make_client
from conformance.target.urls import api_version_of, join, normalize_server_url


@pytest.mark.parametrize(
    ("raw", "root"),
    [
        ("http://127.0.0.1:7860", "http://127.0.0.1:7860"),
        ("http://127.0.0.1:7860/", "http://127.0.0.1:7860"),
        ("https://api.langflow.astra.datastax.com/lf/ID", "https://api.langflow.astra.datastax.com/lf/ID"),
        ("https://api.langflow.astra.datastax.com/lf/ID///", "https://api.langflow.astra.datastax.com/lf/ID"),
        ("https://host/lf/ID/api/v1", "https://host/lf/ID"),
        ("https://host/lf/ID/api/v1/", "https://host/lf/ID"),
        ("http://host:7860/api", "http://host:7860"),
    ],
)
def test_normalize(raw: str, root: str) -> None:
    assert normalize_server_url(raw) == root


@pytest.mark.parametrize("raw", ["127.0.0.1:7860", "ftp://host", "http://", "http://h/?x=1"])
def test_unusable_urls_are_option_errors(raw: str) -> None:
    with pytest.raises(OptionError):
        normalize_server_url(raw)


def test_join_keeps_the_prefix() -> None:
    assert join("https://host/lf/ID", "/api/v1/run/abc") == "https://host/lf/ID/api/v1/run/abc"
    assert join("https://host/lf/ID/", "/health_check") == "https://host/lf/ID/health_check"


def test_client_sends_catalog_paths_below_the_prefix() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    with make_client("https://host/lf/ID", Anonymous(), 5) as client:
        client._transport.inner = httpx.MockTransport(handler)  # type: ignore[attr-defined]
        client.get("/api/v1/version")
        client.get("/health_check")
    assert seen == ["https://host/lf/ID/api/v1/version", "https://host/lf/ID/health_check"]


@pytest.mark.parametrize(
    ("path", "version"),
    [("/api/v1/flows/", "v1"), ("/api/v2/files", "v2"), ("/health_check", "unversioned"), ("/logs", "unversioned")],
)
def test_api_version(path: str, version: str) -> None:
    assert api_version_of(path) == version
