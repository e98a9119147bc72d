"""`TracengentSpanProcessor`: bounded, batching, counted delivery off the agent's thread.

OTel's `BatchSpanProcessor` drops silently when full; the wire contract asks for counted drops
(`dropped_count`), hence our own processor. `on_end` costs a copy of the attributes, a few dict
lookups and a deque append; everything else, the exports of `force_flush` and `shutdown`
included, happens on a daemon worker thread, so a caller waits only as long as its timeout.
"""

from __future__ import annotations

import atexit
import collections
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExportResult

from opentelemetry.exporter.tracengent._classify import (
    EVENT,
    NOT_EXPORTED,
    TRIMMED,
    classify,
    restore_trimmed,
)
from opentelemetry.exporter.tracengent._self_metrics import ProcessorMetrics
from opentelemetry.exporter.tracengent._stats import DeliveryStats, DropReason, owned_by_caller
from opentelemetry.exporter.tracengent._weak import at_fork, weak_hook
from opentelemetry.exporter.tracengent.attributes import attributes_of
from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter, _entries_of

__all__ = ["TracengentSpanProcessor"]


_WORKER_EXPORT_TIMEOUT_S: Final = 30.0
"""Bound of one batch's export in a background drain (retries included), so the worker never
waits forever; each batch has its own, so a slow platform delays a backlog but loses none of it."""
HOLD_LONGER_THAN_S: Final = 10.0
"""While more than this is left of a `Retry-After` pause, background drains take no batch: the
spans stay buffered (bounded by the queue) instead of failing unsent, as a call that would have
to wait over 30 s does. A shorter rest is waited out inside the call."""
_INTERRUPT_MARGIN_S: Final = 0.25
"""How long before a shutdown deadline an in-flight request is told to give up."""
DEFAULT_SHUTDOWN_TIMEOUT_MS: Final = 5000
"""Shutdown's default bound; OTel calls `shutdown()` without one at exit."""
DEFAULT_EXIT_FLUSH_TIMEOUT_MS: Final = 5000
"""The bound of the flush run at interpreter exit."""


_SUCCESS: Final = SpanExportResult.SUCCESS

# Every processor of the process, for the exit flush: the first exit hook to run shuts them all
# down together (see `_flush_at_exit`). Weak: the registry never keeps a processor alive.
_PROCESSORS: weakref.WeakSet[TracengentSpanProcessor] = weakref.WeakSet()
_processors_lock = threading.Lock()


def _reset_processors_lock() -> None:
    # In a child of `os.fork()`: a parent thread may have held the lock at the fork.
    global _processors_lock
    _processors_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_processors_lock)


def _seconds(timeout_millis: int) -> float:
    """`timeout_millis` in seconds, within what a thread can wait: OTel's API takes any int,
    and a wait beyond `threading.TIMEOUT_MAX` (≈ 292 years) raises instead of waiting."""
    return min(max(0, timeout_millis) / 1000, threading.TIMEOUT_MAX)


