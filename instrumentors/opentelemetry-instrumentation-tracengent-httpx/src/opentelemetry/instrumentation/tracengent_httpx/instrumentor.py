"""`TracengentHTTPXInstrumentor`: gate every httpx client of the process (zero-code).

It patches `httpx.HTTPTransport.handle_request` and `httpx.AsyncHTTPTransport.handle_async_request`
(the transports every `httpx.Client` / `httpx.AsyncClient` ends in, proxies included) with wrapt,
the way OTel's httpx instrumentation does, and `uninstrument()` puts the original functions back.
It creates no HTTP span of its own: the client span belongs to OTel's httpx instrumentation (or a
tracked client), whether that is active or not, and the gate records its own decision span.

Our wrapper goes in as the innermost wrapt layer, right around httpx's own function, whoever
wrapped before us: OTel's `unwrap` peels the outermost layer, so another instrumentation's
`uninstrument()` removes its own layer and never ours. A wrapper left behind by an earlier
`instrument()` (captured by a per-client wrapper such as OTel's `instrument_client`) checks
with the gate active now, not with none.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import httpx
import wrapt
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from wrapt import FunctionWrapper

from opentelemetry.instrumentation.tracengent_httpx._flow import send_gated, send_gated_async
from opentelemetry.instrumentation.tracengent_httpx.gate import EgressGate, load_gate
from opentelemetry.instrumentation.tracengent_httpx.package import _instruments

__all__ = ["TracengentHTTPXInstrumentor"]

_logger = logging.getLogger(__name__)

# wrapt 2 derives its function wrappers from `BaseObjectProxy`; wrapt 1 from `ObjectProxy`.
_PROXY: type = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)

_SendSync = Callable[..., httpx.Response]
_SendAsync = Callable[..., Awaitable[httpx.Response]]


def _request_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> httpx.Request | None:
    candidate = args[0] if args else kwargs.get("request")
    return candidate if isinstance(candidate, httpx.Request) else None


class _Patch:
    """One instrument() call's wrappers. Once `uninstrument()` set `gate` to None they check
    with the gate of the instrumentation active then, if any (a per-client wrapper may still
    hold them), else they pass requests through."""

    def __init__(self, gate: EgressGate) -> None:
        self.gate: EgressGate | None = gate
        self.wrappers: list[tuple[type, str, object]] = []  # (owner, name, wrapt proxy)

    def current_gate(self) -> EgressGate | None:
        """This patch's gate while it is installed, else the active instrumentation's."""
        if self.gate is not None:
            return self.gate
        active = TracengentHTTPXInstrumentor._patch
        return active.gate if active is not None else None

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
        return send_gated(self.current_gate(), request, wrapped)

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
        return await send_gated_async(self.current_gate(), request, wrapped)


class TracengentHTTPXInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Gates the requests of every httpx client through an `EgressGate`.

    `instrument(gate=...)` uses the given gate; without one it builds the gate registered under
    the `tracengent_egress_gate` entry point group (what `opentelemetry-instrument` does). With no
    gate at all it patches nothing, logs that once, and stays uninstrumented (a later
    `instrument(gate=...)` installs its gate). Once a gate is installed `instrument()` is
    idempotent (OTel's `BaseInstrumentor` contract: another gate given then is not used, with a
    warning); `uninstrument()` restores httpx's own methods.

    Raises:
        TypeError: from `instrument(gate=...)` when `gate` is not an `EgressGate`.
    """

    # The installed patch, on the class: the instrumentor is a singleton, and wrappers of earlier
    # patches ask it for the gate in force.
    _patch: _Patch | None = None
    _reported_no_gate = False

    def instrument(self, **kwargs: Any) -> Any:
        """Install the gate (`BaseInstrumentor.instrument`); with no gate, nothing is installed and
        the instrumentor does not count as instrumented, so a later `instrument(gate=...)` (the
        application's own, after `opentelemetry-instrument` found no governed host) does install
        its gate instead of being ignored as a repeat. A gate given while another is installed is
        not used (OTel's idempotence): that is said in a warning naming the way to replace it."""
        installed = TracengentHTTPXInstrumentor._patch
        given = kwargs.get("gate")
        if installed is not None and given is not None and given is not installed.gate:
            # OTel's own "already instrumented" line does not say the new gate governs nothing.
            _logger.warning(
                "an egress gate is installed already (%s); the gate given to instrument() (%s) "
                "is not used: call uninstrument() first to replace it",
                type(installed.gate).__name__,
                type(given).__name__,
            )
        result = super().instrument(**kwargs)
        if TracengentHTTPXInstrumentor._patch is None:
            self._is_instrumented_by_opentelemetry = False
        return result

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
        patch.wrappers = [
            _wrap_innermost(httpx.HTTPTransport, "handle_request", patch.handle_request),
            _wrap_innermost(
                httpx.AsyncHTTPTransport, "handle_async_request", patch.handle_async_request
            ),
        ]
        TracengentHTTPXInstrumentor._patch = patch

    def _uninstrument(self, **kwargs: Any) -> None:
        patch, TracengentHTTPXInstrumentor._patch = TracengentHTTPXInstrumentor._patch, None
        if patch is None:
            return
        # Disarm first, so that even a wrapper we cannot find any more stops gating.
        patch.gate = None
        for owner, name, proxy in patch.wrappers:
            _remove_wrapper(owner, name, proxy)


def _wrap_innermost(
    owner: type, name: str, wrapper: Callable[..., Any]
) -> tuple[type, str, object]:
    """Wrap httpx's own `owner.name` with `wrapper`, under any wrapt layers already on it;
    `(owner, name, our proxy)`.

    Outermost, our layer would be the one OTel's `unwrap` takes off when another
    instrumentation uninstruments (it peels whatever is on top): the gate would silently go.
    """
    current: Any = vars(owner)[name]
    holder: Any = None
    while isinstance(current, _PROXY):
        # A layer that OTel's `unwrap` left bound to None binds through its parent's wrapped
        # function when called on an instance: the parent is the layer to go under.
        parent = getattr(current, "_self_parent", None)
        holder = parent if isinstance(parent, _PROXY) else current
        current = holder.__wrapped__
    proxy = FunctionWrapper(current, wrapper)
    if holder is None:
        setattr(owner, name, proxy)
    else:
        holder.__wrapped__ = proxy
    return owner, name, proxy


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
