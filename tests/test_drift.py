"""Drift: the server's own /openapi.json against the contract. The helpers on their own, then a run
against the fake Langflow, whose document lists the variables routes only, types `value` as an
integer, and adds one route no document knows."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conformance.requirements.drift import compatible, group_of, served, shape, types_of

from .conftest import Result, run_suite
from .fake_langflow import API_KEY, serving


def test_paths_compare_without_parameter_names() -> None:
    assert shape("/api/v1/flows/{flow_id}") == shape("/api/v1/flows/{id}") == "/api/v1/flows/{}"
    assert group_of("/api/v2/files/{file_id}") == "files"
    assert group_of("/health") == "health"


@pytest.mark.parametrize(
    ("schema", "types"),
    [
        ({"type": "string"}, {"string"}),
        ({"type": ["string", "null"]}, {"string", "null"}),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, {"integer", "null"}),
        ({"anyOf": [{"type": "integer"}, {}]}, None),  # one branch says anything
        ({"enum": ["a", 1, None]}, {"string", "integer", "null"}),
        ({"properties": {"a": {}}}, {"object"}),
        ({}, None),
    ],
)
def test_types_of(schema: dict, types: set[str] | None) -> None:
    assert types_of(schema, lambda s: s) == types


def test_integer_and_number_are_compatible_string_and_integer_are_not() -> None:
    assert compatible({"integer"}, {"number"}) and compatible({"number"}, {"integer"})
    assert not compatible({"string", "null"}, {"integer"})


def test_only_the_routers_own_404_means_not_served() -> None:
    router = httpx.Response(404, json={"detail": "Not Found"})
    handler = httpx.Response(404, json={"detail": "Flow not found"})
    assert not served(router) and served(handler)
    assert not served(httpx.Response(405, json={"detail": "Method Not Allowed"}))
    assert served(httpx.Response(422, json={"detail": []}))


@pytest.fixture(scope="module")
def fake_drift(tmp_path_factory: pytest.TempPathFactory) -> Result:
    with serving() as url:
        return run_suite(tmp_path_factory.mktemp("drift"), "--server", url, "--api-key", API_KEY, "-m", "drift")


def outcome(result: Result, requirement: str) -> dict:
    return next(r for r in result.report()["requirements"] if r["id"] == requirement)


def test_listed_endpoints_pass_without_a_probe(fake_drift: Result) -> None:
    listed = outcome(fake_drift, "variables.create.listed")
    assert (listed["outcome"], listed["drift"]) == ("pass", {"listed": True})


def test_an_unlisted_endpoint_that_is_served_passes(fake_drift: Result) -> None:
    read = outcome(fake_drift, "flows.read.listed")
    assert read["outcome"] == "pass"
    assert read["drift"] == {
        "listed": False,
        "served": True,
        "probe": "GET /api/v1/flows/00000000-0000-4000-8000-00000000d1f7 -> 404",
    }


def test_an_endpoint_neither_listed_nor_served_fails(fake_drift: Result) -> None:
    assert fake_drift.code == 1
    missing = outcome(fake_drift, "monitor.builds-read.listed")
    assert missing["outcome"] == "fail"
    assert "neither lists it in /openapi.json nor serves it" in missing["message"]
    # A HEAD 404 has no body to tell the router's from a handler's: asked again as GET.
    head = outcome(fake_drift, "mcp.streamable-health.listed")
    assert head["outcome"] == "fail"
    assert "HEAD /api/v1/mcp/streamable -> 404; GET /api/v1/mcp/streamable -> 404" in head["message"]
    # Where an optional feature's probe says it is off (HEAD /api/v1/mcp/sse: 404), its routes are
    # absent by design: skipped with the setting that turns it on, not failed.
    sse = outcome(fake_drift, "mcp.sse-health.listed")
    assert sse["outcome"] == "skip" and "LANGFLOW_MCP_SSE_ENABLED=true" in sse["reason"], sse
    # A trailing-slash redirect is followed once: POST /flows/batch matches no POST route.
    batch = outcome(fake_drift, "flows.batch-create.listed")
    assert batch["outcome"] == "fail" and "POST /api/v1/flows/batch -> 405" in batch["message"]


def test_the_report_lists_unknown_endpoints_and_type_conflicts(fake_drift: Result) -> None:
    drift = fake_drift.report()["drift"]
    assert drift["openapi"] == "/openapi.json: 5 operations"
    assert drift["unknown_to_contract"] == {"fake-extras": ["GET /api/v1/fake-extras/ping"]}
    assert any(c.startswith("variables.create response 201: value is documented as") for c in drift["type_conflicts"])
    assert all("integer" in c for c in drift["type_conflicts"])
    missing = {p["endpoint"] for p in drift["documented_missing"]}
    assert "monitor.builds-read" in missing and "flows.read" not in missing
    assert "drift" in fake_drift.output and "unknown to the contract" in fake_drift.output


def test_read_only_sends_no_write_probe(tmp_path: Path) -> None:
    with serving() as url:
        result = run_suite(tmp_path, "--server", url, "--api-key", API_KEY, "-m", "drift", "--mode", "read-only")
    create = outcome(result, "flows.create.listed")
    assert create["outcome"] == "skip" and "read-only sends no POST" in create["reason"]
    assert outcome(result, "flows.read.listed")["outcome"] == "pass"
