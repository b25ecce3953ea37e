"""Contract editions: which documentation era a Langflow release is held to (schemas/editions.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from conformance.contract.yamlfile import load_yaml


@dataclass(frozen=True)
class Edition:
    id: str
    start: Version
    documents: tuple[str, ...]
    auth_required: str  # "always": endpoints with auth api-key must refuse anonymous requests;
    # "deployment": only where the deployment enforces authentication
    why: str
    # The fewest requirements a whole-suite run in each mode must run (pass or fail) before its verdict
    # means anything: below it the run is vacuous (gate.py).
    expects: dict[str, int] = field(default_factory=dict)
    # The edition's auth rule holds from this release on; before it, "deployment" (an endpoint documented
    # only later is held to the later document, but not to a rule its text dates: 001 "In Langflow
    # versions 1.5 and later, most API endpoints require authentication").
    auth_required_from: Version | None = None

    def auth_rule(self, release: str) -> str:
        if self.auth_required_from is not None and Version(release) < self.auth_required_from:
            return "deployment"
        return self.auth_required


class Editions:
    def __init__(self, editions: list[Edition]) -> None:
        self.all = sorted(editions, key=lambda e: e.start)

    @classmethod
    def load(cls, path: Path) -> Editions:
        data = load_yaml(path)
        return cls(
            [
                Edition(
                    str(e["id"]),
                    Version(str(e["from"])),
                    tuple(e.get("documents", ())),
                    str(e.get("auth_required", "always")),
                    e.get("why", ""),
                    {str(k): int(v) for k, v in (e.get("expects") or {}).items()},
                    Version(str(e["auth_required_from"])) if e.get("auth_required_from") else None,
                )
                for e in data["editions"]
            ]
        )

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.all]

    def get(self, edition_id: str) -> Edition | None:
        return next((e for e in self.all if e.id == edition_id), None)

    def for_release(self, release: str) -> Edition:
        version = Version(release)
        chosen = self.all[0]
        for edition in self.all:
            if version >= edition.start:
                chosen = edition
        return chosen
