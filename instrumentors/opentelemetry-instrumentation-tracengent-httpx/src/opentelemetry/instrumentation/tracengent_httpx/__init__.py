"""OpenTelemetry httpx instrumentation that gates egress to governed hosts (work in progress)."""

from opentelemetry.instrumentation.tracengent_httpx.version import __version__

__all__ = ["__version__"]
