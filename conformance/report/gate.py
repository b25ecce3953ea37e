"""Release gating: which failures decide the exit code. A baseline of known failures (id, reason,
optional expiry) lets a release with known deviations pass; a baselined requirement that now passes
is stale; SHOULD failures never gate; a run that proves nothing (vacuous) fails on its own."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from conformance.contract.loader import CONTRACT_PACKAGE
from conformance.errors import EXIT_FAILED, EXIT_OK, EXIT_VACUOUS, OptionError
from conformance.report.known import known_for

BASELINE_SCHEMA = ("report", "baseline.schema.json")  # the tool's own format, in conformance.schemas
FAILING = ("fail", "error")


@dataclass(frozen=True)
class Entry:
    id: str
    reason: str
    expires: dt.date | None = None
    may_pass: str | None = None  # why it may not fail on a given run (intermittent, one database): never stale

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


@dataclass(frozen=True)
class Baseline:
    path: Path
    entries: dict[str, Entry]

    @classmethod
    def load(cls, path: Path, option: str = "--baseline") -> Baseline:
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise OptionError(f"{option} {path}: cannot read it ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise OptionError(f"{option} {path}: not YAML ({str(exc).splitlines()[0]})") from None
        data = json.loads(json.dumps(data, default=str))  # YAML dates -> "YYYY-MM-DD" for the schema
        schema = resources.files(CONTRACT_PACKAGE).joinpath(*BASELINE_SCHEMA).read_text()
        validator = Draft202012Validator(json.loads(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)
        error = next(iter(sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))), None)
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "the top level"
            raise OptionError(f"{option} {path}: {where}: {error.message}")
        entries: dict[str, Entry] = {}
        for raw in data.get("entries") or []:
            if raw["id"] in entries:
                raise OptionError(f"{option} {path}: {raw['id']} is listed twice")
            expires = dt.date.fromisoformat(raw["expires"]) if raw.get("expires") else None
            entries[raw["id"]] = Entry(raw["id"], raw["reason"], expires, raw.get("may_pass"))
        return cls(path, entries)

    @classmethod
    def known(cls, release: str) -> Baseline:
        """`--baseline known`: the deviations docs/findings.md writes up for this release."""
        entries = {k.id: Entry(k.id, k.label, None, k.may_pass) for k in known_for(release).values()}
        return cls(Path(f"known deviations of Langflow {release} (docs/findings.md)"), entries)


def write_baseline(path: Path, failures: Iterable[dict[str, Any]], previous: Baseline | None) -> int:
    """The run's failures as a baseline; entries the previous baseline had keep their reason and expiry."""
    entries = []
    for r in failures:
        old = previous.entries.get(r["id"]) if previous else None
        reason = old.reason if old else (r.get("message") or r["outcome"]).splitlines()[0][:200]
        entry: dict[str, Any] = {"id": r["id"], "reason": reason}
        if old and old.expires:
            entry["expires"] = old.expires.isoformat()
        if old and old.may_pass:
            entry["may_pass"] = old.may_pass
        entries.append(entry)
    header = (
        "# langflow-conformance baseline: known failures that do not fail the run.\n"
        "# Each entry: id (a requirement id of report.json), reason, optional expires (YYYY-MM-DD), optional\n"
        "# may_pass (why it may not fail on every run: never stale).\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump({"entries": entries}, sort_keys=False, allow_unicode=True, width=120))
    return len(entries)


def vacuous_reasons(report: dict[str, Any], max_skip_share: float, expects: int | None, whole_suite: bool) -> list[str]:
    """Why this run's verdict means nothing, if it does not."""
    reasons = []
    # Skips the operator chose (--mode) are not a sign of a vacuous run; every other skip is.
    musts = [
        r
        for r in report["requirements"]
        if r["level"] == "MUST"
        and r["outcome"] in ("pass", *FAILING, "skip")
        and not (r["outcome"] == "skip" and r.get("reason", "").startswith("mode "))
    ]
    skipped = sum(r["outcome"] == "skip" for r in musts)
    if not musts:
        reasons.append("no MUST requirement ran")
    elif 100.0 * skipped / len(musts) > max_skip_share:
        reasons.append(
            f"{skipped} of {len(musts)} MUST requirements ({100.0 * skipped / len(musts):.0f}%) were skipped, "
            f"more than --max-skip-share {max_skip_share:g}%"
        )
    if report.get("requests", 0) and not report.get("ok_responses", 0):
        reasons.append(f"no request succeeded: none of {report['requests']} requests got a 2xx answer")
    elif not report.get("requests", 0):
        reasons.append("no request was sent")
    ran = sum(r["outcome"] in ("pass", *FAILING) for r in report["requirements"])
    if whole_suite and expects is not None and ran < expects:
        reasons.append(
            f"only {ran} requirements ran; contract edition {report['contract']['edition']} expects at least "
            f"{expects} in mode {report['mode']}"
        )
    return reasons


def evaluate(
    report: dict[str, Any],
    baseline: Baseline | None,
    gate: tuple[str, ...],
    allow_stale: bool,
    vacuous: list[str],
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The gate section of report.json; marks baselined requirements. exit_code: 0, 1 or 6."""
    today = today or dt.date.today()
    entries = baseline.entries if baseline else {}
    new, baselined, expired, should = [], [], [], []
    for r in report["requirements"]:
        if r["outcome"] not in FAILING:
            continue
        entry = entries.get(r["id"])
        if entry is not None and not entry.expired(today):
            r["baselined"] = True
        if r["api_version"] not in gate:
            continue
        if r["level"] != "MUST" and r["outcome"] == "fail":
            should.append(r["id"])
        elif entry is None:
            new.append(r["id"])
        elif entry.expired(today):
            expired.append(r["id"])
        else:
            baselined.append(r["id"])
    passing = {r["id"] for r in report["requirements"] if r["outcome"] == "pass" and r["api_version"] in gate}
    stale = sorted({e for e in set(entries) & passing if not entries[e].may_pass})
    reasons = []
    if new:
        reasons.append(f"{len(new)} new failure(s): {', '.join(new[:10])}{' ...' if len(new) > 10 else ''}")
    if expired:
        reasons.append(
            f"{len(expired)} baselined failure(s) past their expiry date: {', '.join(expired[:10])}"
            f"{' ...' if len(expired) > 10 else ''}"
        )
    if stale and not allow_stale:
        reasons.append(
            f"{len(stale)} stale baseline entr{'y' if len(stale) == 1 else 'ies'} (now passing; remove "
            f"{'it' if len(stale) == 1 else 'them'} or pass --allow-stale): {', '.join(stale[:10])}"
        )
    reasons += [f"vacuous run: {v}" for v in vacuous]
    exit_code = EXIT_VACUOUS if vacuous else EXIT_FAILED if reasons else EXIT_OK
    return {
        "verdict": "fail" if exit_code else "pass",
        "exit_code": exit_code,
        "reasons": reasons,
        "gated_versions": list(gate),
        "baseline": str(baseline.path) if baseline else None,
        "new_failures": new,
        "baselined": baselined,
        "expired": expired,
        "stale": stale,
        "allow_stale": allow_stale,
        "should_failures": should,
        "vacuous": vacuous,
    }
