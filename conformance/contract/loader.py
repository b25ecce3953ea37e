"""Find schemas/, load it once, and select the edition that applies to a target."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .catalog import Catalog, Endpoint, build_endpoint
from .editions import Edition, Editions
from .schemas import SchemaStore


def contract_root() -> Path:
    """schemas/ of the repository the package is installed from (pip install -e)."""
    override = os.environ.get("LANGFLOW_CONFORMANCE_CONTRACT")  # the project's own tests use a copy
    if override:
        return Path(override)
    package = Path(__file__).resolve().parents[1]
    candidate = package.parent / "schemas"
    if (candidate / "editions.yaml").is_file():
        return candidate
    raise FileNotFoundError(
        f"contract data (schemas/editions.yaml) not found beside {package}; install the repository "
        "with pip install -e, or point LANGFLOW_CONFORMANCE_CONTRACT at a schemas/ directory"
    )


@dataclass
class Contract:
    root: Path
    editions: Editions
    catalog: Catalog
    schemas: SchemaStore

    def endpoint(self, endpoint_id: str) -> Endpoint:
        """An entry as written, without edition overrides (its path and method never change)."""
        for group, raw, _ in self.catalog.entries:
            if raw["id"] == endpoint_id:
                return build_endpoint(group, raw)
        raise KeyError(f"no catalog entry {endpoint_id!r}")

    def select(self, release: str, edition_id: str | None = None) -> SelectedContract:
        edition = self.editions.get(edition_id) if edition_id else self.editions.for_release(release)
        if edition is None:
            raise KeyError(edition_id)
        return SelectedContract(self, release, edition, self.catalog.resolve(edition.id))


@dataclass
class SelectedContract:
    contract: Contract
    release: str
    edition: Edition
    endpoints: list[Endpoint]

    @property
    def schemas(self) -> SchemaStore:
        return self.contract.schemas

    def endpoint(self, endpoint_id: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.id == endpoint_id:
                return endpoint
        raise KeyError(f"no catalog entry {endpoint_id!r}")

    def not_applicable_reason(self, endpoint: Endpoint) -> str | None:
        return endpoint.not_applicable_reason(self.release, self.edition.id)


@cache
def load_contract(root: Path | None = None) -> Contract:
    root = root or contract_root()
    return Contract(
        root=root,
        editions=Editions.load(root / "editions.yaml"),
        catalog=Catalog.load(root / "catalog"),
        schemas=SchemaStore(root),
    )
