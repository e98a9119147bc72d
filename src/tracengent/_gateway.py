"""Governed httpx clients: every request of the client is authorized before it leaves.

`governed_client(client)` builds an `httpx.Client` whose transport asks the Tracengent client's
egress gate (governing every request, whatever its host) before handing the request to `inner`.
It composes with zero-code gating: a request that passed this gate is not authorized again by a
patched `httpx.HTTPTransport` below it. An approved request carries the W3C trace context
(`traceparent`) of the caller's current span, so a callee (an agent-to-agent hop, design.md
"Delegation") joins the caller's distributed trace; it is injected after the gate, so the
platform is never asked about, nor shown, our own propagation header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol, TypeVar, cast, runtime_checkable

import httpx
from opentelemetry import context as otel_context
from opentelemetry.trace import get_current_span

from opentelemetry.instrumentation.tracengent_httpx import (
    AsyncGatedTransport,
    EgressGate,
    GatedTransport,
)
from tracengent._propagation import inject_span_context

__all__ = [
    "AsyncGatewayTransport",
    "EgressGateSource",
    "GatewayTransport",
    "environment_mounts",
    "governed_async_client",
    "governed_client",
    "split_client_kwargs",
]

_LOGGER = logging.getLogger("tracengent.gateway")

# Each of these would route requests around the gated transport (httpx ignores `transport` for
# mounted and proxied URLs), so they are refused; pass `inner=` instead. `proxies` is httpx
# 0.27's spelling of `proxy` (a proxy transport mounted for every URL).
_BYPASSING_KWARGS: Final = ("transport", "mounts", "proxy", "proxies")
# httpx applies these to its default transport only; we build that transport ourselves.
_TRANSPORT_KWARGS: Final = ("verify", "cert", "trust_env", "http1", "http2", "limits")

_Sender = TypeVar("_Sender", httpx.BaseTransport, httpx.AsyncBaseTransport)
_Layer = TypeVar("_Layer", httpx.BaseTransport, httpx.AsyncBaseTransport)


@runtime_checkable
class EgressGateSource(Protocol):
    """An object that hands out egress gates: `TracengentClient` implements it."""

    def egress_gate(self, *, govern_all: bool) -> EgressGate:
        """A gate using this client's platform connection; `govern_all` ignores host lists."""
        ...


def _gate_of(source: EgressGate | EgressGateSource) -> EgressGate:
    if isinstance(source, EgressGateSource):
        return source.egress_gate(govern_all=True)
    if isinstance(source, EgressGate):
        return source
    raise TypeError(
        f"expected a TracengentClient (egress_gate) or an EgressGate, got {type(source).__name__}"
    )


def _inject_trace_context(request: httpx.Request) -> None:
    try:
        # The current context's, as `propagate.inject(request.headers)` writes it.
        context = otel_context.get_current()
        inject_span_context(request.headers, get_current_span(context).get_span_context(), context)
    except Exception as exc:  # noqa: BLE001 - the request goes out without the header
        _LOGGER.warning("tracengent: injecting traceparent failed: %s", exc)


