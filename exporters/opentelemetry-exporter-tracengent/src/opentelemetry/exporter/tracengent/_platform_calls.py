"""The SDK's own platform calls, marked so egress gates let them through.

Every request to the platform (ingest, token, authorize, approvals, delegation) runs inside
`platform_call()`: OTel instrumentation is suppressed (no client span records the SDK's own
telemetry traffic) and the OTel context carries `PLATFORM_CALL_KEY`, which the Tracengent httpx
instrumentor reads to skip its gate (asking the platform about its own call would recurse).
OTel's suppression alone does not skip the gate: any library may suppress instrumentation, and
that must not let a governed request leave unchecked.
"""

from __future__ import annotations

from contextvars import Token
from types import TracebackType
from typing import Final

from opentelemetry.context import Context, attach, detach, get_current
from opentelemetry.instrumentation.utils import suppress_instrumentation

__all__ = ["PLATFORM_CALL_KEY", "platform_call"]

PLATFORM_CALL_KEY: Final = "tracengent-platform-call"
"""The OTel context key set (to True) around the SDK's own platform calls. The httpx
instrumentor spells the same key (`opentelemetry.instrumentation.tracengent_httpx`)."""


def _suppression_entries() -> dict[str, object]:
    """The context entries OTel's own `suppress_instrumentation()` sets, read from it once
    (not spelled here: its keys are private to OTel and may change between versions)."""
    token = attach(Context())
    try:
        with suppress_instrumentation():
            return dict(get_current())
    finally:
        detach(token)


_ENTRIES: Final = {**_suppression_entries(), PLATFORM_CALL_KEY: True}


class platform_call:  # noqa: N801 - used as the function it replaces: `with platform_call():`
    """Run the SDK's own platform requests: instrumentation suppressed, as OTel's
    `suppress_instrumentation()` suppresses it, and marked as ours (`PLATFORM_CALL_KEY`).

    One context attached and detached per call: this runs around every governance decision and
    every export, and three nested generator context managers cost four times as much.
    """

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token: Token[Context] = attach(Context({**get_current(), **_ENTRIES}))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        detach(self._token)
