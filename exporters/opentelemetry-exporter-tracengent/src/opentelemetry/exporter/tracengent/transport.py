"""The platform wire layer: `PlatformClient` (blocking) and `AsyncPlatformClient` (coroutines).

Both are thin shells over one I/O-free policy (`_http_policy.run_call`): they perform the steps it
yields (send a request, sleep, get a token) and nothing else, so auth, retries, backoff,
`Retry-After`, deadlines and gzip behave identically in both. Every request runs inside
`platform_call()`: OTel instrumentation suppressed (the platform calls never become spans) and
marked as the SDK's own, so egress gates let them through (see `_platform_calls`).

`post_events` / `post_trace_close` never raise: they return a `DeliveryResult`. The governance
calls raise only `PlatformError` and its subclasses (see `errors.py`): a plain `PlatformError`
for a failure of the SDK's own (never to be read as an unavailable platform); a malformed
decision object is not an error but a deny (`AuthDecision.from_wire`, `ToolDecision.from_wire`).

The request/retry rules live in `_http_policy`, what both shells share in `_platform_core`, and
the coroutine shell in `_async_client` (re-exported here).

The blocking shell hands its requests straight to a transport, without an `httpx.Client` around
it: platform calls use none of a client's cookies, redirects, auth flows, hooks or default
headers, and every governed egress request waits for one of them (the client layer costs about
as much CPU per call as the transport beneath it). By default that transport is a
`BoundedTransport` (httpcore's pool as `httpx.HTTPTransport()` makes it: kept-alive connections,
TLS verified), which ends each exchange, status line and headers included, by the call's
deadline (see `_bounded_body`). An `http` client the caller gives, or a proxy configured in the
environment (httpx applies it at the client level, `NO_PROXY` included), keeps the calls on an
`httpx.Client` exactly as before; its answers' bodies, not their headers, are bounded as a whole.

Connection pools are not fork-safe: a child made by `os.fork()` would send on the parent's
kept-alive sockets, and each process could read the other's answers. `PlatformClient.after_fork`
gives the child a pool of its own (the exporter's and `TracengentClient`'s fork hooks call it).
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from collections.abc import Callable, Generator, Sequence
from typing import TypeVar

import httpx

from opentelemetry.exporter.tracengent._async_client import AsyncPlatformClient
from opentelemetry.exporter.tracengent._bounded_body import (
    BoundedTransport,
    bound_body,
    end_exchange,
    environment_proxy_configured,
    exchange_until,
    read_answer,
)
from opentelemetry.exporter.tracengent._http_policy import (
    CallOutcome,
    FetchToken,
    PreparedBody,
    SendRequest,
    Step,
    UndecodableAnswer,
    Wait,
    parse_json_object,
)
from opentelemetry.exporter.tracengent._platform_calls import platform_call
from opentelemetry.exporter.tracengent._platform_core import (
    AUTHORIZE_PATH,
    EVENTS_PATH,
    TOOL_AUTHORIZE_PATH,
    TRACES_PATH,
    DeliveryResult,
    PlatformCore,
    approval_path,
    attenuate_path,
    parse_approval_status,
    parse_attenuated_token,
)
from opentelemetry.exporter.tracengent._weak import at_fork
from opentelemetry.exporter.tracengent.errors import PlatformError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision

__all__ = ["AsyncPlatformClient", "DeliveryResult", "PlatformClient", "fork_safe"]


class PlatformClient:
    """Blocking client of the platform's HTTP API (wire contract §1-§7). Thread-safe.

    A `Retry-After` on any answer (429/5xx) holds back every call of this client until the time
    it names; a call that would have to wait for it longer than 30 s or past its deadline fails
    unsent (see `_http_policy.NotBefore`).

    Args:
        options: validated here; `TracengentConfigError` names the field to fix.
        transport: the httpx transport every call is handed to (tests: `httpx.MockTransport`);
            by default a `BoundedTransport` (see the module docstring). With one you pass, only
            each answer's body is bounded as a whole; its status line and headers per read.
        http: an `httpx.Client` to use instead (not closed by `close`); its `follow_redirects`
            does not apply: a platform call never follows a redirect. As with `transport`,
            its answers' status line and headers are bounded per read only. A `transport` or
            `http` you pass stays yours, in a forked child too (see `after_fork`).
        token_provider: a provider to share; by default one is made when client credentials are set.
        bearer_token: a fixed bearer (a delegated token): no token provider is used.
        stop_event: setting it wakes backoff sleeps and ends the call (shutdown).
        clock: monotonic clock in seconds, for deadlines (tests inject one).
        sleep: `sleep(seconds) -> interrupted`; by default `stop_event.wait` (tests inject one).
        wall_clock: epoch seconds, to read `Retry-After` dates.
        jitter: a number in [0, 1) per backoff.
    """

    def __init__(
        self,
        options: TracengentOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        token_provider: AgentTokenProvider | None = None,
        bearer_token: str | None = None,
        stop_event: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], bool] | None = None,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        uses_token = bearer_token is None and (
            token_provider is not None or options.uses_client_credentials
        )
        # Kept to make a fresh core (its locks) in a forked child.
        self._new_core = functools.partial(
            PlatformCore,
            options,
            bearer_token=bearer_token,
            uses_token=uses_token,
            clock=clock,
            wall_clock=wall_clock,
            jitter=jitter,
        )
        self._core = self._new_core()
        self._owns_http = http is None
        self._owns_transport = False
        # What `_send` hands requests to directly; None: through `self._http` (see module doc).
        self._transport: httpx.BaseTransport | None = None
        if http is None:
            if transport is None and not environment_proxy_configured():
                # The client below shares it (token fetches).
                transport = BoundedTransport()
                self._owns_transport = True
            self._transport = transport
            http = httpx.Client(transport=transport)
        self._http = http
        # The process the pool and the locks belong to (see `after_fork`).
        self._pid = os.getpid()
        self._closed = False
        self._owns_tokens = uses_token and token_provider is None
        self._tokens: AgentTokenProvider | None = None
        if uses_token:
            self._tokens = token_provider or AgentTokenProvider(options, self._http, clock=clock)
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait

    @property
    def token_provider(self) -> AgentTokenProvider | None:
        """The agent's token provider; None with an ingest key or a fixed bearer token."""
        return self._tokens

    def held_back_s(self) -> float:
        """Seconds before this client may send again, as a `Retry-After` asked (0.0: now)."""
        core = self._core
        return max(0.0, core.not_before.until - core.clock())

    def post_events(
        self, events: Sequence[JsonObject], *, deadline: float | None = None
    ) -> DeliveryResult:
        """`POST /v1/ingest/events` with one batch. Blocks until `deadline`; never raises.

        Args:
            events: wire events (`AgentEvent.to_wire()`), sent as one JSON array.
            deadline: absolute `time.monotonic()` time; None means now + `request_timeout_s`.
        """
        return self._post(EVENTS_PATH, events, "events", deadline)

    def post_trace_close(
        self, close: JsonObject, *, deadline: float | None = None
    ) -> DeliveryResult:
        """`POST /v1/ingest/traces` with one trace close. Blocks until `deadline`; never raises."""
        return self._post(TRACES_PATH, close, "trace closes", deadline)

    def authorize(self, request: JsonObject, *, deadline: float | None = None) -> AuthDecision:
        """`POST /v1/authorize`; a malformed decision object becomes a deny. Blocks until `deadline`.

        Args:
            request: `{"permission", "context"?, "traceId"?}`.
            deadline: absolute `time.monotonic()` time; None means now + `governance_timeout_s`.

        Raises:
            PlatformError: `PlatformUnavailableError`, `PlatformRejectedError`,
                `AgentDisabledError` or `MalformedResponseError` (no decision was obtained), or
                a plain `PlatformError` when the SDK itself failed (not the platform).
        """
        response = self._governance("POST", AUTHORIZE_PATH, request, deadline)
        return AuthDecision.from_wire(parse_json_object(response))

    def tool_authorize(self, request: JsonObject, *, deadline: float | None = None) -> ToolDecision:
        """`POST /v1/tool-authorize` (§6); otherwise as `authorize`.

        Raises:
            PlatformError: as `authorize`.
        """
        response = self._governance("POST", TOOL_AUTHORIZE_PATH, request, deadline)
        return ToolDecision.from_wire(parse_json_object(response))

    def approval_status(self, approval_id: str, *, deadline: float | None = None) -> str:
        """`GET /v1/approvals/{id}`: `pending`, `approved`, `denied` or `expired`. Blocks.

        Raises:
            PlatformError: as `authorize`; `MalformedResponseError` for any other status.
        """
        return parse_approval_status(
            self._governance("GET", approval_path(approval_id), None, deadline)
        )

    def attenuate(
        self, grant_id: str, request: JsonObject, *, deadline: float | None = None
    ) -> JsonObject:
        """`POST /v1/delegations/{grantId}/attenuate`: the answer's `token` object. Blocks.

        Raises:
            PlatformError: as `authorize`; `MalformedResponseError` without `token.accessToken`.
        """
        return parse_attenuated_token(
            self._governance("POST", attenuate_path(grant_id), request, deadline)
        )

    def close(self) -> None:
        """Close the HTTP client (when this client created it) and its own token provider."""
        self._closed = True
        if self._owns_http:
            self._http.close()
        if self._owns_tokens and self._tokens is not None:
            self._tokens.close()

    def after_fork(
        self, *, stop_events: tuple[threading.Event, threading.Event] | None = None
    ) -> None:
        """Stop sharing connections and locks with the parent: call it in a child of `os.fork()`.

        An `httpx.Client` this client made is replaced by a new one, and with it the connection
        pool this client made (the default `BoundedTransport`, or the pools httpx mounts
        for an environment proxy): the child opens connections of its own. The parent's are
        abandoned, not closed, since closing takes the pool's locks, which a parent thread
        may have held at the fork; no request or close is ever sent on them from the child.
        The client's internal locks and the token provider's locks are fresh too (see
        `AgentTokenProvider.after_fork`); a token provider made here fetches on the new client.
        A `Retry-After` time the platform set still holds in the child.

        A `transport` or `http` client you passed stays yours and is used as it is: if it pools
        connections (`httpx.HTTPTransport`, `httpx.Client`), give the child a new one (build
        the client after forking), or pass none and let this client make its own pool.

        Idempotent per process, a no-op in the process that made the client and on a closed
        client. Does no I/O.

        Args:
            stop_events: `(old, new)`: if this client was built with the stop event `old`, its
                backoff waits on `new` from now on (the exporter replaces the event it shares).
        """
        pid = os.getpid()
        if pid == self._pid or self._closed:
            return
        self._pid = pid
        # The platform's `Retry-After` binds the agent, whichever process asks next.
        not_before = self._core.not_before
        not_before.after_fork()
        self._core = self._new_core(not_before=not_before)
        if stop_events is not None and self._stop is stop_events[0]:
            if self._sleep == self._stop.wait:
                self._sleep = stop_events[1].wait
            self._stop = stop_events[1]
        if self._owns_http:
            if self._owns_transport:
                self._transport = BoundedTransport()
            # Made anew even around your transport: the client's cookie jar has a lock too.
            self._http = httpx.Client(transport=self._transport)
        if self._tokens is not None:
            self._tokens.after_fork(http=self._http if self._owns_tokens else None)

    # --- the shell --------------------------------------------------------------------------

    def _post(
        self,
        path: str,
        payload: JsonObject | Sequence[JsonObject],
        what: str,
        deadline: float | None,
    ) -> DeliveryResult:
        core = self._core
        count = 0
        try:
            count = 1 if isinstance(payload, dict) else len(payload)
            disabled = self._tokens is not None and self._tokens.disabled
            prepared = core.begin_post(payload, count, disabled=disabled)
            if isinstance(prepared, DeliveryResult):
                return prepared
            steps = core.call("POST", path, prepared, core.telemetry_deadline(deadline))
            return core.delivery(self._drive(steps), count, what)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            return core.unsent(count, f"internal error: {type(exc).__name__}: {exc}")

    def _governance(
        self, method: str, path: str, request: JsonObject | None, deadline: float | None
    ) -> httpx.Response:
        core = self._core
        body: PreparedBody | None = None
        if request is not None:
            body = core.governance_body(request)
        try:
            outcome = self._drive(core.call(method, path, body, core.governance_deadline(deadline)))
        except Exception as exc:  # callers are promised PlatformError only
            raise core.internal_error(exc) from exc
        return core.governance_response(outcome)

    def _drive(self, steps: Generator[Step, object, CallOutcome]) -> CallOutcome:
        with platform_call():
            reply: object = None
            try:
                step = next(steps)
                while True:
                    if isinstance(step, SendRequest):
                        reply = self._send(step)
                    elif isinstance(step, Wait):
                        reply = self._stop.is_set() or self._sleep(step.seconds)
                    else:
                        reply = self._token(step)
                    step = steps.send(reply)
            except StopIteration as done:
                outcome: CallOutcome = done.value
                return outcome

    def _send(self, step: SendRequest) -> object:
        # The whole exchange's bound: `timeout_s` bounds each read, so an answer dripped a byte
        # at a time would pass every read and never end. The default transport ends every step
        # by `end`, status line and headers included; another one only its body (`bound_body`).
        end = time.monotonic() + step.timeout_s
        bounded = exchange_until(end)
        try:
            if self._closed:
                # Whoever's connections these are (an `http=` client of the application's stays
                # open): a closed platform client asks nothing more.
                raise RuntimeError("the platform client is closed")
            transport = self._transport
            if transport is None:
                request = self._http.build_request(
                    step.method,
                    step.url,
                    headers=step.headers,
                    content=step.content,
                    timeout=step.timeout_s,
                )
                # Streamed, so an undecodable body still leaves the status to the policy. Never
                # a redirect, whatever the caller's client does: a 3xx is the platform's answer,
                # and following it would re-send the credentials (an `X-Ingest-Key`) and the
                # body to the host it names, and take that host's answer for a decision.
                response = self._http.send(request, stream=True, follow_redirects=False)
            else:
                request = self._core.request_for(step)
                response = transport.handle_request(request)
                response.request = request
            bound_body(response, end)
            try:
                # At most `MAX_ANSWER_BYTES` decoded: a compressed answer cannot inflate in memory.
                answer = read_answer(response)
            except httpx.DecodingError as exc:
                return UndecodableAnswer(response, exc)
            finally:
                response.close()
            return answer
        except Exception as exc:  # noqa: BLE001 - the policy decides (only transport errors retry)
            return exc
        finally:
            end_exchange(bounded)

    def _token(self, step: FetchToken) -> object:
        assert self._tokens is not None  # the policy only asks when a provider is configured
        if step.stale is not None:
            self._tokens._drop(step.stale)
        try:
            return self._tokens.get_token(deadline=step.deadline)
        except PlatformError as exc:
            return exc


_Platform = TypeVar("_Platform", PlatformClient, AsyncPlatformClient)


def fork_safe(platform: _Platform) -> _Platform:
    """`platform`, made reset in a forked child (a pre-forking server's worker, multiprocessing's
    workers): on the parent's kept-alive sockets each process could read the other's answers as
    its own. For platform clients no `TracengentClient` owns (whose own fork hook resets its
    clients). Returns `platform`."""
    at_fork(platform, after_in_child=type(platform).after_fork)
    return platform
