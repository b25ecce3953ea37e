"""The contract loaded from schemas/: editions, the endpoint catalog, and the JSON Schemas."""

from .catalog import Catalog, Endpoint, ResponseSpec, Variant
from .editions import Edition, Editions
from .loader import Contract, SelectedContract, contract_root, load_contract
from .schemas import SchemaStore

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
