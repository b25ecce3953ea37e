"""Optional features a deployment can switch off (schemas/features.yaml): what each is, the setting
that turns it on, and the answers that say it is off."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.contract.yamlfile import load_yaml


@dataclass(frozen=True)
class Feature:
    id: str
    summary: str
    setting: str
    default: bool
    embedded: dict[str, str] = field(default_factory=dict)
    sources: tuple[dict[str, Any], ...] = ()
    off_when: tuple[dict[str, Any], ...] = ()
    probe: dict[str, Any] | None = None
    config: dict[str, Any] | None = None

    @property
    def skip_reason(self) -> str:
        return f"{OFF_PREFIX}{self.summary} ({self.setting})"

    def says_off(self, status: int, body: Any, text: str) -> bool:
        """Does this answer say the feature is off (an `off_when` entry matches)?"""
        return answer_matches(self.off_when, status, body, text)


def answer_matches(answers: tuple[dict[str, Any], ...], status: int, body: Any, text: str) -> bool:
    """Does an answer match one of these: {status}, {status, body} (exact JSON) or {status, body_contains}?"""
    for when in answers:
        if int(when["status"]) != status:
            continue
        if "body" in when and body != when["body"]:
            continue
        if "body_contains" in when and str(when["body_contains"]) not in text:
            continue
        return True
    return False


OFF_PREFIX = "feature off on this deployment: "  # skip reasons; the vacuous-run guard does not count them


class Features:
    def __init__(self, features: dict[str, Feature]) -> None:
        self.by_id = features

    @classmethod
    def load(cls, path: Path) -> Features:
        data = (load_yaml(path) if path.is_file() else None) or {}
        features = {}
        for fid, raw in (data.get("features") or {}).items():
            features[str(fid)] = Feature(
                id=str(fid),
                summary=str(raw["summary"]),
                setting=str(raw["setting"]),
                default=bool(raw.get("default", False)),
                embedded={str(k): str(v) for k, v in (raw.get("embedded") or {}).items()},
                sources=tuple(raw.get("sources") or ()),
                off_when=tuple(raw.get("off_when") or ()),
                probe=raw.get("probe"),
                config=raw.get("config"),
            )
        return cls(features)

    def __getitem__(self, feature_id: str) -> Feature:
        return self.by_id[feature_id]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.by_id.values())

    def embedded_settings(self) -> dict[str, str]:
        """What the embedded server sets to switch every feature on."""
        merged: dict[str, str] = {}
        for feature in self.by_id.values():
            merged.update(feature.embedded)
        return merged
