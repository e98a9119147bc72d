"""W3C trace context in an MCP request's `params._meta`, on both sides of the call.

The client side (`inject_context`) is what the instrumentation does to every `tools/call`: the
configured propagators (W3C `traceparent` / `tracestate` by default) write into a copy of the
request's `_meta`. The server side (`extract_context`, `joined_trace`) lets a user's own MCP tool
handler join the agent's trace:

    @server.tool()
    async def search_flights(origin: str, ctx: Context) -> str:
        with joined_trace(ctx.request_context.meta):
            ...  # spans started here are in the agent's trace, under its tool call
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter

__all__ = ["extract_context", "inject_context", "joined_trace"]


class _MetaGetter(Getter[Mapping[str, object]]):
    """Reads propagation fields from `_meta`, whose values are not necessarily strings."""

    def get(self, carrier: Mapping[str, object], key: str) -> list[str] | None:
        value = carrier.get(key)
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
        return None

    def keys(self, carrier: Mapping[str, object]) -> list[str]:
        return [key for key in carrier if isinstance(key, str)]


_GETTER = _MetaGetter()
_TRACEPARENT: Final = "traceparent"
_TRACESTATE: Final = "tracestate"


def inject_context(
    meta: Mapping[str, object] | None, context: Context | None = None
) -> dict[str, object] | None:
    """A copy of `meta` with the trace context of `context` (default: the current one) added.

    `meta` itself is never modified. Returns `meta` unchanged (None stays None) when the
    propagators have nothing to write, e.g. outside any recording span. A `tracestate` in `meta`
    goes with its `traceparent`: when a new `traceparent` is written, it is replaced or dropped.
    Never raises.
    """
    carrier: dict[str, object] = dict(meta) if meta else {}
    fields: dict[str, str] = {}
    try:
        propagate.inject(fields, context=context)
    except Exception:  # noqa: BLE001 - a broken propagator must not stop the tool call
        return dict(meta) if meta is not None else None
    if not fields:
        return dict(meta) if meta is not None else None
    if _TRACEPARENT in fields:
        # A `tracestate` describes the trace of the `traceparent` it came with (a `_meta`
        # forwarded from another request): it must not be sent with a new one.
        carrier.pop(_TRACESTATE, None)
    carrier.update(fields)
    return carrier


def _meta_fields(meta: object) -> Mapping[str, object] | None:
    """`meta` as a mapping: itself (`mcp` 2.x), or the fields of the 1.x SDK's `Meta` model."""
    if meta is None or isinstance(meta, Mapping):
        return meta
    # `mcp` 1.x hands a tool `RequestParams.Meta`, a pydantic model whose extra fields carry
    # `traceparent` and `tracestate`.
    dump = getattr(meta, "model_dump", None)
    fields = dump(by_alias=True) if callable(dump) else None
    return fields if isinstance(fields, Mapping) else None


def extract_context(meta: object, context: Context | None = None) -> Context:
    """The context carried by a request's `_meta`, on top of `context` (default: the current).

    `meta` is the `_meta` a tool handler is given (`ctx.request_context.meta`): a mapping, or
    the 1.x SDK's `RequestParams.Meta` model. A missing, malformed or invalid `traceparent`
    yields `context` unchanged, so a span started in it nests under whatever is current instead
    of being orphaned. When the span of `context` is in the caller's trace already (the span
    the `mcp` 2.x server opens for the request from that same `_meta`), it stays the parent:
    spans started in the result nest under it, not beside it; the `_meta`'s other fields
    (baggage) are still added. Never raises.
    """
    base = context if context is not None else otel_context.get_current()
    try:
        fields = _meta_fields(meta)
        if not fields:
            return base
        extracted = propagate.extract(fields, context=base, getter=_GETTER)
    except Exception:  # noqa: BLE001 - a malformed carrier is the client's problem, not ours
        return base
    remote = trace.get_current_span(extracted).get_span_context()
    if not remote.is_valid:
        return base
    current = trace.get_current_span(base)
    if current.get_span_context().is_valid and current.get_span_context().trace_id == (
        remote.trace_id
    ):
        return trace.set_span_in_context(current, extracted)
    return extracted


@contextmanager
def joined_trace(meta: object) -> Iterator[Context]:
    """Make the trace context of `meta` current for the block (see the module docstring).

    `meta` is what `extract_context` takes.

    Yields:
        The context that is current inside the block.
    """
    joined = extract_context(meta)
    token = otel_context.attach(joined)
    try:
        yield joined
    finally:
        otel_context.detach(token)
