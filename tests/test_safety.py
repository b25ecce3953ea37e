"""Safety on a real Langflow: a full run (also one full of failures, also under xdist) leaves the
server exactly as it found it, user data included; --sweep deletes earlier runs' leftovers and
nothing else."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .conftest import Server, run_suite
from .snapshot import assert_untouched, seed_user_data, snapshot, wait_for_mcp_setup

pytestmark = pytest.mark.real_langflow


@pytest.fixture(scope="module")
def seeded(langflow_113: Server) -> Server:
    assert langflow_113.api_key
    seed_user_data(langflow_113.url, langflow_113.api_key, "ops-team")
    wait_for_mcp_setup(langflow_113.url, langflow_113.api_key)
    return langflow_113


@pytest.mark.parametrize(
    "extra",
    [
        # The 1.1 edition on a 1.13.0 server: dozens of failures mid-lifecycle, same cleanup.
        pytest.param(["--contract-edition", "1.1"], id="full-mode-with-forced-failures"),
        # Every requirement kind and the groups that write most, in two workers (not the whole suite: CI time).
        pytest.param(
            ["-n", "2", "-k", "[flows. or [projects. or [variables. or [files. or [run. or [monitor."],
            id="full-mode-xdist",
        ),
    ],
)
def test_a_full_run_leaves_the_server_as_it_was(tmp_path: Path, seeded: Server, extra: list[str]) -> None:
    assert seeded.api_key
    before = snapshot(seeded.url, seeded.api_key)
    assert any(f["name"] == "ops-team flow" for f in before["flows"]), "the seed is missing"
    result = run_suite(tmp_path, "--server", seeded.url, "--api-key", seeded.api_key, "--mode", "full", *extra)
    assert result.code in (0, 1), result.output[-3000:]
    report = result.report()
    assert report["cleanup_failures"] == []
    assert not [r for r in report["requirements"] if r["outcome"] == "error"], "checker errors"
    ran = {r["kind"] for r in report["requirements"] if r["outcome"] in ("pass", "fail")}
    if extra[:1] == ["-n"]:  # every requirement kind in full mode
        assert ran == {"example", "auth", "negative", "lifecycle", "stream", "property", "drift", "isolation"}, ran
        assert any(r["id"].endswith(".lifecycle") and r["outcome"] == "pass" for r in report["requirements"])
    if extra[:2] == ["-n", "2"]:
        assert report["workers"] == 2 and report["requests"] > 300  # worker requests are counted
    if extra[:1] == ["--contract-edition"]:
        assert sum(r["outcome"] == "fail" for r in report["requirements"]) >= 2
    assert_untouched(seeded.url, seeded.api_key, before)


def test_sweep_deletes_leftovers_and_nothing_else(tmp_path: Path, seeded: Server) -> None:
    assert seeded.api_key
    leftover = "lfc-0badcafe-"  # the shape of a run's names (resources.RUN_NAME)
    with httpx.Client(base_url=seeded.url, headers={"x-api-key": seeded.api_key}, timeout=30) as client:
        before = snapshot(seeded.url, seeded.api_key)
        project = client.post("/api/v1/projects/", json={"name": f"{leftover}project1", "description": "x"})
        flow = client.post(
            "/api/v1/flows/",
            json={"name": f"{leftover}flow1", "data": {"nodes": [], "edges": []}, "folder_id": project.json()["id"]},
        )
        client.post(f"/api/v1/files/upload/{flow.json()['id']}", files={"file": (f"{leftover}f.txt", b"x")})
        client.post(
            "/api/v1/variables/",
            json={"name": f"{leftover}var1", "value": "v", "type": "Generic", "default_fields": []},
        ).raise_for_status()
        client.post("/api/v1/api_key/", json={"name": f"{leftover}key1"}).raise_for_status()
        client.post("/api/v2/files", files={"file": (f"{leftover}file1.txt", b"x", "text/plain")}).raise_for_status()
        # Look-alikes that are not a run's: they stay.
        keep = client.post(
            "/api/v1/variables/", json={"name": "lfc-notes", "value": "v", "type": "Generic", "default_fields": []}
        )
        keep.raise_for_status()
    result = run_suite(tmp_path, "--server", seeded.url, "--api-key", seeded.api_key, "--sweep")
    assert result.code == 0, result.output[-2000:]
    assert "sweep: deleted" in result.output
    after = snapshot(seeded.url, seeded.api_key)
    assert [v["name"] for v in after["variables"] if v["name"] == "lfc-notes"] == ["lfc-notes"]
    with httpx.Client(base_url=seeded.url, headers={"x-api-key": seeded.api_key}, timeout=30) as client:
        client.delete(f"/api/v1/variables/{keep.json()['id']}").raise_for_status()
    assert_untouched(seeded.url, seeded.api_key, before)
