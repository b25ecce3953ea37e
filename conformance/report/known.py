"""Known deviations: where real Langflow releases differ from their documents, as written up in
docs/findings.md (shipped in the package as conformance.docs). One source: a finding's
`**Requirement**: `<id>` on <releases> [(qualifiers)]` lines say which requirement fails on which
release. Every run marks such failures "known deviation of Langflow X (F-n)"; `--baseline known`
gates on everything beyond them.

Qualifiers: `intermittent` (does not fail on every run) and the environment a finding belongs to
rather than the release (`sqlite`: a lock of the embedded database). Either makes a deviation one
that may not show on a given run: it is never called stale."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

FINDINGS_PACKAGE = "conformance.docs"
KNOWN = "known"  # --baseline known
_HEADING = re.compile(r"^## (F\d+)\. (.+)$", re.M)
# Releases are PEP 440 versions as Langflow spells them (1.0.19.post2, 1.1.4.post1).
_LINE = re.compile(r"^\*\*Requirement\*\*: `([^`]+)` on ([0-9][0-9a-z., ]*?)(?: \(([a-z, ]+)\))?$", re.M)
QUALIFIERS = {"intermittent", "sqlite", "postgresql"}


@dataclass(frozen=True)
class Known:
    id: str
    release: str
    finding: str  # "F15"
    title: str
    qualifiers: tuple[str, ...] = ()

    @property
    def may_pass(self) -> str | None:
        """Why this deviation may not show on a run (then it is never stale), or None."""
        if not self.qualifiers:
            return None
        environments = [q for q in self.qualifiers if q != "intermittent"]
        parts = (["intermittent"] if "intermittent" in self.qualifiers else []) + [
            f"only with {e}" for e in environments
        ]
        return ", ".join(parts)

    @property
    def label(self) -> str:
        return f"known deviation of Langflow {self.release} ({self.finding}: {self.title})"


def findings_path() -> Path:
    override = os.environ.get("LANGFLOW_CONFORMANCE_FINDINGS")  # the project's tests use a copy
    return Path(override) if override else Path(str(resources.files(FINDINGS_PACKAGE))) / "findings.md"


def parse(text: str) -> list[Known]:
    found: list[Known] = []
    headings = [(m.start(), m.group(1), m.group(2)) for m in _HEADING.finditer(text)]
    for match in _LINE.finditer(text):
        owner = [h for h in headings if h[0] < match.start()]
        if not owner:
            continue
        _, finding, title = owner[-1]
        qualifiers = tuple(q.strip() for q in (match.group(3) or "").split(",") if q.strip())
        unknown = set(qualifiers) - QUALIFIERS
        if unknown:
            raise ValueError(f"{finding}: unknown qualifier(s) {sorted(unknown)} on {match.group(0)!r}")
        for release in (r.strip() for r in match.group(2).split(",") if r.strip()):
            found.append(Known(match.group(1), release, finding, _plain(title), qualifiers))
    return found


def _plain(title: str) -> str:
    return re.sub(r"\s*\([0-9][0-9a-z., ]*\)\s*$", "", title.replace("`", "")).strip()


@cache
def all_known(path: Path | None = None) -> tuple[Known, ...]:
    return tuple(parse((path or findings_path()).read_text()))


def known_for(release: str) -> dict[str, Known]:
    """Requirement id -> its known deviation on this release."""
    return {k.id: k for k in all_known() if k.release == release}


def baseline_yaml(release: str) -> str:
    """A baseline file of this release's known deviations (ci/baseline.yaml is made by this)."""
    import yaml

    entries = []
    for k in sorted(known_for(release).values(), key=lambda k: (int(k.finding[1:]), k.id)):
        entry = {"id": k.id, "reason": f"docs/findings.md {k.finding}: {k.title}"}
        if k.may_pass:
            entry["may_pass"] = k.may_pass
        entries.append(entry)
    header = (
        f"# Known deviations of Langflow {release}, made from docs/findings.md (the one source) by\n"
        f"#   python -m conformance.report.known {release} > ci/baseline.yaml\n"
        "# tests/test_gate.py checks it is current. `--baseline known` reads the same lines from the package\n"
        "# for whatever release the target runs. Entries with may_pass never count as stale.\n"
    )
    return header + yaml.safe_dump({"entries": entries}, sort_keys=False, allow_unicode=True, width=120)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit(
            "usage: python -m conformance.report.known RELEASE  (writes that release's known deviations as a baseline)"
        )
    sys.stdout.write(baseline_yaml(sys.argv[1]))
