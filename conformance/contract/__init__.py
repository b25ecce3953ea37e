"""The contract loaded from schemas/: editions, the endpoint catalog, and the JSON Schemas."""

from conformance.contract.catalog import Catalog, Endpoint, ResponseSpec, Variant
from conformance.contract.editions import Edition, Editions
from conformance.contract.loader import Contract, SelectedContract, contract_root, load_contract
from conformance.contract.schemas import SchemaStore

__all__ = [
    "Catalog",
    "Contract",
    "Edition",
    "Editions",
    "Endpoint",
    "ResponseSpec",
    "SchemaStore",
    "SelectedContract",
    "Variant",
    "contract_root",
    "load_contract",
]
