"""OpenTelemetry span exporter for Tracengent, and the one platform wire layer.

Public modules: `attributes` (semantic attribute names), `environment_variables`, `errors`,
`options`, `wire` (the data model), `redaction`, `permissions`, `claims`, `ids`,
`exporter` (`TracengentSpanExporter`), `processor` (`TracengentSpanProcessor`), `transport`
(`PlatformClient`, `AsyncPlatformClient`, `DeliveryResult`: the wire layer) and `token`
(`AgentTokenProvider`).
"""

from opentelemetry.exporter.tracengent._stats import DeliveryStats, DropReason
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from opentelemetry.exporter.tracengent.version import __version__

__all__ = [
    "DeliveryStats",
    "DropReason",
    "TracengentSpanExporter",
    "TracengentSpanProcessor",
    "__version__",
]
