"""Everything a user owns on a Langflow server, read through its API, to prove a run left no trace."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

# Fields that change by merely being used (the snapshot's own key, the superuser's logins).
VOLATILE = {"last_used_at", "total_uses", "last_login_at", "updated_at"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _items(body: Any) -> list[dict[str, Any]]:
    items = body.get("items", body.get("files", body)) if isinstance(body, dict) else body
    return sorted((_clean(i) for i in items), key=lambda i: str(i.get("id", i)) if isinstance(i, dict) else str(i))


def snapshot(url: str, api_key: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, headers={"x-api-key": api_key}, timeout=30) as client:

        def get(path: str, **params: Any) -> Any:
            response = client.get(path, params=params)
            response.raise_for_status()
            return response.json()

        flows = _items(get("/api/v1/flows/", get_all=True, remove_example_flows=True, header_flows=False))
        state: dict[str, Any] = {
            "flows": flows,
            "projects": _items(get("/api/v1/projects/")),
            "variables": _items(get("/api/v1/variables/")),
            "api_keys": _items(get("/api/v1/api_key/")["api_keys"]),
            "files_v2": _items(get("/api/v2/files")),
            "messages": _items(get("/api/v1/monitor/messages")),
            "users": _items(get("/api/v1/users/", skip=0, limit=200)),
            "files_v1": {f["id"]: sorted(get(f"/api/v1/files/list/{f['id']}")["files"]) for f in flows},
        }
    return state


def seed_user_data(url: str, api_key: str, tag: str) -> None:
    """Resources a real user might have, named like nothing the suite makes: they must survive."""
    with httpx.Client(base_url=url, headers={"x-api-key": api_key}, timeout=30) as client:
        project = client.post("/api/v1/projects/", json={"name": f"{tag} project", "description": "mine"})
        project.raise_for_status()
        flow = client.post(
            "/api/v1/flows/",
            json={"name": f"{tag} flow", "data": {"nodes": [], "edges": []}, "folder_id": project.json()["id"]},
        )
        flow.raise_for_status()
        client.post(
            "/api/v1/variables/", json={"name": f"{tag}_VAR", "value": "v", "type": "Generic", "default_fields": []}
        ).raise_for_status()
        client.post("/api/v2/files", files={"file": (f"{tag}.txt", b"mine", "text/plain")}).raise_for_status()
        client.post(
            f"/api/v1/files/upload/{flow.json()['id']}", files={"file": (f"{tag}.txt", b"mine", "text/plain")}
        ).raise_for_status()
        client.post(f"/api/v1/run/{flow.json()['id']}", json={"input_value": "x"})  # a message or not: either way


def assert_untouched(url: str, api_key: str | None, before: dict[str, Any]) -> None:
    assert api_key
    after = snapshot(url, api_key)
    changed = {kind: diff(before[kind], after[kind]) for kind in before if before[kind] != after[kind]}
    assert not changed, f"the run changed what the user owns: {changed}"


def diff(before: object, after: object) -> dict[str, list[str]]:
    def lines(value: object) -> set[str]:
        items = value if isinstance(value, list) else [value]
        return {json.dumps(i, sort_keys=True)[:300] for i in items}

    return {"added": sorted(lines(after) - lines(before)), "removed": sorted(lines(before) - lines(after))}


def wait_for_mcp_setup(url: str, api_key: str) -> None:
    """1.13.0 configures MCP for the starter project 10 s after startup (main.py
    delayed_init_mcp_servers: an API key, auth settings): let it finish before a first snapshot."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(k["name"].startswith("MCP Project Starter Project") for k in snapshot(url, api_key)["api_keys"]):
            return
        time.sleep(2)
