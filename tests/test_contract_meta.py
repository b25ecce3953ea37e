"""Meta-tests of the contract data (no server needed): schemas are valid and not vacuous, every
documented example validates, every documented operation is in the catalog, every entry has a source."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from conformance.contract import load_contract
from conformance.contract.catalog import AUTH_VALUES, SAFETY_VALUES, build_endpoint
from conformance.contract.documents import WHOLE_FILE, covers_mention, documented_operations, headings, normalize
from conformance.contract.schemas import ID_BASE
from conformance.requirements.generation import ENABLED_CHECKS

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO.parent / "shared" / "langflow-docs"
NOTES = REPO.parent / "shared" / "reference" / "langflow-api-notes.md"
EXAMPLES = sorted((REPO / "fixtures" / "doc-examples").glob("*.json"))
CONTRACT = load_contract()
needs_docs = pytest.mark.skipif(not DOCS.is_dir(), reason="needs ../shared/langflow-docs beside the repository")


def all_entries() -> list[tuple[str, dict[str, Any]]]:
    return [(group, raw) for group, raw, _ in CONTRACT.catalog.entries]


def edition_views() -> list[Any]:
    """Every entry as each edition sees it (overrides applied)."""
    return [e for edition in CONTRACT.editions.ids for e in CONTRACT.catalog.resolve(edition)]


@pytest.mark.parametrize("ref", sorted(CONTRACT.schemas.by_ref))
def test_schema_is_valid_draft_2020_12_with_id_and_local_refs(ref: str) -> None:
    schema = CONTRACT.schemas.schema(ref)
    Draft202012Validator.check_schema(schema)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert schema.get("$id") == ID_BASE + ref
    for target in re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(schema)):
        assert target.startswith("#") or target.split("#")[0].removeprefix(ID_BASE) in CONTRACT.schemas, target


@pytest.mark.parametrize("ref", sorted(CONTRACT.schemas.by_ref))
def test_no_schema_accepts_everything(ref: str) -> None:
    accepted = [v for v in (None, {}, [], "x", 0, True) if not CONTRACT.schemas.errors(ref, v)]
    assert len(accepted) < 6, f"{ref} accepts every kind of value"
    if CONTRACT.schemas.schema(ref).get("required"):
        assert CONTRACT.schemas.errors(ref, {}), f"{ref} accepts an empty object despite required fields"


def referenced_schemas() -> set[str]:
    refs: set[str] = set()
    for _, raw in all_entries():
        text = json.dumps(raw)
        refs |= set(re.findall(r'"schema":\s*"([^"]+\.json)"', text))
    for schema in CONTRACT.schemas.by_ref.values():
        refs |= {t.split("#")[0].removeprefix(ID_BASE) for t in re.findall(r'"\$ref":\s*"([^"#]+)', json.dumps(schema))}
    return refs


def test_every_schema_is_used_and_every_reference_exists() -> None:
    used = referenced_schemas()
    assert sorted(set(CONTRACT.schemas.by_ref) - used) == [], "schemas nothing refers to"
    assert sorted(used - set(CONTRACT.schemas.by_ref)) == [], "references to schemas that do not exist"


@pytest.mark.parametrize(("group", "raw"), all_entries(), ids=[raw["id"] for _, raw in all_entries()])
def test_catalog_entry_is_complete(group: str, raw: dict[str, Any]) -> None:
    endpoint = build_endpoint(group, raw)
    assert endpoint.id.startswith(group + "."), "ids start with their group"
    assert endpoint.auth in AUTH_VALUES and endpoint.safety in SAFETY_VALUES
    assert endpoint.path.startswith("/") and endpoint.method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "WS")
    assert endpoint.responses or endpoint.method == "WS", "documented statuses"
    assert endpoint.sources, "every entry cites its source"
    for edition in (raw.get("in_editions") or []) + list(raw.get("editions") or {}):
        assert CONTRACT.editions.get(str(edition)), f"unknown edition {edition}"


def test_ids_are_unique() -> None:
    ids = [raw["id"] for _, raw in all_entries()]
    assert len(ids) == len(set(ids))


@needs_docs
def test_every_source_exists_in_its_document() -> None:
    missing = []
    cache: dict[str, set[str]] = {}
    for endpoint in edition_views():
        for source in endpoint.sources:
            document = str(source["document"])
            path = NOTES if document == NOTES.name else DOCS / document
            assert path.is_file(), f"{endpoint.id}: no document {document}"
            if path == NOTES:
                continue
            known = cache.setdefault(document, headings(path))
            section = str(source["section"])
            if section == WHOLE_FILE:  # an example file a page imports is cited as a whole
                assert WHOLE_FILE in known, f"{endpoint.id}: {document} is a page: cite one of its sections"
                continue
            parts = [p.strip() for p in section.split("/")]
            if not any(p in known for p in parts):
                missing.append(f"{endpoint.id}: {document} has no section {section!r}")
    assert missing == []


@needs_docs
def test_every_documented_operation_is_in_the_catalog() -> None:
    """Every METHOD + path of every document: 000-003 and the 1.12 pages with their example files."""
    patterns = {(e.method, normalize(p)) for e in edition_views() for p in (e.path, *e.aliases)}
    operations = documented_operations(DOCS)
    assert any(op.document.startswith("1.12/") for op in operations), "the 1.12 documents were not read"
    missing: dict[tuple[str, str], str] = {}
    for op in operations:
        if not any(m == op.method and covers_mention(p, op) for m, p in patterns):
            missing.setdefault((op.method, op.path), f"{op.document}:{op.line}")
    listed = [f"{m} {p} ({where})" for (m, p), where in sorted(missing.items())]
    assert not listed, f"{len(listed)} documented operations are not in the catalog:\n" + "\n".join(listed)


@needs_docs
@pytest.mark.parametrize("path", ["/health", "/health_check", "/logs", "/logs-stream"])
def test_root_endpoints_named_by_the_brief_are_in_the_catalog(path: str) -> None:
    assert any(e.path == path for e in edition_views())


def load_example(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def example_schema(example: dict[str, Any]) -> str:
    endpoint = CONTRACT.select("99.0.0" if example["edition"] != "1.1" else "1.1.1", example["edition"]).endpoint(
        example["endpoint"]
    )
    spec = endpoint.responses[int(example["status"])]
    if example.get("variant"):
        variant = next(v for v in spec.tolerated if v.id == example["variant"])
        assert variant.schema
        return variant.schema
    if endpoint.stream and spec.schema:
        return spec.schema
    assert spec.schema, f"{example['endpoint']} {example['status']} has no schema"
    return spec.schema


def instances(example: dict[str, Any], schema_ref: str) -> list[Any]:
    """The example body, or each event of a documented stream."""
    body = example["body"]
    endpoint_stream = isinstance(body, list) and schema_ref.endswith((".event.json", ".events.json"))
    return body if endpoint_stream else [body]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_documented_example_validates_and_cites_its_line(path: Path) -> None:
    example = load_example(path)
    ref = example_schema(example)
    for instance in instances(example, ref):
        assert CONTRACT.schemas.errors(ref, instance) == []
    source = example["source"]
    if DOCS.is_dir():
        lines = (DOCS / source["document"]).read_text().splitlines()
        assert 1 <= source["line"] <= len(lines)
        assert source["section"] in headings(DOCS / source["document"])


def broken_variants(instance: Any, schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """Realistic breaks: drop a required field, change a required field's type (on the object or the first item)."""
    if isinstance(instance, list) and instance:
        return [
            (f"[0] {what}", [broken, *instance[1:]])
            for what, broken in broken_variants(instance[0], schema.get("items", {}))
        ]
    if not isinstance(instance, dict):
        return []
    required = [k for k in schema.get("required", []) if k in instance]
    if not required:
        required = [k for k in instance if k in schema.get("properties", {})]
    if not required and instance:  # a map (e.g. timestamp -> log line): break one of its values
        key = next(iter(instance))
        return [(f"{key} with another type", {**instance, key: 12345 if isinstance(instance[key], str) else "x"})]
    variants = []
    for key in required[:1]:
        dropped = copy.deepcopy(instance)
        del dropped[key]
        variants.append((f"without {key}", dropped))
    for key in required:
        value = instance[key]
        changed = copy.deepcopy(instance)
        changed[key] = another_type(value, (schema.get("properties") or {}).get(key))
        variants.append((f"{key} with another type", changed))
    return variants


