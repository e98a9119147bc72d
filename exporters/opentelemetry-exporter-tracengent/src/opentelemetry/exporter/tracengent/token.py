"""`AgentTokenProvider`: the agent's OAuth client-credentials token, cached (wire contract §1).

Refresh timing: a token is used until `REFRESH_LEAD_S` (60 s) before it expires, but never for
less than half its lifetime. Every token living 60 s or more therefore keeps a lead of at least
30 s, and a short-lived one (`expires_in` of 20 s, say) is still reused for 10 s instead of being
fetched again on every call: a short `expires_in` can never turn into a refresh loop.

Failures never make callers spin: a token endpoint that answers 5xx/429, a non-401 4xx, a
malformed answer, or cannot be reached sets a "not before" time (1 s doubling to 30 s, or the
`Retry-After` it sent when that is later, up to `MAX_NOT_BEFORE_S`, 300 s: the endpoint is never
asked sooner than it said, within that bound); until then `get_token` raises at once without a request, an error of the kind that
started the wait. A transient one (unreachable, 429/5xx) is a `TokenUnavailableError` saying how
long is left: a platform call waits that out and asks again within its own deadline and retry
budget, waiting at most 30 s (`_http_policy.run_call`). A 401 disables the provider for good: the
agent is disabled or its secret revoked, so it stops quietly.

The sync and async paths share the cache and all I/O-free logic; only the request differs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final, Literal
from urllib.parse import urlencode

import httpx

from opentelemetry.exporter.tracengent._bounded_body import (
    BoundedTransport,
    aread_answer,
    bound_body,
    end_exchange,
    environment_proxy_configured,
    exchange_until,
    read_answer,
)
from opentelemetry.exporter.tracengent._http_policy import (
    AGENT_DISABLED,
    MAX_NOT_BEFORE_S,
    MAX_WAIT_S,
    USER_AGENT,
    TokenUnavailableError,
    not_found_hint,
    parse_json_object,
    parse_retry_after,
    unreachable_hint,
)
from opentelemetry.exporter.tracengent._loop_local import LoopLocalAsyncClient
from opentelemetry.exporter.tracengent._platform_calls import platform_call
from opentelemetry.exporter.tracengent.claims import TokenClaims, read_claims
from opentelemetry.exporter.tracengent.errors import (
    AgentDisabledError,
    MalformedResponseError,
    PlatformError,
    PlatformRejectedError,
    PlatformUnavailableError,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions

__all__ = [
    "DEFAULT_EXPIRES_IN_S",
    "REFRESH_LEAD_S",
    "TOKEN_PATH",
    "AgentTokenProvider",
    "refresh_delay_s",
]

TOKEN_PATH: Final = "/v1/oauth/token"
"""The token endpoint, under the base URL."""

DEFAULT_EXPIRES_IN_S: Final = 900.0
"""Assumed lifetime when the token answer has no usable `expires_in`."""

REFRESH_LEAD_S: Final = 60.0
"""How long before expiry a cached token is replaced."""

_FAILURE_BACKOFF_S: Final = 1.0

_logger = logging.getLogger("tracengent.token")


def refresh_delay_s(expires_in_s: float) -> float:
    """Seconds after a fetch at which a token living `expires_in_s` is replaced (see module doc)."""
    return max(expires_in_s - REFRESH_LEAD_S, expires_in_s / 2.0)


def _token_answer(response: httpx.Response) -> Mapping[str, object]:
    """The token endpoint's 2xx answer as a JSON object.

    Raises:
        MalformedResponseError: it is not one JSON object. Unlike other answers', its body is
            not quoted (nor is the error that quotes it chained): it may hold the token, and the
            message becomes deny reasons, span attributes and log lines.
    """
    try:
        return parse_json_object(response)
    except MalformedResponseError:
        pass
    raise MalformedResponseError(
        f"token endpoint's {response.status_code} answer is not one JSON object (its body is "
        "not shown: it may hold the token)",
        status_code=response.status_code,
    )


_MAX_LIFETIME_S: Final = 10.0 * 365 * 86400


def _lifetime(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw:
        return DEFAULT_EXPIRES_IN_S
    # A lifetime under a second is nonsense; one second keeps the refresh arithmetic sane.
    # Compared before any conversion: a JSON integer may be beyond what a float holds.
    if raw >= _MAX_LIFETIME_S:
        return _MAX_LIFETIME_S
    if raw <= 1.0:
        return 1.0
    return float(raw)


async def _acquire_within(lock: asyncio.Lock, timeout_s: float) -> None:
    """Acquire `lock` within `timeout_s` (raises `TimeoutError` past it, the lock not taken).

    Not `asyncio.wait_for`: up to 3.11 it swallows a cancellation that arrives in the turn the
    lock is handed over (CPython gh-86296), and the cancelled caller would go on to fetch,
    authorize and act. `asyncio.wait` never swallows one; a wait that ends without the lock
    (cancelled, timed out) cancels its acquisition, or gives the lock back if it was just taken.
    """
    acquiring = asyncio.ensure_future(lock.acquire())
    try:
        done, _ = await asyncio.wait((acquiring,), timeout=timeout_s)
    except BaseException:
        _abandon(lock, acquiring)
        raise
    if not done:
        _abandon(lock, acquiring)
        raise asyncio.TimeoutError


def _abandon(lock: asyncio.Lock, acquiring: asyncio.Future[Literal[True]]) -> None:
    """Leave the lock to others: an acquisition still waiting is cancelled (`Lock.acquire`
    then passes the lock on), one that completed is released."""
    if acquiring.done() and not acquiring.cancelled() and acquiring.exception() is None:
        lock.release()
    else:
        acquiring.cancel()


class AgentTokenProvider:
    """Fetches, caches and refreshes the agent's access token (client credentials).

    Thread-safe; concurrent callers share one fetch. `get_token` blocks for at most its deadline;
    `get_token_async` is its coroutine twin and shares the same cache.

    Args:
        options: the client's options (`base_url`, `client_id`, `client_secret`, timeouts).
        http: the client sync fetches use; by default one of its own (closed by `close`), on
            a `BoundedTransport` unless a proxy is named in the environment: a fetch then ends
            by its timeout, status line and headers included (see `_bounded_body`).
        async_http: the client async fetches use; by default one of its own (`aclose`).
        clock: a monotonic clock in seconds (tests inject one).
    """

    def __init__(
        self,
        options: TracengentOptions,
        http: httpx.Client | None = None,
        *,
        async_http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options
        self._http = http
        self._owns_http = http is None
        # Async fetches use one client per event loop (connections cannot cross loops).
        self._async_http = LoopLocalAsyncClient(httpx.AsyncClient, async_http)
        self._async_http_settled = async_http is not None
        self._clock = clock
        # Guards the cache fields; never held while a request is in flight.
        self._state = threading.Lock()
        self._token: str | None = None
        self._claims: TokenClaims | None = None
        self._refresh_at = 0.0
        self._disabled = False
        self._not_before = float("-inf")
        self._failures = 0
        self._last_error: PlatformError | None = None
        # One fetch at a time per flavour: the others wait for it and reuse its token.
        self._sync_fetch = threading.Lock()
        self._async_fetch: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        # The process the locks and the client belong to (see `after_fork`).
        self._pid = os.getpid()

    # --- public surface ---------------------------------------------------------------------

    @property
    def disabled(self) -> bool:
        """True once the token endpoint answered 401; no token is ever fetched again."""
        return self._disabled

    @property
    def cached_claims(self) -> TokenClaims | None:
        """The unverified claims of the cached token; None when no token is cached."""
        with self._state:
            return self._claims if self._token is not None else None

    @property
    def cached_permissions(self) -> tuple[str, ...]:
        """The cached token's `permissions` claim; empty when no token is cached."""
        claims = self.cached_claims
        return claims.permissions if claims is not None else ()

    def invalidate(self) -> None:
        """Drop the cached token so the next `get_token` fetches a new one."""
        with self._state:
            self._token = None
            self._claims = None

    def get_token(self, *, deadline: float | None = None) -> str:
        """A valid access token: the cached one, or a freshly fetched one. Blocks until `deadline`.

        Args:
            deadline: absolute `time.monotonic()` time; None means now + `governance_timeout_s`.

        Raises:
            AgentDisabledError: the token endpoint answered 401 (now or earlier).
            PlatformUnavailableError: unreachable, timed out, 429/5xx, or backing off after one
                (a `TokenUnavailableError` saying when to ask again), or the deadline passed.
            PlatformRejectedError: another 4xx (now or, backing off, just before).
            MalformedResponseError: an answer without an `access_token` or that cannot be
                decoded (now or, backing off, just before).
        """
        deadline = self._deadline(deadline)
        cached = self._cached()
        if cached is not None:
            return cached
        if not self._sync_fetch.acquire(timeout=max(deadline - self._clock(), 0.0)):
            raise PlatformUnavailableError("deadline exceeded waiting for a token fetch")
        try:
            cached = self._cached()
            if cached is not None:
                return cached
            timeout_s = self._may_fetch(deadline)
            http = self._sync_client()
            try:
                with platform_call():
                    request = http.build_request(
                        "POST",
                        self._url(),
                        content=self._form(),
                        headers=self._headers(),
                        timeout=timeout_s,
                    )
                    # The whole exchange within the timeout, not each read: all of it on the
                    # default transport, the body on another (see `_bounded_body`).
                    end = time.monotonic() + timeout_s
                    bounded = exchange_until(end)
                    try:
                        # A redirect would re-post the client secret to the host it names.
                        streamed = http.send(request, stream=True, follow_redirects=False)
                        try:
                            bound_body(streamed, end)
                            # At most `MAX_ANSWER_BYTES` decoded, compressed or not.
                            response = read_answer(streamed)
                        finally:
                            streamed.close()
                    finally:
                        end_exchange(bounded)
            except httpx.HTTPError as exc:
                raise self._transport_failed(exc) from exc
            return self._accept(response)
        finally:
            self._sync_fetch.release()

    async def get_token_async(self, *, deadline: float | None = None) -> str:
        """The coroutine twin of `get_token` (same cache, same errors); waits until `deadline`."""
        deadline = self._deadline(deadline)
        cached = self._cached()
        if cached is not None:
            return cached
        lock = self._async_lock()
        try:
            await _acquire_within(lock, max(deadline - self._clock(), 0.0))
        except asyncio.TimeoutError:
            raise PlatformUnavailableError("deadline exceeded waiting for a token fetch") from None
        try:
            cached = self._cached()
            if cached is not None:
                return cached
            timeout_s = self._may_fetch(deadline)
            http = self._async_client()
            try:
                with platform_call():
                    request = http.build_request(
                        "POST",
                        self._url(),
                        content=self._form(),
                        headers=self._headers(),
                        timeout=timeout_s,
                    )
                    # A redirect would re-post the client secret to the host it names.
                    streamed = await http.send(request, stream=True, follow_redirects=False)
                    try:
                        # At most `MAX_ANSWER_BYTES` decoded, compressed or not.
                        response = await aread_answer(streamed)
                    finally:
                        await streamed.aclose()
            except httpx.HTTPError as exc:
                raise self._transport_failed(exc) from exc
            return self._accept(response)
        finally:
            lock.release()

    def close(self) -> None:
        """Close the sync HTTP client this provider created (not one it was given)."""
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    async def aclose(self) -> None:
        """Close the HTTP clients this provider created (not ones it was given)."""
        await self._async_http.aclose()
        self.close()

    def after_fork(self, *, http: httpx.Client | None = None) -> None:
        """Stop sharing locks and connections with the parent: call it in a child of `os.fork()`.

        The child gets fresh locks: a parent thread may have held one at the fork (a token
        fetch in flight holds the fetch lock for its whole request), and no thread of the child
        would ever release it. The cached token is kept (a bearer token serves any process of
        the agent until it expires) unless the cache was being written at the fork; then it is
        dropped and the next call fetches one. A sync client this provider made is abandoned,
        not closed (closing takes its pool's locks, which may be held too): a new one is made
        on first use. A client it was given stays, unless `http` replaces it. An async client
        (one per event loop) is not reset: the parent's event loops do not run in the child.

        Idempotent per process, and a no-op in the process that made the provider. Never blocks.

        Args:
            http: the client sync fetches use from now on (a platform client passes the one
                that replaces the client it gave this provider); None keeps the current one.
        """
        pid = os.getpid()
        if pid != self._pid:
            self._pid = pid
            # `locked()` in the child tells whether a parent thread held the lock at the fork.
            cache_torn = self._state.locked()
            self._state = threading.Lock()
            self._sync_fetch = threading.Lock()
            self._async_fetch = None
            if cache_torn:
                self._token = None
                self._claims = None
            if self._owns_http:
                self._http = None
        if http is not None:
            self._http = http
            self._owns_http = False

    # --- I/O-free logic shared by both paths ------------------------------------------------

    def _drop(self, stale: str) -> None:
        # Only the token the platform refused: a concurrent caller may already hold a new one.
        with self._state:
            if self._token == stale:
                self._token = None
                self._claims = None

    def _bind_async_http(self, http: LoopLocalAsyncClient) -> None:
        """Use a platform client's per-loop clients for async fetches (the first one bound, and
        only when no client was given)."""
        if not self._async_http_settled:
            self._async_http = http
            self._async_http_settled = True

    def _deadline(self, deadline: float | None) -> float:
        if deadline is None:
            return self._clock() + self._options.governance_timeout_s
        return deadline

    def _cached(self) -> str | None:
        if self._disabled:
            raise AgentDisabledError(AGENT_DISABLED, status_code=401)
        with self._state:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token
        return None

    def _may_fetch(self, deadline: float) -> float:
        """The timeout of a fetch allowed now; raises while backing off or past the deadline.

        While backing off, the error is of the kind that started the backoff: only a transient
        failure (a `TokenUnavailableError`, with the time left) is worth waiting out.
        """
        if self._disabled:
            raise AgentDisabledError(AGENT_DISABLED, status_code=401)
        now = self._clock()
        with self._state:
            if now < self._not_before:
                last = self._last_error
                retry_in_s = self._not_before - now
                message = f"token endpoint backing off for {retry_in_s:.1f}s"
                if last is not None:
                    message += f" after: {last}"
                status = last.status_code if last is not None else None
                if isinstance(last, PlatformRejectedError):
                    raise PlatformRejectedError(message, status_code=status)
                if isinstance(last, MalformedResponseError):
                    # Nonsense is not an outage: it must never let governance fail open.
                    raise MalformedResponseError(message, status_code=status)
                raise TokenUnavailableError(message, status_code=status, retry_in_s=retry_in_s)
        remaining = deadline - now
        if remaining <= 0:
            raise PlatformUnavailableError("deadline exceeded before the token fetch")
        return min(remaining, self._options.request_timeout_s)

    def _url(self) -> str:
        return self._options.base_url.rstrip("/") + TOKEN_PATH

    def _form(self) -> bytes:
        # The contract fixes the field order; a list of pairs keeps it.
        return urlencode(
            [
                ("grant_type", "client_credentials"),
                ("client_id", self._options.client_id or ""),
                ("client_secret", self._options.client_secret or ""),
            ]
        ).encode("ascii")

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    def _transport_failed(self, exc: httpx.HTTPError) -> PlatformError:
        error: PlatformError
        if isinstance(exc, httpx.TransportError):
            error = TokenUnavailableError(
                f"token endpoint unreachable: {type(exc).__name__}: {exc} "
                f"{unreachable_hint(self._url())}"
            )
        else:
            # It answered, but with a body that cannot be decoded (or a redirect loop).
            error = MalformedResponseError(
                f"token endpoint answer unusable: {type(exc).__name__}: {exc}"
            )
        self._back_off(error, None)
        return error

    def _back_off(self, error: PlatformError, retry_after: float | None) -> None:
        with self._state:
            wait = min(_FAILURE_BACKOFF_S * 2.0 ** min(self._failures, 16), MAX_WAIT_S)
            if retry_after is not None:
                # Not capped at MAX_WAIT_S (that bounds how long one call waits, `run_call`), but
                # at MAX_NOT_BEFORE_S: one `Retry-After: 1e12` must not stop the agent for good.
                wait = max(wait, min(retry_after, MAX_NOT_BEFORE_S))
            self._failures += 1
            self._not_before = self._clock() + wait
            self._last_error = error
            if isinstance(error, TokenUnavailableError):
                error.retry_in_s = wait

    def _accept(self, response: httpx.Response) -> str:
        status = response.status_code
        if status == 401:
            self._disabled = True
            self.invalidate()
            _logger.warning(
                "token endpoint answered 401 to client_id %r (agent %s): the client_id or "
                "client_secret is wrong (check TRACENGENT_CLIENT_ID / TRACENGENT_CLIENT_SECRET), "
                "or the agent is disabled or its secret revoked; telemetry is dropped and "
                "authorization denies from now on",
                self._options.client_id,
                self._options.agent_id,
            )
            raise AgentDisabledError(AGENT_DISABLED, status_code=401)
        if not 200 <= status < 300:
            error: PlatformError
            if status == 429 or status >= 500:
                error = TokenUnavailableError(
                    f"token endpoint answered {status}", status_code=status
                )
            else:
                hint = f" {not_found_hint(self._url())}" if status == 404 else ""
                error = PlatformRejectedError(
                    f"token endpoint answered {status}{hint}", status_code=status
                )
            self._back_off(
                error, parse_retry_after(response.headers.get("Retry-After"), time.time())
            )
            raise error
        try:
            body = _token_answer(response)
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise MalformedResponseError(
                    "token answer has no 'access_token' string", status_code=status
                )
        except MalformedResponseError as exc:
            self._back_off(exc, None)
            raise
        lifetime = _lifetime(body.get("expires_in"))
        with self._state:
            self._token = token
            self._claims = read_claims(token)
            self._refresh_at = self._clock() + refresh_delay_s(lifetime)
            self._failures = 0
            self._not_before = float("-inf")
            self._last_error = None
        return token

    def _sync_client(self) -> httpx.Client:
        if self._http is None:
            # As the platform client's: a proxy named in the environment keeps httpx's own pools.
            self._http = httpx.Client(
                transport=None if environment_proxy_configured() else BoundedTransport()
            )
            self._owns_http = True
        return self._http

    def _async_client(self) -> httpx.AsyncClient:
        return self._async_http.get()

    def _async_lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop; tests (and apps) may use several in turn.
        loop = asyncio.get_running_loop()
        with self._state:
            if self._async_fetch is None or self._async_fetch[0] is not loop:
                self._async_fetch = (loop, asyncio.Lock())
            return self._async_fetch[1]
