"""The SDK's own platform calls, marked so egress gates let them through.

Every request to the platform (ingest, token, authorize, approvals, delegation) runs inside
`platform_call()`: OTel instrumentation is suppressed (no client span records the SDK's own
telemetry traffic) and the OTel context carries `PLATFORM_CALL_KEY`, which the Tracengent httpx
instrumentor reads to skip its gate (asking the platform about its own call would recurse).
OTel's suppression alone does not skip the gate: any library may suppress instrumentation, and
that must not let a governed request leave unchecked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from opentelemetry.context import attach, detach, set_value
from opentelemetry.instrumentation.utils import suppress_instrumentation

__all__ = ["PLATFORM_CALL_KEY", "platform_call"]

PLATFORM_CALL_KEY: Final = "tracengent-platform-call"
"""The OTel context key set (to True) around the SDK's own platform calls. The httpx
instrumentor spells the same key (`opentelemetry.instrumentation.tracengent_httpx`)."""


@contextmanager
def platform_call() -> Iterator[None]:
    """Run the SDK's own platform requests: instrumentation suppressed, and marked as ours."""
    with suppress_instrumentation():
        token = attach(set_value(PLATFORM_CALL_KEY, True))
        try:
            yield
        finally:
            detach(token)
