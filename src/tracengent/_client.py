"""`TracengentClient`, the telemetry half: configuration, the tracer, events and decision traces.

Which `TracerProvider` records our spans: when the global provider is an SDK `TracerProvider`
(the application configured OpenTelemetry), our processors are added to it once (the registry in
`tracengent._state`), so decision traces sit in the application's own traces and exporters; the
global provider is never replaced. Clients for one agent share its export pipeline there, each
agent's pipeline sends that agent's spans, and spans of no agent with a pipeline of its own go
out once, through the default pipeline (`tracengent._processors.routing`). The client's spans
are sampled by a `TracengentSampler` around the provider's sampler, so the application's sampler
never drops a decision trace. Otherwise the client makes a private SDK provider and leaves the
global one alone.
"""

from __future__ import annotations

import logging
import threading
import time
from numbers import Real
from types import TracebackType
from typing import TYPE_CHECKING, cast, overload

import httpx
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import DEFAULT_ON, Sampler, _get_from_env_or_default
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import DeliveryStats
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._weak import at_fork
from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import MAX_DURATION_S, TracengentOptions
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from opentelemetry.exporter.tracengent.transport import PlatformClient
from opentelemetry.exporter.tracengent.wire import AgentEvent, Money
from tracengent._client_governance import GovernanceMethods
from tracengent._processors.context import ContextProcessor
from tracengent._processors.routing import owned_scope, scrub_payloads
from tracengent._recording import Recorder
from tracengent._sampler import (
    OWN_PROVIDER_DEFAULT,
    TracengentSampler,
    sampler_may_drop_decision_spans,
    with_tracengent_sampling,
)
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent._state import (
    CURRENT_TRACE,
    attach_to_provider,
    export_settings,
    pipeline_key,
    release_from_provider,
)
from tracengent._trace import AgentTrace, begin_trace
from tracengent._version import __version__

if TYPE_CHECKING:
    from opentelemetry.exporter.tracengent.token import AgentTokenProvider
    from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
    from tracengent._decorators import Decorated, TrackDecorator

__all__ = ["TracengentClient"]

_LOGGER = logging.getLogger("tracengent.client")
_TRACER_NAME = "tracengent"
_DEFAULT_WAIT_S = 5.0


