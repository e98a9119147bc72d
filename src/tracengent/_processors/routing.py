"""`ExportRouter`: the one Tracengent export processor on a tracer provider pipelines share.

The SDK cannot take a span processor off a provider. So a client attached to the application's
provider (or to zero code's) does not add its export processor there: the provider gets one
router, once, and the export pipelines of clients come and go inside it (`set_routes`). A
client per job then costs nothing on every later span's path, and a finished span goes to
exactly one pipeline, never to several (which would send it, and bill it, twice):

- a span whose `gen_ai.agent.id` names the agent of a live pipeline goes to that pipeline,
  sent with that agent's credentials;
- every other span goes to the default pipeline (zero code's while it is live, else the one
  attached first of those still live): a span with no agent id, or with the id of an agent
  that has no pipeline here (a sub-agent's `AgentEvent`, an agent framework's `invoke_agent`
  root named by the framework's own id). The span's agent id is kept on the wire, as 0.1.0
  sent an event's own `agentId`;
- with no live pipeline left, spans go to the last one released, which counts them
  `after_shutdown`: nothing is lost uncounted.

`on_end` reads the routes, replaced as one tuple, without a lock; with one pipeline (the usual
case) it is a single call on to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final, TypeAlias

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.attributes import attributes_of
from opentelemetry.exporter.tracengent.processor import (
    DEFAULT_SHUTDOWN_TIMEOUT_MS,
    TracengentSpanProcessor,
)

__all__ = ["ExportRouter"]

_AGENT_ID: Final = A.GEN_AI_AGENT_ID

_Routes: TypeAlias = tuple[
    Callable[[ReadableSpan], None] | None,
    Mapping[str, SpanProcessor],
    SpanProcessor | None,
]
"""`(the sole pipeline's on_end when every span goes there, live pipelines by agent, default)`."""


class ExportRouter(SpanProcessor):
    """Hands each finished span to exactly one export pipeline (see the module docstring).

    Never raises or blocks on a span's path: a span whose agent cannot be read goes to the
    default pipeline. `force_flush` and `shutdown` reach every live pipeline, within one
    deadline.
    """

    def __init__(self) -> None:
        self._routes: _Routes = (None, {}, None)

    @property
    def pipelines(self) -> tuple[SpanProcessor, ...]:
        """The live pipelines, each once (for tests and diagnostics)."""
        return tuple({id(p): p for p in self._routes[1].values()}.values())

    @property
    def default(self) -> SpanProcessor | None:
        """Where spans of no live pipeline's agent go (see the module docstring)."""
        return self._routes[2]

    def set_routes(
        self, by_agent: Mapping[str, SpanProcessor], default: SpanProcessor | None
    ) -> None:
        """Route spans of each agent in `by_agent` to its pipeline, every other span to `default`.

        Takes effect for the spans that end from now on; a span ending meanwhile goes by the
        old routes or the new, never nowhere. Never blocks.
        """
        targets = {id(p) for p in by_agent.values()}
        if default is not None:
            targets.add(id(default))
        only = default.on_end if default is not None and len(targets) == 1 else None
        self._routes = (only, dict(by_agent), default)

    def on_end(self, span: ReadableSpan) -> None:
        """Hand `span` to its pipeline; O(1), never blocks or raises."""
        only, by_agent, default = self._routes
        if only is not None:
            only(span)
            return
        target = default
        try:
            agent = attributes_of(span).get(_AGENT_ID)
            if agent.__class__ is str:
                target = by_agent.get(agent, default)
        except Exception:  # noqa: BLE001, S110 - the default pipeline takes it (and counts it if unsendable)
            pass
        if target is not None:
            target.on_end(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush every live pipeline; blocks at most `timeout_millis` in all. True when all did."""
        deadline = time.monotonic() + max(0, timeout_millis) / 1000
        flushed = True
        for pipeline in self.pipelines:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            flushed = pipeline.force_flush(remaining_ms) and flushed
        return flushed

    def shutdown(self) -> None:
        """Shut every live pipeline down within `DEFAULT_SHUTDOWN_TIMEOUT_MS` in all; spans
        ending later are counted `after_shutdown` by the pipeline they go to."""
        deadline = time.monotonic() + DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000
        for pipeline in self.pipelines:
            if isinstance(pipeline, TracengentSpanProcessor):
                remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
                pipeline.shutdown(timeout_millis=remaining_ms)
            else:
                pipeline.shutdown()
