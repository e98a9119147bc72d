"""OpenTelemetry span exporter for Tracengent, and the one platform wire layer.

Public modules: `attributes` (semantic attribute names), `environment_variables`, `errors`,
`options`, `wire` (the data model), `redaction`, `permissions`, `claims`, `ids`.
"""

from opentelemetry.exporter.tracengent.version import __version__

__all__ = ["__version__"]