class _Latch:
    """A flag one thread sets and another waits for, as a `threading.Event`, holding no lock
    while it is set or waited for (a plain lock, locked while the flag is clear, is the flag).

    An Event's `set` and `wait` run Python code under its condition's lock, so a signal handler
    can run on a thread holding it: the worker, needing that lock to wait or to set, would then
    wait for the handler, and a handler that closes the pipeline waits for the worker. Here
    `set` and `is_set` are one C call each, and `wait` holds the lock only if it gets it, to put
    it back at once: nobody else needs it meanwhile (`set` finds the flag set either way).
    """

    __slots__ = ("_clear",)

    def __init__(self) -> None:
        self._clear = threading.Lock()
        self._clear.acquire()

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return not self._clear.locked()

    def set(self) -> None:
        """Set the flag (waking the thread waiting for it); never blocks."""
        try:  # noqa: SIM105 - on the agent's thread (on_end): no context manager to enter
            self._clear.release()
        except RuntimeError:  # set already
            pass

    def clear(self) -> None:
        """Clear the flag; never blocks."""
        self._clear.acquire(blocking=False)

    def wait(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for the flag; whether it is set. Leaves it set."""
        if self._clear.acquire(timeout=max(0.0, timeout)):
            self.set()
            return True
        return False


class _FlushRequest:
    """One `force_flush` call, waiting for the worker's next drain."""

    __slots__ = ("done", "failures_at_call", "flushed")

    def __init__(self, failures_at_call: int) -> None:
        self.done = _Latch()
        self.failures_at_call = failures_at_call
        self.flushed = False


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TracengentConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


class TracengentSpanProcessor(SpanProcessor):
    """Buffers finished event and trace-root spans and exports them in batches on a worker thread.

    Never blocks or raises on the agent's thread: `on_end` skips spans that can be neither an
    event nor a decision-trace root, whatever agent they name (on a provider several agents'
    pipelines share, `tracengent`'s router hands each pipeline its own); it counts `queue_full`
    when the bounded buffer is full. `force_flush` and `shutdown` block at most for the timeout
    they are given, however slowly the platform answers: the worker thread exports, the caller
    only waits for it. Counters live in `stats` (shared with the exporter).

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
        # The buffered count that wakes the worker: a full batch, or a full buffer when the
        # buffer holds less than a batch (else a burst would be dropped `queue_full` while the
        # worker sleeps out the schedule delay).
        self._wake_at = min(self._max_batch_size, self._max_queue_size)
        self._exit_flush_timeout_ms = exit_flush_timeout_ms
        # Spans of a not-configured exporter are counted at once instead of being buffered.
        self._counting_only = not exporter.configured
        self._closed = False
        # Its self-observability metrics (`otel.sdk.processor.span.*`) go where its exporter's
        # go, when that one reports (`OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true`).
        self._metrics: ProcessorMetrics | None = None
        exporting = self._stats.export_metrics
        if exporting is not None:
            self._metrics = ProcessorMetrics(
                self, self._max_queue_size, meter_provider=exporting.meter_provider
            )
            self._stats.report_processing_to(self._metrics)
        self._start_worker()
        self._atexit_hook = weak_hook(self, TracengentSpanProcessor._flush_at_exit)
        atexit.register(self._atexit_hook)
        with _processors_lock:
            _PROCESSORS.add(self)
        self._multiprocessing_hooked = False
        at_fork(
            self,
            before=TracengentSpanProcessor._before_fork,
            after_in_child=TracengentSpanProcessor._restart_after_fork,
        )
        if "multiprocessing.process" in sys.modules:
            self._hook_multiprocessing_child()

    def _start_worker(self) -> None:
        # deque.append/popleft are atomic; the size bound is checked without a lock, so
        # concurrent producers may overshoot it by at most one span each.
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        # A latch, not an Event: `on_end` sets it on the agent's thread, where a signal handler
        # may run in the middle of the set (see `_Latch`).
        self._wake = _Latch()
        self._worker_exit = False
        # Shutdown's deadline, set before `_worker_exit`: the bound of the worker's last drain.
        self._final_deadline = 0.0
        self._stopped = threading.Event()
        # Held while the worker takes a batch and while a shutdown that stops waiting marks the
        # worker abandoned: a batch is either taken before (in flight, counted by the shutdown)
        # or never (left in the buffer, counted by the shutdown), never lost in between.
        self._take_lock = threading.Lock()
        self._abandoned = False
        self._in_flight: tuple[int, int] | None = None
        # Reentrant: a signal handler on a thread inside `force_flush` may flush or shut down
        # (it then waits for no worker: see `_worker_waits_for_caller`).
        self._flush_lock = threading.RLock()
        self._flush_requests: list[_FlushRequest] = []
        # Set (under `_flush_lock`) when the worker's last round took the flush requests: a
        # later one would wait for a worker that is gone.
        self._flushes_closed = False
        # Batches with something not delivered; written by the worker only.
        self._failed_batches = 0
        # Set by the worker while a `Retry-After` pause holds batches back (`HOLD_LONGER_THAN_S`):
        # a full buffer then does not wake it for each span.
        self._held = False
        # The worker holds the processor only weakly, so the atexit and fork hooks' weak
        # references can actually let an abandoned processor go. When it goes unshut,
        # `__del__` hands it to the worker through this list, to shut it down.
        self._orphaned: list[TracengentSpanProcessor] = []
        self._worker = threading.Thread(
            target=_run_worker,
            args=(weakref.ref(self), self._orphaned),
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
    def max_queue_size(self) -> int:
        """The most spans it buffers; beyond it a span is dropped (`queue_full`)."""
        return self._max_queue_size

    @property
    def max_batch_size(self) -> int:
        """The most spans it hands the exporter at once."""
        return self._max_batch_size

    @property
    def schedule_delay_ms(self) -> int:
        """The longest a span waits in the buffer before it is exported."""
        return round(self._schedule_delay_s * 1000)

    @property
    def queued(self) -> int:
        """Spans buffered right now."""
        return len(self._queue)

    @property
    def is_shut_down(self) -> bool:
        """True once `shutdown` began: nothing more is buffered or flushed."""
        return self._closed

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
            attrs = attributes_of(span)
            if TRIMMED and span.dropped_attributes:
                # Trimmed by the attribute count limit: what it lost of what says what it is
                # (its operation, its decision-trace stamps), as the context processor noted.
                span, attrs = restore_trimmed(span, attrs)
            kind = classify(attrs, span.kind)
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
            if self._closed:
                # Shutdown began after the check above: its last count may have run before the
                # append. Whoever takes the span out (this removal, the drain or that count)
                # accounts for it, so it is counted exactly once. (mypy keeps the narrowing of
                # that check; another thread's shutdown does not.)
                self._take_back(queue, span)  # type: ignore[unreachable]
                return
            if len(queue) >= self._wake_at and not self._held and not self._wake.is_set():
                self._wake.set()
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._stats.add_internal_error("on_end", exc)

    def _take_back(self, queue: collections.deque[ReadableSpan], span: ReadableSpan) -> None:
        """Remove `span` appended during shutdown and count it, unless someone took it first."""
        try:
            queue.remove(span)
        except ValueError:  # already exported or counted by the shutdown
            return
        self._stats.add_dropped(DropReason.AFTER_SHUTDOWN)

    def _work_once(self) -> bool:
        """One worker round, after the wait: export what is buffered; False after the last one.

        The round after `shutdown` set `_worker_exit` is the last: it drains within the
        shutdown's deadline, counting what that cuts off `shutdown_timeout`.
        """
        # A wake-up set after this clear is not lost: the drain takes whatever is queued by
        # then, and a later span sets the event again.
        self._wake.clear()
        last = self._worker_exit
        # Taken before the queue's length is read: the drain covers every span buffered
        # before these flushes were asked for.
        with self._flush_lock:
            requests, self._flush_requests = self._flush_requests, []
            self._flushes_closed = last
        drained = False
        try:
            with self._stats.guard("export worker"):
                deadline: float | None = None  # each batch its own bound
                on_deadline = DropReason.RETRIES_EXHAUSTED
                if last:
                    deadline, on_deadline = self._final_deadline, DropReason.SHUTDOWN_TIMEOUT
                drained = self._drain(len(self._queue), deadline, on_deadline, last=last)
        finally:
            failures = self._failed_batches
            # A shutdown that stopped waiting for the worker counted what it left `shutdown_timeout`:
            # a flush this round answers then was not delivered, though nothing is left to drain.
            drained = drained and not self._abandoned
            for request in requests:
                # A failure since the call covers a batch already in flight at the call too.
                request.flushed = drained and failures == request.failures_at_call
                request.done.set()
            if last:
                self._stopped.set()
        return not last

    def _drain(
        self, limit: int, deadline: float | None, on_deadline: DropReason, *, last: bool
    ) -> bool:
        """Export up to `limit` queued spans in batches; True unless it stopped early.

        `deadline` bounds the whole drain (a shutdown's); None gives each batch
        `_WORKER_EXPORT_TIMEOUT_S` from when it is taken. Stops before taking a batch once
        `deadline` passed, once a shutdown abandoned the worker, or, unless this is the `last`
        drain, once a shutdown began (the last drain follows) or while a long `Retry-After`
        pause holds batches back (`HOLD_LONGER_THAN_S`; the last drain sends what it can and
        counts the rest).
        """
        stats = self._stats
        if not last and self._holding():
            return False
        while limit > 0:
            # Opened before `_take_lock` is taken, never under it: the stats' lock may be held
            # by a thread a signal handler interrupted, and that handler's shutdown takes
            # `_take_lock` (`_abandon_worker`); waiting for one while holding the other would
            # deadlock them. A batch opened with nothing taken counts nothing.
            stats.begin_batch()
            try:
                with self._take_lock:
                    now = time.monotonic()
                    if (
                        self._abandoned
                        or (self._worker_exit and not last)
                        or (deadline is not None and now >= deadline)
                    ):
                        return False
                    spans = self._take(min(limit, self._max_batch_size))
                    if not spans:
                        break
                    # Recorded so a shutdown that cannot wait for this request counts its batch.
                    self._in_flight = (threading.get_ident(), len(spans))
                limit -= len(spans)
                batch_deadline = now + _WORKER_EXPORT_TIMEOUT_S if deadline is None else deadline
                delivered = self._deliver(spans, batch_deadline, on_deadline)
            finally:
                self._in_flight = None
                stats.end_batch()
            if not delivered:
                self._failed_batches += 1
            if not last and self._holding():
                return False
        return True

    def _holding(self) -> bool:
        """Whether a `Retry-After` pause with more than `HOLD_LONGER_THAN_S` left holds batches
        back; remembered for `on_end` and the worker's wait."""
        self._held = self._exporter.held_back_s() > HOLD_LONGER_THAN_S
        return self._held

    def _take(self, count: int) -> list[ReadableSpan]:
        """Up to `count` spans from the front of the buffer (fewer if it runs out)."""
        queue = self._queue
        spans: list[ReadableSpan] = []
        take = spans.append
        popleft = queue.popleft
        try:
            for _ in range(min(count, len(queue))):
                take(popleft())
        except IndexError:  # shorter than counted: `_take_back` removed a span meanwhile
            pass
        return spans

    def _deliver(self, spans: list[ReadableSpan], deadline: float, on_deadline: DropReason) -> bool:
        """Export one batch the worker took; True when all of it was delivered."""
        # Copied here, on the export thread: the agent's thread buffers the span alone. A span
        # whose attributes cannot be read is counted alone: a span taken is never lost uncounted.
        metrics = self._metrics
        if metrics is not None:
            with self._stats.guard("self-observability metrics"):
                metrics.handed_on(len(spans))
        batch = _entries_of(spans, self._stats)
        result = self._exporter.deliver(batch, deadline=deadline, on_deadline=on_deadline)
        return result is _SUCCESS and len(batch) == len(spans)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Have the worker export what is buffered now, in batches; blocks at most `timeout_millis`.

        The export runs on the worker thread, so a platform that answers slowly cannot hold the
        caller past the timeout. When the timeout runs out the caller stops waiting and the
        worker carries on: nothing is dropped because a flush's timeout ran out.

        Returns:
            True when everything buffered at the call (a batch then in flight included) was
            delivered in time. False when the timeout ran out first (what is left stays with
            the worker), when something was dropped on the way (rejected, retries exhausted,
            ...), or when the processor is shut down.
        """
        flushed = False
        with self._stats.guard("force_flush"):
            if self._closed or self._worker_waits_for_caller():
                return False
            request = _FlushRequest(self._failed_batches)
            with self._flush_lock:
                if self._flushes_closed:  # shut down since the check above: no worker is left
                    return False
                self._flush_requests.append(request)
            self._wake.set()
            if request.done.wait(_seconds(timeout_millis)):
                flushed = request.flushed
        return flushed

    def shutdown(self, timeout_millis: int = DEFAULT_SHUTDOWN_TIMEOUT_MS) -> None:
        """Flush what is buffered within `timeout_millis`, then stop; idempotent, never raises.

        Blocks at most `timeout_millis` (the worker thread exports; the caller waits for it).
        A request in flight near the deadline is told to give up (its backoff wakes). When the
        timeout runs out the caller stops waiting: spans still buffered, and the batch of a
        request still in flight, are counted `shutdown_timeout` (what that request reports
        later is ignored, so nothing is counted twice); spans ending afterwards are counted
        `after_shutdown`.

        Called from a signal handler that interrupted its thread inside this pipeline's
        counters or `force_flush`, it does not wait at all (the worker cannot go on before the
        handler returns): what is buffered or in flight is counted `shutdown_timeout` at once.
        `force_flush` from there returns False at once, leaving the spans to the worker.
        """
        _shut_down_together(((self, timeout_millis),))

    def _begin_shutdown(self, timeout_millis: int) -> float | None:
        """Close and tell the worker to run its last drain; the deadline, None if closed already."""
        if self._closed:
            return None
        try:
            seconds = _seconds(timeout_millis)
        except Exception as exc:  # noqa: BLE001 - no number: shutdown still runs, bounded
            self._stats.add_internal_error("shutdown", exc)
            seconds = DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000
        self._closed = True
        if self._worker_waits_for_caller():
            seconds = 0.0
        deadline = time.monotonic() + seconds
        with self._stats.guard("shutdown"):
            atexit.unregister(self._atexit_hook)
            self._final_deadline = deadline
            self._worker_exit = True
            self._wake.set()
        return deadline

    def _worker_waits_for_caller(self) -> bool:
        """Whether the calling thread holds a lock the worker needs to go on: only a signal
        handler that interrupted its thread inside the counters or `force_flush` (their locks
        are reentrant, so it got this far) calls with one held. Waiting for the worker there
        would last until the handler returned: the whole timeout, or for ever without one."""
        return self._stats.held_by_caller() or owned_by_caller(self._flush_lock)

    def _interrupt_near(self, deadline: float) -> None:
        """Wait for the worker until just before `deadline`; then tell its request to give up."""
        with self._stats.guard("shutdown"):
            if not self._stopped.wait(max(0.0, deadline - _INTERRUPT_MARGIN_S - time.monotonic())):
                self._exporter.interrupt()

    def _end_shutdown(self, deadline: float) -> None:
        """Wait for the worker until `deadline`, count what it left, stop the exporter."""
        with self._stats.guard("shutdown"):
            if not self._stopped.wait(max(0.0, deadline - time.monotonic())):
                self._abandon_worker()
            self._count_left_over()
            self._worker.join(timeout=max(0.0, deadline - time.monotonic()))
        self._exporter.shutdown()
        # A span that passed on_end's closed check just before shutdown began lands late.
        self._count_left_over()

    def _abandon_worker(self) -> None:
        """Stop waiting for the worker: count its batch in flight; it takes no further batch."""
        with self._take_lock:
            self._abandoned = True
            in_flight = self._in_flight
        if in_flight is not None:
            self._stats.abandon_batch(*in_flight)

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
        # Every processor of the process at once (several agents' clients): one after the
        # other, each on a stalled platform would add its own timeout to the exit.
        with _processors_lock:
            processors = [p for p in _PROCESSORS if not p._closed]
        if self not in processors:
            processors.append(self)
        _shut_down_together((p, p._exit_flush_timeout_ms) for p in processors)

    def _before_fork(self) -> None:
        # A child `multiprocessing` forks (a `Process`, a `Pool` worker) ends with `os._exit`
        # after multiprocessing's own finalizers, never the interpreter's exit hooks: it flushes
        # there too. Hooked once, and only once the application loaded multiprocessing (it
        # always has when multiprocessing forks), so other processes never import it.
        if self._multiprocessing_hooked or "multiprocessing.util" not in sys.modules:
            return
        try:
            from multiprocessing import util

            util.register_after_fork(self, TracengentSpanProcessor._flush_at_multiprocessing_exit)
            self._multiprocessing_hooked = True
        except Exception as exc:  # noqa: BLE001 - a fork hook never raises
            self._stats.add_internal_error("fork hook", exc)

    def _hook_multiprocessing_child(self) -> None:
        # Made inside a child `multiprocessing` started (a `Pool` worker's initializer or task,
        # a `Process` target): a forked child ends with `os._exit` after multiprocessing's own
        # finalizers, never the interpreter's exit hooks, so the flush at exit goes there too
        # (in a spawned child, which exits normally, the exit hook then finds it closed).
        try:
            from multiprocessing import parent_process

            if parent_process() is not None:
                self._flush_at_multiprocessing_exit()
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._stats.add_internal_error("multiprocessing hook", exc)

    def _flush_at_multiprocessing_exit(self) -> None:
        # In a `multiprocessing` child (after its fork, or made there): flush at its exit,
        # before `os._exit`.
        try:
            from multiprocessing import util

            util.Finalize(
                None, weak_hook(self, TracengentSpanProcessor._flush_at_exit), exitpriority=0
            )
        except Exception as exc:  # noqa: BLE001 - a fork hook never raises
            self._stats.add_internal_error("fork hook", exc)

    def __del__(self) -> None:
        # Unreachable and never shut down (a processor the application built, added to a
        # provider of its own and dropped): what it buffered is not lost uncounted. Its worker
        # takes it back (a strong reference, which keeps it until then) and shuts it down as at
        # exit: it exports within the exit flush timeout and counts the rest `shutdown_timeout`.
        # Here, on whatever thread dropped it, only a list append and a wake-up: never blocks.
        try:
            if not self._closed and self._worker.is_alive():
                self._orphaned.append(self)
                self._wake.set()
        except Exception:  # noqa: BLE001, S110 - half-built (its __init__ raised): nothing buffered
            pass

    def _restart_after_fork(self) -> None:
        # The parent's worker thread does not exist in the child; its buffered spans are the
        # parent's to send.
        self._exporter.after_fork()
        if not self._closed:
            self._start_worker()


def _shut_down_together(
    processors: Iterable[tuple[TracengentSpanProcessor, int]],
) -> None:
    """Shut `(processor, timeout_millis)` down in parallel: their workers drain at once, so the
    whole takes about the longest timeout, not their sum. Never raises."""
    begun: list[tuple[TracengentSpanProcessor, float]] = []
    for processor, timeout_millis in processors:
        deadline = processor._begin_shutdown(timeout_millis)
        if deadline is not None:
            begun.append((processor, deadline))
    # Earliest deadline first: each wait below ends by its own deadline, so a pipeline with a
    # shorter timeout is interrupted near its deadline, not after a longer one's wait.
    begun.sort(key=lambda begun_one: begun_one[1])
    for processor, deadline in begun:
        processor._interrupt_near(deadline)
    for processor, deadline in begun:
        processor._end_shutdown(deadline)


def _run_worker(
    ref: weakref.ref[TracengentSpanProcessor], orphaned: list[TracengentSpanProcessor]
) -> None:
    """The worker thread: wait for a full batch, a flush or the schedule delay, export, repeat.

    Once shutdown began, one last round (the shutdown's drain) runs without waiting. A
    processor that became unreachable unshut (`orphaned`, from its `__del__`) is shut down here.
    """
    while True:
        processor = orphaned[0] if orphaned else ref()
        if processor is None:
            return
        if orphaned:
            _shut_down_orphan(processor, orphaned)
            return
        if not processor._worker_exit:
            wake, delay = processor._wake, processor._schedule_delay_s
            if processor._held:
                # Back when the rest of the pause is short enough to wait out in the call (a
                # flush or shutdown wakes it sooner).
                delay = max(processor._exporter.held_back_s() - HOLD_LONGER_THAN_S, 0.0)
            del processor
            wake.wait(delay)
            processor = orphaned[0] if orphaned else ref()
            if processor is None:
                return
            if orphaned:
                _shut_down_orphan(processor, orphaned)
                return
        if not processor._work_once():
            return
        del processor


def _shut_down_orphan(
    processor: TracengentSpanProcessor, orphaned: list[TracengentSpanProcessor]
) -> None:
    """On the worker: shut down `processor`, which nothing else references any more, as the
    exit flush would (its timeout); then let it go."""
    orphaned.clear()
    with processor._stats.guard("shutting down an unreachable processor"):
        # None when an exit flush began it meanwhile: that one waits for this last round.
        processor._begin_shutdown(processor._exit_flush_timeout_ms)
        processor._work_once()
        processor._count_left_over()
        processor._exporter.shutdown()
        processor._count_left_over()
