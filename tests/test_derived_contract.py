"""The OpenAPI document derived from the contract (conformance/contract/openapi.py): what the
property layer generates from and what --dump-contract writes. It must load in schemathesis, resolve
every reference, and say no more and no less than the catalog and schemas do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from conformance.contract import load_contract
from conformance.contract.openapi import applicable, build_document
from conformance.errors import EXIT_OK, EXIT_USAGE

from .conftest import run_suite

RELEASES = ["1.1.1", "1.4.3", "1.7.3", "1.13.0"]


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


def keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return list(value) + [k for v in value.values() for k in keys(v)]
    if isinstance(value, list):
        return [k for v in value for k in keys(v)]
    return []


def resolve(document: dict, ref: str) -> Any:
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        assert isinstance(target, dict) and part in target, f"{ref} does not resolve (at {part!r})"
        target = target[part]
    return target


@pytest.fixture(scope="module", params=RELEASES)
def release(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_reference_resolves_inside_the_document(release: str) -> None:
    for closed in (False, True):
        document = build_document(load_contract().select(release), closed_requests=closed)
        for ref in refs(document):
            assert ref.startswith("#/components/schemas/"), ref
            resolve(document, ref)


def test_one_operation_per_method_and_path_with_unique_ids(release: str) -> None:
    selected = load_contract().select(release)
    document = build_document(selected)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    also = [i for item in document["paths"].values() for op in item.values() for i in op.get("x-also-catalog-ids", [])]
    assert sorted(ids + also) == sorted(e.id for e in applicable(selected))


def test_schemathesis_loads_every_operation(release: str) -> None:
    document = build_document(load_contract().select(release), closed_requests=True)
    schema = schemathesis.openapi.from_dict(document)
    loaded = [result.ok() for result in schema.get_all_operations()]
    assert len(loaded) == sum(len(item) for item in document["paths"].values())


def test_request_objects_are_closed_only_when_asked() -> None:
    selected = load_contract().select("1.7.3")
    documented = build_document(selected)["components"]["schemas"]
    closed = build_document(selected, closed_requests=True)["components"]["schemas"]
    key = "flows.flow-create.request"
    assert "additionalProperties" not in documented[key]
    assert closed[f"{key}.closed"]["additionalProperties"] is False
    # x-valid-request narrows only what valid requests are drawn from; the documented schema keeps the type.
    assert not [r for r in keys(documented) if r == "x-valid-request"]
    assert documented[key]["properties"]["data"] != closed[f"{key}.closed"]["properties"]["data"]


def test_documented_statuses_and_tolerated_ones_are_told_apart() -> None:
    document = build_document(load_contract().select("1.7.3"))
    responses = document["paths"]["/api/v1/variables/"]["post"]["responses"]
    assert "201" in responses and not responses["201"].get("x-tolerated")
    tolerated = [
        s
        for item in document["paths"].values()
        for op in item.values()
        for s, r in op["responses"].items()
        if r.get("x-tolerated")
    ]
    assert tolerated and all(s[0] == "4" for s in tolerated)


def test_dump_contract_writes_the_document_without_a_server(tmp_path: Path) -> None:
    out = tmp_path / "contract.json"
    result = run_suite(tmp_path, "--langflow-version", "1.4.3", "--dump-contract", str(out), timeout=120)
    assert result.code == EXIT_OK, result.output[-2000:]
    document = json.loads(out.read_text())
    assert document["openapi"] == "3.1.0" and document["info"]["version"] == "1.4.3"
    assert "installing Langflow" not in result.output and "starting Langflow" not in result.output


def test_dump_contract_to_an_unwritable_place_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = run_suite(tmp_path, "--dump-contract", str(tmp_path / "a-file" / "c.json"), timeout=120)
    assert result.code == EXIT_USAGE
    assert "--dump-contract" in result.output and "cannot write it" in result.output
