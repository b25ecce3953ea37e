"""Marks docs/ as the package `conformance.docs` (pyproject.toml maps it): docs/findings.md, the
written-up deviations of real releases, ships with the package (`--baseline known`). Data only."""
