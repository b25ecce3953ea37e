"""The endpoint catalog (schemas/catalog/*.yaml): one Endpoint per documented operation."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from conformance.contract.yamlfile import load_yaml
from conformance.target.urls import api_version_of

AUTH_VALUES = ("none", "api-key", "superuser")
SAFETY_VALUES = ("read", "creates-own", "user-destructive", "install-wide", "needs-external-service")


@dataclass(frozen=True)
class Variant:
    """A documented disagreement we tolerate, explicitly and with a reason."""

    id: str
    reason: str
    schema: str | None


@dataclass(frozen=True)
class ResponseSpec:
    status: int
    content_types: tuple[str, ...]  # accepted media types; "image/*" matches any image type
    schema: str | None
    tolerated: tuple[Variant, ...] = ()
    since: str | None = None  # from this release on, this status replaces the example's (e.g. a 307 redirect)
    location: str | None = None  # the Location header a redirect carries
    headers: tuple[tuple[str, str], ...] = ()  # documented response headers and their values (Retry-After: 60)

    def accepts_content_type(self, header: str) -> bool:
        actual = header.split(";")[0].strip().lower()
        for wanted in self.content_types:
            wanted = wanted.lower()
            if actual == wanted or (wanted.endswith("/*") and actual.startswith(wanted[:-1])):
                return True
        return not self.content_types


@dataclass(frozen=True)
class Endpoint:
    id: str
    group: str
    method: str
    path: str
    summary: str
    auth: str
    safety: str
    since: str | None
    until: str | None
    deprecated: bool
    sources: tuple[dict[str, Any], ...]
    parameters: tuple[dict[str, Any], ...]
    body: dict[str, Any] | None
    responses: dict[int, ResponseSpec]
    aliases: tuple[str, ...] = ()
    stream: dict[str, Any] | None = None
    example: dict[str, Any] | None = None
    in_editions: tuple[str, ...] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    edition: str | None = None  # the edition that judges it, when each endpoint has its own (per release)

    @property
    def api_version(self) -> str:
        return api_version_of(self.path)

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def feature(self) -> str | None:
        """The optional feature (schemas/features.yaml) this endpoint needs switched on, if any."""
        value = self.raw.get("feature")
        return str(value) if value else None

    def expected_status(self, release: str) -> int | None:
        """The status the documented example should get from this release."""
        version = Version(release)
        superseding = [r for r in self.responses.values() if r.since and version >= Version(r.since)]
        if superseding:
            return max(superseding, key=lambda r: Version(r.since or "0")).status
        status = (self.example or {}).get("status")
        return int(status) if status is not None else None

    def documented_statuses(self, release: str) -> dict[int, ResponseSpec]:
        version = Version(release)
        return {s: r for s, r in self.responses.items() if not r.since or version >= Version(r.since)}

    def not_applicable_reason(self, release: str, edition: str | None) -> str | None:
        """Why this endpoint does not apply to the target, or None. `edition`: the one edition the
        whole run is held to (--contract-edition); None when each endpoint has its own."""
        if edition is not None and self.in_editions is not None and edition not in self.in_editions:
            return f"not in contract edition {edition} (documented in {', '.join(self.in_editions)})"
        version = Version(release)
        if self.since and version < Version(self.since):
            return f"not served by this release: Langflow serves it from {self.since} on, target is {release}"
        if self.until and version >= Version(self.until):
            return f"not served by this release: Langflow removed it in {self.until}, target is {release}"
        shaped = self.raw.get("documented_shape_since")
        if shaped and version < Version(str(shaped)):
            # Served, but before the shape the documents give existed; nothing documented to check it by.
            return (
                f"served by {release} with a shape no document describes (the documented one holds from {shaped} "
                f"on): {self.raw.get('documented_shape_reason', 'see the catalog')}"
            )
        return None


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _variant(raw: dict[str, Any]) -> Variant:
    return Variant(str(raw["id"]), str(raw["reason"]), raw.get("schema"))


def _response(status: Any, raw: dict[str, Any] | None) -> ResponseSpec:
    raw = raw or {}
    content_type = raw.get("content_type")
    return ResponseSpec(
        status=int(status),
        content_types=tuple(content_type)
        if isinstance(content_type, list)
        else ((content_type,) if content_type else ()),
        schema=raw.get("schema"),
        tolerated=tuple(_variant(v) for v in raw.get("tolerated", ()) or ()),
        since=str(raw["since"]) if raw.get("since") else None,
        location=raw.get("location"),
        headers=tuple((str(k), str(v)) for k, v in (raw.get("headers") or {}).items()),
    )


def build_endpoint(group: str, raw: dict[str, Any], edition: str | None = None) -> Endpoint:
    request = raw.get("request") or {}
    return Endpoint(
        id=str(raw["id"]),
        group=group,
        method=str(raw["method"]).upper(),
        path=str(raw["path"]),
        summary=str(raw.get("summary", "")),
        auth=str(raw.get("auth", "api-key")),
        safety=str(raw.get("safety", "read")),
        since=str(raw["since"]) if raw.get("since") else None,
        until=str(raw["until"]) if raw.get("until") else None,
        deprecated=bool(raw.get("deprecated", False)),
        sources=tuple(raw.get("sources", ()) or ()),
        parameters=tuple(request.get("parameters", ()) or ()),
        body=request.get("body"),
        responses={int(s): _response(s, r) for s, r in (raw.get("responses") or {}).items()},
        aliases=tuple(raw.get("aliases", ()) or ()),
        stream=raw.get("stream"),
        example=raw.get("example"),
        in_editions=tuple(str(e) for e in raw["in_editions"]) if raw.get("in_editions") else None,
        raw=raw,
        edition=edition,
    )


class Catalog:
    """All entries as written, before edition overrides (those apply in `resolve`)."""

    def __init__(self, entries: list[tuple[str, dict[str, Any], Path]]) -> None:
        self.entries = entries  # (group, raw entry, file)

    @classmethod
    def load(cls, directory: Path) -> Catalog:
        entries: list[tuple[str, dict[str, Any], Path]] = []
        for path in sorted(directory.glob("*.yaml")):
            data = load_yaml(path) or {}
            group = str(data["group"])
            for raw in data.get("endpoints", []) or []:
                entries.append((group, raw, path))
        return cls(entries)

    def resolve(self, edition: str) -> list[Endpoint]:
        """Endpoints with the edition's overrides applied."""
        return [_under(group, raw, edition) for group, raw, _ in self.entries]

    def resolve_per_endpoint(self, release: str, editions: list[tuple[str, Version]]) -> list[Endpoint]:
        """Each endpoint under the newest edition that documents it as of the release (`editions`:
        id and first release, oldest first); an endpoint a release serves before any document of its
        time describes it is held to the first document that does."""
        version = Version(release)
        resolved = []
        for group, raw, _ in self.entries:
            documented = set(raw.get("in_editions") or [e for e, _ in editions])
            candidates = [(e, start) for e, start in editions if e in documented]
            if not candidates:
                continue
            as_of = [e for e, start in candidates if start <= version]
            resolved.append(_under(group, raw, as_of[-1] if as_of else candidates[0][0], per_endpoint=True))
        return resolved


def _under(group: str, raw: dict[str, Any], edition: str, per_endpoint: bool = False) -> Endpoint:
    override = (raw.get("editions") or {}).get(edition)
    return build_endpoint(group, deep_merge(raw, override) if override else raw, edition if per_endpoint else None)
