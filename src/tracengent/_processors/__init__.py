"""Span processors of the `tracengent` package (the exporter's processor lives in the exporter)."""

from tracengent._processors.context import ContextProcessor

__all__ = ["ContextProcessor"]