class TracengentClient(GovernanceMethods):
    """The agent's connection to Tracengent: decision traces as OTel spans, and governance.

    Spans are exported to the platform in the background (bounded queue, counted drops); no
    telemetry method blocks on the network except `close` and `force_flush`, which wait at most
    their timeout. Governance methods (`authorize`, `ensure_authorized`, `tools`, ...) block
    (or await) until the platform decides, bounded by `governance_timeout_s`. Use it as a
    context manager (`with` or `async with`), or call `close()` at the end.

    Args:
        options: the configuration; validated here.
        transport: the `httpx.BaseTransport` every platform call goes through (tests pass
            `httpx.MockTransport`, which also serves the async calls).
        http: an `httpx.Client` to make the sync platform calls with (it stays the caller's).
            The `*_async` calls cannot use a sync client: they go through `async_transport`,
            so give that one the same settings (CA bundle, proxy, certificates) when they differ
            from httpx's defaults.
        async_transport: the `httpx.AsyncBaseTransport` of the async governance calls (default:
            `transport` when it is also an async transport, else a connection pool per event
            loop). One you pass is used from every event loop: its connections belong to the
            loop that opened them, so pass one only when every async call runs on one loop (not
            with an `asyncio.run` per request, where the next call meets a closed loop's
            connection and is denied).

    Raises:
        TracengentConfigError: the options are invalid (the message names the field to set), or
            a connection argument is of the wrong kind (an `httpx.AsyncClient` as `http`, a
            sync-only transport as `async_transport`).
    """

    def __init__(
        self,
        options: TracengentOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(options, TracengentOptions):
            raise TracengentConfigError("options must be a TracengentOptions")
        _check_connections(http, transport, async_transport)
        self._options = options.validate()
        agent_id = self._options.agent_id or ""
        self._platform = PlatformClient(self._options, transport=transport, http=http)
        self._closed = False
        self._flushed: bool | None = None
        self._close_lock = threading.Lock()
        # Set once the first `close()` has its answer: a concurrent `close()` waits for it.
        self._close_done = threading.Event()
        # The thread making the first `close()`: a signal handler interrupting it there must
        # not wait for it (see `close`).
        self._closing_thread: int | None = None

        def new_export_processor() -> SpanProcessor:
            # The exporter owns a platform client of its own: an export processor may be shared
            # by several clients for one agent and must outlive the one that created it.
            # One stop event for both, so the exporter's interrupt/shutdown wakes its backoff.
            stop = threading.Event()
            platform = (
                PlatformClient(self._options, http=http, stop_event=stop)
                if http is not None
                else None
            )
            exporter = TracengentSpanExporter(
                self._options,
                platform=platform,
                transport=transport,
                stop_event=stop,
            )
            return TracengentSpanProcessor(exporter)

        global_provider = otel_trace.get_tracer_provider()
        scrubber: Scrubber
        # The export pipeline this client uses on a shared provider: its agent's, or its own
        # when it brings an `http` client (a pipeline posts through it; its owner may close it).
        self._pipeline_key = pipeline_key(agent_id, http)
        if isinstance(global_provider, TracerProvider):
            self._provider = global_provider
            self._owns_provider = False
            self._export, attachment = attach_to_provider(
                global_provider,
                agent_id=agent_id,
                key=self._pipeline_key,
                export_settings=export_settings(self._options, transport),
                export_processor=new_export_processor,
                capture_payloads=self._options.capture_payloads,
                scrub_patterns=self._options.scrub_patterns,
            )
            # The provider's scrubber: the strictest settings of every client on it.
            scrubber = attachment.scrubber
            context = attachment.context_processor
            router = attachment.router
            shared = self._provider.get_tracer(_TRACER_NAME, __version__)
            # The spans this client records are its own: the provider's router sends them
            # through this client's pipeline, whatever agent they name. The mark is on this
            # client's tracer only (the SDK shares `shared` with every client on the provider);
            # the application's sampler decides on its own spans only.
            tracer = with_tracengent_sampling(shared, owned_scope(shared, self._pipeline_key))
        else:
            scrubber = Scrubber(
                capture_payloads=self._options.capture_payloads,
                patterns=tuple(self._options.scrub_patterns),
            )
            self._provider = TracerProvider(
                sampler=_own_provider_sampler(), resource=Resource.create({SERVICE_NAME: agent_id})
            )
            self._owns_provider = True
            self._export = new_export_processor()
            scrub_payloads(self._export, scrubber)
            context = ContextProcessor(
                capture_payloads=self._options.capture_payloads, scrub_text=scrubber.free_text
            )
            router = None
            for processor in (context, ScrubbingProcessor(scrubber), self._export):
                self._provider.add_span_processor(processor)
            tracer = self._provider.get_tracer(_TRACER_NAME, __version__)
        self._tracer: Tracer = tracer
        self._recorder = Recorder(self._tracer, scrubber, agent_id, context, router)
        # What the pipeline had dropped before this client (another client of the agent may
        # share it): `close` after the application's shutdown judges the drops since.
        self._dropped_at_creation = self._export_dropped()
        self._init_governance(
            self._options,
            tracer=self._recorder.span_tracer,
            platform=self._platform,
            transport=transport,
            async_transport=async_transport,
            token_provider=self._platform.token_provider,
            http=http,
            scrubber=scrubber,
            recorder=self._recorder,
        )
        self._recorder.llm_authorizer = self._governance.authorizer
        at_fork(self, after_in_child=TracengentClient._after_fork)

    def _after_fork(self) -> None:
        """In a child of `os.fork()`: governance and platform calls stop sharing the parent's
        connections and locks (a reply read on a shared connection could be another process's
        decision). The export pipeline resets itself (its exporter's and processor's hooks)."""
        try:
            self._close_lock = threading.Lock()
            # A close the parent was making does not go on here: no close in the child waits.
            self._close_done = threading.Event()
            if self._closed:
                self._close_done.set()
            self._platform.after_fork()
            self._governance.async_platform.after_fork()
            # The child's pipeline counts from zero (the parent's drops are the parent's).
            self._dropped_at_creation = self._export_dropped()
        except Exception:  # runs in the fork hook: never raise there
            _LOGGER.debug("resetting the client after a fork failed", exc_info=True)

    # --- properties ------------------------------------------------------------------------
    @property
    def options(self) -> TracengentOptions:
        """The validated options."""
        return self._options

    @property
    def tracer(self) -> Tracer:
        """The OTel tracer our spans are made with."""
        return self._tracer

    @property
    def tracer_provider(self) -> TracerProvider:
        """The SDK provider our processors are on (the global one, or the client's own)."""
        return self._provider

    @property
    def recorder(self) -> Recorder:
        """The span builder shared by this client's traces, decorators and tracked clients."""
        return self._recorder

    @property
    def platform(self) -> PlatformClient:
        """The platform client (auth, retries) shared by telemetry and governance."""
        return self._platform

    @property
    def token_provider(self) -> AgentTokenProvider | None:
        """The agent's token provider (None with an ingest key)."""
        return self._platform.token_provider

    @property
    def dropped_count(self) -> int:
        """Events lost so far: dropped by the export queue or exporter, or never recorded
        because recording failed or was misused (e.g. `record(None)`). Misuse after which the
        event was still sent is not in it (`misuse_count`)."""
        return self._export_dropped() + self._recorder.guard.failures

    @property
    def misuse_count(self) -> int:
        """Calls logged and ignored that lost no event: misuse whose event was still sent (an
        unknown `complete()` status, a tracked LLM call not returning an `LlmCallResult`, a
        cost that is not `Money`, an actor id that is not text) and failures of ours after
        which the event was still sent (or a `close`/`force_flush` step, whose result says
        what was delivered). Never blocks or raises."""
        return self._recorder.misuse_guard.failures

    @property
    def delivery_stats(self) -> dict[str, int]:
        """A snapshot of delivery so far: nothing is lost without being counted here.

        Keys: `delivered` (events the platform acknowledged), `traces_closed`, one key per drop
        reason (`queue_full`, `rejected`, `retries_exhausted`, `unserializable`,
        `after_shutdown`, `shutdown_timeout`, `not_configured`, `agent_disabled`) and
        `recording_failed` (events never recorded: misuse such as `record(None)`, or a failure
        building the span). `misuse` and `payloads_omitted` are not drops: `misuse` counts
        calls logged and ignored whose event was still sent (`misuse_count`),
        `payloads_omitted` events sent without an input, output or attributes value that could
        not be encoded as JSON, `payloads_withheld` payloads held back because the redaction
        paths of their decision trace's obligations were forgotten (see `tracengent._scrubbing`:
        never sent unredacted; the scrubber is the provider's, shared by its clients). On a
        shared provider the export pipeline is the agent's, shared with other clients for the
        same agent (see the module doc); its counters are then theirs too. Never blocks or
        raises.
        """
        snapshot: dict[str, int] = {"delivered": 0, "traces_closed": 0}
        stats = getattr(self._export, "stats", None)
        if isinstance(stats, DeliveryStats):
            snapshot = {"delivered": stats.delivered, "traces_closed": stats.traces_closed}
            snapshot.update(stats.dropped_by_reason())
        snapshot["recording_failed"] = self._recorder.guard.failures
        snapshot["misuse"] = self._recorder.misuse_guard.failures
        snapshot["payloads_omitted"] = self._recorder.payload_guard.failures
        snapshot["payloads_withheld"] = self._recorder.scrubber.withheld_payloads
        return snapshot

    def _export_dropped(self) -> int:
        dropped = getattr(self._export, "dropped_count", 0)
        return dropped if isinstance(dropped, int) else 0

    @property
    def flushed(self) -> bool | None:
        """After `close()`: whether everything buffered was delivered in time; before: None."""
        return self._flushed

    # --- recording ----------------------------------------------------------------------------
    def record(self, event: AgentEvent) -> None:
        """Record `event` in the current decision trace, or standalone outside one (or inside
        another agent's: the event is this client's agent's, sent with its credentials).

        Empty ids, agent and time are filled. Never raises or blocks; a bad argument is logged
        and counted in `dropped_count`.
        """
        trace = CURRENT_TRACE.get()
        if trace is None:
            self._recorder.record(event, None, ())
        elif not self._recorder.foreign(trace):
            trace.record(event)
        else:
            # In another agent's trace: this agent's own standalone event, outside that trace
            # (still the current span's child, for the application's other exporters).
            self._recorder.record(event, None, (), outside=True)

    def begin_trace(self, root_request: str, actor_user_id: str | None = None) -> AgentTrace:
        """Start a decision trace answering `root_request` (its root span starts now).

        Begun inside an active span (a web request's, say), the trace is that span's child in
        the same OTel trace. Use the result with `with`/`async with`, or end it with
        `complete()`/`close()`. Never raises or blocks.
        """
        return begin_trace(self._recorder, root_request, actor_user_id)

    @overload
    def tool(self, name: str | None = None) -> TrackDecorator: ...

    @overload
    def tool(self, name: Decorated, /) -> Decorated: ...

    def tool(self, name: str | Decorated | None = None) -> TrackDecorator | Decorated:
        """Decorate a sync or async function: each call is a `tool_call` event, in the trace
        current at call time or standalone (inside another agent's trace too).

        `@client.tool("name")`, `@client.tool()` and `@client.tool` (the function's name) alike.
        """
        from tracengent._decorators import client_decorator, named_or_direct

        recorder = self._recorder
        return cast(
            "TrackDecorator | Decorated",
            named_or_direct(
                name, lambda named: client_decorator(recorder, A.EventTypes.TOOL_CALL, named, None)
            ),
        )

    @overload
    def action(self, name: str | None = None, *, cost: Money | None = None) -> TrackDecorator: ...

    @overload
    def action(self, name: Decorated, /) -> Decorated: ...

    def action(
        self, name: str | Decorated | None = None, *, cost: Money | None = None
    ) -> TrackDecorator | Decorated:
        """Decorate a sync or async function: each call is an `action` event (with `cost`).

        `@client.action("name", cost=...)`, `@client.action()` and `@client.action` alike.
        """
        from tracengent._decorators import client_decorator, named_or_direct

        recorder = self._recorder
        return cast(
            "TrackDecorator | Decorated",
            named_or_direct(
                name, lambda named: client_decorator(recorder, A.EventTypes.ACTION, named, cost)
            ),
        )

    def instrument_mcp(self, *, govern: bool = True) -> TracengentMCPInstrumentor:
        """Trace (and with `govern`, authorize) every MCP `call_tool` of the process.

        Each call becomes an `execute_tool` span exported as a `tool_call` event; with `govern`,
        it is authorized first through `/v1/tool-authorize` (`transport: "mcp"`) on this client's
        platform connection, always failing closed. Undo with `.uninstrument()` on the result.
        Does not block.

        The MCP instrumentation is process-wide. When it is active already (under
        `opentelemetry-instrument`, or from another client), `govern=True` makes this client's
        gate authorize every call in it (replacing any other gate) and leaves its tracing as it
        is; `govern=False` then changes nothing (a gate in force stays). `.uninstrument()` on the
        result removes that instrumentation too, zero-code tracing included.
        """
        from tracengent._mcp import instrument_mcp

        governance = self._governance
        return instrument_mcp(
            self._options,
            tracer=self._tracer,
            tracer_provider=self._provider,
            govern=govern,
            platform=governance.platform,
            async_platform=governance.async_platform,
            recorder=self._recorder,
        )

    # --- lifecycle -----------------------------------------------------------------------------
    def force_flush(self, timeout: float | None = 5.0) -> bool:
        """Export what is buffered; blocks at most `timeout` seconds (None: no limit). True when
        all went out."""
        try:
            timeout_ms = int(self._wait_s(timeout, "force_flush") * 1000)
            if self._owns_provider:
                return self._provider.force_flush(timeout_ms)
            return self._export.force_flush(timeout_ms)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._recorder.misuse_guard.failed("force_flush", exc)
            return False

    def close(self, timeout: float | None = 5.0) -> bool:
        """Flush and shut down what this client added; blocks at most about `timeout` seconds
        (None: until delivered or given up; a timeout that is no number: 5 s, counted misuse).

        Attached to the global provider, only this client's export pipeline is flushed (and
        shut down, and taken out of the provider's router, when no other client for the agent
        shares it); the provider itself is left running.
        Idempotent; never raises. Returns (and keeps in `flushed`) whether the buffer drained
        in time with nothing dropped on the way. A call made while another is closing waits
        for it (at most `timeout`) and returns its answer (False when it is not known in time),
        unless it is made on the closing thread itself (a signal handler that interrupted that
        close, which cannot go on before the handler returns): it then returns at once, False
        while that close is still going on.
        """
        timeout = self._wait_s(timeout, "close")
        # Read before the lock: nothing under it calls anything, so no signal handler can run
        # on this thread while it is held.
        caller = threading.get_ident()
        with self._close_lock:
            closing = self._closed
            self._closed = True
            if not closing:
                self._closing_thread = caller
        if closing:
            # On the closing thread the first close is over (its answer is kept), or a signal
            # handler interrupted it: no wait (even an Event's `wait` when set takes its lock,
            # which that close may hold, setting it).
            if self._closing_thread != caller:
                self._close_done.wait(timeout)
            return bool(self._flushed)
        try:
            return self._close(timeout)
        finally:
            self._close_done.set()

    def _close(self, timeout: float) -> bool:
        """The first `close()`: flush, shut down, record and return whether all was delivered."""
        flushed = False
        timeout_ms = int(timeout * 1000)
        deadline = time.monotonic() + timeout
        dropped_before = self._export_dropped()
        # The application shut the provider down first (its own exit path): that shutdown
        # delivered what was buffered, and a shut-down pipeline refuses to flush again.
        shut_down_before = getattr(self._export, "is_shut_down", False) is True
        try:
            if self._owns_provider:
                flushed = self._provider.force_flush(timeout_ms)
                # Shut the export processor down within what is left of `timeout` (the
                # provider's own shutdown would give it another default 5 s), counting
                # whatever is still buffered; the provider's shutdown then finds it closed.
                _shutdown_within(self._export, deadline)
                self._provider.shutdown()
            else:
                last_user = release_from_provider(self._provider, self._pipeline_key)
                flushed = self._export.force_flush(timeout_ms)
                if last_user is not None:
                    _shutdown_within(last_user, deadline)
        except Exception as exc:  # noqa: BLE001 - close never raises
            self._recorder.misuse_guard.failed("close", exc)
        try:
            self._platform.close()
            # The `*_async` calls end with the sync ones: no decision after `close()` either way.
            self._governance.async_platform.mark_closed()
        except Exception as exc:  # noqa: BLE001 - close never raises
            self._recorder.misuse_guard.failed("closing the platform client", exc)
        # Flushed means delivered: events the exporter gave up on during the flush count too,
        # and, after the application's shutdown, any drop over the client's whole life.
        if shut_down_before:
            flushed = self._export_dropped() == self._dropped_at_creation
        else:
            flushed = flushed and self._export_dropped() == dropped_before
        self._flushed = flushed
        if not flushed:
            _LOGGER.warning("tracengent: not every event was delivered before close")
        return flushed

    def _wait_s(self, timeout: object, method: str) -> float:
        """`timeout` as the seconds `method` waits: None or one too long for a wait (an
        infinity) as no limit (`MAX_DURATION_S`), a negative as 0, and anything but a number
        of seconds (NaN, text, a `bool`) as the default 5 s, logged and counted as misuse.
        Never raises."""
        if timeout is None:
            return MAX_DURATION_S
        seconds: float | None = None
        try:
            if isinstance(timeout, (int, float)):
                seconds = None if isinstance(timeout, bool) else timeout
            elif isinstance(timeout, Real):
                seconds = float(timeout)
        except Exception:  # noqa: BLE001, S110 - a number type of its own that fails: misuse
            pass
        if seconds is not None and seconds == seconds:
            # Compared before any conversion: an `int` too large for a float is no limit.
            return MAX_DURATION_S if seconds >= MAX_DURATION_S else max(0.0, float(seconds))
        self._recorder.misuse_guard.failed(
            method, f"timeout must be a number of seconds or None, got {timeout!r}: waiting 5 s"
        )
        return _DEFAULT_WAIT_S

    async def aclose(self, timeout: float | None = 5.0) -> bool:
        """`close()`, plus the async connections of the `*_async` governance calls.

        Blocks the event loop only for the flush (at most about `timeout` seconds). Never raises.
        """
        flushed = self.close(timeout)
        try:
            await self._aclose_governance()
        except Exception as exc:  # noqa: BLE001 - close never raises
            self._recorder.misuse_guard.failed("closing the async platform client", exc)
        return flushed

    async def __aenter__(self) -> TracengentClient:
        """The client itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """`aclose()`."""
        await self.aclose()

    def __enter__(self) -> TracengentClient:
        """The client itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """`close()`."""
        self.close()


def _check_connections(http: object, transport: object, async_transport: object) -> None:
    """Refuse a connection argument that cannot make the calls it is for: every event would
    be dropped after its retries and every governed call denied, an `AttributeError` the only
    reason given.

    Raises:
        TracengentConfigError: naming the argument and what to pass instead.
    """
    if http is not None and (
        isinstance(http, httpx.AsyncClient) or not callable(getattr(http, "send", None))
    ):
        raise TracengentConfigError(
            f"http must be an httpx.Client, got {type(http).__name__} (the async calls take "
            "an httpx.AsyncBaseTransport as async_transport)"
        )
    if transport is not None and not callable(getattr(transport, "handle_request", None)):
        raise TracengentConfigError(
            f"transport must be an httpx.BaseTransport, got {type(transport).__name__} (an "
            "async-only transport goes in async_transport: telemetry is sent by a blocking "
            "client)"
        )
    if async_transport is not None and not callable(
        getattr(async_transport, "handle_async_request", None)
    ):
        raise TracengentConfigError(
            "async_transport must be an httpx.AsyncBaseTransport, got "
            f"{type(async_transport).__name__} (a sync transport goes in transport)"
        )


def _own_provider_sampler() -> Sampler:
    """The sampler of a client's own provider: `OTEL_TRACES_SAMPLER`'s, as the SDK would pick
    it, inside a `TracengentSampler` when it could drop a span of ours of its own accord.

    The SDK's default (parent-based always-on) is `OWN_PROVIDER_DEFAULT`: the recorder decides
    it inline, and a decision span below a parent someone else sampled out is kept all the same
    (the default alone would drop it, and with it a whole decision trace).
    """
    sampler = _get_from_env_or_default()
    if sampler is DEFAULT_ON:
        return OWN_PROVIDER_DEFAULT
    return TracengentSampler(sampler) if sampler_may_drop_decision_spans(sampler) else sampler


def _shutdown_within(processor: SpanProcessor, deadline: float) -> None:
    """Shut `processor` down by `deadline` when it takes a timeout (ours does), else plainly."""
    if isinstance(processor, TracengentSpanProcessor):
        remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
        processor.shutdown(timeout_millis=remaining_ms)
    else:
        processor.shutdown()
