"""The run's one pooled HTTP client: base URL with prefix, timeouts, 429 handling, request counts."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from conformance.target.connection import Connection

MAX_RETRY_AFTER_S = 120.0  # Langflow 1.12+ rate-limits /login with Retry-After: 60
MAX_429_RETRIES = 3
ENDPOINT_STALLS = 2  # timeouts on one endpoint before its other requests are not sent (one may be a stall)
HUNG_AFTER = 3  # timeouts in a row, on any endpoints, with no answer between: the server is hung
HUNG_REPROBE_S = 60.0  # while hung, one request (the first at once) every this many seconds tries again
NO_WAIT = "langflow_conformance_no_429_wait"  # request extension: take a 429 as the answer


@dataclass
class Stats:
    requests: int = 0
    server_seconds: float = 0.0
    ok_responses: int = 0  # 2xx: the vacuous-run guard needs to know whether anything succeeded
    last_request: httpx.Request | None = None  # a failure's curl reproduction (reproduce.curl_of)
    # The timeout breaker: once a request to an endpoint got no answer in time, the endpoint's other
    # requests fail at once instead of each waiting out --timeout (a release that hangs a route).
    route: Callable[[str, str], str | None] | None = None  # (method, path) -> "METHOD /template"
    breaker: bool = True  # off while cleaning up: a delete is worth its wait
    stalled: dict[str, float] = field(default_factory=dict)  # endpoint -> seconds its timeouts cost
    stalls: dict[str, int] = field(default_factory=dict)  # endpoint -> its requests that timed out
    waited_s: float = 0.0  # spent waiting on requests that timed out
    # The server-wide breaker: a deployment whose database is locked (1.8.4, 1.11.6 on SQLite) hangs
    # every endpoint; waiting out each endpoint once would still cost an hour.
    timeouts_in_a_row: int = 0
    hung_since: float | None = None  # perf_counter of the timeout that made the server count as hung
    last_probe: float = float("-inf")  # the first request after the server counts as hung is a probe


class EndpointStalled(httpx.TimeoutException):
    """Not sent: an earlier request to the same endpoint timed out in this run."""


def _check_breakers(stats: Stats, route: str | None, request: httpx.Request) -> None:
    """Raise instead of sending where an earlier timeout says the request would hang too."""
    if not stats.breaker:
        return
    if route is not None and stats.stalls.get(route, 0) >= ENDPOINT_STALLS:
        raise EndpointStalled(
            f"not sent: {ENDPOINT_STALLS} requests to {route} already went unanswered ({stats.stalled[route]:.0f} s) "
            "in this run (the endpoint hangs on this deployment)",
            request=request,
        )
    if stats.hung_since is not None:
        now = time.perf_counter()
        if now - stats.last_probe < HUNG_REPROBE_S:
            raise EndpointStalled(
                f"not sent: the server left {HUNG_AFTER} requests in a row unanswered "
                f"{now - stats.hung_since:.0f} s ago and has not answered since (it hangs)",
                request=request,
            )
        stats.last_probe = now  # this request is the probe


def _record_timeout(stats: Stats, route: str | None, waited: float) -> None:
    stats.waited_s += waited
    if route is not None:
        stats.stalled[route] = stats.stalled.get(route, 0.0) + waited
        stats.stalls[route] = stats.stalls.get(route, 0) + 1
    stats.timeouts_in_a_row += 1
    if stats.timeouts_in_a_row >= HUNG_AFTER and stats.hung_since is None:
        # Three endpoints that each hang (1.8.4: build cancel, custom_component twice) are no hung server:
        # the next request goes out as a probe, and only its timeout stops the others for a while.
        stats.hung_since, stats.last_probe = time.perf_counter(), float("-inf")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class _TimedBody(httpx.SyncByteStream):
    """Reading the body counts as server time too (a slow answer or a stream is the server's time);
    only the waits for each chunk count, not what the run does between chunks."""

    def __init__(self, inner: httpx.SyncByteStream, stats: Stats) -> None:
        self.inner, self.stats = inner, stats

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self.inner)
        while True:
            started = time.perf_counter()
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            finally:
                self.stats.server_seconds += time.perf_counter() - started
            yield chunk

    def close(self) -> None:
        self.inner.close()


class CountingRetryTransport(httpx.BaseTransport):
    """Counts requests and server time (until the body's last byte), and waits out 429 + Retry-After
    instead of failing."""

    def __init__(self, inner: httpx.BaseTransport, stats: Stats) -> None:
        self.inner, self.stats = inner, stats
        self.after_5xx = False

    def _drop_idle_connections(self) -> None:
        """After a 5xx, old servers (1.1-era gunicorn) may close the connection just after the answer;
        the next request on it would be reset. Idle pooled connections are dropped, not reused."""
        pool = getattr(self.inner, "_pool", None)
        for connection in list(getattr(pool, "connections", [])):
            if connection.is_idle():
                connection.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # so the body can be sent again after a 429
        if self.after_5xx:
            self.after_5xx = False
            self._drop_idle_connections()
        route = self.stats.route(request.method, request.url.path) if self.stats.route else None
        _check_breakers(self.stats, route, request)
        for attempt in range(MAX_429_RETRIES + 1):
            started = time.perf_counter()
            try:
                response = self._send(request)
            except httpx.TimeoutException:
                _record_timeout(self.stats, route, time.perf_counter() - started)
                raise
            self.stats.timeouts_in_a_row, self.stats.hung_since = 0, None
            self.stats.requests += 1
            self.stats.last_request = request
            self.stats.server_seconds += time.perf_counter() - started
            self.after_5xx = response.status_code >= 500
            # A 429 is waited out where the run needs the answer; generated requests take it as it is.
            wanted = response.status_code == 429 and not request.extensions.get(NO_WAIT)
            wait = _retry_after(response) if wanted else None
            if wait is None or wait > MAX_RETRY_AFTER_S or attempt == MAX_429_RETRIES:
                if 200 <= response.status_code < 300:
                    self.stats.ok_responses += 1
                if isinstance(response.stream, httpx.SyncByteStream):
                    response.stream = _TimedBody(response.stream, self.stats)
                return response
            response.close()
            print(
                f"langflow-conformance: {request.url.path} answered 429, retrying in {wait:.0f} s as Retry-After asks",
                file=sys.__stderr__,
                flush=True,
            )
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            # A kept-alive connection the server had just closed (seen on 1.4.3 after a 307): an
            # idempotent request gets one fresh connection; a server that keeps resetting fails.
            if request.method not in ("GET", "HEAD"):
                raise
            return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


DIRECT = Connection()  # no private CA, no client certificate, no extra headers


def make_client(
    root: str, auth: httpx.Auth, timeout: float, stats: Stats | None = None, connection: Connection = DIRECT
) -> httpx.Client:
    # Keep-alive below the server's, so a pooled connection is never one the server is closing:
    # uvicorn's default is 5 s, gunicorn's (1.1-era `langflow run`) 2 s.
    limits = httpx.Limits(keepalive_expiry=1.5)
    inner = httpx.HTTPTransport(
        verify=connection.ssl_context, retries=0, limits=limits, proxy=connection.proxy_for(root)
    )
    return httpx.Client(
        base_url=root.rstrip("/"),
        auth=auth,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        transport=CountingRetryTransport(inner, stats or Stats()),
        follow_redirects=False,  # redirects are part of the contract (/folders -> /projects)
        headers={"accept": "application/json", "user-agent": "langflow-conformance", **dict(connection.headers)},
    )


def stats_of(client: httpx.Client) -> Stats:
    transport = client._transport
    assert isinstance(transport, CountingRetryTransport)
    return transport.stats
