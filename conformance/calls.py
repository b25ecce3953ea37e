"""Turn a catalog entry's documented example into an HTTP request."""

from __future__ import annotations

from typing import Any

import httpx

from .contract import Endpoint


def example_request(endpoint: Endpoint) -> dict[str, Any]:
    """Keyword arguments for httpx.Client.request (no resource placeholders allowed here)."""
    example = endpoint.example or {}
    params = dict(example.get("params") or {})
    path = endpoint.path
    query: dict[str, Any] = {}
    kinds = {p["name"]: p.get("in") for p in endpoint.parameters}
    for name, value in params.items():
        if kinds.get(name) == "path":
            path = path.replace("{" + name + "}", str(value))
        else:
            query[name] = value
    kwargs: dict[str, Any] = {"method": endpoint.method, "url": path, "params": query}
    if "body" in example:
        content_type = (endpoint.body or {}).get("content_type", "application/json")
        if content_type == "application/x-www-form-urlencoded":
            kwargs["data"] = example["body"]
        else:
            kwargs["json"] = example["body"]
    return kwargs


def send_example(client: httpx.Client, endpoint: Endpoint) -> httpx.Response:
    kwargs = example_request(endpoint)
    return client.request(kwargs.pop("method"), kwargs.pop("url"), **kwargs)
