"""All process-wide state of the `tracengent` package, in one place.

- `CURRENT_TRACE`: the active decision trace (a `ContextVar`, so it flows across `await` and into
  threads started with `contextvars.copy_context()`), and `ENTERED_TRACES`: the `with` blocks of
  traces entered in this context, with what leaving each restores (per context, so tasks and
  threads entering one trace at once each restore their own).
- The registry of SDK `TracerProviders` we attached our processors to. A provider (the global
  one, typically) gets our context processor, one scrubbing processor and one `ExportRouter`,
  exactly once however many clients come and go: the SDK cannot remove a processor, so nothing
  is added per client. Each agent gets one export pipeline inside the router (one per `http=`
  client a client brings: a pipeline posts through it), shared by the clients for that agent
  (and zero code's, when it exports that agent) and shut down and taken out of the router when
  the last of them closes; the router keeps it among the released pipelines, for the spans its
  clients still record. The provider's one scrubber holds the strictest settings of every
  client attached (`Scrubber.tighten`), their recorders scrub with it too, every pipeline there
  scrubs with it the payloads set after their span started (`scrub_payloads`), and with payload
  capture off every pipeline there sends no payload (`withhold_payloads`). Providers are never
  replaced.

  One lock guards the registry. A signal handler runs on a thread between two bytecodes, so an
  application's SIGTERM handler that closes a client can run on a thread holding that lock (in
  the middle of building another client on the provider): waiting for the lock there would wait
  for ever (the holder cannot go on before the handler returns), and taking it again would let
  the release run in the middle of the holder's update (a pipeline found but its new user not
  counted yet: the release would shut down the pipeline the new client is about to share).
  That close's release is deferred instead: the holder applies it as it lets the lock go (see
  `release_from_provider`). Any other thread waits for the lock as usual.

- The zero-code set-up (`tracengent._zero_code`): the options read from the environment (or the
  problem that kept them from being read), recorded once the SDK is configured, or by the first
  governance lookup when Tracengent's configurator did not run.

`reset_for_tests()` forgets all of it (structlog's `reset_defaults()` habit).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeAlias

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from opentelemetry.exporter.tracengent._stats import owned_by_caller
from tracengent._processors.context import ContextProcessor
from tracengent._processors.routing import (
    ExportRouter,
    PipelineKey,
    agent_of,
    scrub_payloads,
    withhold_payloads,
)
from tracengent._sampler import sampler_may_drop_decision_spans
from tracengent._scrubbing import Scrubber, ScrubbingProcessor

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from opentelemetry.exporter.tracengent.options import TracengentOptions
    from tracengent._trace import AgentTrace

__all__ = [
    "CURRENT_TRACE",
    "ENTERED_TRACES",
    "ProviderAttachment",
    "ZeroCodeState",
    "adopt_provider",
    "attach_to_provider",
    "attachment_of",
    "export_settings",
    "pipeline_key",
    "release_from_provider",
    "reset_for_tests",
    "set_zero_code",
    "zero_code",
    "zero_code_or",
]

_LOGGER = logging.getLogger("tracengent.state")

CURRENT_TRACE: ContextVar[AgentTrace | None] = ContextVar("tracengent_current_trace", default=None)
"""The decision trace whose `with` block (or tracked callable) is running, if any."""

EnteredTrace: TypeAlias = tuple["AgentTrace", "Token[Context]", "Token[AgentTrace | None]"]
"""A trace's `with` block: the trace, and the tokens that leaving it resets."""

ENTERED_TRACES: ContextVar[tuple[EnteredTrace, ...]] = ContextVar(
    "tracengent_entered_traces", default=()
)
"""The `with` blocks of traces entered in this context, the innermost last."""


_RELEASED_KEPT: Final = 256
"""Released pipelines the router keeps per provider, for spans their clients still record."""


@dataclass
class _Pipeline:
    """One agent's export pipeline on a provider, and how many clients (or zero code) use it."""

    processor: SpanProcessor
    key: PipelineKey
    settings: Hashable
    """The `export_settings` it was made with: a client whose settings differ shares it anyway."""
    users: int = 0
    warned: bool = False


@dataclass
class ProviderAttachment:
    """What we added to one provider: the shared processors, and the pipelines by agent."""

    context_processor: ContextProcessor
    scrubber: Scrubber
    """The scrubber of the provider's one scrubbing processor; the clients' recorders use it."""
    router: ExportRouter | None = None
    """Added with the first pipeline (zero code without an export adds none)."""
    pipelines: dict[PipelineKey, _Pipeline] = field(default_factory=dict)
    """Live pipelines by `pipeline_key` (the agent id), in the order they were attached."""
    default_key: PipelineKey | None = None
    """The key of zero code's pipeline: the default route while it is live."""
    released_by_key: dict[PipelineKey, SpanProcessor] = field(default_factory=dict)
    """Released pipelines by key, the last `_RELEASED_KEPT` of them, the latest last: their
    clients' spans recorded after the release go there (counted `after_shutdown`), and the
    latest is the default route while no pipeline is live."""
    withheld: bool = False
    """Payload capture is off on this provider: every pipeline withholds payloads."""


