"""--sweep and cleanup by name: find what runs left behind (names shaped like a run's, and what
servers derive from them) and delete it, children first."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from conformance.run.kinds import Kind, json_of, leaves, request_kwargs, succeeded, summary
from conformance.run.ledger import RETRY_PAUSES_S

if TYPE_CHECKING:
    from conformance.run.resources import Resources

# Every run names its resources "lfc-<8 hex>-..." (ledger.run_prefix): --sweep matches exactly that
# shape, so "lfc-admin" or a user's own "lfc-notes" is never touched.
RUN_NAME = re.compile(r"lfc-[0-9a-f]{8}-")


# Sweep ------------------------------------------------------------------------------------------

SWEEP_ORDER = ("file_v1", "file", "variable", "api_key", "flow", "project", "user")  # children first
# Names servers derive from ours: v1 uploads get a timestamp ("2026-11-23_10-00-00_<name>"), and
# 1.13.0 gives each new project an API key "MCP Project <project name> - default" that outlives it.
_DERIVED = re.compile(r"^(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_|MCP Project )")


def is_leftover(name: str, pattern: re.Pattern[str] = RUN_NAME) -> bool:
    base = name.rsplit("/", 1)[-1]
    return bool(pattern.match(base) or pattern.match(_DERIVED.sub("", base)))


def objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from objects(v)


def sweep(resources: Resources, progress: Callable[[str], None] = print) -> int:
    """Delete what earlier runs left behind: only resources named like a run's (`RUN_NAME`)."""
    return sum(sweep_kind(resources, kind, is_leftover, progress) for kind in SWEEP_ORDER)


def sweep_kind(
    resources: Resources,
    kind_name: str,
    matches: Callable[[str], object],
    progress: Callable[[str], None] = print,
    by_release: bool = False,
) -> int:
    """Delete the resources of one kind whose name `matches`. `by_release`: use the endpoints of the
    target's release even when the run checks it against another edition (cleanup is not a check)."""
    kind = resources.kinds[kind_name]
    contract = resources.contract.contract.select(resources.contract.release) if by_release else resources.contract
    list_step, delete_step = kind.step("list", contract), kind.step("delete", contract)
    if list_step is None or delete_step is None:
        return 0
    deleted = 0
    id_field, name_field = kind.raw.get("id", "id"), kind.raw.get("name", "name")
    # Children are listed per parent: v1 files of the leftover flows.
    parents: list[str | None] = [None]
    if kind.raw.get("parent") == "flow":
        parents = list(_leftover_ids(resources, resources.kinds["flow"], matches))
    for parent in parents:
        values = {"flow": parent} if parent else {}
        response = resources.client.request(**request_kwargs(list_step, values, resources.content))
        if not succeeded(response):
            if kind.raw.get("requires", {}).get("superuser") and response.status_code in (401, 403):
                continue  # not a superuser: there are no users of ours to see
            progress(f"sweep: {list_step.endpoint.operation} answered {summary(response)}; skipping {kind_name}s")
            continue
        body = json_of(response)
        if kind_name == "file_v1":  # the list holds bare names
            found = [(n, n) for n in leaves(body) if isinstance(n, str) and matches(n)]
        else:
            found = [
                (str(o[id_field]), str(o.get(name_field)))
                for o in objects(body)
                if id_field in o and matches(str(o.get(name_field, "")))
            ]
        for ident, name in found:
            ident = ident.split(kind.raw["id_after"], 1)[-1] if kind.raw.get("id_after") else ident
            delete = request_kwargs(delete_step, {**values, "id": ident}, resources.content)
            answer = resources.client.request(**delete)
            for pause in RETRY_PAUSES_S:  # a 5xx may be a passing sqlite lock (finding F15), as in teardown
                if answer.status_code < 500:
                    break
                time.sleep(pause)
                answer = resources.client.request(**delete)
            ok = succeeded(answer) or answer.status_code == 404
            deleted += ok
            progress(
                f"sweep: {'deleted' if ok else 'could not delete'} {kind_name} {name}"
                + ("" if ok else f" ({summary(answer)})")
            )
    return deleted


def _leftover_ids(resources: Resources, kind: Kind, matches: Callable[[str], object]) -> list[str]:
    step = kind.step("list", resources.contract)
    if step is None:
        return []
    response = resources.client.request(**request_kwargs(step, {}, resources.content))
    if not succeeded(response):
        return []
    return [str(o["id"]) for o in objects(json_of(response)) if "id" in o and matches(str(o.get("name", "")))]