class _PropagatingTransport(httpx.BaseTransport):
    """Adds the current trace context to each request before `inner` sends it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _inject_trace_context(request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class _AsyncPropagatingTransport(httpx.AsyncBaseTransport):
    """The `httpx.AsyncBaseTransport` twin of `_PropagatingTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _inject_trace_context(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class GatewayTransport(GatedTransport):
    """An `httpx.BaseTransport` that governs every request through `/v1/tool-authorize`.

    Args:
        source: a `TracengentClient` (every request is governed), or an `EgressGate` used as is.
        inner: the transport that sends approved requests (default: a new `httpx.HTTPTransport`).

    Raises:
        TypeError: `source` is neither.

    A denied or pending request raises `ToolDeniedException` / `ToolPendingApprovalException`
    from `handle_request` and never reaches `inner`; an approved one reaches it carrying the
    current span's `traceparent`. Blocks while the platform decides.
    """

    def __init__(
        self,
        source: EgressGate | EgressGateSource,
        *,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        sender = inner if inner is not None else httpx.HTTPTransport()
        super().__init__(_PropagatingTransport(sender), _gate_of(source))


class AsyncGatewayTransport(AsyncGatedTransport):
    """The `httpx.AsyncBaseTransport` twin of `GatewayTransport`."""

    def __init__(
        self,
        source: EgressGate | EgressGateSource,
        *,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        sender = inner if inner is not None else httpx.AsyncHTTPTransport()
        super().__init__(_AsyncPropagatingTransport(sender), _gate_of(source))


def split_client_kwargs(
    httpx_kwargs: dict[str, object], *, clients: str = "governed clients", layer: str = "the gate"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(the httpx.Client's arguments, the inner transport's)` of a client whose own transport
    (`layer`) wraps an inner one: httpx applies `verify`, `cert`, `http2`, ... only to a transport
    it builds, so they build the inner one.

    Raises:
        TypeError: `transport`, `mounts`, `proxy` or `proxies` was given: each routes requests
            around `layer` (`inner=` takes the transport instead).
    """
    bypassing = sorted(set(httpx_kwargs) & set(_BYPASSING_KWARGS))
    if bypassing:
        raise TypeError(
            f"{clients} do not accept {', '.join(bypassing)}: it would bypass {layer}; "
            "pass inner=httpx.HTTPTransport(...) instead"
        )
    transport_kwargs = {k: v for k, v in httpx_kwargs.items() if k in _TRANSPORT_KWARGS}
    return cast(dict[str, Any], httpx_kwargs), cast(dict[str, Any], transport_kwargs)


def _environment_proxies() -> dict[str, str | None]:
    """httpx's reading of `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (URL pattern:
    proxy URL, or None for a host sent directly), as a client httpx builds applies them."""
    try:
        from httpx._utils import get_environment_proxies
    except ImportError:  # pragma: no cover - every httpx this package supports has it
        return {}
    return get_environment_proxies()


def environment_mounts(
    transport_kwargs: Mapping[str, Any],
    sender: Callable[..., _Sender],
    layer: Callable[[_Sender], _Layer],
) -> dict[str, _Layer | None]:
    """The `mounts` of a client whose own transport wraps the one httpx would build: the proxies
    of the environment variables, as a plain `httpx.Client` mounts them, each sending through
    `layer(sender(proxy=..., **transport_kwargs))`; None (a `NO_PROXY` host) uses the client's
    own transport. Empty with `trust_env=False`.

    httpx reads the proxy environment only for a client it builds the transport of: handed a
    gated or tracking transport, it would send every request around the proxy a plain client uses.
    """
    if not transport_kwargs.get("trust_env", True):
        return {}
    return {
        pattern: None if url is None else layer(sender(proxy=url, **transport_kwargs))
        for pattern, url in _environment_proxies().items()
    }


def governed_client(
    client: EgressGate | EgressGateSource,
    *,
    inner: httpx.BaseTransport | None = None,
    **httpx_kwargs: object,
) -> httpx.Client:
    """An `httpx.Client` whose every request is authorized before it leaves.

    Args:
        client: the `TracengentClient` (or an `EgressGate`) deciding each request.
        inner: the transport that sends approved requests; by default an `httpx.HTTPTransport`
            built with the `verify`, `cert`, `trust_env`, `http1`, `http2`, `limits` given here,
            and (with `trust_env`, as a plain `httpx.Client`) one through each proxy that
            `HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY` names, except for `NO_PROXY` hosts; each is
            gated.
        **httpx_kwargs: passed to `httpx.Client` (`base_url`, `headers`, `timeout`, ...).

    Raises:
        TypeError: `transport`, `mounts`, `proxy` or `proxies` was given (they would bypass
            the gate).
    """
    client_kwargs, transport_kwargs = split_client_kwargs(httpx_kwargs)
    gate = _gate_of(client)
    mounts: dict[str, httpx.BaseTransport | None] = {}
    if inner is None:
        inner = httpx.HTTPTransport(**transport_kwargs)
        mounts = environment_mounts(
            transport_kwargs,
            httpx.HTTPTransport,
            lambda sender: GatewayTransport(gate, inner=sender),
        )
    return httpx.Client(
        transport=GatewayTransport(gate, inner=inner), mounts=mounts or None, **client_kwargs
    )


def governed_async_client(
    client: EgressGate | EgressGateSource,
    *,
    inner: httpx.AsyncBaseTransport | None = None,
    **httpx_kwargs: object,
) -> httpx.AsyncClient:
    """The `httpx.AsyncClient` twin of `governed_client` (same arguments and errors)."""
    client_kwargs, transport_kwargs = split_client_kwargs(httpx_kwargs)
    gate = _gate_of(client)
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if inner is None:
        inner = httpx.AsyncHTTPTransport(**transport_kwargs)
        mounts = environment_mounts(
            transport_kwargs,
            httpx.AsyncHTTPTransport,
            lambda sender: AsyncGatewayTransport(gate, inner=sender),
        )
    return httpx.AsyncClient(
        transport=AsyncGatewayTransport(gate, inner=inner), mounts=mounts or None, **client_kwargs
    )
