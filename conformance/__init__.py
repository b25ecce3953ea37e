"""langflow-conformance: the documented Langflow HTTP API as data, and a pytest plugin that checks
a deployment against it."""

__version__ = "0.2.0"
