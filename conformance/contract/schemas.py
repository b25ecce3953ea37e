"""Every JSON Schema under schemas/, in one registry, validated with format checking."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ID_BASE = "https://langflow-conformance.dev/schemas/"
REPORT_DIR = "report"  # the tool's own output formats (report.json, baselines), not the contract


class SchemaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.by_ref: dict[str, dict[str, Any]] = {}  # "group/name.json" -> schema
        for path in sorted(root.glob("*/*.json")):
            if path.parent.name == REPORT_DIR:
                continue
            self.by_ref[path.relative_to(root).as_posix()] = json.loads(path.read_text())
        for path in sorted(root.glob("*.json")):
            self.by_ref[path.name] = json.loads(path.read_text())
        self.registry: Registry = Registry().with_resources(
            (schema.get("$id", ID_BASE + ref), Resource.from_contents(schema, default_specification=DRAFT202012))
            for ref, schema in self.by_ref.items()
        )

    def __contains__(self, ref: str) -> bool:
        return ref in self.by_ref

    def schema(self, ref: str) -> dict[str, Any]:
        try:
            return self.by_ref[ref]
        except KeyError:
            raise KeyError(f"no schema {ref!r} under {self.root}") from None

    @cache  # noqa: B019 - one store per run; validators are reused across many responses
    def validator(self, ref: str) -> Draft202012Validator:
        return Draft202012Validator(
            self.schema(ref), registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    def errors(self, ref: str, instance: Any) -> list[str]:
        """Readable validation errors (empty when valid), each with its JSON path."""
        found = sorted(self.validator(ref).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{e.json_path}: {e.message[:160]}" for e in found]
