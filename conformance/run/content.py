"""What the suite uploads and runs: small files, and the echo flow (ChatInput -> ChatOutput) built
from the target's own component templates."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import httpx

from conformance.contract import SelectedContract
from conformance.run.kinds import ResourceUnavailable, json_of, succeeded, summary

# A 1x1 transparent PNG: the smallest image every release's image route accepts.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
CSV = b"name,value\nconformance,1\n"


def upload(ref: str, new_name: Callable[[str], str], echo_graph: Callable[[], dict[str, Any]]) -> bytes:
    """The bytes of a multipart part the contract names by reference (`@png`, `@flow_export.json`)."""
    if ref == "@csv":
        return CSV
    if ref == "@png":
        return PNG
    if ref in ("@flow_export.json", "@project_export.zip"):
        name = new_name("flow")
        flow = {"name": name, "endpoint_name": name, "description": "langflow-conformance upload", "data": echo_graph()}
        if ref == "@flow_export.json":
            return json.dumps(flow).encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"{name}.json", json.dumps(flow))
        return buffer.getvalue()
    raise ResourceUnavailable(f"no generated content {ref!r}")


def echo_graph(client: httpx.Client, contract: SelectedContract) -> dict[str, Any]:
    """ChatInput -> ChatOutput from the target's own templates (notes §8.2a, §8.3): no LLM, no
    network, and the component code is whatever this release ships."""
    all_endpoint = contract.endpoint("base.all")
    response = client.request(all_endpoint.method, all_endpoint.path)
    if not succeeded(response):
        raise ResourceUnavailable(f"GET {all_endpoint.path} answered {summary(response)}")
    templates = {
        name: t for group in json_of(response).values() if isinstance(group, dict) for name, t in group.items()
    }
    try:
        chat_in, chat_out = templates["ChatInput"], templates["ChatOutput"]
    except KeyError as missing:
        raise ResourceUnavailable(f"GET {all_endpoint.path} lists no {missing} component") from None
    output = (chat_in.get("outputs") or [{}])[0]
    in_id, out_id = "ChatInput-lfcIn", "ChatOutput-lfcOut"
    target_field = chat_out["template"]["input_value"]
    input_types = target_field.get("input_types") or ["Message"]
    return {
        "nodes": [
            {
                "id": in_id,
                "type": "genericNode",
                "position": {"x": 0, "y": 0},
                "data": {"id": in_id, "type": "ChatInput", "node": chat_in},
            },
            {
                "id": out_id,
                "type": "genericNode",
                "position": {"x": 400, "y": 0},
                "data": {"id": out_id, "type": "ChatOutput", "node": chat_out},
            },
        ],
        "edges": [_edge(in_id, out_id, output, input_types, target_field.get("type", "str"))],
    }


def _edge(source: str, target: str, output: dict[str, Any], input_types: list[str], kind: str) -> dict[str, Any]:
    """The edge shape both the 1.1 and the 1.13 editors save: handle objects, and their `œ`-encoded
    strings, which older releases read."""
    source_handle = {
        "dataType": "ChatInput",
        "id": source,
        "name": output.get("name", "message"),
        "output_types": output.get("types") or ["Message"],
    }
    target_handle = {"fieldName": "input_value", "id": target, "inputTypes": input_types, "type": kind}
    return {
        "id": f"reactflow__edge-{source}-{target}",
        "source": source,
        "target": target,
        "sourceHandle": _encode_handle(source_handle),
        "targetHandle": _encode_handle(target_handle),
        "data": {"sourceHandle": source_handle, "targetHandle": target_handle},
    }


def _encode_handle(handle: dict[str, Any]) -> str:
    return json.dumps(handle, separators=(",", ":")).replace('"', "œ")
