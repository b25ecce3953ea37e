"""The resources table (schemas/resources.yaml) and the pieces built on it, without a server."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from conformance.contract import load_contract
from conformance.requirements.calls import example_request
from conformance.requirements.derive import Context, requirements_for
from conformance.run.kinds import ResourceKinds, expand
from conformance.run.ledger import Ledger, run_prefix
from conformance.run.resources import Resources
from conformance.run.sweep import RUN_NAME, is_leftover

CONTRACT = load_contract()
KINDS = ResourceKinds.load(CONTRACT.root / "resources.yaml")


def test_every_step_names_a_catalog_endpoint_and_its_parameters() -> None:
    for kind in KINDS.kinds.values():
        for role in ("create", "read", "update", "list", "delete", "prime", "settle"):
            for alt in kind.alternatives(role):
                endpoint = CONTRACT.endpoint(alt["endpoint"])  # raises for an unknown id
                path_params = {p["name"] for p in endpoint.parameters if p.get("in") == "path"}
                assert path_params <= set(alt.get("params") or {}), (kind.name, role, alt["endpoint"])


def test_the_release_picks_projects_or_folders() -> None:
    project = KINDS["project"]
    step_11 = project.step("create", CONTRACT.select("1.1.1"))
    step_14 = project.step("create", CONTRACT.select("1.4.3"))
    assert step_11 is not None and step_11.endpoint.id == "projects.folders-create"
    assert step_14 is not None and step_14.endpoint.id == "projects.create"  # /folders redirects since 1.4


def test_templates_keep_types_when_whole() -> None:
    assert expand({"data": "{graph}", "name": "{name}-x"}, {"graph": {"nodes": []}, "name": "n"}) == {
        "data": {"nodes": []},
        "name": "n-x",
    }


def test_sweep_matches_only_run_shaped_names() -> None:
    prefix = run_prefix("20261123T120000Z-abcd")
    assert RUN_NAME.match(prefix + "-flow1")
    assert is_leftover(f"{prefix}-project2")
    assert is_leftover(f"2026-11-23_10-00-00_{prefix}-filev13.png")  # a v1 upload's stored name
    assert is_leftover(f"MCP Project {prefix}-project1 - default")  # 1.13.0's per-project key
    for mine in ("lfc-admin", "lfc-notes", "my lfc-0123abcd- flow", "lfc-0123abc-x", "Starter Project"):
        assert not is_leftover(mine), mine


def test_a_project_upload_registers_the_project_and_its_flows() -> None:
    kinds = {kind.name: field for kind, field in KINDS.created_by("projects.upload")}
    assert kinds == {"project": "folder_id", "flow": None}


CHAT = {  # what /api/v1/all says of ChatInput and ChatOutput, as far as the echo graph reads it
    "outputs": [{"name": "message", "types": ["Message"]}],
    "template": {"input_value": {"type": "str", "input_types": ["Message"]}},
}


def _echo_flow_answer(request: httpx.Request) -> httpx.Response | None:
    """What a fake needs to answer for the run's echo flow to be made: /all, then the flow's create."""
    if request.url.path == "/api/v1/all":
        return httpx.Response(200, json={"input_output": {"ChatInput": CHAT, "ChatOutput": CHAT}})
    if request.method == "POST" and request.url.path == "/api/v1/flows/":
        return httpx.Response(201, json={"id": "flow-1"})
    return None


def _fake_langflow(requests: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/api/v1/all":
            return httpx.Response(200, json={"input_output": {"ChatInput": CHAT, "ChatOutput": CHAT}})
        if request.method == "POST":
            body = json.loads(request.content)
            return httpx.Response(201, json={"id": f"id-{len(requests)}", **body})
        return httpx.Response(200, json={})

    return httpx.Client(base_url="http://lf.test", transport=httpx.MockTransport(handler))


def test_a_flow_is_the_echo_graph_and_its_delete_is_in_the_ledger_before_anything_else() -> None:
    requests: list[httpx.Request] = []
    ledger = Ledger(prefix=run_prefix("run"))
    resources = Resources(_fake_langflow(requests), CONTRACT.select("1.13.0"), KINDS, ledger)
    record = resources.create("flow")
    created = json.loads(next(r for r in requests if r.method == "POST").content)
    nodes = [n["data"]["type"] for n in created["data"]["nodes"]]
    assert nodes == ["ChatInput", "ChatOutput"] and len(created["data"]["edges"]) == 1
    assert record.name.startswith(ledger.prefix + "-")
    assert [e.kind for e in ledger.entries] == ["derived", "flow"]
    ledger.teardown()
    assert requests[-2].method == "DELETE" and requests[-2].url.path == f"/api/v1/flows/{record.id}"


def test_placeholders_of_one_request_name_one_resource() -> None:
    requests: list[httpx.Request] = []
    resources = Resources(_fake_langflow(requests), CONTRACT.select("1.13.0"), KINDS, Ledger(prefix="lfc-0a0a0a0a"))
    endpoint = CONTRACT.select("1.13.0").endpoint("flows.update")
    request = example_request(endpoint, resources=resources, fresh=True)
    flow_id = request["url"].rsplit("/", 1)[-1]
    assert request["json"]["name"].startswith("lfc-0a0a0a0a-")  # a rename keeps the run prefix
    assert flow_id.startswith("id-")


@pytest.mark.parametrize("mode", ["read-only", "isolated", "full"])
def test_modes_decide_what_runs(mode: str) -> None:
    ctx = Context(CONTRACT.select("1.13.0"), mode, True, KINDS, login=True, bearer=True)
    runnable = {r.id for kind in ("example", "lifecycle") for r in requirements_for(kind, ctx) if r.skip is None}
    assert ("flows.create.example" in runnable) == (mode != "read-only")
    assert ("files.v2-delete-all.example" in runnable) == (mode == "full")
    assert ("users.user.lifecycle" in runnable) == (mode == "full")
    assert "base.version.example" in runnable


def _ledger_of(outcomes: list[Exception | None]) -> tuple[Ledger, list[str]]:
    """A ledger of len(outcomes) entries whose deletes (tried last entry first) raise or succeed in turn."""
    ledger, tried = Ledger(prefix="lfc-0000abcd"), []
    results = iter(outcomes)

    def delete(name: str) -> None:
        tried.append(name)
        outcome = next(results, None)
        if outcome is not None:
            raise outcome

    for i in range(len(outcomes)):
        ledger.add("flow", f"run:{i}", lambda i=i: delete(f"run:{i}"))
    return ledger, tried


def test_cleanup_stops_when_the_server_stops_answering() -> None:
    timeout = httpx.ReadTimeout("timed out")
    ledger, tried = _ledger_of([None, timeout, timeout, None, None, None])
    failures = ledger.teardown()
    assert tried == ["run:5", "run:4", "run:3"]  # two unanswered in a row: no third wait, no retries
    assert len(failures) == 1 and "stopped answering" in failures[0] and "5 resources" in failures[0]
    assert "--sweep" in failures[0] and ledger.server_gone


def test_an_answered_delete_resets_the_count_of_unanswered_ones() -> None:
    timeout = httpx.ReadTimeout("timed out")
    ledger, tried = _ledger_of([timeout, None, timeout, None])
    ledger.teardown()
    assert not ledger.server_gone and len(tried) == 4 + 2  # both failed deletes tried again after a pause


def test_a_delete_the_suite_made_itself_is_not_sent_again_at_teardown() -> None:
    ledger = Ledger(prefix="lfc-0000abcd")
    ledger.add("flow", "run:1", lambda: None, request="DELETE /api/v1/flows/1")
    ledger.add("flow", "run:2", lambda: None, request="DELETE /api/v1/flows/2")
    ledger.deleted("DELETE", "/prefix/api/v1/flows/1")  # through a path prefix, as nginx serves it
    ledger.deleted("GET", "/api/v1/flows/2")
    assert [e.ident for e in ledger.entries] == ["run:2"]


def test_a_create_the_server_left_unanswered_is_tried_again_and_both_are_deleted() -> None:
    # A busy server may make what it did not answer in time (CI: 1.13.0 on SQLite, POST /flows/ 30 s).
    flows: dict[str, dict[str, object]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/all":
            return httpx.Response(200, json={"input_output": {"ChatInput": CHAT, "ChatOutput": CHAT}})
        if request.method == "POST" and path == "/api/v1/flows/":
            flow = {**json.loads(request.content), "id": f"id-{len(flows)}"}
            flows[str(flow["id"])] = flow
            if len(flows) == 1:
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(201, json=flow)
        if request.method == "GET" and path == "/api/v1/flows/":
            return httpx.Response(200, json=list(flows.values()))
        if request.method == "DELETE" and path.startswith("/api/v1/flows/"):
            return httpx.Response(200, json={}) if flows.pop(path.rsplit("/", 1)[-1], None) else httpx.Response(404)
        return httpx.Response(404, json={"detail": "Not Found"})

    client = httpx.Client(base_url="http://lf.test", transport=httpx.MockTransport(handler))
    ledger = Ledger(prefix=run_prefix("run"))
    record = Resources(client, CONTRACT.select("1.13.0"), KINDS, ledger).create("flow")
    assert record.id == "id-1" and set(flows) == {"id-0", "id-1"}
    assert ledger.teardown() == [] and flows == {}, flows


def test_a_build_job_is_cancelled_only_once_it_has_settled() -> None:
    # F37: a cancel landing as 1.13.0 writes the job's first status can wedge the server.
    sent: list[tuple[float, httpx.Request]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((time.monotonic(), request))
        if request.url.path.endswith("/flow"):
            return httpx.Response(200, json={"job_id": "job-1"})
        return _echo_flow_answer(request) or httpx.Response(200, json={})  # else the flow's prime: a run

    contract = CONTRACT.select("1.13.0")
    client = httpx.Client(base_url="http://lf.test", transport=httpx.MockTransport(handler))
    resources = Resources(client, contract, KINDS, Ledger(prefix=run_prefix("run")))
    cancel = example_request(contract.endpoint("build.cancel"), resources=resources, fresh=True)
    asked_at = time.monotonic()
    made_at = next(at for at, request in sent if request.url.path.endswith("/flow"))
    assert cancel["url"].endswith("/build/job-1/cancel")
    assert asked_at - made_at >= KINDS.kinds["job"].settle_s > 0


def test_a_workflow_job_is_stopped_only_once_its_status_shows_it_ended() -> None:
    sent: list[str] = []
    statuses = iter(["queued", "in_progress", "completed"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/workflows":
            if request.method == "POST":
                return httpx.Response(200, json={"job_id": "job-1", "status": "queued"})
            sent.append(status := next(statuses))
            return httpx.Response(200, json={"job_id": "job-1", "status": status})
        return _echo_flow_answer(request) or httpx.Response(200, json={})

    contract = CONTRACT.select("1.13.0")
    client = httpx.Client(base_url="http://lf.test", transport=httpx.MockTransport(handler))
    resources = Resources(client, contract, KINDS, Ledger(prefix=run_prefix("run")))
    stop = example_request(contract.endpoint("workflows.stop"), resources=resources, fresh=True)
    assert stop["json"] == {"job_id": "job-1"}
    assert sent == ["queued", "in_progress", "completed"]  # asked until it ended, then no more
