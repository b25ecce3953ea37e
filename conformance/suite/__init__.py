"""The conformance suite: tests generated from the catalog, one parametrized test per requirement kind.

Run it with `pytest` from the repository root, or from anywhere with
`pytest --pyargs conformance.suite --server URL`."""
