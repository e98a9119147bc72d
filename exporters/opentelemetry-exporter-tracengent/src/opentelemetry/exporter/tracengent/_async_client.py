"""`AsyncPlatformClient`: the coroutine shell over the policy `PlatformClient` uses (see `transport`)."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Final, TypeVar

import httpx

from opentelemetry.exporter.tracengent._bounded_body import aread_answer
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
from opentelemetry.exporter.tracengent._loop_local import LoopLocalAsyncClient
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
from opentelemetry.exporter.tracengent.errors import PlatformError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision

__all__ = ["AsyncPlatformClient", "bounded"]

_T = TypeVar("_T")
_STOP_CHECK_S: Final = 0.05
"""How often a backoff sleep looks at the stop event."""


async def bounded(awaitable: Awaitable[_T], seconds: float) -> _T:
    """Await `awaitable` for at most `seconds`; raises the built-in `TimeoutError` past it (on
    Python 3.10 too, where `asyncio.wait_for` raises `asyncio.TimeoutError`, another class).

    `asyncio.timeout` where there is one: `asyncio.wait_for` can swallow a cancellation that
    arrives as the inner call completes (CPython gh-86296), and a cancelled call must stay
    cancelled. The platform calls bound their whole exchange with it, and governance bounds a
    stalled transport with it regardless of the transport's own deadline.
    """
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(max(seconds, 0.0)):
            return await awaitable
    try:
        return await asyncio.wait_for(awaitable, timeout=max(seconds, 0.0))
    except asyncio.TimeoutError as exc:  # Python 3.10: not yet the built-in TimeoutError
        raise TimeoutError(str(exc)) from exc


class AsyncPlatformClient:
    """The coroutine twin of `PlatformClient`: same methods, same policy, same errors (a
    `Retry-After` holds back every call of this client, as it does a `PlatformClient`'s).

    Args:
        options: validated here; `TracengentConfigError` names the field to fix.
        transport: the async transport of the client it creates (tests: `httpx.MockTransport`).
        http: an `httpx.AsyncClient` to use instead (not closed by `aclose`).
        token_provider: a provider to share (for example with a `PlatformClient`).
        bearer_token: a fixed bearer (a delegated token): no token provider is used.
        stop_event: when set, backoff sleeps end the call (shutdown).
        clock: monotonic clock in seconds, for deadlines.
        sleep: `await sleep(seconds) -> interrupted`; by default a cancellable `asyncio.sleep`.
        wall_clock: epoch seconds, to read `Retry-After` dates.
        jitter: a number in [0, 1) per backoff.
    """

    def __init__(
        self,
        options: TracengentOptions,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
        token_provider: AgentTokenProvider | None = None,
        bearer_token: str | None = None,
        stop_event: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[bool]] | None = None,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        uses_token = bearer_token is None and (
            token_provider is not None or options.uses_client_credentials
        )
        self._core = PlatformCore(
            options,
            bearer_token=bearer_token,
            uses_token=uses_token,
            clock=clock,
            wall_clock=wall_clock,
            jitter=jitter,
        )
        self._pid = os.getpid()
        # One client per event loop: pooled connections cannot cross loops (see `_loop_local`).
        self._http = LoopLocalAsyncClient(lambda: httpx.AsyncClient(transport=transport), http)
        self._owns_tokens = uses_token and token_provider is None
        self._tokens: AgentTokenProvider | None = None
        if token_provider is not None and uses_token:
            token_provider._bind_async_http(self._http)
            self._tokens = token_provider
        elif uses_token:
            self._tokens = AgentTokenProvider(options, clock=clock)
            self._tokens._bind_async_http(self._http)
        self._stop = stop_event
        self._sleep = sleep

    @property
    def token_provider(self) -> AgentTokenProvider | None:
        """The agent's token provider; None with an ingest key or a fixed bearer token."""
        return self._tokens

    async def post_events(
        self, events: Sequence[JsonObject], *, deadline: float | None = None
    ) -> DeliveryResult:
        """`POST /v1/ingest/events` with one batch; never raises (see `PlatformClient`)."""
        return await self._post(EVENTS_PATH, events, "events", deadline)

    async def post_trace_close(
        self, close: JsonObject, *, deadline: float | None = None
    ) -> DeliveryResult:
        """`POST /v1/ingest/traces` with one trace close; never raises."""
        return await self._post(TRACES_PATH, close, "trace closes", deadline)

    async def authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> AuthDecision:
        """`POST /v1/authorize` (see `PlatformClient.authorize`).

        Raises:
            PlatformError: no decision was obtained.
        """
        response = await self._governance("POST", AUTHORIZE_PATH, request, deadline)
        return AuthDecision.from_wire(parse_json_object(response))

    async def tool_authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> ToolDecision:
        """`POST /v1/tool-authorize` (see `PlatformClient.tool_authorize`).

        Raises:
            PlatformError: no decision was obtained.
        """
        response = await self._governance("POST", TOOL_AUTHORIZE_PATH, request, deadline)
        return ToolDecision.from_wire(parse_json_object(response))

    async def approval_status(self, approval_id: str, *, deadline: float | None = None) -> str:
        """`GET /v1/approvals/{id}` (see `PlatformClient.approval_status`).

        Raises:
            PlatformError: as `authorize`; `MalformedResponseError` for an unknown status.
        """
        response = await self._governance("GET", approval_path(approval_id), None, deadline)
        return parse_approval_status(response)

    async def attenuate(
        self, grant_id: str, request: JsonObject, *, deadline: float | None = None
    ) -> JsonObject:
        """`POST /v1/delegations/{grantId}/attenuate` (see `PlatformClient.attenuate`).

        Raises:
            PlatformError: as `authorize`; `MalformedResponseError` without `token.accessToken`.
        """
        response = await self._governance("POST", attenuate_path(grant_id), request, deadline)
        return parse_attenuated_token(response)

    def after_fork(self) -> None:
        """Stop sharing connections and locks with the parent: call it in a child of `os.fork()`.

        The client made for an event loop so far is forgotten (the child makes its own), the
        policy's locks are fresh (a `Retry-After` time the platform set still holds), and so are
        those of a token provider this client made (a shared one is reset by its owner,
        `PlatformClient.after_fork`). An `http` client you passed stays yours: give the child a
        new one. Idempotent per process; no I/O.
        """
        pid = os.getpid()
        if pid == self._pid:
            return
        self._pid = pid
        self._core.after_fork()
        self._http.after_fork()
        if self._owns_tokens and self._tokens is not None:
            self._tokens.after_fork()

    def mark_closed(self) -> None:
        """Make no request any more, from a sync caller (no I/O): every later call fails as one
        after `aclose` does (`PlatformError`, a deny), as the sync client's calls do once it is
        closed. The connections made so far are closed by `aclose`, or with their loops."""
        self._http.mark_closed()

    async def aclose(self) -> None:
        """Close the HTTP client (when this client created it) and its own token provider; later
        calls make no new connection and fail (a deny), as after the sync client's `close()`."""
        await self._http.aclose()
        if self._owns_tokens and self._tokens is not None:
            await self._tokens.aclose()

    # --- the shell --------------------------------------------------------------------------

    async def _post(
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
            return core.delivery(await self._drive(steps), count, what)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            return core.unsent(count, f"internal error: {type(exc).__name__}: {exc}")

    async def _governance(
        self, method: str, path: str, request: JsonObject | None, deadline: float | None
    ) -> httpx.Response:
        core = self._core
        body: PreparedBody | None = None
        if request is not None:
            body = core.governance_body(request)
        steps = core.call(method, path, body, core.governance_deadline(deadline))
        try:
            outcome = await self._drive(steps)
        except Exception as exc:  # callers are promised PlatformError only
            raise core.internal_error(exc) from exc
        return core.governance_response(outcome)

    async def _drive(self, steps: Generator[Step, object, CallOutcome]) -> CallOutcome:
        with platform_call():
            reply: object = None
            try:
                step = next(steps)
                while True:
                    if isinstance(step, SendRequest):
                        reply = await self._send(step)
                    elif isinstance(step, Wait):
                        reply = await self._wait(step.seconds)
                    else:
                        reply = await self._token(step)
                    step = steps.send(reply)
            except StopIteration as done:
                outcome: CallOutcome = done.value
                return outcome

    async def _send(self, step: SendRequest) -> object:
        request: httpx.Request | None = None
        try:
            http = self._http.get()
            request = http.build_request(
                step.method,
                step.url,
                headers=step.headers,
                content=step.content,
                timeout=step.timeout_s,
            )
            # The whole exchange's bound, as the sync shell's: `timeout_s` bounds each read, so
            # an answer dripped a byte at a time (its headers or its body) would pass every
            # read and never end by the call's deadline.
            return await bounded(self._exchange(http, request), step.timeout_s)
        except TimeoutError:
            # Ours (the whole exchange's bound): a timeout like httpx's, retried as one.
            return httpx.ReadTimeout(
                f"timed out: no whole answer within {step.timeout_s:.2f}s", request=request
            )
        except Exception as exc:  # noqa: BLE001 - the policy decides (only transport errors retry)
            return exc

    @staticmethod
    async def _exchange(http: httpx.AsyncClient, request: httpx.Request) -> object:
        # Streamed, so an undecodable body still leaves the status to the policy. Never a
        # redirect, whatever the caller's client does (see `PlatformClient._send`).
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            # At most `MAX_ANSWER_BYTES` decoded: a compressed answer cannot inflate in memory.
            answer = await aread_answer(response)
        except httpx.DecodingError as exc:
            return UndecodableAnswer(response, exc)
        finally:
            await response.aclose()
        return answer

    async def _wait(self, seconds: float) -> bool:
        """A backoff sleep of `seconds`; True when the stop event ended it (set before it or
        during it, from any thread: the sleep ends within `_STOP_CHECK_S` of it)."""
        stop = self._stop
        if stop is not None and stop.is_set():
            return True
        if self._sleep is not None:
            return await self._sleep(seconds)
        if stop is None:
            await asyncio.sleep(seconds)
            return False
        # An event has no callback a loop can await: looked at every `_STOP_CHECK_S`, so a stop
        # set from any thread ends the sleep within that (no thread, nothing to reset on fork).
        end = time.monotonic() + max(seconds, 0.0)
        while not stop.is_set():
            left = end - time.monotonic()
            if left <= 0.0:
                return False
            await asyncio.sleep(min(left, _STOP_CHECK_S))
        return True

    async def _token(self, step: FetchToken) -> object:
        assert self._tokens is not None  # the policy only asks when a provider is configured
        if step.stale is not None:
            self._tokens._drop(step.stale)
        try:
            return await self._tokens.get_token_async(deadline=step.deadline)
        except PlatformError as exc:
            return exc
