"""The export pipeline's own health as OpenTelemetry's SDK self-observability metrics.

With `OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true` (the switch of the SDK's own processors and
exporters) a pipeline reports what its `DeliveryStats` count as the semantic conventions' SDK
metrics, on the global meter provider unless it is given one, so an application watches
Tracengent's delivery in the metrics backend it already has (zero code included, where no client
object can be asked):

- `otel.sdk.processor.span.processed` (`{span}`): spans the processor handed to the exporter, or
  dropped: `error.type` is `queue_full` (its buffer was full) or `already_shutdown`.
- `otel.sdk.processor.span.queue.size` / `.queue.capacity` (`{span}`): its buffer.
- `otel.sdk.exporter.span.exported` (`{span}`): events and trace closes whose export finished;
  when it failed, `error.type` is the drop reason (`rejected`, `retries_exhausted`,
  `unserializable`, `shutdown_timeout`, `not_configured`, `agent_disabled`).
- `otel.sdk.exporter.span.inflight` (`{span}`) and `otel.sdk.exporter.operation.duration` (`s`):
  the ingest requests being sent, and how long each took (`error.type` on a failed one).

Each carries `otel.component.type` (`tracengent_span_processor` / `tracengent_span_exporter`) and
`otel.component.name` (`<type>/<n>`, one per instance in the process); the exporter's carry the
platform's `server.address` and `server.port`. Nothing here runs on the agent's thread but a
drop counted there (`queue_full`, `already_shutdown`); the queue size is read when the metrics
are collected. Switched off (the default), nothing is created and the counters cost one `None`
check per batch.
"""

from __future__ import annotations

import itertools
import os
import weakref
from collections.abc import Iterable
from typing import Final, Protocol
from urllib.parse import urlsplit

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter_provider
from opentelemetry.util.types import Attributes

from opentelemetry.exporter.tracengent.version import __version__

__all__ = [
    "EXPORTER_COMPONENT",
    "PROCESSOR_COMPONENT",
    "Buffer",
    "ExporterMetrics",
    "ProcessorMetrics",
    "internal_metrics_enabled",
]

EXPORTER_COMPONENT: Final = "tracengent_span_exporter"
"""`otel.component.type` of a `TracengentSpanExporter`."""
PROCESSOR_COMPONENT: Final = "tracengent_span_processor"
"""`otel.component.type` of a `TracengentSpanProcessor`."""

_SWITCH: Final = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"
_METER_NAME: Final = "opentelemetry-exporter-tracengent"
# The semantic conventions' names (written out: older `opentelemetry-semantic-conventions`
# releases, which the SDK versions this package supports may bring, lack their helpers).
_EXPORTED: Final = "otel.sdk.exporter.span.exported"
_INFLIGHT: Final = "otel.sdk.exporter.span.inflight"
_DURATION: Final = "otel.sdk.exporter.operation.duration"
_PROCESSED: Final = "otel.sdk.processor.span.processed"
_QUEUE_SIZE: Final = "otel.sdk.processor.span.queue.size"
_QUEUE_CAPACITY: Final = "otel.sdk.processor.span.queue.capacity"
_SPANS: Final = "{span}"
_COMPONENT_TYPE: Final = "otel.component.type"
_COMPONENT_NAME: Final = "otel.component.name"
_ERROR_TYPE: Final = "error.type"
_SERVER_ADDRESS: Final = "server.address"
_SERVER_PORT: Final = "server.port"
_QUEUE_FULL: Final = "queue_full"
_ALREADY_SHUTDOWN: Final = "already_shutdown"

# One numbering per component type, as the SDK's own components are named `<type>/<n>`.
_INSTANCES: Final = {
    EXPORTER_COMPONENT: itertools.count(),
    PROCESSOR_COMPONENT: itertools.count(),
}


class Buffer(Protocol):
    """What `ProcessorMetrics` reads of its processor: the spans it buffers now."""

    @property
    def queued(self) -> int:
        """Spans buffered right now."""
        ...


def internal_metrics_enabled() -> bool:
    """`OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED` is `true` (any case, blanks around it), as
    the SDK reads it for its own processors and exporters."""
    return os.environ.get(_SWITCH, "").strip().lower() == "true"


def _component(component_type: str) -> dict[str, str | int]:
    return {
        _COMPONENT_TYPE: component_type,
        _COMPONENT_NAME: f"{component_type}/{next(_INSTANCES[component_type])}",
    }


