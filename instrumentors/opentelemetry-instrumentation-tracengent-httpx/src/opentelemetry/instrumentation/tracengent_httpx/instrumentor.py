"""`TracengentHTTPXInstrumentor`: gate every httpx client of the process (zero-code).

It patches `httpx.HTTPTransport.handle_request` and `httpx.AsyncHTTPTransport.handle_async_request`
(the transports every `httpx.Client` / `httpx.AsyncClient` ends in, proxies included) with wrapt,
the way OTel's httpx instrumentation does, and `uninstrument()` puts the original functions back.
It creates no HTTP span of its own: the client span belongs to OTel's httpx instrumentation (or a
tracked client), whether that is active or not, and the gate records its own decision span.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import httpx
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.tracengent_httpx._flow import send_gated, send_gated_async
from opentelemetry.instrumentation.tracengent_httpx.gate import EgressGate, load_gate
from opentelemetry.instrumentation.tracengent_httpx.package import _instruments

__all__ = ["TracengentHTTPXInstrumentor"]

_logger = logging.getLogger(__name__)

_SendSync = Callable[..., httpx.Response]
_SendAsync = Callable[..., Awaitable[httpx.Response]]


def _request_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> httpx.Request | None:
    candidate = args[0] if args else kwargs.get("request")
    return candidate if isinstance(candidate, httpx.Request) else None


class _Patch:
    """One instrument() call's wrappers; `gate = None` turns them into pass-throughs."""

    def __init__(self, gate: EgressGate) -> None:
        self.gate: EgressGate | None = gate
        self.wrappers: list[tuple[type, str, object]] = []  # (owner, name, wrapt proxy)

    def handle_request(
        self,
        wrapped: _SendSync,
        instance: httpx.HTTPTransport,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> httpx.Response:
        request = _request_of(args, kwargs)
        if request is None:
            return wrapped(*args, **kwargs)
        return send_gated(self.gate, request, wrapped)

    async def handle_async_request(
        self,
        wrapped: _SendAsync,
        instance: httpx.AsyncHTTPTransport,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> httpx.Response:
        request = _request_of(args, kwargs)
        if request is None:
            return await wrapped(*args, **kwargs)
        return await send_gated_async(self.gate, request, wrapped)


class TracengentHTTPXInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Gates the requests of every httpx client through an `EgressGate`.

    `instrument(gate=...)` uses the given gate; without one it builds the gate registered under
    the `tracengent_egress_gate` entry point group (what `opentelemetry-instrument` does). With no
    gate at all it patches nothing and logs that once. `instrument()` is idempotent (OTel's
    `BaseInstrumentor` contract) and `uninstrument()` restores httpx's own methods.

    Raises:
        TypeError: from `instrument(gate=...)` when `gate` is not an `EgressGate`.
    """

    _patch: _Patch | None = None
    _reported_no_gate = False

    def instrumentation_dependencies(self) -> Collection[str]:
        """The httpx versions this instrumentation applies to."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        gate = kwargs.get("gate")
        if gate is None:
            gate = load_gate()
        if gate is None:
            if not TracengentHTTPXInstrumentor._reported_no_gate:
                TracengentHTTPXInstrumentor._reported_no_gate = True
                _logger.info("no egress gate given or registered: httpx requests are not gated")
            return
        if not isinstance(gate, EgressGate):
            raise TypeError(f"gate must implement EgressGate, got {type(gate).__name__}")
        patch = _Patch(gate)
        sync_proxy: object = wrap_function_wrapper(
            httpx.HTTPTransport, "handle_request", patch.handle_request
        )
        async_proxy: object = wrap_function_wrapper(
            httpx.AsyncHTTPTransport, "handle_async_request", patch.handle_async_request
        )
        patch.wrappers = [
            (httpx.HTTPTransport, "handle_request", sync_proxy),
            (httpx.AsyncHTTPTransport, "handle_async_request", async_proxy),
        ]
        self._patch = patch

    def _uninstrument(self, **kwargs: Any) -> None:
        patch, self._patch = self._patch, None
        if patch is None:
            return
        # Disarm first, so that even a wrapper we cannot find any more stops gating.
        patch.gate = None
        for owner, name, proxy in patch.wrappers:
            _remove_wrapper(owner, name, proxy)


def _is_layer(node: object, proxy: object) -> bool:
    # OTel's `unwrap` reads the attribute through the class, so what it puts back is our wrapper
    # *bound* to None (a BoundFunctionWrapper whose parent is our FunctionWrapper).
    return node is proxy or getattr(node, "_self_parent", None) is proxy


def _remove_wrapper(owner: type, name: str, proxy: object) -> None:
    """Take `proxy` out of `owner.name`, also when another wrapt wrapper sits on top of it.

    Another instrumentation (OTel's httpx one) may have wrapped after us; unwrapping only the
    outermost layer would drop theirs, so our layer is spliced out of the chain instead.
    """
    original = getattr(proxy, "__wrapped__")  # noqa: B009 - wrapt proxies are untyped
    current: object = vars(owner).get(name)
    if _is_layer(current, proxy):
        setattr(owner, name, original)
        return
    while current is not None:
        inner = getattr(current, "__wrapped__", None)
        if inner is not None and _is_layer(inner, proxy):
            current.__wrapped__ = original  # type: ignore[attr-defined]
            return
        current = inner
