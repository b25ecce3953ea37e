"""Stream framing (NDJSON lines, SSE events), bounded waits, stand-in ids and release-dependent statuses."""

from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conformance.contract import load_contract
from conformance.contract.catalog import build_endpoint
from conformance.requirements import streams
from conformance.requirements.calls import example_request


def lines_of(response: httpx.Response) -> streams.Lines:
    """What the reader thread of calls.send hands over: the lines, then None or the exception."""
    lines: streams.Lines = queue.Queue()
    try:
        for line in response.iter_lines():
            lines.put(line)
        lines.put(None)
    except httpx.ReadTimeout as exc:
        lines.put(exc)
    return lines


def streamed(body: bytes, content_type: str = "text/event-stream") -> streams.Lines:
    return lines_of(httpx.Response(200, headers={"content-type": content_type}, content=body))


def test_ndjson_lines_in_an_event_stream_end_at_the_end_event() -> None:
    body = b'{"event": "add_message", "data": {}}\n\n{"event": "end", "data": {"result": {}}}\n\n{"event": "x"}\n'
    result = streams.read_events(streamed(body), "ndjson", "end")
    assert [streams.event_type(e) for e in result.events] == ["add_message", "end"]
    assert result.saw_end_event


def test_literal_lines_are_kept_as_strings() -> None:
    result = streams.read_events(streamed(b'keepalive\n\n{"1736355791151": "a log line"}\n'), "ndjson", None)
    assert result.events == ["keepalive", {"1736355791151": "a log line"}] and result.ended


def test_sse_events() -> None:
    body = b'event: endpoint\ndata: /api/v1/mcp/?session_id=1\n\n: comment\ndata: {"jsonrpc": "2.0"}\n\n'
    result = streams.read_events(streamed(body), "sse", None)
    assert result.events == [
        {"event": "endpoint", "data": "/api/v1/mcp/?session_id=1"},
        {"event": "message", "data": {"jsonrpc": "2.0"}},
    ]


def test_a_stream_without_its_end_event_is_reported() -> None:
    result = streams.read_events(streamed(b'{"event": "add_message"}\n'), "ndjson", "end")
    assert result.ended and not result.saw_end_event


def test_an_idle_stream_stops_the_wait() -> None:
    class Idle(httpx.SyncByteStream):
        def __iter__(self):
            yield b'{"event": "token"}\n'
            raise httpx.ReadTimeout("idle")

    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Idle())
    result = streams.read_events(lines_of(response), "ndjson", "end")
    assert result.idle and len(result.events) == 1 and not result.saw_end_event


def test_a_silent_stream_is_watched_for_the_observation_time_only() -> None:
    # Without the observation time the read would wait out streams.IDLE_S (10 s) of silence: the
    # 5-s guard fails the test on that hang instead of timing the read.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(streams.read_events, queue.Queue(), "sse", None, observe_s=0.3).result(timeout=5)
    assert result.events == [] and not result.ended and not result.idle


def test_sse_events_without_a_name_are_named_by_their_data() -> None:
    assert streams.event_type({"event": "message", "data": "[DONE]"}) == "[DONE]"
    assert streams.event_type({"event": "message", "data": {"object": "response.chunk"}}) == "response.chunk"
    assert streams.event_type({"event": "endpoint", "data": "/x"}) == "endpoint"


def test_stand_in_ids_fill_placeholders_and_required_parameters() -> None:
    endpoint = build_endpoint(
        "monitor",
        {
            "id": "monitor.builds-read",
            "method": "GET",
            "path": "/api/v1/monitor/builds",
            "sources": [{}],
            "request": {"parameters": [{"name": "flow_id", "in": "query", "required": True}]},
            "responses": {"200": {}},
            "example": {"status": 200, "params": {"flow_id": "@flow.id"}},
        },
    )
    assert example_request(endpoint)["params"] == {"flow_id": "@flow.id"}
    assert example_request(endpoint, filler="ID")["params"] == {"flow_id": "ID"}


@pytest.mark.parametrize(("release", "status"), [("1.1.1", 200), ("1.4.3", 307), ("1.13.0", 307)])
def test_folders_redirect_from_1_4(release: str, status: int) -> None:
    contract = load_contract().select(release)
    assert contract.endpoint("projects.folders-list").expected_status(release) == status


def test_an_event_stream_shows_a_resource_through_its_events() -> None:
    """Isolation: a 2xx event stream for another user's resource is judged by its events (its body was
    consumed as events, so reading it again would raise)."""
    from conformance.requirements.isolation import mentions
    from conformance.run.kinds import Record

    record = Record("flow", "00000000-0000-4000-8000-000000000001", "lfc-x-flow1", {})

    def unread() -> httpx.Response:
        response = httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=httpx.ByteStream(b""))
        with pytest.raises(httpx.ResponseNotRead):
            _ = response.content
        return response

    shown = streams.StreamResult(events=[{"event": "add_message", "data": {"flow_id": record.id}}])
    assert mentions(unread(), record, shown)
    assert not mentions(unread(), record, streams.StreamResult(events=[{"event": "end", "data": {}}]))
