"""--compare: what changed since a previous run's report.json (the nightly use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.errors import OptionError

FAILING = ("fail", "error")
RAN = ("pass", *FAILING)


def load_previous(path: Path) -> dict[str, Any]:
    """A previous report, or a one-line OptionError naming what is wrong with it."""
    try:
        previous = json.loads(path.read_text())
    except OSError as exc:
        raise OptionError(f"--compare {path}: cannot read it ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise OptionError(f"--compare {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(previous, dict) or not isinstance(previous.get("requirements"), list):
        raise OptionError(f"--compare {path}: not a langflow-conformance report.json (no requirements list)")
    return previous


def compare(current: dict[str, Any], previous: dict[str, Any], path: Path) -> dict[str, Any]:
    """The comparison section; marks each changed requirement of `current` with `change`."""
    before = {r["id"]: r["outcome"] for r in previous["requirements"]}
    newly_failing, newly_passing, new = [], [], []
    for r in current["requirements"]:
        was = before.get(r["id"])
        if r["outcome"] in FAILING and was not in FAILING:
            newly_failing.append(r["id"])
            r["change"] = "newly failing"
        elif r["outcome"] == "pass" and was in FAILING:
            newly_passing.append(r["id"])
            r["change"] = "newly passing"
        elif r["outcome"] in RAN and was is None:
            new.append(r["id"])
            r["change"] = "new"
    exercised_before = {e for e, v in previous.get("endpoints", {}).items() if v.get("outcome") in RAN}
    new_endpoints = sorted(
        e for e, v in current["endpoints"].items() if v["outcome"] in RAN and e not in exercised_before
    )
    now = {r["id"] for r in current["requirements"] if r["outcome"] in RAN}
    no_longer_run = sorted(rid for rid, outcome in before.items() if outcome in RAN and rid not in now)
    was_release = previous.get("target", {}).get("release")
    return {
        "previous": {
            "path": str(path),
            "run_id": previous.get("run_id"),
            "release": was_release,
            "started_at": previous.get("started_at"),
            "edition": previous.get("contract", {}).get("edition"),
        },
        "release_changed": was_release != current["target"].get("release"),
        "newly_failing": newly_failing,
        "newly_passing": newly_passing,
        "new_requirements": new,
        "new_endpoints": new_endpoints,
        "no_longer_run": no_longer_run,
    }
