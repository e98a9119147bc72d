"""`ExportRouter`: the one Tracengent export processor on a tracer provider pipelines share.

The SDK cannot take a span processor off a provider. So a client attached to the application's
provider (or to zero code's) does not add its export processor there: the provider gets one
router, once, and the export pipelines of clients come and go inside it (`set_routes`). A
client per job then costs nothing on every later span's path, and a finished span goes to
exactly one pipeline, never to several (which would send it, and bill it, twice).

Each pipeline has a key, `(agent id, the identity of the client's http client or None)`, and a
span goes to the pipeline of whoever owns it, sent with that owner's credentials:

- a span of a decision trace (stamped `tracengent.trace.id`) is the trace's: it goes to the
  pipeline of the agent whose root opened the trace (the context processor knows it), whatever
  agent the span itself names (a sub-agent's `AgentEvent(agent_id=...)`, another
  instrumentation's span), so a trace is never split across agents' credentials. A decision
  trace root is its own agent's;
- a span a client's recorder made (its tracer's scope is marked with the client's pipeline key,
  `owned_scope`) is that client's;
- a span nobody owns (another instrumentation's, outside any trace of a client's agent) goes by
  the agent its `gen_ai.agent.id` names, when that agent has a live pipeline;
- every other span goes to the default pipeline (zero code's while it is live, else the one
  attached first of those still live), its agent id kept on the wire, as 0.1.0 sent it.

A decision trace whose root names no agent with a pipeline here (zero code's or a framework's
root, naming no agent or one of its own) is anyone's: each client's spans in it go to its own
pipeline, and the platform files them under that agent's copy of the trace. So the root, which
sends the trace close, goes to every pipeline that got spans of its trace, not only to its own:
each agent's copy is closed, none left open. (Only a span of such a trace that ends after its
root is beyond this: its agent's copy was never closed when it reaches the platform.)

An owner whose pipeline was released (its client closed; a task outliving it still records)
finds it among the released pipelines, which count the span `after_shutdown`, unless a live
pipeline for the same agent took over. With no live pipeline left, unowned spans go to the last
one released, which counts them too: nothing is lost uncounted.

A span another instrumentation made that the attribute count limit trimmed is routed with the
attributes it lost of its operation and decision-trace stamps (`_classify.restore_trimmed`).

`on_end` reads the routes, replaced as one object, without a lock. When every span can only
go to one pipeline (the usual case: one agent) it is a single call on to it; otherwise a few
dict lookups.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Final

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import TRIMMED, lost_by
from opentelemetry.exporter.tracengent.attributes import attributes_of
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.processor import (
    DEFAULT_SHUTDOWN_TIMEOUT_MS,
    TracengentSpanProcessor,
)

if TYPE_CHECKING:
    from tracengent._processors.context import ContextProcessor
    from tracengent._scrubbing import Scrubber

__all__ = [
    "ExportRouter",
    "PipelineKey",
    "Routes",
    "exporter_of",
    "owned_scope",
    "scrub_payloads",
    "withhold_payloads",
]

_AGENT_ID: Final = A.GEN_AI_AGENT_ID
_OPERATION: Final = A.GEN_AI_OPERATION_NAME
_INVOKE_AGENT: Final = A.OPERATION_INVOKE_AGENT
_TRACE_ID: Final = A.TRACE_ID
_GOVERNANCE_KIND: Final = A.GOVERNANCE_KIND
_JOINED_KEPT: Final = 4096
"""Open traces of anyone (see the module docstring) whose pipelines a router remembers; past
it, the oldest is forgotten (a root that never ends must not grow it without bound)."""

PipelineKey = str | tuple[str, int]
"""Which clients share a pipeline: the agent id, or `(agent id, id() of the client's own
`http=` client)` (a pipeline posts through that client, which its owner may close)."""


class _OwnedScope(InstrumentationScope):
    """The instrumentation scope of a client's tracer, naming the client's pipeline key."""

    __slots__ = ("tracengent_pipeline",)

    def __init__(self, scope: InstrumentationScope, key: PipelineKey) -> None:
        super().__init__(scope.name, scope.version, scope.schema_url, scope.attributes)
        self.tracengent_pipeline = key


def owned_scope(tracer: Tracer, key: PipelineKey) -> InstrumentationScope | None:
    """`tracer`'s instrumentation scope marked as owned by pipeline `key` (see the module
    docstring), for the client's own tracer to make its spans with; None when `tracer` is not
    an SDK tracer (or has no scope).

    The scope keeps its name, version, schema URL and attributes: what other exporters see is
    unchanged. `tracer` itself is left as it is: the SDK hands the same cached tracer to every
    client on a provider, so a mark written on it would be the last client's.
    """
    scope = getattr(tracer, "_instrumentation_scope", None)
    if isinstance(scope, InstrumentationScope):
        return _OwnedScope(scope, key)
    return None


def exporter_of(processor: SpanProcessor) -> TracengentSpanExporter | None:
    """The Tracengent exporter `processor` exports through, if it is one: ours, or the SDK's
    batching or simple processor (another configurator's export of our exporter). Never raises."""
    exporter = getattr(processor, "_exporter", None)
    if exporter is None:
        exporter = getattr(processor, "span_exporter", None)
    if exporter is None:
        batch = getattr(processor, "_batch_processor", None)
        exporter = getattr(batch, "_exporter", None)
    return exporter if isinstance(exporter, TracengentSpanExporter) else None


def withhold_payloads(processor: SpanProcessor) -> None:
    """Have `processor`'s exporter send no payload from now on (capture off; never undone)."""
    exporter = exporter_of(processor)
    if exporter is not None:
        exporter.withhold_payloads()


def scrub_payloads(processor: SpanProcessor, scrubber: Scrubber) -> None:
    """Have `processor`'s exporter scrub with `scrubber` every payload our recorder did not
    write (`Scrubber.exported_payload`): those set after their span started are beyond the
    scrubbing processor. On a shared provider `scrubber` is the provider's, tightened in place
    to the strictest client's rules, so every pipeline there applies them."""
    exporter = exporter_of(processor)
    if exporter is not None:
        exporter.set_payload_filter(scrubber.exported_payload)


class Routes:
    """Where spans go; replaced as a whole by `ExportRouter.set_routes`, never changed."""

    __slots__ = ("by_agent", "by_key", "default", "only", "released_by_agent", "released_by_key")

    def __init__(
        self,
        by_key: Mapping[PipelineKey, SpanProcessor],
        by_agent: Mapping[str, SpanProcessor],
        released_by_key: Mapping[PipelineKey, SpanProcessor],
        released_by_agent: Mapping[str, SpanProcessor],
        default: SpanProcessor | None,
    ) -> None:
        self.by_key = dict(by_key)
        self.by_agent = dict(by_agent)
        self.released_by_key = dict(released_by_key)
        self.released_by_agent = dict(released_by_agent)
        self.default = default
        # Every pipeline a span can reach: the live ones, the default, and the released ones
        # whose agent no live pipeline took over. When that is one, every span goes there.
        targets = {id(p): p for p in self.by_key.values()}
        if default is not None:
            targets[id(default)] = default
        for agent, pipeline in self.released_by_agent.items():
            if agent not in self.by_agent:
                targets[id(pipeline)] = pipeline
        for key, pipeline in self.released_by_key.items():
            if agent_of(key) not in self.by_agent:
                targets[id(pipeline)] = pipeline
        sole = next(iter(targets.values())) if len(targets) == 1 else None
        self.only: Callable[[ReadableSpan], None] | None = sole.on_end if sole is not None else None

    def target(
        self, trace_agent: object, key: PipelineKey | None, agent: object
    ) -> SpanProcessor | None:
        """The pipeline of a span of `trace_agent`'s decision trace (None outside one), made
        by the client of pipeline `key` (None: no client's), naming `agent`; None: the default."""
        by_agent = self.by_agent
        # A span of a decision trace goes with the trace's agent; when that agent's client
        # recorded it, that client's own pipeline first, as below (it may post through the
        # client's `http`).
        if (
            trace_agent.__class__ is str
            and (trace_agent in by_agent or trace_agent in self.released_by_agent)
            and (key is None or agent_of(key) != trace_agent)
        ):
            return by_agent.get(trace_agent) or self.released_by_agent.get(trace_agent)
        if key is not None:
            owner = agent_of(key)
            return (
                self.by_key.get(key)
                or by_agent.get(owner)
                or self.released_by_key.get(key)
                or self.released_by_agent.get(owner)
            )
        if agent.__class__ is str:
            return by_agent.get(agent)
        return None


def agent_of(key: object) -> str:
    """The agent of a `PipelineKey` ("" for anything that is not one)."""
    if key.__class__ is str:
        return key
    return key[0] if isinstance(key, tuple) and key and isinstance(key[0], str) else ""


_NO_ROUTES: Final = Routes({}, {}, {}, {}, None)


class ExportRouter(SpanProcessor):
    """Hands each finished span to exactly one export pipeline (see the module docstring).

    Never raises or blocks on a span's path: a span whose owner cannot be read goes to the
    default pipeline. `force_flush` and `shutdown` reach every live pipeline at once, each
    within the whole timeout.

    Args:
        context: the context processor on the provider, which knows each decision trace's
            agent (without it, a span of a trace goes by its own agent id).
    """

    def __init__(self, context: ContextProcessor | None = None) -> None:
        self._routes: Routes = _NO_ROUTES
        self.context = context
        # Trace id → the pipelines (by identity) its spans went to, for an open trace of
        # anyone's while several pipelines are live (see the module docstring).
        self._joined: dict[object, dict[int, SpanProcessor]] = {}

    @property
    def pipelines(self) -> tuple[SpanProcessor, ...]:
        """The live pipelines, each once (for tests and diagnostics)."""
        return tuple({id(p): p for p in self._routes.by_key.values()}.values())

    @property
    def default(self) -> SpanProcessor | None:
        """Where spans nobody owns go (see the module docstring)."""
        return self._routes.default

    def has_agent(self, agent: object) -> bool:
        """Whether `agent` has a pipeline here, live or released (a client on the provider):
        the spans of its decision traces go through it. O(1), never blocks."""
        routes = self._routes
        return agent in routes.by_agent or agent in routes.released_by_agent

    def set_routes(
        self,
        by_key: Mapping[PipelineKey, SpanProcessor],
        default: SpanProcessor | None,
        *,
        by_agent: Mapping[str, SpanProcessor] | None = None,
        released_by_key: Mapping[PipelineKey, SpanProcessor] | None = None,
        released_by_agent: Mapping[str, SpanProcessor] | None = None,
    ) -> None:
        """Route spans by owner to the live pipelines `by_key` (each agent's first in
        `by_agent`, by default made from the keys), or to a released one; the rest to `default`.

        Takes effect for the spans that end from now on; a span ending meanwhile goes by the
        old routes or the new, never nowhere. Never blocks.
        """
        if by_agent is None:
            agents: dict[str, SpanProcessor] = {}
            for key, pipeline in by_key.items():
                agents.setdefault(agent_of(key), pipeline)
            by_agent = agents
        self._routes = Routes(
            by_key, by_agent, released_by_key or {}, released_by_agent or {}, default
        )

    def on_end(self, span: ReadableSpan) -> None:
        """Hand `span` to its pipeline; O(1), never blocks or raises."""
        routes = self._routes
        only = routes.only
        if only is not None:
            only(span)
            return
        target = routes.default
        joined: dict[int, SpanProcessor] | None = None
        try:
            found, joined = self._target(span, routes)
            if found is not None:
                target = found
        except Exception:  # noqa: BLE001, S110 - the default pipeline takes it (and counts it if unsendable)
            pass
        if target is not None:
            target.on_end(span)
        if joined:
            # A root of anyone's trace: its close closes every agent's copy of the trace.
            for pipeline in joined.values():
                if pipeline is not target:
                    with suppress(Exception):
                        pipeline.on_end(span)

    def _target(
        self, span: ReadableSpan, routes: Routes
    ) -> tuple[SpanProcessor | None, dict[int, SpanProcessor] | None]:
        """The span's pipeline (None: the default) and, for a root, the other pipelines its
        trace's spans went to."""
        attrs = attributes_of(span)
        if TRIMMED and span.dropped_attributes:
            # Trimmed by the attribute count limit: routed with what it lost of its operation
            # and decision-trace stamps, as the context processor noted (the pipeline it goes
            # to restores them too).
            lost = lost_by(span)
            if lost:
                attrs = {**lost, **attrs}
        agent = attrs.get(_AGENT_ID)
        scope = span.instrumentation_scope
        key = scope.tracengent_pipeline if isinstance(scope, _OwnedScope) else None
        trace_id = attrs.get(_TRACE_ID)
        if attrs.get(_OPERATION) == _INVOKE_AGENT:
            # A decision trace's root is its own agent's.
            found = routes.target(agent, key, agent)
            if not self._joined or trace_id.__class__ is not str:
                return found, None
            return found, self._joined.pop(trace_id, None)
        if trace_id.__class__ is not str or self.context is None:
            return routes.target(None, key, agent), None
        trace_agent = self.context.trace_agent_under(span.parent)
        found = routes.target(trace_agent, key, agent)
        if (
            (
                trace_agent.__class__ is not str
                or (
                    trace_agent not in routes.by_agent
                    and trace_agent not in routes.released_by_agent
                )
            )
            and _GOVERNANCE_KIND not in attrs  # never an event: nothing of the trace to close
        ):
            self._join(trace_id, found if found is not None else routes.default)
        return found, None

    def _join(self, trace_id: object, pipeline: SpanProcessor | None) -> None:
        """Remember that a span of anyone's trace `trace_id` went to `pipeline`."""
        if pipeline is None:
            return
        joined = self._joined
        pipelines = joined.get(trace_id)
        if pipelines is None:
            if len(joined) >= _JOINED_KEPT:
                with suppress(Exception):  # another thread may pop it first
                    del joined[next(iter(joined))]
            pipelines = joined.setdefault(trace_id, {})
        pipelines[id(pipeline)] = pipeline

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush every live pipeline at once; blocks at most `timeout_millis`. True when all did."""
        results = _in_parallel(
            [partial(p.force_flush, timeout_millis) for p in self.pipelines], timeout_millis
        )
        return all(result is True for result in results)

    def shutdown(self) -> None:
        """Shut every live pipeline down at once, each within `DEFAULT_SHUTDOWN_TIMEOUT_MS`
        (a slow platform does not eat the others' time); spans ending later are counted
        `after_shutdown` by the pipeline they go to."""
        calls: list[Callable[[], object]] = []
        for pipeline in self.pipelines:
            if isinstance(pipeline, TracengentSpanProcessor):
                calls.append(partial(pipeline.shutdown, timeout_millis=DEFAULT_SHUTDOWN_TIMEOUT_MS))
            else:
                calls.append(pipeline.shutdown)
        _in_parallel(calls, DEFAULT_SHUTDOWN_TIMEOUT_MS)


def _in_parallel(calls: list[Callable[[], object]], timeout_millis: int) -> list[object]:
    """Run `calls` at once (a thread each), waiting at most `timeout_millis` in all (plus a
    moment: each call bounds itself by that same timeout). What a call still running at the
    deadline returns is None."""
    if len(calls) == 1:
        return [calls[0]()]
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        # A pipeline's flush or shutdown never raises; should one, its result stays None.
        with suppress(Exception):
            results[index] = call()

    threads = [
        threading.Thread(target=run, args=(index, call), name="tracengent-router", daemon=True)
        for index, call in enumerate(calls)
    ]
    for index, thread in enumerate(threads):
        try:
            thread.start()
        except RuntimeError:
            # No new thread at interpreter exit (Python 3.12+): this one runs here, in turn.
            run(index, calls[index])
    # The calls bound themselves; the margin lets a call that ends right at its deadline report.
    deadline = time.monotonic() + max(0, timeout_millis) / 1000 + 0.5
    for thread in threads:
        if thread.ident is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
    return results
