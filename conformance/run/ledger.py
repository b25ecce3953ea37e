"""Every resource the run creates, so teardown can delete it in reverse order, whatever happened."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx


def new_run_id() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


# Failed deletes are tried again after these pauses: 1.13.0 answers a project delete that met a
# sqlite lock with 500 (its lock retry refreshes an API-key user that is no ORM row, finding F15),
# and the lock lasts while another xdist worker writes.
RETRY_PAUSES_S = (1.0, 2.0, 4.0)
UNANSWERED_LIMIT = 2


def run_prefix(run_id: str) -> str:
    """ "lfc-" and 8 hex digits of the run id; --sweep recognizes exactly this shape."""
    import hashlib

    return "lfc-" + hashlib.sha256(run_id.encode()).hexdigest()[:8]


@dataclass
class Entry:
    kind: str
    ident: str
    delete: Callable[[], object]
    final: bool = False  # deleted by finish(), after everything else (the run's own API key)
    request: str | None = None  # "DELETE /path" that deletes it: seen answered 2xx, the entry is done


@dataclass
class Ledger:
    prefix: str  # every name the run gives a resource starts with this, so --sweep can find leftovers
    entries: list[Entry] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    finals: list[Entry] = field(default_factory=list)
    names: Iterator[int] = field(default_factory=lambda: itertools.count(1))  # one count for every user's names

    tearing_down: bool = False
    unanswered: int = 0  # deletes in a row that got no answer
    server_gone: bool = False

    def add(
        self, kind: str, ident: str, delete: Callable[[], object], final: bool = False, request: str | None = None
    ) -> None:
        self.entries.append(Entry(kind, ident, delete, final, request))

    def deleted(self, method: str, path: str) -> None:
        """A test's own delete of something the ledger holds succeeded: teardown need not send it again."""
        if self.tearing_down or method != "DELETE":
            return
        self.entries = [e for e in self.entries if not (e.request and path.endswith(e.request.split(" ", 1)[1]))]

    def discard(self, kind: str, ident: str) -> None:
        """The test deleted it itself."""
        self.entries = [e for e in self.entries if (e.kind, e.ident) != (kind, ident)]

    def teardown(self) -> list[str]:
        """Delete in reverse order; what fails is tried again after each pause of RETRY_PAUSES_S.
        Interrupted (Ctrl-C), it raises with what is not deleted yet back in `entries`. A server that
        stops answering (UNANSWERED_LIMIT deletes in a row get no answer) ends cleanup at once: each
        further delete would wait out the whole timeout, and a hung server deletes nothing."""
        failed: list[Entry] = []
        errors: dict[int, Exception] = {}
        self.tearing_down = True
        self.finals = [e for e in self.entries if e.final] + self.finals
        self.entries = [e for e in self.entries if not e.final]
        try:
            while self.entries and not self.server_gone:
                entry = self.entries[-1]  # popped once its delete has been tried, so Ctrl-C keeps it
                if self._try(entry, errors):
                    failed.append(entry)
                self.entries.pop()
            for pause in RETRY_PAUSES_S:
                if not failed or self.server_gone:
                    break
                time.sleep(pause)
                failed = [entry for entry in failed if self._try(entry, errors)]
        except KeyboardInterrupt:
            self.entries += failed
            raise
        if self.server_gone:
            left = len(failed) + len(self.entries) + len(self.finals)
            self.failures.append(
                f"cleanup stopped: the server stopped answering ({UNANSWERED_LIMIT} deletes in a row got no answer); "
                f"{left} resources named {self.prefix}-* may be left: run --sweep once it answers again"
            )
            self.entries, self.finals = [], []
            return self.failures
        for entry in failed:
            exc = errors[id(entry)]
            self.failures.append(f"could not delete {entry.kind} {entry.ident}: {type(exc).__name__}: {exc}")
        return self.failures

    def _try(self, entry: Entry, errors: dict[int, Exception]) -> bool:
        """Delete one entry; True when it failed (its error kept)."""
        try:
            entry.delete()
        except Exception as exc:  # keep going: one failed delete must not strand the rest
            errors[id(entry)] = exc
            unanswered = isinstance(exc, httpx.TimeoutException | httpx.NetworkError)
            self.unanswered = self.unanswered + 1 if unanswered else 0
            self.server_gone = self.unanswered >= UNANSWERED_LIMIT
            return True
        self.unanswered = 0
        return False

    def finish(self) -> list[str]:
        """The final entries (the credentials cleanup itself needed), once the rest is done."""
        self.entries, self.finals = [Entry(e.kind, e.ident, e.delete) for e in self.finals], []
        before = len(self.failures)
        return self.teardown()[before:] if self.entries else []
