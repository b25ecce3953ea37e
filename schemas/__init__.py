"""Marks schemas/ as the package `conformance.schemas` (pyproject.toml maps it), so the contract is
found with importlib.resources from a wheel, an sdist install and an editable checkout alike. Data only."""