def another_type(value: Any, schema: Any) -> Any:
    """A value of a type the field's schema does not allow. A null example of a nullable field says
    nothing about its other type ("created_at": null may be a string), so that one comes from the schema."""
    if value is None and isinstance(schema, dict) and schema.get("type"):
        allowed = {schema["type"]} if isinstance(schema["type"], str) else set(schema["type"])
        for candidate, kind in ((12345, "integer"), ("not-the-documented-type", "string"), ([1], "array")):
            if kind not in allowed and not (kind == "integer" and "number" in allowed):
                return candidate
    return 12345 if isinstance(value, str) else "not-the-documented-type"


def resolved(ref: str) -> dict[str, Any]:
    schema = CONTRACT.schemas.schema(ref)
    if "$ref" in schema and len(schema) <= 5:
        target = schema["$ref"].split("#")[0].removeprefix(ID_BASE)
        return CONTRACT.schemas.schema(target) if target in CONTRACT.schemas else schema
    return schema


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_schema_rejects_broken_variants_of_its_example(path: Path) -> None:
    example = load_example(path)
    ref = example_schema(example)
    candidates = instances(example, ref)
    instance = next((i for i in candidates if isinstance(i, (dict, list))), candidates[0])
    variants = broken_variants(instance, resolved(ref))
    assert variants, f"{path.name}: nothing to break (no documented fields)"
    accepted = [what for what, broken in variants if not CONTRACT.schemas.errors(ref, broken)]
    # every type change must be caught; a dropped field only where the documents present it as always there
    assert not [a for a in accepted if "another type" in a], f"{ref} accepts {accepted}"
    assert len(accepted) < len(variants), f"{ref} accepts every broken variant: {accepted}"


