"""Delivery counters: what was delivered, and every drop with its reason (nothing lost silently)."""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.exporter.tracengent._self_metrics import ExporterMetrics, ProcessorMetrics

__all__ = ["DeliveryStats", "DropReason"]

_LOGGER = logging.getLogger("tracengent.export")


class DropReason(str, enum.Enum):
    """Why an event or a trace close was not delivered."""

    QUEUE_FULL = "queue_full"
    """The bounded buffer was full when the span ended."""
    REJECTED = "rejected"
    """The platform (its token endpoint included) answered a permanent 4xx, or a redirect
    (platform calls follow none)."""
    RETRIES_EXHAUSTED = "retries_exhausted"
    """429/5xx/transport errors outlasted the retries."""
    UNSERIALIZABLE = "unserializable"
    """The event could not be translated or encoded as JSON (NaN, an unsupported value)."""
    AFTER_SHUTDOWN = "after_shutdown"
    """The span ended after the processor or exporter was shut down."""
    SHUTDOWN_TIMEOUT = "shutdown_timeout"
    """Still buffered or in flight when the flush/close timeout ran out."""
    NOT_CONFIGURED = "not_configured"
    """The exporter has no valid options (it is a counting no-op)."""
    AGENT_DISABLED = "agent_disabled"
    """The platform disabled the agent (its token endpoint answered 401)."""


_ERROR_LOG_INTERVAL_S = 60.0
_PROCESSOR_DROPS = frozenset({DropReason.QUEUE_FULL, DropReason.AFTER_SHUTDOWN})

_CAUSES: dict[DropReason, str] = {
    DropReason.QUEUE_FULL: (
        "the buffer is full; raise queue_capacity (zero code: OTEL_BSP_MAX_QUEUE_SIZE) or flush "
        "more often"
    ),
    DropReason.REJECTED: (
        "the platform refused a request permanently (a 4xx or a redirect, not retried)"
    ),
    DropReason.RETRIES_EXHAUSTED: "the platform could not be reached after the retries",
    DropReason.UNSERIALIZABLE: "an event could not be encoded as JSON",
    DropReason.AFTER_SHUTDOWN: "spans ended after shutdown",
    DropReason.SHUTDOWN_TIMEOUT: "the flush/close timeout ran out",
    DropReason.NOT_CONFIGURED: "the exporter is not configured",
    DropReason.AGENT_DISABLED: "the token endpoint refused the agent's credentials",
}


