"""Turn a catalog entry's documented example into an HTTP exchange (streams read with a bounded wait)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from .contract import Endpoint
from .streams import IDLE_S, StreamResult, is_stream, read_events


@dataclass
class Exchange:
    """What came back: the response (body read, unless it was a stream) and the stream's events."""

    response: httpx.Response
    stream: StreamResult | None = None
    notes: list[str] = field(default_factory=list)


def stand_in(value: Any, filler: str) -> Any:
    """Replace resource placeholders ("@flow.id") with a filler: for requests that must be refused
    before the resource matters (auth), an unknown id is as good as a real one."""
    if isinstance(value, str) and value.startswith("@"):
        return filler
    if isinstance(value, dict):
        return {k: stand_in(v, filler) for k, v in value.items()}
    if isinstance(value, list):
        return [stand_in(v, filler) for v in value]
    return value


def example_request(endpoint: Endpoint, filler: str | None = None) -> dict[str, Any]:
    """Keyword arguments for httpx.Client.request. Resource placeholders stay as they are unless
    `filler` replaces them; required parameters the example leaves out get the filler too."""
    example = dict(endpoint.example or {})
    if filler is not None:
        example = stand_in(example, filler)
        params = dict(example.get("params") or {})
        for p in endpoint.parameters:
            if p.get("required") and p["name"] not in params:
                params[p["name"]] = filler
        example["params"] = params
    path = endpoint.path
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    where = {p["name"]: p.get("in") for p in endpoint.parameters}
    for name, value in (example.get("params") or {}).items():
        if where.get(name) == "path":
            path = path.replace("{" + name + "}", str(value))
        elif where.get(name) == "header":
            headers[name] = str(value)
        else:
            query[name] = value
    kwargs: dict[str, Any] = {"method": endpoint.method, "url": path, "params": query, "headers": headers}
    if "body" in example:
        content_type = (endpoint.body or {}).get("content_type", "application/json")
        if content_type == "application/x-www-form-urlencoded":
            kwargs["data"] = example["body"]
        else:
            kwargs["json"] = example["body"]
    return kwargs


def send(client: httpx.Client, endpoint: Endpoint, **kwargs: Any) -> Exchange:
    """Send a request; if the answer is a stream, read its events per the entry's `stream` framing."""
    method, url = kwargs.pop("method"), kwargs.pop("url")
    spec = endpoint.stream or {}
    timeout = client.timeout
    if spec or any(is_stream(ct) for r in endpoint.responses.values() for ct in r.content_types):
        timeout = httpx.Timeout(client.timeout.connect or 5.0, read=IDLE_S, connect=client.timeout.connect)
    with client.stream(method, url, timeout=timeout, **kwargs) as response:
        content_type = response.headers.get("content-type", "")
        if is_stream(content_type) and 200 <= response.status_code < 300:
            framing = spec.get("framing") or ("sse" if content_type.startswith("text/event-stream") else "ndjson")
            return Exchange(response, read_events(response, framing, spec.get("end_event")))
        response.read()
        return Exchange(response)


def send_example(client: httpx.Client, endpoint: Endpoint) -> Exchange:
    return send(client, endpoint, **example_request(endpoint))
