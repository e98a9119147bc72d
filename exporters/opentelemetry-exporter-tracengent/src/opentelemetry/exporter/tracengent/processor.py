"""`TracengentSpanProcessor`: bounded, batching, counted delivery off the agent's thread.

OTel's `BatchSpanProcessor` drops silently when full; the wire contract asks for counted drops
(`dropped_count`), hence our own processor. `on_end` costs a copy of the attributes, a few dict
lookups and a deque append; everything else happens on a daemon worker thread.
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from opentelemetry.exporter.tracengent._classify import (
    EVENT,
    NOT_EXPORTED,
    Attributes,
    classify,
)
from opentelemetry.exporter.tracengent._stats import DeliveryStats, DropReason
from opentelemetry.exporter.tracengent.attributes import attributes_of
from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter

__all__ = ["TracengentSpanProcessor"]


_WORKER_EXPORT_TIMEOUT_S: Final = 30.0
"""Bound of one background export (retries included), so a flush never waits forever."""
_INTERRUPT_MARGIN_S: Final = 0.25
"""How long before a shutdown deadline an in-flight request is told to give up."""
DEFAULT_SHUTDOWN_TIMEOUT_MS: Final = 5000
"""Shutdown's default bound; OTel calls `shutdown()` without one at exit."""
DEFAULT_EXIT_FLUSH_TIMEOUT_MS: Final = 5000
"""The bound of the flush run at interpreter exit."""


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TracengentConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


