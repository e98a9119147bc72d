"""Prefixed opaque ids (`evt_...`, `trc_...`) and the ids derived from OTel span contexts."""

from __future__ import annotations

import secrets

__all__ = ["event_id_for", "new_id", "trace_id_for"]


def new_id(prefix: str) -> str:
    """A fresh random id `<prefix>_<32 hex>`; `prefix` is given without the underscore."""
    return f"{prefix}_{secrets.token_hex(16)}"


def trace_id_for(otel_trace_id: int, root_span_id: int) -> str:
    """The Tracengent trace id of the decision trace rooted at a span.

    It contains the OTel trace id (so a user can find the OTel trace) and the root span id (so two
    decision traces in one OTel trace, say one web request, stay distinct).
    """
    return f"trc_{otel_trace_id:032x}{root_span_id:016x}"


def event_id_for(otel_trace_id: int, span_id: int) -> str:
    """The event id of the event a span became: unique because span ids are unique in a trace."""
    return f"evt_{otel_trace_id:032x}{span_id:016x}"
