"""One place that knows the run's secrets and masks them in everything we write or print."""

from __future__ import annotations

import re

MASK = "***"
# Shapes of Langflow secrets we may meet in server answers even if we never registered them:
# API keys ("sk-" + 43 url-safe chars) and JWTs.
SHAPES = [
    re.compile(r"sk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
]


class Secrets:
    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str | None) -> None:
        # Very short values would mask ordinary words; nobody uses a 3-character password here.
        if value and len(value) >= 4:
            self._values.add(value)

    def mask(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, MASK)
        for pattern in SHAPES:
            text = pattern.sub(MASK, text)
        return text

    def __contains__(self, value: str) -> bool:
        return value in self._values


# The run's registry. Module-level because pytest hooks, the HTTP client and the reporter must all
# see the same set, including in xdist workers (each worker registers what it is handed).
SECRETS = Secrets()
mask = SECRETS.mask