_lock = threading.RLock()
"""The registry's lock. Reentrant only so that a thread can tell it holds it (its C `_is_owned`,
set in the same call that takes it: no bytecode in between where a signal handler could run):
nothing takes it twice. Taken through `_locked`, which applies the deferred releases."""
_attachments: weakref.WeakKeyDictionary[TracerProvider, ProviderAttachment] = (
    weakref.WeakKeyDictionary()
)

_deferred: list[tuple[TracerProvider, PipelineKey]] = []
"""Releases made on a thread that held the lock (a signal handler's), to apply as it lets go."""


class _Locked:
    """`with _locked:` holds the registry lock; letting it go applies the releases a signal
    handler deferred meanwhile, and shuts down the pipelines they released last, on a thread
    of their own (the thread letting go never waits for a pipeline)."""

    def __enter__(self) -> None:
        _lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        released: list[SpanProcessor] = []
        while True:
            try:
                while _deferred:
                    provider, key = _deferred.pop(0)
                    try:
                        processor = _release(provider, key)
                    except Exception as exc:  # noqa: BLE001 - letting the lock go never raises
                        _LOGGER.warning("releasing an export pipeline failed: %s", exc)
                        continue
                    if processor is not None:
                        released.append(processor)
            finally:
                _lock.release()
            # A handler that ran between the last look and the release deferred one more: apply
            # it now, unless another thread holds the lock (it applies it as it lets go).
            if not _deferred or not _lock.acquire(blocking=False):
                break
        if released:
            _shut_down_apart(released)


_locked: Final = _Locked()


ZeroCodeState: TypeAlias = tuple["TracengentOptions | None", "str | None"]
"""The zero-code set-up: `(options, None)`, or `(None, the problem that kept them from being read)`."""

_zero_code: ZeroCodeState | None = None


def set_zero_code(options: TracengentOptions | None, problem: str | None) -> None:
    """Record the zero-code set-up: its options, or why there are none."""
    global _zero_code
    with _locked:
        _zero_code = (options, problem)


def zero_code() -> ZeroCodeState | None:
    """The zero-code set-up `(options, problem)`, or None when zero-code did not run."""
    return _zero_code


def zero_code_or(read: Callable[[], ZeroCodeState]) -> ZeroCodeState:
    """The recorded zero-code set-up; without one, `read()`'s, recorded for the next caller.

    `read` is called at most once per process (under the lock), however many callers race.
    """
    global _zero_code
    with _locked:
        if _zero_code is None:
            _zero_code = read()
        return _zero_code


def adopt_provider(
    provider: TracerProvider,
    context_processor: ContextProcessor,
    scrubber: Scrubber,
    *,
    router: ExportRouter | None = None,
    agent_id: str | None = None,
    export_settings: Hashable = None,
) -> None:
    """Record that `provider` already has our context processor, a scrubbing processor with
    `scrubber` and, when zero code exports, `router` with `agent_id`'s pipeline in it.

    Zero-code configuration adds them itself; clients created later add nothing twice: they
    tighten `scrubber`, put their pipelines in `router`, and a client for `agent_id` shares
    that pipeline (it stays the default route, and one user is kept for the set-up that made
    it, so closing a client never shuts it down).
    """
    with _locked:
        attachment = _attachments.get(provider)
        if attachment is None:
            attachment = ProviderAttachment(context_processor, scrubber)
            _attachments[provider] = attachment
        if router is None or agent_id is None or attachment.router is not None:
            return
        attachment.router = router
        if router.context is None:
            router.context = attachment.context_processor
        default = router.default
        if default is not None:
            key = pipeline_key(agent_id)
            attachment.pipelines[key] = _Pipeline(default, key, export_settings, users=1)
            attachment.default_key = key
            scrub_payloads(default, attachment.scrubber)
            if not attachment.scrubber.capture_payloads:
                withhold_payloads(default)
            _update_routes(attachment)


def export_settings(options: TracengentOptions, transport: object | None = None) -> Hashable:
    """What an export pipeline is made with besides its agent: platform, credentials,
    environment, tags, payload capture and the transport (by identity). A client's own `http`
    is part of its `pipeline_key`, so clients sharing a pipeline always share it."""
    return (
        options.base_url,
        options.client_id,
        options.client_secret,
        options.ingest_key,
        options.environment,
        tuple(options.default_tags),
        options.capture_payloads,
        id(transport) if transport is not None else None,
    )