def test_every_response_schema_has_a_documented_example_or_its_own() -> None:
    """A response schema is only proven non-vacuous by breaking a realistic instance of it."""
    with_examples = {example_schema(load_example(p)) for p in EXAMPLES}
    without = []
    for ref in sorted(CONTRACT.schemas.by_ref):
        if ref.endswith(".request.json") or ref.startswith("common/"):
            continue
        if ref not in with_examples and not CONTRACT.schemas.schema(ref).get("examples"):
            without.append(ref)
    assert without == []


@pytest.mark.parametrize(
    "ref", sorted(r for r in CONTRACT.schemas.by_ref if CONTRACT.schemas.schema(r).get("examples"))
)
def test_schema_own_examples_validate_and_break(ref: str) -> None:
    schema = CONTRACT.schemas.schema(ref)
    for instance in schema["examples"]:
        assert CONTRACT.schemas.errors(ref, instance) == []
        variants = broken_variants(instance, schema)
        if variants:
            assert any(CONTRACT.schemas.errors(ref, b) for _, b in variants), f"{ref} accepts every broken variant"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping with the same key twice (safe_load keeps the last one)."""


def _construct_unique(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
    duplicated = {k for k in keys if keys.count(k) > 1}
    if duplicated:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {sorted(duplicated)}", node.start_mark)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique)


@pytest.mark.parametrize("path", sorted((REPO / "schemas").glob("**/*.yaml")), ids=lambda p: p.name)
def test_no_yaml_file_repeats_a_key(path: Path) -> None:
    yaml.load(path.read_text(), Loader=_UniqueKeyLoader)


PROPERTY_KEYS = {"skip", "pin", "checks", "statuses"}


@pytest.mark.parametrize("entry", [raw for _, raw in all_entries() if "property" in raw], ids=lambda r: r["id"])
def test_property_settings_say_why(entry: dict[str, Any]) -> None:
    """Noise control is per endpoint and explained: every pin, tolerated status and check setting has a
    reason, and names only checks the property layer runs (never a global switch)."""
    settings = entry["property"]
    assert set(settings) <= PROPERTY_KEYS, set(settings) - PROPERTY_KEYS
    if "skip" in settings:
        assert isinstance(settings["skip"], str) and len(settings["skip"]) > 20
    where = {p["name"] for p in (entry.get("request") or {}).get("parameters", [])}
    body = (entry.get("request") or {}).get("body") or {}
    body_fields = set(CONTRACT.schemas.schema(body["schema"]).get("properties", {})) if body.get("schema") else set()
    for name, pin in (settings.get("pin") or {}).items():
        assert set(pin) == {"value", "reason"} and len(pin["reason"]) > 20, name
        assert name in where | body_fields, f"pin {name!r} is neither a parameter nor a body field"
    for status, why in (settings.get("statuses") or {}).items():
        assert 400 <= int(status) < 500 and len(why) > 20, status
    for check, setting in (settings.get("checks") or {}).items():
        assert check in ENABLED_CHECKS, f"{check} is not a check the property layer runs"
        assert len(setting.get("reason", "")) > 20, check


EVIDENCE = REPO / "docs" / "evidence" / "releases"


def surveyed() -> dict[str, dict[str, Any]]:
    """Release -> what docs/evidence/releases/<release>.yaml says it serves (tools/survey_releases.py)."""
    found = {}
    for path in EVIDENCE.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        found[data["release"]] = {k: v.get("served") for k, v in (data.get("served") or {}).items()}
    return found


def test_since_is_the_first_minor_line_that_serves_the_route() -> None:
    """Applicability comes from real releases (the newest patch of every minor line, 1.0-1.13): an
    entry applies from the first minor line that serves its route, unless `since_why` says why the
    documented behaviour starts later; and no surveyed release it applies to fails to serve it."""
    from packaging.version import Version

    releases = surveyed()
    ordered = sorted(releases, key=Version)
    wrong = []
    for _, raw in all_entries():
        served = [r for r in ordered if releases[r].get(raw["id"]) is True]
        if not served:
            continue  # not probed anywhere (WebSockets)
        first = Version(served[0])
        minor0 = f"{first.major}.{first.minor}.0"
        since = raw.get("since")
        if raw.get("since_why"):
            if not since or Version(since) < Version(minor0):
                wrong.append(f"{raw['id']}: since {since} is earlier than its route ({minor0})")
        elif since != minor0:
            wrong.append(f"{raw['id']}: since {since!r}, first served by {served[0]} (since: {minor0!r})")
        until = Version(raw["until"]) if raw.get("until") else None
        for release in ordered:
            applies = Version(release) >= Version(since or "0") and (until is None or Version(release) < until)
            if applies and releases[release].get(raw["id"]) is False:
                wrong.append(f"{raw['id']}: applies to {release}, which does not serve it")
    assert wrong == []
