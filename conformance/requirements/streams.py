"""Read streamed responses (NDJSON lines, SSE events) with a bounded wait, so a stream that never
ends (logs, MCP SSE) cannot hang the run."""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

STREAM_CONTENT_TYPES = ("text/event-stream", "application/x-ndjson")
OBSERVE_S = 0.75  # how long to watch a stream that has no documented end event (its first events come at once)
IDLE_S = 10.0  # a stream that should end but stays silent this long is considered idle (hung)
MAX_EVENTS = 2000


@dataclass
class StreamResult:
    events: list[Any] = field(default_factory=list)
    ended: bool = False  # the server closed the stream
    saw_end_event: bool = False
    idle: bool = False  # we stopped because nothing came for IDLE_S
    framing: str = "ndjson"


def is_stream(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in STREAM_CONTENT_TYPES


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # a literal line such as "keepalive" or "[DONE]"


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def event_type(event: Any, type_field: str | None = None) -> str | None:
    """The documented event name: {"event": name, ...} objects, or a literal line. An SSE event
    without an `event:` field ("message") is named by its data: the field the catalog names
    (`stream.type_field`: "event", "type", "result.kind"), a literal ("[DONE]"), or the data's own
    `object`/`type` ("response.chunk")."""
    if type_field and isinstance(event, dict) and event.get("event") == "message":
        named = _dig(event.get("data"), type_field)
        if isinstance(named, str):
            return named
    if isinstance(event, dict) and isinstance(event.get("event"), str):
        data = event.get("data")
        if event["event"] == "message" and isinstance(data, str):
            return data
        if event["event"] == "message" and isinstance(data, dict):
            return str(data.get("object") or data.get("type") or "message")
        return str(event["event"])
    if isinstance(event, str):
        return event
    return None


def ended_with(result: StreamResult, end_event: str | None, type_field: str | None) -> bool:
    return bool(end_event and result.events and event_type(result.events[-1], type_field) == end_event)


Lines = queue.Queue[Any]  # str lines, then None (closed) or the exception that ended the read


def read_events(
    lines: Lines, framing: str, end_event: str | None, observe_s: float = OBSERVE_S, type_field: str | None = None
) -> StreamResult:
    """NDJSON: every non-empty line is one event. SSE: `event:`/`data:` fields up to a blank line,
    each event as {"event": name, "data": parsed data}.

    The lines come from a reader thread, so the wait is bounded by the clock, not by when the
    server next sends something: streams without an end event are watched for `observe_s`; the
    others until their end event, or until nothing came for IDLE_S."""
    result = StreamResult(framing=framing)
    started = time.monotonic()
    pending: dict[str, list[str]] = {}

    def flush_sse() -> None:
        if pending.get("data") or pending.get("event"):
            data = "\n".join(pending.get("data", []))
            event = {"event": (pending.get("event") or ["message"])[-1], "data": _value(data)}
            if pending.get("id"):
                event["id"] = pending["id"][-1]  # what a client resumes from (Last-Event-ID)
            result.events.append(event)
        pending.clear()

    while True:
        wait = IDLE_S if end_event else observe_s - (time.monotonic() - started)
        try:
            line = lines.get(timeout=max(wait, 0.0))
        except queue.Empty:
            result.idle = end_event is not None
            return result
        if line is None or isinstance(line, BaseException):
            if framing == "sse":
                flush_sse()
            result.saw_end_event = ended_with(result, end_event, type_field)
            result.ended = line is None
            result.idle = isinstance(line, httpx.ReadTimeout)
            return result
        if framing == "sse":
            if not line.strip():
                flush_sse()
            elif not line.startswith(":") and ":" in line:
                name, _, value = line.partition(":")
                pending.setdefault(name.strip(), []).append(value.removeprefix(" "))
        elif line.strip():
            result.events.append(_value(line.strip()))
        if ended_with(result, end_event, type_field):
            result.saw_end_event = True
            return result
        if len(result.events) >= MAX_EVENTS:
            return result
