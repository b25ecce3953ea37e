"""The server URL: a root that may carry a path prefix (hosted: https://HOST/lf/ID)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from conformance.errors import OptionError

# Users paste what they see in the docs: tolerate an API path on the end and strip it.
_API_SUFFIXES = ("/api/v1", "/api/v2", "/api")


def normalize_server_url(raw: str) -> str:
    """Return the server root without a trailing slash; raise OptionError on a URL we cannot use."""
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OptionError(
            f"--server {raw!r} is not an http(s) URL; give the Langflow root, e.g. --server http://127.0.0.1:7860"
        )
    if parts.query or parts.fragment:
        raise OptionError(f"--server {raw!r} has a query or fragment; give only scheme, host and path prefix")
    path = parts.path.rstrip("/")
    for suffix in _API_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def join(root: str, path: str) -> str:
    """Join the server root (with its prefix) and an absolute API path from the catalog."""
    return root.rstrip("/") + "/" + path.lstrip("/")


def api_version_of(path: str) -> str:
    """v1, v2 or unversioned, from a catalog path."""
    for version in ("v1", "v2"):
        if path.startswith(f"/api/{version}/") or path == f"/api/{version}":
            return version
    return "unversioned"
