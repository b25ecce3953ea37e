"""Read the documented operations ("METHOD /path") straight out of the documents.

The meta-tests use this to prove the catalog covers every endpoint the documents list, so adding a
document is checked automatically. Two kinds of documents: the plain-text pages at the top of the
documents folder (000-003), and Langflow's own docs pages (`1.12/**/*.mdx`) with the example files
they import (`1.12/**/*-examples/**`: curl scripts, result bodies)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "WS")
# 001's lists: "* POST `/v1/run/{flow_id_or_name}`: ..." and "(alias `/v2/files/`)"
_LIST_ITEM = re.compile(r"^\s*\*\s+(GET|POST|PUT|PATCH|DELETE|HEAD|WS)\s+`(/[^`]+)`")
_CURL_METHOD = re.compile(r"(?:-X|--request)\s+['\"]?([A-Z]+)['\"]?")
# The server address: $LANGFLOW_URL, $LANGFLOW_SERVER_URL, ${BASE_URL} (1.12 example scripts), a literal host
_CURL_URL = re.compile(
    r"['\"]?(?:\$\{?(?:LANGFLOW_(?:SERVER_)?URL|BASE_URL|BASE)\}?|https?://[^/\s'\"]+(?:/lf/[^/\s'\"]+)?)(/[^\s'\"?]*)"
)
# 1.12 pages also name operations outside lists: a table row "| `POST` | `/api/v1/authz/shares` |", an
# inline "`GET /api/v1/policy-bundle/history`", a bare request line in an http block ("GET /api/v1/...").
_TABLE_ROW = re.compile(r"^\s*\|\s*`?(GET|POST|PUT|PATCH|DELETE|HEAD)`?\s*\|\s*`(/[^`]+)`")
_INLINE = re.compile(
    r"`(GET|POST|PUT|PATCH|DELETE|HEAD) (/(?:api/)?v[12]/[^`\s]*|/health(?:_check)?|/logs(?:-stream)?)`"
)
_REQUEST_LINE = re.compile(r"^\s*(GET|POST|PUT|PATCH|DELETE|HEAD) (/api/v[12]/\S*)\s*$")
# Langflow's docs pages and the example files they import
PAGE_SUFFIXES = (".mdx",)
# Placeholders the documents use for path parameters: {flow_id}, $FLOW_ID, YOUR_FLOW_ID, TASK_ID, a UUID
_PARAMETER = (
    r"\{[^}]+\}|\$[A-Z_]+\$?|\$\{[^}]+\}|YOUR_[A-Z_]+|[A-Z][A-Z_]*_ID"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
_ROOT_PATHS = ("/health_check", "/health", "/logs", "/logs-stream")
WHOLE_FILE = "(whole file)"


@dataclass(frozen=True)
class DocumentedOperation:
    method: str
    path: str  # normalized: /api prefix, parameters as {}
    document: str
    line: int
    # Named in running text, where a page may leave out the path's trailing parameters
    # ("Returned from `POST /api/v1/run`" for /api/v1/run/{flow_id_or_name}).
    loose: bool = False


def normalize(path: str) -> str:
    """`/v1/flows/{flow_id}`, `/api/v1/flows/$FLOW_ID` and `.../YOUR_FLOW_ID` all become /api/v1/flows/{}."""
    path = path.split("?")[0]
    if path.startswith(("/v1/", "/v2/")):
        path = "/api" + path
    if len(path) > 1:
        path = path.rstrip("/")  # `/v1/flows` and `/v1/flows/` name one operation (trailing slash ignored)
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


def covers_mention(pattern: str, operation: DocumentedOperation) -> bool:
    """`covers`, and for an operation named in running text also a catalog path that only adds
    trailing parameters to it."""
    if covers(pattern, operation.path):
        return True
    extra = pattern.split("/")[len(operation.path.split("/")) :]
    head = "/".join(pattern.split("/")[: len(operation.path.split("/"))])
    return operation.loose and bool(extra) and all(s == "{}" for s in extra) and covers(head, operation.path)


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


def _page_mentions(lines: list[str], document: str) -> list[DocumentedOperation]:
    """Table rows, inline `METHOD /path` and bare request lines of a docs page (not its list items)."""
    found = []
    for number, line in enumerate(lines, 1):
        if _LIST_ITEM.match(line):
            continue
        hits = [(m[1], m[2]) for m in _INLINE.finditer(line)]
        for pattern in (_TABLE_ROW, _REQUEST_LINE):
            match = pattern.match(line)
            if match:
                hits.append((match[1], match[2]))
        found += [DocumentedOperation(method, normalize(path), document, number, True) for method, path in hits]
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


def is_example_file(path: Path) -> bool:
    """A file a docs page imports (curl-examples/..., python-examples/...): cited as a whole."""
    return any(part.endswith("-examples") for part in path.parts)


def documented_operations(directory: Path) -> list[DocumentedOperation]:
    operations: list[DocumentedOperation] = []
    for path in sorted(directory.glob("*.txt")):
        lines = path.read_text().splitlines()
        operations += _list_items(lines, path.name) + _curl_commands(lines, path.name)
    for path in sorted(directory.glob("*/**/*")):
        name = str(path.relative_to(directory))
        if path.suffix in PAGE_SUFFIXES:
            lines = path.read_text().splitlines()
            operations += _list_items(lines, name) + _page_mentions(lines, name) + _curl_commands(lines, name)
        elif path.suffix == ".sh" and is_example_file(path):
            operations += _curl_commands(path.read_text().splitlines(), name)
    return operations


def headings(document: Path) -> set[str]:
    """Section headings (markdown) and list headings ("* Files (v1)", tab labels) of a document; an
    example file a docs page imports has one section, "(whole file)"."""
    if is_example_file(document):
        return {WHOLE_FILE}
    text = document.read_text()
    # "## Apply a policy {#policy-bundle}": the heading without its anchor
    found = {re.sub(r"\s*\{#[^}]*\}\s*$", "", m).strip() for m in re.findall(r"^#+\s+(.+)$", text, flags=re.M)}
    # a docs page's front-matter title heads the text before its first heading
    found |= {m.strip() for m in re.findall(r"\A---\n(?:.*\n)*?title:\s*(.+)\n", text)}
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
