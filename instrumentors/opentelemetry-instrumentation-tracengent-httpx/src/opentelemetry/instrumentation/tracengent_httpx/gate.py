"""The gate an egress instrumentation asks before a request leaves, and how one is discovered.

This distribution knows nothing of any platform: a gate is whatever object implements
`EgressGate`. It is passed to `TracengentHTTPXInstrumentor().instrument(gate=...)`, given to a
`GatedTransport`, or registered by another distribution under the `tracengent_egress_gate` entry
point group (how zero-code `opentelemetry-instrument` finds one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Final, Protocol, runtime_checkable

import httpx

__all__ = ["ENTRY_POINT_GROUP", "EgressGate", "load_gate"]

_logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final = "tracengent_egress_gate"
"""Entry point group naming a zero-argument callable that returns an `EgressGate` or None."""


@runtime_checkable
class EgressGate(Protocol):
    """Decides whether an outgoing httpx request may leave, and in what form.

    A gate raises its own exception to stop a request; the instrumentation lets it propagate to
    the application unchanged and sends nothing.
    """

    def is_governed(self, request: httpx.Request) -> bool:
        """Whether `request` must be checked at all (cheap, called for every request, no I/O)."""
        ...

    def check(self, request: httpx.Request) -> httpx.Request:
        """Authorize `request`; blocks.

        Returns:
            The request to send: `request` itself, or a rebuilt one (e.g. a redacted body).

        Raises:
            Exception: the gate's own exception when the request must not leave.
        """
        ...

    async def check_async(self, request: httpx.Request) -> httpx.Request:
        """The coroutine twin of `check`."""
        ...


def load_gate() -> EgressGate | None:
    """Build the gate registered under `ENTRY_POINT_GROUP`, if any.

    The first entry point (by name) whose factory returns a gate wins. A factory that fails or
    returns something that is not an `EgressGate` is logged and skipped: discovery never raises,
    and with no gate the instrumentation gates nothing.
    """
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        try:
            factory: Callable[[], object] = entry_point.load()
            gate = factory()
        except Exception:
            # A broken third-party factory must not stop the application from starting.
            _logger.warning("egress gate entry point %r failed", entry_point.name, exc_info=True)
            continue
        if gate is None:
            continue
        if isinstance(gate, EgressGate):
            return gate
        _logger.warning(
            "egress gate entry point %r returned %s, not an EgressGate",
            entry_point.name,
            type(gate).__name__,
        )
    return None
