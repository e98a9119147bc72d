"""Stand-ins for the platform clients and a span recorder, for unit tests of the tool gates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.wire import ToolDecision

Answer = JsonValue | Exception
"""A wire answer (parsed strictly, as the real client does) or the error the client raises."""

ALLOW: JsonObject = {
    "allowed": True,
    "status": "allowed",
    "outcome": "policy_allow",
    "reason": "ok",
    "decisionId": "dec_1",
}
DENY: JsonObject = {
    "allowed": False,
    "status": "denied",
    "outcome": "egress_deny",
    "reason": "host not allowed",
    "permission": "payments:refund",
    "decisionId": "dec_2",
}
PENDING: JsonObject = {
    "allowed": False,
    "status": "pending_approval",
    "outcome": "approval_required",
    "reason": "needs a human",
    "approvalId": "apr_7",
}
MALFORMED: JsonObject = {"allowed": "yes", "status": "allowed"}


def allow_redacting(path: str, strategy: str = "remove") -> JsonObject:
    """An allow that requires one redaction."""
    answer: JsonObject = dict(ALLOW)
    answer["redactions"] = [{"field": path, "strategy": strategy}]
    return answer


@dataclass
class ScriptedPlatform:
    """Answers `tool_authorize` with `answer` and records each request and deadline."""

    answer: Answer = field(default_factory=lambda: dict(ALLOW))
    requests: list[JsonObject] = field(default_factory=list)
    deadlines: list[float | None] = field(default_factory=list)

    def tool_authorize(self, request: JsonObject, *, deadline: float | None = None) -> ToolDecision:
        self.requests.append(request)
        self.deadlines.append(deadline)
        if isinstance(self.answer, Exception):
            raise self.answer
        return ToolDecision.from_wire(self.answer)


@dataclass
class AsyncScriptedPlatform:
    """The coroutine twin of `ScriptedPlatform`, sharing its script and records."""

    shared: ScriptedPlatform

    async def tool_authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> ToolDecision:
        return self.shared.tool_authorize(request, deadline=deadline)


class SpanRecorder:
    """A private TracerProvider whose finished spans are kept in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer: Tracer = provider.get_tracer("tests")

    def governance(self) -> list[ReadableSpan]:
        """Finished spans marked as tool-authorize governance spans."""
        return [
            span
            for span in self.exporter.get_finished_spans()
            if (span.attributes or {}).get(A.GOVERNANCE_KIND) == A.GovernanceKinds.TOOL_AUTHORIZE
        ]


Mode = str
"""`"sync"` or `"async"`: which shell a parametrized test drives."""


async def call_in_mode(
    mode: Mode, sync_call: Callable[[], object], async_call: Callable[[], Awaitable[object]]
) -> object:
    """Run the sync or the async variant of the same operation."""
    if mode == "sync":
        return sync_call()
    return await async_call()
