"""`TracengentSpanExporter`: finished spans → wire events and trace closes → the platform."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opentelemetry.exporter.tracengent._classify import (
    EVENT,
    NOT_EXPORTED,
    TRIMMED,
    Attributes,
    classify,
    restore_trimmed,
)
from opentelemetry.exporter.tracengent._self_metrics import (
    ExporterMetrics,
    internal_metrics_enabled,
)
from opentelemetry.exporter.tracengent._stats import DeliveryStats, DropReason
from opentelemetry.exporter.tracengent._translate import (
    MAX_BODY_BYTES,
    PayloadFilter,
    SpanTranslator,
    TranslationSettings,
)
from opentelemetry.exporter.tracengent._weak import at_fork
from opentelemetry.exporter.tracengent.attributes import attributes_of
from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.jsonvalue import EncodedBatch, JsonObject
from opentelemetry.exporter.tracengent.options import (
    TracengentOptions,
    exporter_options,
    options_from_environment,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_BODY_BYTES", "DeliveryOutcome", "EventPlatform", "TracengentSpanExporter"]

_LOGGER = logging.getLogger("tracengent.export")


class DeliveryOutcome(Protocol):
    """What one platform request reports (`transport.DeliveryResult` satisfies it)."""

    @property
    def delivered(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def reason(self) -> str | None: ...


class EventPlatform(Protocol):
    """The part of `transport.PlatformClient` the exporter uses; tests pass a fake."""

    def post_events(
        self, events: Sequence[JsonObject], *, deadline: float | None = None
    ) -> DeliveryOutcome: ...

    def post_trace_close(
        self, close: JsonObject, *, deadline: float | None = None
    ) -> DeliveryOutcome: ...

    def close(self) -> None: ...


def _new_platform(
    options: TracengentOptions, transport: httpx.BaseTransport | None, stop: threading.Event
) -> EventPlatform:
    from opentelemetry.exporter.tracengent.transport import PlatformClient

    return PlatformClient(options, transport=transport, stop_event=stop)


@dataclass(frozen=True)
class _Budget:
    """The deadline of one delivery and how what it cuts off is counted."""

    deadline: float | None
    on_deadline: DropReason

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


class TracengentSpanExporter(SpanExporter):
    """Exports finished spans to the Tracengent platform as events and trace closes.

    Spans that are not events or decision-trace roots are skipped. Events go out in batches of at
    most `max_batch_size` events and `MAX_BODY_BYTES` of JSON, then the trace closes of the
    traces that ended. `export` never raises: every event not delivered is counted in `stats`
    by reason. Use it under `TracengentSpanProcessor` (counted, bounded buffering); under OTel's
    `BatchSpanProcessor` (the `OTEL_TRACES_EXPORTER=tracengent` path under another package's
    configurator) it works too, but what that processor drops (its queue full, a shutdown that
    times out) is not in `stats`: only the exporter's own drops are counted there.

    The exporter only reads the decision-trace context spans carry (`tracengent.trace.id`,
    `tracengent.event.parent_id`, the root request), which `tracengent`'s context processor
    stamps as they start: it is on the provider once a `TracengentClient` was made there or
    under zero code. On a provider without it, an `invoke_agent` root still sends its trace
    close, but the events under it go as standalone events (no `traceId`, no `parentEventId`).

    Args:
        options: validated here. None (and no `settings`) reads `options_from_environment()`
            (`TRACENGENT_*`, the agent id falling back to `OTEL_SERVICE_NAME`); if those are
            invalid a single warning names what to set and the exporter becomes a no-op that
            counts every event as `not_configured`.
        platform: the platform client to post through (shared with the SDK's client); by default
            a `PlatformClient` is created and closed at shutdown.
        transport: the httpx transport of the default platform client (tests: `MockTransport`).
        stop_event: the event that wakes `platform`'s backoff (the one it was built with); the
            exporter sets it from `interrupt()` and `shutdown()`. The default client gets one.
        meter_provider: where its self-observability metrics go when
            `OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true` (`otel.sdk.exporter.*`, see
            `_self_metrics`); default: the global meter provider.
        **settings: instead of `options`, the exporter's own options by name (`agent_id`,
            `base_url`, credentials, `environment`, `default_tags`, `max_batch_size`,
            `max_retries`, `gzip_threshold_bytes`, `request_timeout_s`: `EXPORTER_SETTINGS`),
            over `TRACENGENT_*` for the rest (`options.exporter_options`). This is how OTel's
            declarative configuration builds it from the settings under a file's `tracengent:`
            exporter key.

    Every span it is given is exported, whatever agent it names (an event's `gen_ai.agent.id`
    is its wire `agentId`): on a provider several agents' pipelines share, `tracengent`'s
    router gives each exporter its own agent's spans and every other span to one of them.

    Raises:
        TracengentConfigError: when `options` or `settings` are given and invalid, or both are
            given.
    """

    def __init__(
        self,
        options: TracengentOptions | None = None,
        *,
        platform: EventPlatform | None = None,
        transport: httpx.BaseTransport | None = None,
        stop_event: threading.Event | None = None,
        meter_provider: MeterProvider | None = None,
        **settings: Any,
    ) -> None:
        self._stats = DeliveryStats()
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._shutdown = False
        self._options: TracengentOptions | None
        if settings:
            if options is not None:
                raise TracengentConfigError(
                    f"give the exporter options or settings ({', '.join(sorted(settings))}), "
                    "not both"
                )
            self._options = exporter_options(settings)
        elif options is not None:
            self._options = options.validate()
        else:
            try:
                self._options = options_from_environment()
            except TracengentConfigError as exc:
                _LOGGER.warning(
                    "tracengent: the Tracengent exporter is not configured, events will be "
                    "dropped and counted: %s",
                    exc,
                )
                self._options = None
                self._stats.already_explained(DropReason.NOT_CONFIGURED)
        self._owns_platform = platform is None
        self._platform: EventPlatform | None = None
        if self._options is not None:
            self._platform = platform or _new_platform(self._options, transport, self._stop)
        agent_id = self._options.agent_id if self._options is not None else None
        self._translator = SpanTranslator(
            TranslationSettings(
                agent_id=agent_id or "",
                environment=self._options.environment if self._options is not None else "",
                default_tags=tuple(self._options.default_tags) if self._options is not None else (),
                capture_payloads=self._options is None or self._options.capture_payloads,
            )
        )
        self._max_batch_size = self._options.max_batch_size if self._options is not None else 1
        if internal_metrics_enabled():
            base_url = self._options.base_url if self._options is not None else ""
            self._stats.report_export_to(ExporterMetrics(base_url, meter_provider))
        # Under any span processor (OTel's `BatchSpanProcessor` in zero-code setups too).
        at_fork(self, after_in_child=TracengentSpanExporter.after_fork)

    @property
    def options(self) -> TracengentOptions | None:
        """The validated options, or None when the exporter is a not-configured no-op."""
        return self._options

    def withhold_payloads(self) -> None:
        """Send no payload (input, output, payload attributes) from now on, as with
        `capture_payloads` off: on a tracer provider several clients share, a client with
        capture off turns it off in every pipeline there. Never undone; never blocks."""
        self._translator.withhold_payloads()

    def set_payload_filter(self, payload_filter: PayloadFilter | None) -> None:
        """Pass every payload text the recorder did not write through `payload_filter` before
        it is sent, from the next batch on; None sends such text as it is (the default).

        `payload_filter(attribute, text, trace_id)` (`attribute` is `tracengent.input`,
        `.output`, `.attributes`, a tool call's `gen_ai.tool.call.arguments`/`result`, or
        `tracengent.trace.root_request`, the trace's root request as an event or the trace close
        sends it, with payload capture off too: a filter that returns None for an attribute it
        does not know leaves the root request out; `trace_id` the span's `tracengent.trace.id`, None outside a decision trace) returns the
        text to send, or None to send no such payload; it must not raise (an event whose filter
        raises is left out and counted) and runs on the export thread. `tracengent` sets its
        scrubber's here (`Scrubber.exported_payload`), so payloads a third-party instrumentation
        or `span.set_attribute` set after their span started, which no span processor can scrub,
        are scrubbed on their way to the platform. Payloads withheld (`withhold_payloads`,
        `capture_payloads` off) stay withheld. Never blocks.
        """
        self._translator.set_payload_filter(payload_filter)

    @property
    def configured(self) -> bool:
        """False when the exporter counts events as `not_configured` instead of sending them."""
        return self._platform is not None

    @property
    def stats(self) -> DeliveryStats:
        """Delivered and dropped counters (shared with a `TracengentSpanProcessor` over it)."""
        return self._stats

    @property
    def dropped_count(self) -> int:
        """Events and trace closes not delivered, whatever the reason."""
        return self._stats.dropped_count

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Translate and send `spans`; blocks while sending (retries included). Never raises.

        Returns:
            SUCCESS when everything exportable was delivered, FAILURE when something was dropped.
        """
        result = SpanExportResult.FAILURE
        with self._stats.guard("export"):
            entries = _entries_of(spans, self._stats)
            result = self.deliver(entries, deadline=None)
            if len(entries) < len(spans):
                result = SpanExportResult.FAILURE  # some spans were counted unserializable
        return result

    def deliver(
        self,
        entries: Iterable[tuple[ReadableSpan, Attributes]],
        *,
        deadline: float | None,
        on_deadline: DropReason = DropReason.SHUTDOWN_TIMEOUT,
    ) -> SpanExportResult:
        """`export` for spans whose attributes were already copied (the processor's path).

        Blocks while sending, at most until `deadline`; never raises.

        Args:
            entries: `(span, attributes_of(span))` pairs, in the order the spans ended.
            deadline: absolute `time.monotonic()` after which nothing more is sent; batches not
                sent by then are counted `shutdown_timeout`. None: the platform client's own
                timeouts and retries bound it.
            on_deadline: how what the deadline cut off is counted: `shutdown_timeout` for a
                flush or close, `retries_exhausted` for the background worker's own bound.
        """
        result = SpanExportResult.FAILURE
        with self._stats.guard("export"):
            requests, closes, dropped = self._translate(entries)
            # What a shutdown that abandons this batch counts: not its span count (a span may
            # be no event, or an event and a trace close).
            self._stats.expect_in_batch(sum(map(len, requests)) + len(closes) + dropped)
            budget = _Budget(deadline, on_deadline)
            for request in requests:
                dropped += self._post_events(request, budget)
            for close in closes:
                dropped += self._send_close(close, budget)
            result = SpanExportResult.FAILURE if dropped else SpanExportResult.SUCCESS
        return result

    def _translate(
        self, entries: Iterable[tuple[ReadableSpan, Attributes]]
    ) -> tuple[list[EncodedBatch], list[JsonObject], int]:
        """`(the events' requests, trace closes, drops counted)`: events go out in requests of
        at most `max_batch_size` events and `MAX_BODY_BYTES` of JSON."""
        if not isinstance(entries, Sequence):
            entries = list(entries)
        if self._shutdown or self._platform is None:
            return [], [], self._count_unsendable(entries)
        batch = self._translator.translate(
            entries,
            max_batch_size=self._max_batch_size,
            max_body_bytes=MAX_BODY_BYTES,
        )
        for exc in batch.internal_errors:
            self._stats.add_internal_error("translate", exc)
        # Each event that cannot be encoded (NaN, an odd value) is dropped without its
        # batch-mates.
        self._stats.add_dropped(DropReason.UNSERIALIZABLE, batch.unserializable)
        return batch.requests, batch.closes, batch.unserializable

    def _count_unsendable(self, entries: Sequence[tuple[ReadableSpan, Attributes]]) -> int:
        """Count what a shut-down or not-configured exporter cannot send; how many."""
        after_shutdown = 0
        not_configured = 0
        for span, attrs in entries:
            kind = classify(attrs, span.kind)
            if kind == NOT_EXPORTED:
                continue
            if self._shutdown:
                after_shutdown += 1
            elif kind == EVENT:
                not_configured += 1
        self._stats.add_dropped(DropReason.AFTER_SHUTDOWN, after_shutdown)
        self._stats.add_dropped(DropReason.NOT_CONFIGURED, not_configured)
        return after_shutdown + not_configured

    def _failure_reason(
        self, reason: str | None, budget: _Budget, result: DeliveryOutcome | None = None
    ) -> DropReason:
        if self._stop.is_set():
            return DropReason.SHUTDOWN_TIMEOUT
        # The deadline ended the call (a platform fake need not say so: read defensively). Only
        # a deadline of ours: without one (`export`), the platform client's own per-call
        # deadline cut it, which is an outage outlasting the retries, not a flush or close.
        if budget.deadline is not None and (
            budget.expired() or getattr(result, "cut_by_deadline", False) is True
        ):
            return budget.on_deadline
        # The platform client's reason for a disabled agent starts so (`AGENT_DISABLED`); other
        # reasons quote addresses and errors, which may say "disabled" anywhere.
        if reason is not None and reason.lower().startswith("agent disabled"):
            return DropReason.AGENT_DISABLED
        return DropReason.RETRIES_EXHAUSTED

    def _post_events(self, batch: EncodedBatch, budget: _Budget) -> int:
        platform = self._platform
        if platform is None:
            return 0
        if budget.expired():
            self._stats.add_dropped(budget.on_deadline, len(batch))
            return len(batch)
        metrics = self._stats.export_metrics
        started = 0.0
        if metrics is not None:
            started = time.perf_counter()
            metrics.sending(len(batch))
        try:
            result = platform.post_events(batch, deadline=budget.deadline)
        except Exception as exc:  # noqa: BLE001 - counted below, the agent never sees it
            # The platform client promises not to raise; if it does, the batch is still counted.
            self._stats.add_internal_error("post_events", exc)
            reason = self._failure_reason(None, budget)
            self._request_done(metrics, len(batch), started, reason)
            self._stats.add_dropped(reason, len(batch))
            return len(batch)
        delivered = max(0, min(result.delivered, len(batch)))
        rejected = max(0, min(result.rejected, len(batch) - delivered))
        failed = len(batch) - delivered - rejected
        failure = self._failure_reason(result.reason, budget, result) if failed else None
        self._request_done(
            metrics, len(batch), started, DropReason.REJECTED if rejected else failure
        )
        self._stats.add_delivered(delivered)
        if rejected:
            self._stats.add_dropped(DropReason.REJECTED, rejected, detail=result.reason)
        if failure is not None:
            self._stats.add_dropped(failure, failed, detail=result.reason)
        return rejected + failed

    def _request_done(
        self,
        metrics: ExporterMetrics | None,
        items: int,
        started: float,
        failure: DropReason | None,
    ) -> None:
        """Report one ingest request's end (self-observability metrics only)."""
        if metrics is None:
            return
        with self._stats.guard("self-observability metrics"):
            metrics.sending(-items)
            metrics.request_took(
                time.perf_counter() - started, failure.value if failure is not None else None
            )

    def _send_close(self, close: JsonObject, budget: _Budget) -> int:
        platform = self._platform
        if platform is None:
            return 0
        if budget.expired():
            self._stats.add_dropped(budget.on_deadline)
            return 1
        try:
            result = platform.post_trace_close(close, deadline=budget.deadline)
        except Exception as exc:  # noqa: BLE001 - counted below, the agent never sees it
            self._stats.add_internal_error("post_trace_close", exc)
            self._stats.add_dropped(self._failure_reason(None, budget))
            return 1
        if result.delivered > 0:
            self._stats.add_delivered(0, traces_closed=1)
            return 0
        if result.rejected > 0:
            self._stats.add_dropped(DropReason.REJECTED, detail=result.reason)
        else:
            self._stats.add_dropped(
                self._failure_reason(result.reason, budget, result), detail=result.reason
            )
        return 1

    def held_back_s(self) -> float:
        """Seconds the platform asked (`Retry-After`) this exporter's client to send nothing
        more; 0.0 when it may send now, or when its platform client keeps no such time."""
        held_back = getattr(self._platform, "held_back_s", None)
        if not callable(held_back):
            return 0.0
        seconds = held_back()
        return seconds if isinstance(seconds, float) and seconds > 0.0 else 0.0

    def interrupt(self) -> None:
        """Wake an in-flight request's backoff so it gives up now (used as a deadline nears)."""
        self._stop.set()

    def shutdown(self) -> None:
        """Stop exporting: later spans are counted `after_shutdown`; closes an owned client."""
        if self._shutdown:
            return
        self._shutdown = True
        self._stop.set()
        if self._owns_platform and self._platform is not None:
            with self._stats.guard("shutdown"):
                self._platform.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing to flush: `export` sends synchronously. Returns True."""
        return True

    def after_fork(self) -> None:
        """Make the exporter safe to use in a child of `os.fork()`; never blocks or raises.

        Registered as a fork hook (`_weak.at_fork`) when the exporter is made, so it runs in every
        child whatever span processor the exporter is under (`TracengentSpanProcessor` calls it
        too, before it restarts its worker; the second call changes nothing). The child
        gets fresh locks, a fresh stop event, and `stats` restarting at zero: the child only
        delivers what it buffers itself, so its counters never repeat the parent's (see
        `DeliveryStats.after_fork`). A `PlatformClient` gets connections of its own
        (`PlatformClient.after_fork`, which says what happens to a client you passed); another
        `platform` is left as it is. Idempotent per process; a no-op in the parent.
        """
        try:
            if not self._stats.after_fork():
                return
            # An Event holds a lock as well; the platform client shares this one (its backoff).
            old_stop = self._stop
            self._stop = threading.Event()
            if old_stop.is_set():
                self._stop.set()
            from opentelemetry.exporter.tracengent.transport import PlatformClient

            if isinstance(self._platform, PlatformClient) and not self._shutdown:
                self._platform.after_fork(stop_events=(old_stop, self._stop))
        except Exception as exc:  # noqa: BLE001 - runs in the fork hook: never raise there
            self._stats.add_internal_error("after_fork", exc)


def _entries_of(
    spans: Sequence[ReadableSpan], stats: DeliveryStats
) -> list[tuple[ReadableSpan, Attributes]]:
    """`(span, attributes_of(span))` for each of `spans`; a span whose attributes cannot be read
    (an odd span class) is left out alone, counted `unserializable` (and as an internal error):
    its batch-mates still go. Never raises."""
    entries: list[tuple[ReadableSpan, Attributes]]
    try:
        entries = list(zip(spans, map(attributes_of, spans), strict=True))
        if TRIMMED:
            # Under the SDK's batching processor (another configurator's, a declarative file's):
            # a span the attribute count limit trimmed gets back what the context processor
            # noted it lost, as `TracengentSpanProcessor.on_end` restores it (a span that
            # processor queued was restored already: nothing is noted for its copy).
            entries = [
                restore_trimmed(span, attrs) if span.dropped_attributes else (span, attrs)
                for span, attrs in entries
            ]
        return entries
    except Exception:  # noqa: BLE001 - off the common path: the spans one by one
        entries = []
        for span in spans:
            try:
                entries.append((span, attributes_of(span)))
            except Exception as exc:  # noqa: BLE001 - counted, the others go
                stats.add_internal_error("reading a span's attributes", exc)
                stats.add_dropped(
                    DropReason.UNSERIALIZABLE, detail="its span's attributes could not be read"
                )
        return entries