def pipeline_key(agent_id: str, http: object | None = None) -> PipelineKey:
    """Which pipeline a client for `agent_id` posting through `http` (None: its own
    connection) shares: one per agent, and one per `http=` client (its owner may close it)."""
    return agent_id if http is None else (agent_id, id(http))


def attach_to_provider(
    provider: TracerProvider,
    *,
    agent_id: str,
    key: PipelineKey | None = None,
    export_settings: Hashable,
    export_processor: Callable[[], SpanProcessor],
    capture_payloads: bool = True,
    scrub_patterns: Sequence[str] = (),
) -> tuple[SpanProcessor, ProviderAttachment]:
    """Add our processors to `provider` once; return `agent_id`'s export pipeline and the
    attachment (its context processor and scrubber are the client's too).

    The first attachment adds the context processor, one scrubbing processor and the
    `ExportRouter`. Every attachment tightens the provider's scrubber to the strictest settings
    so far (`capture_payloads=False` wins, scrub patterns add up): they hold for every span of
    the provider, the recorder spans of every client included, and with capture off no
    pipeline there sends a payload any more (an attribute set after its span started cannot be
    scrubbed). `export_processor` is called only when `key` (default: `agent_id`; see
    `pipeline_key`) has no live pipeline on the provider yet; otherwise the client shares it
    (with the settings it was made with: when `export_settings` differ, one warning says so).
    Blocks briefly on a lock (configuration time only, never on a span's path).
    """
    if key is None:
        key = pipeline_key(agent_id)
    droppy_sampler: str | None = None
    with _locked:
        attachment = _attachments.get(provider)
        if attachment is None:
            scrubber = Scrubber(capture_payloads=capture_payloads, patterns=scrub_patterns)
            attachment = ProviderAttachment(
                ContextProcessor(scrub_text=scrubber.free_text), scrubber
            )
            # The context processor first, so the processors after it see the stamped trace ids.
            provider.add_span_processor(attachment.context_processor)
            # Scrubbing happens in `on_start`; exporters read a span when it ends.
            provider.add_span_processor(ScrubbingProcessor(scrubber))
            _attachments[provider] = attachment
            if sampler_may_drop_decision_spans(provider.sampler):
                droppy_sampler = _description(provider)
        else:
            attachment.scrubber.tighten(capture_payloads=capture_payloads, patterns=scrub_patterns)
        withhold = not attachment.scrubber.capture_payloads
        if withhold and attachment.context_processor.capture_payloads:
            # The strictest client holds: no payload-derived root request on this provider,
            # and no payload from any pipeline on it (live or released).
            attachment.context_processor.capture_payloads = False
        if withhold and not attachment.withheld:
            attachment.withheld = True
            for live in attachment.pipelines.values():
                withhold_payloads(live.processor)
            for released in attachment.released_by_key.values():
                withhold_payloads(released)
        if attachment.router is None:
            attachment.router = ExportRouter(attachment.context_processor)
            provider.add_span_processor(attachment.router)
        pipeline = attachment.pipelines.get(key)
        warn_settings = False
        if pipeline is None:
            pipeline = _Pipeline(export_processor(), key, export_settings)
            scrub_payloads(pipeline.processor, attachment.scrubber)
            if withhold:
                withhold_payloads(pipeline.processor)
            attachment.pipelines[key] = pipeline
            _update_routes(attachment)
        elif pipeline.settings != export_settings and not pipeline.warned:
            pipeline.warned = warn_settings = True
        pipeline.users += 1
    if warn_settings:
        _LOGGER.warning(
            "tracengent: a client for agent %r shares the export its agent already has on this "
            "tracer provider; its events are sent with that export's platform, credentials, "
            "environment and tags (one export per agent: nothing is sent twice)",
            agent_id,
        )
    if droppy_sampler is not None:
        _LOGGER.warning(
            "tracengent: the tracer provider's sampler (%s) decides on the spans its own tracers "
            "start: decision-trace spans among them (an agent framework's invoke_agent root, "
            "GenAI chat spans, your tracengent.event.type spans) that it samples out are neither "
            "sent nor counted. Spans the Tracengent client records are always kept. To keep "
            "them all, wrap your sampler: TracerProvider(sampler=TracengentSampler(<yours>)), "
            "TracengentSampler from tracengent.distro",
            droppy_sampler,
        )
    return pipeline.processor, attachment


