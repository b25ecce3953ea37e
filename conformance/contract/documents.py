"""Read the documented operations ("METHOD /path") straight out of the documents.

The meta-tests use this to prove the catalog covers every endpoint the documents list, so adding a
document is checked automatically."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "WS")
# 001's lists: "* POST `/v1/run/{flow_id_or_name}`: ..." and "(alias `/v2/files/`)"
_LIST_ITEM = re.compile(r"^\s*\*\s+(GET|POST|PUT|PATCH|DELETE|HEAD|WS)\s+`(/[^`]+)`")
_CURL_METHOD = re.compile(r"(?:-X|--request)\s+['\"]?([A-Z]+)['\"]?")
_CURL_URL = re.compile(r"['\"]?(?:\$LANGFLOW_(?:SERVER_)?URL|https://[^/\s'\"]+(?:/lf/[^/\s'\"]+)?)(/[^\s'\"?]*)")
# Placeholders the documents use for path parameters: {flow_id}, $FLOW_ID, YOUR_FLOW_ID, TASK_ID, a UUID
_PARAMETER = (
    r"\{[^}]+\}|\$[A-Z_]+\$?|\$\{[^}]+\}|YOUR_[A-Z_]+|[A-Z][A-Z_]*_ID"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
_ROOT_PATHS = ("/health_check", "/health", "/logs", "/logs-stream")


@dataclass(frozen=True)
class DocumentedOperation:
    method: str
    path: str  # normalized: /api prefix, parameters as {}
    document: str
    line: int


def normalize(path: str) -> str:
    """`/v1/flows/{flow_id}`, `/api/v1/flows/$FLOW_ID` and `.../YOUR_FLOW_ID` all become /api/v1/flows/{}."""
    path = path.split("?")[0]
    if path.startswith(("/v1/", "/v2/")):
        path = "/api" + path
    segments = []
    for segment in path.split("/"):
        if re.fullmatch(_PARAMETER, segment.strip("*")):
            segment = "{}"
        segments.append(segment)
    return "/".join(segments)


def covers(pattern: str, documented: str) -> bool:
    """Does a catalog path (normalized) cover a documented one? A catalog {} matches any concrete segment
    the document used as an example value; a documented {} needs a catalog {}."""
    a, b = pattern.split("/"), documented.split("/")
    return len(a) == len(b) and all(x == y or x == "{}" for x, y in zip(a, b, strict=True))


def _list_items(lines: list[str], document: str) -> list[DocumentedOperation]:
    found = []
    for number, line in enumerate(lines, 1):
        match = _LIST_ITEM.match(line)
        if not match:
            continue
        found.append(DocumentedOperation(match[1], normalize(match[2]), document, number))
        for alias in re.findall(r"alias `(/[^`]+)`", line):
            found.append(DocumentedOperation(match[1], normalize(alias), document, number))
    return found


def _curl_commands(lines: list[str], document: str) -> list[DocumentedOperation]:
    found = []
    for number, line in enumerate(lines, 1):
        if not re.match(r"\s*curl\b", line):
            continue
        command, end = line, number
        while command.rstrip().endswith("\\") and end < len(lines):
            command = command.rstrip()[:-1] + " " + lines[end]
            end += 1
        url = _CURL_URL.search(command)
        if not url:
            continue
        method_match = _CURL_METHOD.search(command)
        data = re.search(r"\s(-d|--data\S*|-F|--form)\s", command)
        method = method_match[1] if method_match else ("POST" if data else "GET")
        path = url[1]
        if path.startswith("/api/") or path in _ROOT_PATHS:
            found.append(DocumentedOperation(method, normalize(path), document, number))
    return found


def documented_operations(directory: Path) -> list[DocumentedOperation]:
    operations: list[DocumentedOperation] = []
    for path in sorted(directory.glob("*.txt")):
        lines = path.read_text().splitlines()
        operations += _list_items(lines, path.name) + _curl_commands(lines, path.name)
    return operations


def headings(document: Path) -> set[str]:
    """Section headings (markdown) and list headings ("* Files (v1)", tab labels) of a document."""
    text = document.read_text()
    found = {m.strip() for m in re.findall(r"^#+\s+(.+)$", text, flags=re.M)}
    found |= {m.strip().rstrip(":") for m in re.findall(r"^\s*\*\s+\[?([^\]`:\n]+)\]?", text, flags=re.M)}
    found |= set(re.findall(r'label="([^"]+)"', text))
    if not re.search(r"^#+\s", text, flags=re.M):
        # A plain-text page (003, a copied web page): a heading is a short unindented line of its own,
        # between blank lines, not ending like a sentence.
        lines = text.splitlines()
        for i, line in enumerate(lines[1:-1], 1):
            if (
                line
                and not line[0].isspace()
                and not lines[i - 1].strip()
                and not lines[i + 1].strip()
                and len(line) < 80
                and not line.rstrip().endswith((".", ":", ",", ";", ")"))
            ):
                found.add(line.strip())
    return found
