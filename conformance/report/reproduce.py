"""A failure's reproduction: the last request a requirement sent, as a curl command, secrets masked."""

from __future__ import annotations

import shlex

import httpx

from conformance.target.secrets import MASK, mask

# Headers that only add noise to a command line (curl sets its own) or carry credentials.
_DROP = {"host", "content-length", "accept-encoding", "connection", "user-agent"}
_CREDENTIALS = {"x-api-key", "authorization", "cookie"}
MAX_BODY = 2000


def curl_of(request: httpx.Request) -> str:
    parts = ["curl", "-X", request.method, shlex.quote(str(request.url))]
    for name, value in request.headers.items():
        lowered = name.lower()
        if lowered in _DROP:
            continue
        if lowered in _CREDENTIALS:
            value = f"Bearer {MASK}" if value.lower().startswith("bearer ") else MASK
        parts += ["-H", shlex.quote(f"{lowered}: {value}")]
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = b""
    if body:
        if request.headers.get("content-type", "").startswith("multipart/"):
            parts += ["--data-binary", shlex.quote(f"<multipart body of {len(body)} bytes>")]
        else:
            text = body.decode("utf-8", errors="replace")
            if len(text) > MAX_BODY:
                text = text[:MAX_BODY] + f"... ({len(body)} bytes in all)"
            parts += ["--data-binary", shlex.quote(text)]
    return mask(" ".join(parts))