class DeliveryStats:
    """Thread-safe counters of one delivery pipeline (exporter and its processor share one).

    `delivered` counts events the platform accepted and `traces_closed` the trace closes it
    accepted; drops count both events and trace closes, by `DropReason`. The first drop of each
    reason is logged once on the `tracengent.export` logger (later ones only counted), so a
    broken pipeline cannot flood the application's logs. Reading never blocks for long. In a
    child made by `os.fork()`, `after_fork` restarts them at zero (see there).

    The lock is reentrant: Python runs a signal handler on the main thread between two
    bytecodes, so an application's handler that closes the pipeline or reads a count may run
    while that very thread is inside one of these methods, holding the lock; with a plain lock
    it would wait for itself for ever. Each critical section is a few counter updates, and a
    handler can only come in at a call inside one, where the counters are consistent, so a
    reentered update counts what it counts and the interrupted one goes on as it would have.
    Other threads still wait for the handler to return: see `held_by_caller`.

    With OTel's SDK self-observability metrics on (`_self_metrics`), every count is reported
    there too: deliveries and drops as `otel.sdk.exporter.span.exported` (the drop reason its
    `error.type`), a full buffer and spans after shutdown as `otel.sdk.processor.span.processed`.
    """

    def __init__(self) -> None:
        # Kept across `after_fork`: the instruments belong to the meter provider, not the pid.
        self._export_metrics: ExporterMetrics | None = None
        self._processing_metrics: ProcessorMetrics | None = None
        self._start(os.getpid())

    def _start(self, pid: int) -> None:
        """Every field at its initial value, for the process `pid` (construction, `after_fork`)."""
        self._pid = pid
        self._lock = threading.RLock()
        self._delivered = 0
        self._traces_closed = 0
        self._dropped: dict[DropReason, int] = dict.fromkeys(DropReason, 0)
        self._logged: set[DropReason] = set()
        self._internal_errors = 0
        self._error_logged_at: dict[str, float] = {}
        # Batches being delivered, by thread: items counted so far (see `abandon_batch`).
        self._open_batches: dict[int, int] = {}
        # What each open batch will count in all (its events, closes and drops), once known.
        self._batch_items: dict[int, int] = {}
        self._muted_threads: set[int] = set()

    def after_fork(self) -> bool:
        """Start afresh in a child made by `os.fork()`: a new lock and every counter at zero.

        The parent's lock may have been held by one of its threads at the fork, and no thread
        of the child would ever release it. The counters restart at zero because the child
        delivers only what it buffers itself: its `delivered` and drops describe the child's
        pipeline and never repeat the parent's. The first drop of each reason is logged again.

        Returns:
            True when this call reset the counters; False in the process that made them, or
            when they were already reset in this process (a second call changes nothing).
        """
        pid = os.getpid()
        if pid == self._pid:
            return False
        self._start(pid)
        return True

    def held_by_caller(self) -> bool:
        """True when the calling thread holds the counters' lock: a signal handler interrupted
        it inside one of these methods. Until the handler returns, another thread that counts
        (the export worker) waits, so the handler must not wait for one."""
        return owned_by_caller(self._lock)

    def report_export_to(self, metrics: ExporterMetrics) -> None:
        """Report deliveries and the exporter's drops to `metrics` from now on."""
        self._export_metrics = metrics

    def report_processing_to(self, metrics: ProcessorMetrics) -> None:
        """Report the processor's drops (a full buffer, after shutdown) to `metrics` from now on."""
        self._processing_metrics = metrics

    @property
    def export_metrics(self) -> ExporterMetrics | None:
        """Where the exporter reports its requests, when self-observability metrics are on."""
        return self._export_metrics

    @property
    def delivered(self) -> int:
        """Events the platform accepted."""
        return self._delivered

    @property
    def traces_closed(self) -> int:
        """Trace closes the platform accepted."""
        return self._traces_closed

    @property
    def dropped_count(self) -> int:
        """Every drop, whatever its reason (0.1.0's `dropped_count`)."""
        with self._lock:
            return sum(self._dropped.values())

    @property
    def internal_errors(self) -> int:
        """Unexpected errors telemetry swallowed so the agent runs on (each logged, rate-limited)."""
        return self._internal_errors

    def dropped(self, reason: DropReason) -> int:
        """The drops counted with `reason`."""
        return self._dropped[reason]

    def dropped_by_reason(self) -> dict[str, int]:
        """A snapshot `{reason value: count}` with every reason present."""
        with self._lock:
            return {reason.value: count for reason, count in self._dropped.items()}

    def add_delivered(self, events: int, *, traces_closed: int = 0) -> None:
        """Count accepted events and trace closes."""
        with self._lock:
            if self._counted_by_batch(events + traces_closed):
                return
            self._delivered += events
            self._traces_closed += traces_closed
        metrics = self._export_metrics
        if metrics is not None and events + traces_closed > 0:
            with self.guard("self-observability metrics"):
                metrics.exported(events + traces_closed)

    def begin_batch(self) -> None:
        """The calling thread starts delivering a batch (counts it makes are tallied)."""
        with self._lock:
            ident = threading.get_ident()
            self._open_batches[ident] = 0
            self._batch_items.pop(ident, None)

    def expect_in_batch(self, items: int) -> None:
        """The calling thread's open batch will count `items` in all (events, trace closes and
        drops): what an abandoned batch counts, rather than its span count (a span may count
        as nothing, or as an event and a trace close)."""
        ident = threading.get_ident()
        with self._lock:
            if ident in self._open_batches:
                self._batch_items[ident] = items

    def end_batch(self) -> None:
        """The calling thread is done with its batch (whether or not it was abandoned)."""
        ident = threading.get_ident()
        with self._lock:
            self._open_batches.pop(ident, None)
            self._batch_items.pop(ident, None)
            self._muted_threads.discard(ident)

    def abandon_batch(self, thread_id: int, size: int) -> None:
        """Count now the part of `thread_id`'s open batch not yet counted: `size` items, or what
        `expect_in_batch` said it would count.

        Used when a close must return while a request is still in flight: its items are
        counted `shutdown_timeout` at once, and what that thread counts later is ignored, so
        nothing is left uncounted when close returns and nothing is counted twice.
        """
        with self._lock:
            counted = self._open_batches.pop(thread_id, None)
            if counted is None:
                return
            size = self._batch_items.pop(thread_id, size)
            self._muted_threads.add(thread_id)
        self.add_dropped(DropReason.SHUTDOWN_TIMEOUT, max(0, size - counted))

    def _counted_by_batch(self, count: int) -> bool:
        """Under the lock: tally `count` for the calling thread's batch; True when muted."""
        if not self._open_batches and not self._muted_threads:
            return False
        ident = threading.get_ident()
        if ident in self._muted_threads:
            return True
        if ident in self._open_batches:
            self._open_batches[ident] += count
        return False

    def already_explained(self, reason: DropReason) -> None:
        """Count later drops of `reason` without the first-drop warning (the cause was logged)."""
        with self._lock:
            self._logged.add(reason)

    def add_dropped(self, reason: DropReason, count: int = 1, *, detail: str | None = None) -> None:
        """Count `count` drops with `reason`; the first drop of a reason is logged (WARNING)."""
        if count <= 0:
            return
        with self._lock:
            if self._counted_by_batch(count):
                return
            self._dropped[reason] += count
            first = reason not in self._logged
            self._logged.add(reason)
        if self._export_metrics is not None or self._processing_metrics is not None:
            with self.guard("self-observability metrics"):
                self._report_dropped(reason, count)
        if first:
            _LOGGER.warning(
                "tracengent: dropped %s item(s) (%s): %s%s; further drops of this kind are "
                "counted silently (see dropped_count)",
                count,
                reason.value,
                _CAUSES[reason],
                f" ({detail})" if detail else "",
            )

    def _report_dropped(self, reason: DropReason, count: int) -> None:
        """A full buffer, or a span after shutdown, is the processor's drop (the exporter's when
        no processor reports: an exporter asked to export after its shutdown); any other is an
        export that failed."""
        processing = self._processing_metrics
        if processing is not None and reason in _PROCESSOR_DROPS:
            processing.dropped(count, after_shutdown=reason is DropReason.AFTER_SHUTDOWN)
            return
        exporting = self._export_metrics
        if exporting is not None:
            exporting.exported(count, reason.value)

    def add_internal_error(self, stage: str, exc: Exception) -> None:
        """Count an unexpected error in `stage`; log it at most once a minute per stage."""
        now = time.monotonic()
        with self._lock:
            self._internal_errors += 1
            last = self._error_logged_at.get(stage)
            due = last is None or now - last >= _ERROR_LOG_INTERVAL_S
            if due:
                self._error_logged_at[stage] = now
        if due:
            _LOGGER.warning(
                "tracengent: unexpected error in %s, telemetry continues: %s: %s",
                stage,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )

    @contextlib.contextmanager
    def guard(self, stage: str) -> Iterator[None]:
        """Run a block whose failure must not reach the agent: count and log it, then go on.

        Catches `Exception` only; cancellation and interpreter exit propagate.
        """
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self.add_internal_error(stage, exc)


def owned_by_caller(lock: object) -> bool:
    """Whether the calling thread holds `lock`, a `threading.RLock` (its C `_is_owned`, which
    `threading.Condition` relies on too). Never raises: False for a lock that cannot say."""
    is_owned = getattr(lock, "_is_owned", None)
    try:
        return callable(is_owned) and is_owned() is True
    except Exception:  # noqa: BLE001 - a question about a lock never raises
        return False
