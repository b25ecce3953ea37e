"""Production-like deployments the project's tests start and stop themselves: a private CA
(ca.py), a throwaway PostgreSQL (postgres.py), nginx terminating TLS under a path prefix
(nginx.py), a Bearer-token gateway (gateway.py), and the assembled stack (stack.py).

Built from Debian packages and PyPI only:
`apt-get install -y --no-install-recommends postgresql nginx openssl`."""

from __future__ import annotations

import shutil
from types import TracebackType
from typing import Self

APT_COMMAND = "apt-get install -y --no-install-recommends postgresql nginx openssl"


def require(program: str) -> str:
    """The program's path, or an error that says which Debian packages provide it."""
    found = shutil.which(program)
    if found is None:
        raise RuntimeError(f"{program} is not installed; the deployment tests need: {APT_COMMAND}")
    return found


class Service:
    """Something a test starts and stops: `with Service(...) as running:` stops it however the block ends."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
