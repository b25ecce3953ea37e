"""Find schemas/, load it once, and select the edition that applies to a target."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

from conformance.contract.catalog import Catalog, Endpoint, build_endpoint
from conformance.contract.editions import Edition, Editions
from conformance.contract.features import Features
from conformance.contract.schemas import REPORT_DIR, SchemaStore

CONTRACT_PACKAGE = "conformance.schemas"  # schemas/ of the repository, mapped by pyproject.toml


def contract_root() -> Path:
    """The contract data: LANGFLOW_CONFORMANCE_CONTRACT (another copy of schemas/), else the package's own."""
    override = os.environ.get("LANGFLOW_CONFORMANCE_CONTRACT")
    if override:
        return Path(override)
    root = Path(str(resources.files(CONTRACT_PACKAGE)))
    if not (root / "editions.yaml").is_file():
        raise FileNotFoundError(
            f"contract data (editions.yaml) missing from {root}; reinstall langflow-conformance, or point "
            "LANGFLOW_CONFORMANCE_CONTRACT at a schemas/ directory"
        )
    return root


@dataclass
class Contract:
    root: Path
    editions: Editions
    catalog: Catalog
    schemas: SchemaStore
    features: Features

    @cached_property
    def digest(self) -> str:
        """sha256 of every contract file (path and bytes): two reports with the same digest were
        judged by the same contract, wherever the tool was installed from."""
        hashed = hashlib.sha256()
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.suffix in (".json", ".yaml") and path.parent.name != REPORT_DIR:
                hashed.update(path.relative_to(self.root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        return hashed.hexdigest()

    def endpoint(self, endpoint_id: str) -> Endpoint:
        """An entry as written, without edition overrides (its path and method never change)."""
        for group, raw, _ in self.catalog.entries:
            if raw["id"] == endpoint_id:
                return build_endpoint(group, raw)
        raise KeyError(f"no catalog entry {endpoint_id!r}")

    def select(self, release: str, edition_id: str | None = None) -> SelectedContract:
        """The contract a release is held to: each documented endpoint it serves under the newest
        edition that describes it as of that release; or, with `edition_id`, one edition for all."""
        if edition_id:
            edition = self.editions.get(edition_id)
            if edition is None:
                raise KeyError(edition_id)
            return SelectedContract(self, release, edition, self.catalog.resolve(edition.id), per_endpoint=False)
        ordered = [(e.id, e.start) for e in self.editions.all]
        endpoints = self.catalog.resolve_per_endpoint(release, ordered)
        return SelectedContract(self, release, self.editions.for_release(release), endpoints, per_endpoint=True)


@dataclass
class SelectedContract:
    contract: Contract
    release: str
    edition: Edition  # the release's own edition (per endpoint: the newest that applies to it)
    endpoints: list[Endpoint]
    per_endpoint: bool = True  # each endpoint under its own edition; False: one edition for all

    def edition_of(self, endpoint: Endpoint) -> Edition:
        found = self.contract.editions.get(endpoint.edition) if endpoint.edition else None
        return found or self.edition

    def editions_used(self) -> dict[str, int]:
        """Endpoints per edition that judges them (report.json)."""
        counts: dict[str, int] = {}
        for e in self.endpoints:
            key = e.edition or self.edition.id
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def schemas(self) -> SchemaStore:
        return self.contract.schemas

    def endpoint(self, endpoint_id: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.id == endpoint_id:
                return endpoint
        raise KeyError(f"no catalog entry {endpoint_id!r}")

    def not_applicable_reason(self, endpoint: Endpoint) -> str | None:
        return endpoint.not_applicable_reason(self.release, None if self.per_endpoint else self.edition.id)


@cache
def load_contract(root: Path | None = None) -> Contract:
    root = root or contract_root()
    return Contract(
        root=root,
        editions=Editions.load(root / "editions.yaml"),
        catalog=Catalog.load(root / "catalog"),
        schemas=SchemaStore(root),
        features=Features.load(root / "features.yaml"),
    )
