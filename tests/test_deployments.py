"""The production-like deployments (tests/deployments/) work as deployed Langflows do, proven with
plain httpx: TLS by a private CA, the API under a path prefix, streams passing through, a client
certificate or an access header required, a Bearer-token gateway, and PostgreSQL behind it all."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from conformance.contract import load_contract
from conformance.run.kinds import ResourceKinds
from conformance.run.ledger import Ledger, run_prefix
from conformance.run.resources import Resources

from .deployments.gateway import Gateway
from .deployments.stack import ProductionLike

pytestmark = pytest.mark.real_langflow

CONTRACT = load_contract()


def outside_prefix(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/api/v1/version"


@pytest.fixture
def echo_flow(production_like: ProductionLike) -> Iterator[str]:
    """A ChatInput -> ChatOutput flow (no LLM) made through nginx, deleted afterwards."""
    headers = {"x-api-key": production_like.api_key}
    with httpx.Client(base_url=production_like.url, verify=production_like.tls(), headers=headers) as client:
        graph = Resources(
            client,
            CONTRACT.select("1.13.0"),
            ResourceKinds.load(CONTRACT.root / "resources.yaml"),
            Ledger(prefix=run_prefix("run")),
        ).echo_graph()
        created = client.post("/api/v1/flows/", json={"name": run_prefix("deploy"), "data": graph}, timeout=60)
        assert created.status_code == 201, created.text
        flow_id = created.json()["id"]
        yield flow_id
        client.delete(f"/api/v1/flows/{flow_id}", timeout=60)


def first_sse_data(url: str, headers: dict[str, str], verify: ssl.SSLContext | bool = True) -> tuple[str, float]:
    """The first `data:` line of an endless SSE stream (MCP's legacy transport) and when it came: a
    proxy that buffers would hold it until the stream ends, which it never does (read timeout)."""
    started = time.monotonic()
    with httpx.stream("GET", url, headers=headers, verify=verify, timeout=15) as stream:
        assert stream.status_code == 200, stream.read()
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data:"):
                return line, time.monotonic() - started
    raise AssertionError("the stream ended without a data line")


# TLS and the prefix ---------------------------------------------------------------------------------


def test_tls_by_the_private_ca_only(production_like: ProductionLike) -> None:
    answer = httpx.get(f"{production_like.url}/health_check", verify=production_like.tls())
    assert answer.status_code == 200, answer.text
    assert answer.json()["db"] == "ok"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{production_like.url}/health_check")  # the default trust store does not know the CA


def test_the_api_lives_under_the_prefix_only(production_like: ProductionLike) -> None:
    ca = production_like.tls()
    headers = {"x-api-key": production_like.api_key}
    version = httpx.get(f"{production_like.url}/api/v1/version", verify=ca, headers=headers)
    assert version.status_code == 200, version.text
    assert version.json()["version"] == "1.13.0"
    assert httpx.get(outside_prefix(production_like.url), verify=ca, headers=headers).status_code == 404
    # nginx rewrites Langflow's trailing-slash redirect to the public URL, prefix included.
    redirect = httpx.get(f"{production_like.url}/api/v1/flows", verify=ca, headers=headers)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == f"{production_like.url}/api/v1/flows/"


def test_a_flow_run_streams_through_nginx(production_like: ProductionLike, echo_flow: str) -> None:
    events = []
    with httpx.stream(
        "POST",
        f"{production_like.url}/api/v1/run/{echo_flow}?stream=true",
        json={"input_value": "through nginx", "input_type": "chat", "output_type": "chat"},
        headers={"x-api-key": production_like.api_key},
        verify=production_like.tls(),
        timeout=120,
    ) as stream:
        assert stream.status_code == 200, stream.read()
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers.get("transfer-encoding") == "chunked"
        events = [json.loads(line) for line in stream.iter_lines() if line.strip()]
    assert [e["event"] for e in events][-1] == "end"
    assert "through nginx" in json.dumps(events[-1])


def test_build_events_stream_as_ndjson_through_nginx(production_like: ProductionLike, echo_flow: str) -> None:
    ca, headers = production_like.tls(), {"x-api-key": production_like.api_key}
    build = httpx.post(
        f"{production_like.url}/api/v1/build/{echo_flow}/flow",
        json={"inputs": {"input_value": "built"}},
        headers=headers,
        verify=ca,
        timeout=60,
    )
    assert build.status_code == 200, build.text
    url = f"{production_like.url}/api/v1/build/{build.json()['job_id']}/events"
    with httpx.stream("GET", url, headers=headers, verify=ca, timeout=120) as stream:
        assert stream.status_code == 200, stream.read()
        assert stream.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line)["event"] for line in stream.iter_lines() if line.strip()]
    assert events[-1] == "end", events


def test_an_endless_stream_is_not_buffered(production_like: ProductionLike) -> None:
    data, seconds = first_sse_data(
        f"{production_like.url}/api/v1/mcp/sse", {"x-api-key": production_like.api_key}, production_like.tls()
    )
    assert "session_id=" in data
    assert seconds < 10


# Access requirements in front of Langflow ---------------------------------------------------------------


def test_mutual_tls_requires_a_client_certificate(production_like: ProductionLike) -> None:
    url = f"{production_like.mtls_url}/api/v1/version"
    headers = {"x-api-key": production_like.api_key}
    refused = httpx.get(url, headers=headers, verify=production_like.tls())
    # TLS 1.3 asks for the certificate after the handshake: nginx answers 400 instead of failing it.
    assert refused.status_code == 400
    assert "No required SSL certificate was sent" in refused.text
    accepted = httpx.get(url, headers=headers, verify=production_like.tls(client_cert=True))
    assert accepted.status_code == 200, accepted.text


def test_an_access_header_is_required(production_like: ProductionLike) -> None:
    url, ca = f"{production_like.header_url}/api/v1/version", production_like.tls()
    name, value = production_like.header
    key = {"x-api-key": production_like.api_key}
    assert httpx.get(url, headers=key, verify=ca).status_code == 403
    assert httpx.get(url, headers={**key, name: value + "x"}, verify=ca).status_code == 403
    accepted = httpx.get(url, headers={**key, name: value}, verify=ca)
    assert accepted.status_code == 200, accepted.text


# The Bearer gateway ---------------------------------------------------------------------------------------


def test_the_gateway_takes_its_bearer_token_and_nothing_else(
    bearer_gateway: Gateway, production_like: ProductionLike
) -> None:
    whoami = f"{bearer_gateway.url}/api/v1/users/whoami"
    key = production_like.api_key
    assert httpx.get(whoami).status_code == 401
    assert httpx.get(whoami, headers={"x-api-key": key}).status_code == 401
    assert httpx.get(whoami, params={"x-api-key": key}).status_code == 401
    assert httpx.get(whoami, headers={"Authorization": f"Bearer {key}"}).status_code == 401
    bearer = {"Authorization": f"Bearer {bearer_gateway.token}"}
    me = httpx.get(whoami, headers=bearer)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == production_like.langflow.username
    assert httpx.get(outside_prefix(bearer_gateway.url), headers=bearer).status_code == 404


def test_the_gateway_passes_streams_through(bearer_gateway: Gateway) -> None:
    data, seconds = first_sse_data(
        f"{bearer_gateway.url}/api/v1/mcp/sse", {"Authorization": f"Bearer {bearer_gateway.token}"}
    )
    assert "session_id=" in data
    assert seconds < 10


# PostgreSQL ---------------------------------------------------------------------------------------------


def test_langflow_keeps_its_data_in_postgresql(production_like: ProductionLike, echo_flow: str) -> None:
    assert production_like.langflow.database_url == production_like.postgres.url
    tables = production_like.postgres.psql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public';", database="langflow"
    ).split()
    assert {"flow", "user", "apikey", "alembic_version"} <= set(tables)
    flows = production_like.postgres.psql(f"SELECT count(*) FROM flow WHERE id = '{echo_flow}';", database="langflow")
    assert flows.strip() == "1"  # made through nginx, stored here