class ExporterMetrics:
    """The exporter's instruments (`otel.sdk.exporter.*`) for one `TracengentSpanExporter`.

    Args:
        base_url: the platform's base URL (its host and port become `server.address` and
            `server.port`; the port is the scheme's when the URL names none).
        meter_provider: where the instruments are made (default: the global one, which may be
            set after the exporter is made: OTel's proxy binds them then).
    """

    def __init__(self, base_url: str, meter_provider: MeterProvider | None = None) -> None:
        attributes = _component(EXPORTER_COMPONENT)
        try:
            parts = urlsplit(base_url)
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        except ValueError:  # a URL the options refused already; only its metrics' name is lost
            parts, port = None, None
        if parts is not None and parts.hostname:
            attributes[_SERVER_ADDRESS] = parts.hostname
        if port is not None:
            attributes[_SERVER_PORT] = port
        self.attributes: Attributes = attributes
        self.meter_provider = meter_provider
        """The meter provider given (None: the global one); the processor's metrics go there too."""
        meter = (meter_provider or get_meter_provider()).get_meter(_METER_NAME, __version__)
        self._exported = meter.create_counter(
            _EXPORTED,
            unit=_SPANS,
            description="The number of spans for which the export has finished, either "
            "successful or failed.",
        )
        self._inflight = meter.create_up_down_counter(
            _INFLIGHT,
            unit=_SPANS,
            description="The number of spans which were passed to the exporter, but that have "
            "not been exported yet (neither successful, nor failed).",
        )
        self._duration = meter.create_histogram(
            _DURATION,
            unit="s",
            description="The duration of exporting a batch of telemetry records.",
        )
        self._failed: dict[str, Attributes] = {}

    def _with_error(self, error_type: str | None) -> Attributes:
        if error_type is None:
            return self.attributes
        attributes = self._failed.get(error_type)
        if attributes is None:
            attributes = {**(self.attributes or {}), _ERROR_TYPE: error_type}
            self._failed[error_type] = attributes
        return attributes

    def exported(self, count: int, error_type: str | None = None) -> None:
        """`count` items whose export finished: delivered, or failed with `error_type`."""
        self._exported.add(count, self._with_error(error_type))

    def sending(self, count: int) -> None:
        """`count` items are being sent (`-count` once their request is done)."""
        self._inflight.add(count, self.attributes)

    def request_took(self, seconds: float, error_type: str | None = None) -> None:
        """One ingest request took `seconds`; it failed with `error_type` when one is given."""
        self._duration.record(seconds, self._with_error(error_type))


class ProcessorMetrics:
    """The processor's instruments (`otel.sdk.processor.span.*`) for one `TracengentSpanProcessor`.

    Args:
        owner: the processor; its `queued` count is read through a weak reference when metrics
            are collected (the meter provider keeps the callback for good, not the processor).
        capacity: the buffer's bound.
        meter_provider: where the instruments are made (default: the global one).
    """

    def __init__(
        self, owner: Buffer, capacity: int, meter_provider: MeterProvider | None = None
    ) -> None:
        self.attributes: Attributes = _component(PROCESSOR_COMPONENT)
        self._dropped = {**self.attributes, _ERROR_TYPE: _QUEUE_FULL}
        self._after_shutdown = {**self.attributes, _ERROR_TYPE: _ALREADY_SHUTDOWN}
        meter = (meter_provider or get_meter_provider()).get_meter(_METER_NAME, __version__)
        self._processed = meter.create_counter(
            _PROCESSED,
            unit=_SPANS,
            description="The number of spans for which the processing has finished, either "
            "successful or failed.",
        )
        reference = weakref.ref(owner)
        attributes = self.attributes

        def observe_size(_options: CallbackOptions) -> Iterable[Observation]:
            current = reference()
            return () if current is None else (Observation(current.queued, attributes),)

        def observe_capacity(_options: CallbackOptions) -> Iterable[Observation]:
            return () if reference() is None else (Observation(capacity, attributes),)

        # Observed as they are collected, both: an instrument made before the application sets
        # its meter provider (the zero-code configurator makes the tracing pipeline first) is
        # OTel's proxy, which drops what is added to it until then.
        meter.create_observable_up_down_counter(
            _QUEUE_SIZE,
            callbacks=(observe_size,),
            unit=_SPANS,
            description="The number of spans in the queue of a given instance of an SDK span "
            "processor.",
        )
        meter.create_observable_up_down_counter(
            _QUEUE_CAPACITY,
            callbacks=(observe_capacity,),
            unit=_SPANS,
            description="The maximum number of spans the queue of a given instance of an SDK "
            "span processor can hold.",
        )

    def handed_on(self, count: int) -> None:
        """`count` spans were taken from the buffer for the exporter."""
        self._processed.add(count, self.attributes)

    def dropped(self, count: int, *, after_shutdown: bool = False) -> None:
        """`count` spans were dropped: the buffer was full, or the processor shut down."""
        self._processed.add(count, self._after_shutdown if after_shutdown else self._dropped)
