"""Turn a catalog entry's documented example into an HTTP exchange (streams read with a bounded wait)."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.contract import Endpoint
from conformance.requirements.streams import IDLE_S, StreamResult, is_stream, read_events
from conformance.run.kinds import Record, multipart
from conformance.run.resources import Resources


@dataclass
class Exchange:
    """What came back: the response (body read, unless it was a stream) and the stream's events."""

    response: httpx.Response
    stream: StreamResult | None = None
    notes: list[str] = field(default_factory=list)


def substitute(value: Any, replace: Callable[[str], Any]) -> Any:
    """Replace every resource placeholder ("@flow.id") in an example request."""
    if isinstance(value, str) and value.startswith("@"):
        return replace(value)
    if isinstance(value, dict):
        return {k: substitute(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, replace) for v in value]
    return value


def stand_in(value: Any, filler: str) -> Any:
    """Placeholders become a filler: for requests that must be refused before the resource matters
    (auth), or answered 404 (negative), an unknown id is as good as a real one."""
    return substitute(value, lambda _: filler)


def rename(body: Any, fields: list[str], new_name: Callable[[], str]) -> Any:
    """A create or rename example gets run-prefixed names, so --sweep can always find what it made
    (the top-level object, or each object of a top-level list, as in a batch create)."""
    if isinstance(body, dict):
        renamed = {k: (new_name() if k in fields and isinstance(v, str) else v) for k, v in body.items()}
        return {k: (rename(v, fields, new_name) if isinstance(v, list) else v) for k, v in renamed.items()}
    if isinstance(body, list):
        return [rename(v, fields, new_name) if isinstance(v, dict) else v for v in body]
    return body


def query_names(endpoint: Endpoint, fields: list[str]) -> list[str]:
    """The name fields a request carries as query parameters rather than in its body."""
    return [p["name"] for p in endpoint.parameters if p.get("in") == "query" and p["name"] in fields]


def example_request(
    endpoint: Endpoint,
    filler: str | None = None,
    resources: Resources | None = None,
    fresh: bool = False,
    given: dict[str, Record] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for httpx.Client.request from the entry's documented example.

    With `filler`, placeholders and missing required parameters get that stand-in; with
    `resources`, placeholders become resources the run created (`fresh` ones for requests that may
    change or delete them), and created names carry the run prefix."""
    example = {k: v for k, v in (endpoint.example or {}).items() if k != "files"}
    parts = dict((endpoint.example or {}).get("files") or {})
    if filler is not None:
        example = stand_in(example, filler)
        params = dict(example.get("params") or {})
        for p in endpoint.parameters:
            if p.get("required") and p["name"] not in params:
                params[p["name"]] = filler
        example["params"] = params
    elif resources is not None:
        example = substitute(example, resources.placeholders(fresh, given))
        naming = resources.kinds.naming(endpoint.id)
        if naming is not None:
            kind, fields = naming
            if "body" in example:
                example["body"] = rename(example["body"], fields, lambda: resources.new_name(kind.name))
            named = query_names(endpoint, fields)  # a rename by query parameter (v2 files)
            if named:
                example["params"] = rename(example.get("params") or {}, named, lambda: resources.new_name(kind.name))
            parts = {
                f: {**part, "filename": f"{resources.new_name(kind.name)}-{part.get('filename', f)}"}
                for f, part in parts.items()
            }
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
    if parts:
        contents = resources.content if resources is not None else (lambda ref: (filler or ref).encode())
        kwargs["files"] = multipart(parts, contents)
    return kwargs


def send(client: httpx.Client, endpoint: Endpoint, **kwargs: Any) -> Exchange:
    """Send a request; if the answer is a stream, read its events per the entry's `stream` framing."""
    if not endpoint.stream and not any(is_stream(ct) for r in endpoint.responses.values() for ct in r.content_types):
        return Exchange(client.request(**kwargs))
    return _send_streaming(client, endpoint, kwargs)


def _send_streaming(client: httpx.Client, endpoint: Endpoint, kwargs: dict[str, Any]) -> Exchange:
    """The request runs in a reader thread that hands over the response, then its lines. When we
    have seen enough we shut the socket, which ends the reader (closing a response another thread
    is reading would block until the server's next line)."""
    spec = endpoint.stream or {}
    # Its connection ends with the stream (we may shut it): never hand it back to the pool.
    kwargs = {**kwargs, "headers": {**(kwargs.get("headers") or {}), "connection": "close"}}
    lines: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()

    def reader() -> None:
        try:
            with client.stream(**kwargs) as response:
                streaming = is_stream(response.headers.get("content-type", "")) and response.is_success
                lines.put(response)
                if not streaming:
                    response.read()
                if streaming:
                    for line in response.iter_lines():
                        lines.put(line)
                        if stop.is_set():
                            return
                lines.put(None)
        except BaseException as exc:  # handed to the caller: raised there if it came before the answer
            lines.put(exc)

    threading.Thread(target=reader, daemon=True, name=f"stream {endpoint.operation}").start()
    first = lines.get()
    if isinstance(first, BaseException):
        raise first
    response: httpx.Response = first
    content_type = response.headers.get("content-type", "")
    if not (is_stream(content_type) and response.is_success):
        # Not a stream by its label, yet it may never end (an event stream sent as JSON): wait for
        # the whole body no longer than for a stream that should end.
        try:
            done = lines.get(timeout=IDLE_S)
        except queue.Empty:
            _shut(response)
            from conformance.requirements.checks import fail  # checks reads Exchange from here

            fail(
                f"{endpoint.operation} answered {response.status_code} {content_type or 'without a content type'}, "
                f"not a stream, and its body had not ended after {IDLE_S:g} s",
                expected="a documented content type, and a body that ends",
                actual=f"{response.status_code} {content_type}, body still open after {IDLE_S:g} s",
            )
        if isinstance(done, BaseException):
            raise done
        return Exchange(response)
    framing = spec.get("framing") or ("sse" if content_type.startswith("text/event-stream") else "ndjson")
    try:
        return Exchange(response, read_events(lines, framing, spec.get("end_event"), type_field=spec.get("type_field")))
    finally:
        stop.set()
        _shut(response)


def _shut(response: httpx.Response) -> None:
    """Shut the socket under the reader thread: a server may hold back the next stream of the same
    session (MCP) until this one is gone, and the reader would otherwise wait for a ping."""
    network = response.extensions.get("network_stream")
    if network is not None:
        with contextlib.suppress(Exception):
            network.get_extra_info("socket").shutdown(socket.SHUT_RDWR)


def send_example(
    client: httpx.Client, endpoint: Endpoint, resources: Resources | None = None, fresh: bool = False
) -> Exchange:
    exchange = send(client, endpoint, **example_request(endpoint, resources=resources, fresh=fresh))
    if resources is not None:
        resources.register_created(endpoint, exchange.response)
    return exchange