class TracengentSpanProcessor(SpanProcessor):
    """Buffers finished event and trace-root spans and exports them in batches on a worker thread.

    Never blocks or raises on the agent's thread: `on_end` skips spans that can be neither an
    event nor a decision-trace root, and counts `queue_full` when the bounded buffer is full.
    `force_flush` and `shutdown` block at most for the timeout they are given. Counters live in
    `stats` (shared with the exporter).

    Args:
        exporter: the exporter batches are handed to.
        max_queue_size: spans buffered at most (default: the options' `queue_capacity`).
        max_batch_size: spans per export (default: the options' `max_batch_size`).
        schedule_delay_ms: the longest a span waits before export (default: the options'
            `flush_interval_ms`).
        exit_flush_timeout_ms: the bound of the flush run at interpreter exit.

    Raises:
        TracengentConfigError: when a size or delay is not a positive integer.
    """

    def __init__(
        self,
        exporter: TracengentSpanExporter,
        *,
        max_queue_size: int | None = None,
        max_batch_size: int | None = None,
        schedule_delay_ms: int | None = None,
        exit_flush_timeout_ms: int = DEFAULT_EXIT_FLUSH_TIMEOUT_MS,
    ) -> None:
        options = exporter.options
        if max_queue_size is None:
            max_queue_size = options.queue_capacity if options is not None else 10_000
        if max_batch_size is None:
            max_batch_size = options.max_batch_size if options is not None else 100
        if schedule_delay_ms is None:
            schedule_delay_ms = options.flush_interval_ms if options is not None else 2000
        self._exporter = exporter
        self._stats = exporter.stats
        self._max_queue_size = _positive("max_queue_size", max_queue_size)
        self._max_batch_size = _positive("max_batch_size", max_batch_size)
        self._schedule_delay_s = _positive("schedule_delay_ms", schedule_delay_ms) / 1000
        self._exit_flush_timeout_ms = exit_flush_timeout_ms
        # Spans of a not-configured exporter are counted at once instead of being buffered.
        self._counting_only = not exporter.configured
        self._closed = False
        self._start_worker()
        self._atexit_hook = _weak_hook(self, TracengentSpanProcessor._flush_at_exit)
        atexit.register(self._atexit_hook)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                after_in_child=_weak_hook(self, TracengentSpanProcessor._restart_after_fork)
            )

    def _start_worker(self) -> None:
        # deque.append/popleft are atomic; the size bound is checked without a lock, so
        # concurrent producers may overshoot it by at most one span each.
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._worker_exit = False
        self._export_lock = threading.Lock()
        self._in_flight: tuple[int, int] | None = None
        # The worker holds the processor only weakly, so the atexit and fork hooks' weak
        # references can actually let an abandoned processor go.
        self._worker = threading.Thread(
            target=_run_worker,
            args=(weakref.ref(self),),
            name="tracengent-span-export",
            daemon=True,
        )
        self._worker.start()

    @property
    def stats(self) -> DeliveryStats:
        """Delivered and dropped counters of this pipeline."""
        return self._stats

    @property
    def dropped_count(self) -> int:
        """Events and trace closes not delivered, whatever the reason."""
        return self._stats.dropped_count

    @property
    def queued(self) -> int:
        """Spans buffered right now."""
        return len(self._queue)

    # No `on_start`: nothing to do when a span starts (`SpanProcessor`'s no-op is inherited, so
    # span factories that skip such hooks can see it).

    def on_end(self, span: ReadableSpan) -> None:
        """Buffer `span` if it can be an event or a trace root; O(1), never blocks or raises."""
        # try/except rather than the `guard` context manager: this runs for every span.
        try:
            # Classified on a plain dict (`attributes_of`: the recorder's spans end with one, the
            # SDK's are copied in C): lookups through the SDK's attribute proxy cost a raised
            # KeyError per absent key. The span is kept, not the dict; the export thread reads
            # its frozen attributes again.
            kind = classify(attributes_of(span), span.kind)
            if kind == NOT_EXPORTED:
                return
            if self._closed:
                self._stats.add_dropped(DropReason.AFTER_SHUTDOWN)
                return
            if self._counting_only:
                if kind == EVENT:
                    self._stats.add_dropped(DropReason.NOT_CONFIGURED)
                return
            queue = self._queue
            if len(queue) >= self._max_queue_size:
                self._stats.add_dropped(DropReason.QUEUE_FULL)
                return
            queue.append(span)
            if len(queue) >= self._max_batch_size and not self._wake.is_set():
                self._wake.set()
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._stats.add_internal_error("on_end", exc)

    def _work_once(self) -> None:
        """One worker round, after the wait: export what is buffered."""
        # A wake-up set after this clear is not lost: the drain takes whatever is queued by
        # then, and a later span sets the event again.
        self._wake.clear()
        if self._worker_exit:
            return
        with self._stats.guard("export worker"), self._export_lock:
            self._drain_locked(
                len(self._queue),
                time.monotonic() + _WORKER_EXPORT_TIMEOUT_S,
                on_deadline=DropReason.RETRIES_EXHAUSTED,
            )

    def _drain_locked(
        self,
        limit: int,
        deadline: float,
        *,
        on_deadline: DropReason = DropReason.SHUTDOWN_TIMEOUT,
    ) -> bool:
        """Export up to `limit` queued spans in batches; True when all of them went out."""
        queue = self._queue
        while limit > 0 and queue:
            if time.monotonic() >= deadline or (
                self._worker_exit and threading.current_thread() is self._worker
            ):
                return False
            spans: list[ReadableSpan] = []
            take = spans.append
            popleft = queue.popleft
            try:
                for _ in range(min(limit, self._max_batch_size, len(queue))):
                    take(popleft())
            except IndexError:  # a shutdown that stopped waiting for us counted the rest
                if not spans:
                    break
            # Copied here, on the export thread: the agent's thread buffers the span alone.
            batch: list[tuple[ReadableSpan, Attributes]] = list(
                zip(spans, map(attributes_of, spans), strict=True)
            )
            limit -= len(batch)
            # Recorded so a shutdown that cannot wait for this request counts its batch.
            self._in_flight = (threading.get_ident(), len(batch))
            self._stats.begin_batch()
            try:
                self._exporter.deliver(batch, deadline=deadline, on_deadline=on_deadline)
            finally:
                self._in_flight = None
                self._stats.end_batch()
        return True

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export what is buffered now, in batches; blocks at most `timeout_millis`.

        Returns:
            True when everything buffered at the call went out in time, else False (what is
            left stays buffered for the worker).
        """
        deadline = time.monotonic() + max(0, timeout_millis) / 1000
        flushed = False
        with self._stats.guard("force_flush"):
            if not self._export_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return False
            try:
                flushed = self._drain_locked(len(self._queue), deadline)
            finally:
                self._export_lock.release()
        return flushed

    def shutdown(self, timeout_millis: int = DEFAULT_SHUTDOWN_TIMEOUT_MS) -> None:
        """Flush what is buffered within `timeout_millis`, then stop; idempotent, never raises.

        Spans still buffered when the timeout runs out are counted `shutdown_timeout`; spans
        ending afterwards are counted `after_shutdown`. A request in flight near the deadline is
        told to give up (its backoff wakes) so the call returns in time.
        """
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + max(0, timeout_millis) / 1000
        with self._stats.guard("shutdown"):
            atexit.unregister(self._atexit_hook)
            self._worker_exit = True
            self._wake.set()
            lock = self._export_lock
            acquired = lock.acquire(
                timeout=max(0.0, deadline - _INTERRUPT_MARGIN_S - time.monotonic())
            )
            if not acquired:
                self._exporter.interrupt()
                acquired = lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
            if acquired:
                try:
                    self._drain_locked(len(self._queue), deadline)
                finally:
                    lock.release()
            else:
                in_flight = self._in_flight
                if in_flight is not None:
                    self._stats.abandon_batch(*in_flight)
            self._count_left_over()
            self._worker.join(timeout=max(0.0, deadline - time.monotonic()))
        self._exporter.shutdown()
        # A span that passed on_end's closed check just before shutdown began lands late.
        self._count_left_over()

    def _count_left_over(self) -> None:
        left = 0
        queue = self._queue
        while True:
            try:
                queue.popleft()
            except IndexError:
                break
            left += 1
        self._stats.add_dropped(DropReason.SHUTDOWN_TIMEOUT, left)

    def _flush_at_exit(self) -> None:
        # A shutdown, not only a flush: what the exit timeout cuts off is counted and logged
        # (nothing vanishes silently), and OTel's own exit hook, calling `shutdown()` with the
        # default 5 s after this, finds the processor closed instead of waiting again.
        self.shutdown(self._exit_flush_timeout_ms)

    def _restart_after_fork(self) -> None:
        # The parent's worker thread does not exist in the child; its buffered spans are the
        # parent's to send.
        if not self._closed:
            self._start_worker()


def _run_worker(ref: weakref.ref[TracengentSpanProcessor]) -> None:
    """The worker thread: wait for a full batch or the schedule delay, export, repeat."""
    while True:
        processor = ref()
        if processor is None or processor._worker_exit:
            return
        wake, delay = processor._wake, processor._schedule_delay_s
        del processor
        wake.wait(delay)
        processor = ref()
        if processor is None:
            return
        processor._work_once()
        del processor


def _weak_hook(
    processor: TracengentSpanProcessor, method: Callable[[TracengentSpanProcessor], None]
) -> Callable[[], None]:
    """A no-argument hook calling `method` on `processor` without keeping it alive."""
    ref = weakref.ref(processor)

    def hook() -> None:
        target = ref()
        if target is not None:
            method(target)

    return hook