def _description(provider: TracerProvider) -> str:
    """The provider's sampler as it describes itself (its class when it cannot)."""
    sampler = provider.sampler
    try:
        return str(sampler.get_description())
    except Exception:  # noqa: BLE001 - a custom sampler's: only named in a warning
        return type(sampler).__name__


def release_from_provider(provider: TracerProvider, key: PipelineKey) -> SpanProcessor | None:
    """Drop one user of the export pipeline `key` (see `pipeline_key`) on `provider`.

    Returns the pipeline when this was its last user: it is no longer live from now on (its
    clients' spans still reach it, and it counts them `after_shutdown`, unless a live pipeline
    for its agent took over) and the caller flushes and shuts it down. Else None. Never raises.

    Called on a thread that holds the registry lock (a signal handler that interrupted it while
    it was attaching a client or setting zero code up), it neither waits for the lock nor
    changes the registry under the interrupted update: the release is deferred and None
    returned at once (the caller still flushes the pipeline: its worker needs no registry lock).
    The interrupted code applies it as it lets the lock go (a client it was attaching for the
    same agent is counted first, so that pipeline stays live); when it was the last user, the
    pipeline's `shutdown()` (bounded by its default timeout) then runs on a thread of its own.
    """
    if owned_by_caller(_lock):
        _deferred.append((provider, key))
        return None
    with _locked:
        return _release(provider, key)


def _release(provider: TracerProvider, key: PipelineKey) -> SpanProcessor | None:
    """`release_from_provider`'s update, under the lock."""
    attachment = _attachments.get(provider)
    if attachment is None:
        return None
    pipeline = attachment.pipelines.get(key)
    if pipeline is None:
        return None
    pipeline.users -= 1
    if pipeline.users > 0:
        return None
    del attachment.pipelines[key]
    released = attachment.released_by_key
    released.pop(key, None)
    released[key] = pipeline.processor
    while len(released) > _RELEASED_KEPT:
        del released[next(iter(released))]
    _update_routes(attachment)
    return pipeline.processor


def _shut_down_apart(processors: list[SpanProcessor]) -> None:
    """Shut `processors` down on a daemon thread. Never raises: when no thread can start (the
    interpreter is exiting), each is left to its own exit flush, which delivers or counts what
    it holds."""

    def run() -> None:
        for processor in processors:
            try:
                processor.shutdown()
            except Exception as exc:  # noqa: BLE001 - a thread of ours never raises
                _LOGGER.warning("shutting down a released export pipeline failed: %s", exc)

    try:
        threading.Thread(target=run, name="tracengent-release", daemon=True).start()
    except Exception as exc:  # noqa: BLE001 - letting the lock go never raises
        _LOGGER.warning("could not shut down a released export pipeline: %s", exc)


def _update_routes(attachment: ProviderAttachment) -> None:
    """Give the router the live pipelines and the default route (see `ExportRouter`)."""
    if attachment.router is None:
        return
    pipelines = attachment.pipelines
    default: _Pipeline | None = None
    if attachment.default_key is not None:
        default = pipelines.get(attachment.default_key)
    if default is None and pipelines:
        default = next(iter(pipelines.values()))
    by_agent: dict[str, SpanProcessor] = {}
    if default is not None:
        # An agent's spans go to zero code's pipeline when it exports that agent.
        by_agent[agent_of(default.key)] = default.processor
    for key, pipeline in pipelines.items():
        by_agent.setdefault(agent_of(key), pipeline.processor)
    released_by_agent: dict[str, SpanProcessor] = {}
    for key, processor in attachment.released_by_key.items():
        released_by_agent[agent_of(key)] = processor  # the last released of the agent's
    attachment.router.set_routes(
        {key: pipeline.processor for key, pipeline in pipelines.items()},
        default.processor
        if default is not None
        else next(reversed(attachment.released_by_key.values()), None),
        by_agent=by_agent,
        released_by_key=attachment.released_by_key,
        released_by_agent=released_by_agent,
    )


def attachment_of(provider: TracerProvider) -> ProviderAttachment | None:
    """What we attached to `provider`, if anything (for tests and diagnostics)."""
    with _locked:
        return _attachments.get(provider)


def reset_for_tests() -> None:
    """Forget every attachment and shut down the export pipelines we created.

    Tests call it between cases; the routers stay on their providers, inert.
    """
    global _zero_code
    with _locked:
        attachments = list(_attachments.values())
        _attachments.clear()
        _deferred.clear()
        _zero_code = None
    for attachment in attachments:
        for pipeline in attachment.pipelines.values():
            try:
                pipeline.processor.shutdown()
            except Exception as exc:  # noqa: BLE001 - a reset must finish
                _LOGGER.warning("shutting down a processor during reset failed: %s", exc)
