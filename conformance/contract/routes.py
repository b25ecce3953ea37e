"""Which catalog endpoint a concrete request is for ("GET /api/v1/flows/<uuid>" -> flows.read): the
timeout breaker keys on it, so every requirement of a hanging endpoint learns from the first timeout."""

from __future__ import annotations

import re
from collections.abc import Iterable

from conformance.contract.catalog import Endpoint

_PARAM = re.compile(r"\{[^}]+\}")


class Routes:
    def __init__(self, endpoints: Iterable[Endpoint], prefix: str = "") -> None:
        self.prefix = prefix.rstrip("/")  # the deployment's path prefix (https://HOST/lf/ID)
        table = []
        for e in endpoints:
            for path in (e.path, *e.aliases):
                literal = len(_PARAM.sub("", path))
                pattern = re.compile(
                    "^" + _PARAM.sub("[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "/?$"
                )
                table.append((e.method if e.method != "WS" else "GET", literal, pattern, f"{e.method} {e.path}"))
        # Literal paths before templates (/flows/audits before /flows/{flow_id}).
        self.table = sorted(table, key=lambda row: -row[1])

    def match(self, method: str, path: str) -> str | None:
        if self.prefix and path.startswith(self.prefix):
            path = path[len(self.prefix) :]
        for wanted, _, pattern, key in self.table:
            if wanted == method and pattern.match(path):
                return key
        return None
