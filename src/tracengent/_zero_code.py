"""The zero-code set-up read from the environment: options, sampler, processors, egress gate.

`tracengent.distro` (the OTel entry points) calls into this module; the state it builds lives in
`tracengent._state` like all process-wide state.

Governance the environment asks for (`TRACENGENT_GOVERNED_HOSTS`, `TRACENGENT_GOVERN_MCP`) never
depends on Tracengent's configurator: when another configurator ran instead, the gates read the
set-up from the environment themselves (`governance_state`), and our decision-trace context and
scrubbing processors are added to the provider it built (`complete_without_configurator`).
"""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from opentelemetry import trace
from opentelemetry.sdk._configuration import _get_sampler, _import_sampler
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler, _get_from_env_or_default

from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent._self_metrics import internal_metrics_enabled
from opentelemetry.exporter.tracengent.errors import ToolDeniedException, TracengentConfigError
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import (
    TracengentOptions,
    flag_from_environment,
    options_from_environment,
    parse_csv,
)
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from opentelemetry.exporter.tracengent.transport import (
    AsyncPlatformClient,
    PlatformClient,
    fork_safe,
)
from opentelemetry.instrumentation.tracengent_httpx import EgressGate
from tracengent import _state
from tracengent._governance.egress import EgressGovernor, request_is_governed
from tracengent._processors import ContextProcessor
from tracengent._processors.routing import ExportRouter, exporter_of, scrub_payloads
from tracengent._sampler import TracengentSampler
from tracengent._scrubbing import Scrubber, ScrubbingProcessor

__all__ = [
    "EGRESS_ENTRY_POINT",
    "MCP_ENTRY_POINT",
    "OUR_INSTRUMENTORS",
    "ZeroCodeSetup",
    "capture_payloads_from_environment",
    "complete_without_configurator",
    "configure_from_environment",
    "current_egress_gate",
    "gate_platform_clients",
    "governance_state",
    "scrubber_for",
    "tracengent_disabled",
]

_LOGGER = logging.getLogger("tracengent.distro")

EGRESS_ENTRY_POINT: Final = "tracengent_httpx"
"""Name of our egress instrumentation's `opentelemetry_instrumentor` entry point."""
MCP_ENTRY_POINT: Final = "tracengent_mcp"
"""Name of our MCP instrumentation's `opentelemetry_instrumentor` entry point."""
OUR_INSTRUMENTORS: Final = frozenset({EGRESS_ENTRY_POINT, MCP_ENTRY_POINT})
"""Our `opentelemetry_instrumentor` entry points (not loaded when `TRACENGENT_DISABLED`)."""

_INSTRUMENTATION_SCOPE: Final = "tracengent"
# The batching span processor's standard variables (OTel's names).
_BSP_MAX_QUEUE_SIZE: Final = "OTEL_BSP_MAX_QUEUE_SIZE"
_BSP_MAX_BATCH_SIZE: Final = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
_BSP_SCHEDULE_DELAY: Final = "OTEL_BSP_SCHEDULE_DELAY"
_TRACES_EXPORTER_NAME: Final = "tracengent"  # our `opentelemetry_traces_exporter` entry point
_NO_CONFIGURATOR: Final = (
    "Tracengent's OpenTelemetry configurator did not run (another opentelemetry_configurator "
    "was loaded, or none)"
)


@dataclass
class ZeroCodeSetup:
    """What the configurator adds to the SDK it builds."""

    options: TracengentOptions | None
    problem: str | None
    sampler: Sampler
    context_processor: ContextProcessor
    scrubber: Scrubber
    """The scrubber of the scrubbing processor among `span_processors`."""
    span_processors: list[SpanProcessor] = field(default_factory=list)
    export_processors: list[SpanProcessor] = field(default_factory=list)
    router: ExportRouter | None = None
    """What the provider got for our exporter: its pipeline inside an `ExportRouter`."""

    def export_processor(self, exporter: SpanExporter) -> SpanProcessor:
        """Our exporter under its counted, batching processor, inside an `ExportRouter` (the
        provider keeps it for good; `TracengentClient`s made later put their pipelines in it);
        every other exporter under OTel's batching processor.

        Ours is sized by the batching processor's standard variables when they are set, as OTel's
        would be: `OTEL_BSP_MAX_QUEUE_SIZE` (spans buffered at most), `OTEL_BSP_SCHEDULE_DELAY`
        (ms between exports) and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (spans per export; each
        request still carries at most the options' `max_batch_size` events); else by the
        options' `queue_capacity`, `flush_interval_ms` and `max_batch_size`. A value that is not
        a positive integer is ignored, with one warning."""
        if isinstance(exporter, TracengentSpanExporter) and exporter.options is not None:
            options = exporter.options
            # Where OTel would put our exporter under its `BatchSpanProcessor`: the standard
            # variables of that processor hold for ours.
            processor = TracengentSpanProcessor(
                exporter,
                max_queue_size=_batching_setting(_BSP_MAX_QUEUE_SIZE, options.queue_capacity),
                max_batch_size=_batching_setting(_BSP_MAX_BATCH_SIZE, options.max_batch_size),
                schedule_delay_ms=_batching_setting(_BSP_SCHEDULE_DELAY, options.flush_interval_ms),
            )
            # Payloads set after their span started are scrubbed on their way out.
            scrub_payloads(processor, self.scrubber)
            self.export_processors.append(processor)
            router = ExportRouter(self.context_processor)
            # The default route too: spans of no other agent's pipeline (none yet) are ours.
            router.set_routes({options.agent_id or "": processor}, processor)
            self.router = router
            return router
        return BatchSpanProcessor(exporter)

    def exporter_arguments(self) -> dict[str, Any]:
        """What the SDK builds our exporter with: the options.

        A `TracengentClient` for another agent may share the provider: the router gives its
        agent's spans to its own pipeline, never sent with this set-up's credentials.
        """
        return {"options": self.options}

    def install_without_otel(self, sampler: Sampler) -> None:
        """Put our processors and export in place when OTel's own configuration failed.

        OTel fails before setting a provider when an exporter it is asked for cannot be loaded:
        then a provider of ours (the environment's resource, `sampler`) becomes the global one.
        When it got as far as the provider, only an export it did not add yet is added to it.
        """
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider(sampler=sampler, resource=Resource.create())
            for processor in self.span_processors:
                provider.add_span_processor(processor)
            trace.set_tracer_provider(provider)
        if self.options is not None and not self.export_processors:
            exporter = TracengentSpanExporter(**self.exporter_arguments())
            provider.add_span_processor(self.export_processor(exporter))

    def install_beside_file(self) -> None:
        """Put our sampler, processors and export in place once OTel's declarative configuration
        (`OTEL_CONFIG_FILE`) built the SDK, which takes nothing from a configurator.

        On the provider the file made: the file's sampler is wrapped in a `TracengentSampler`
        (decision traces are never sampled out, as under our own configuration), our context and
        scrubbing processors are added (after the file's processors: stamps and scrubbing happen
        as a span starts, exporters read it as it ends), and the export is the file's own of our
        exporter (a `tracengent` span exporter, put inside an `ExportRouter`), else ours when
        the `TRACENGENT_*` settings are configured. When the file made no SDK provider (no
        `tracer_provider` section, or it failed), ours becomes the global one
        (`install_without_otel`). Nothing is added twice: the file's provider is left alone when
        Tracengent is attached to it already.
        """
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            self.install_without_otel(self.sampler)
            return
        if _state.attachment_of(provider) is not None:
            return
        if not isinstance(provider.sampler, TracengentSampler):
            # No tracer is made before the configurator returns: every one gets this sampler.
            provider.sampler = TracengentSampler(provider.sampler)
        for processor in self.span_processors:
            provider.add_span_processor(processor)
        router, options = _route_their_export(provider, self.context_processor)
        if router is not None:
            self.router = router
            self.export_processors.append(router)
            # What the file's exporter was built with (its `tracengent:` settings over
            # `TRACENGENT_*`) is the set-up's: the agent its events go as, the credentials
            # the gates ask with, the export a `TracengentClient` of that agent shares.
            self.options, self.problem = options, None
        elif self.options is not None:
            exporter = TracengentSpanExporter(**self.exporter_arguments())
            provider.add_span_processor(self.export_processor(exporter))

    def warn_if_not_configured(self) -> None:
        """One warning naming the problem when there are no options (the settings are missing
        or invalid): no telemetry is sent, and governed hosts are denied."""
        if self.options is not None or self.problem is None:
            return
        # The denial is only worth saying when there are governed hosts to deny.
        governed = (
            ", and requests to governed hosts are denied"
            if _env_list(env.TRACENGENT_GOVERNED_HOSTS)
            else ""
        )
        _LOGGER.warning(
            "tracengent: not configured (%s); the application runs without Tracengent telemetry%s",
            self.problem,
            governed,
        )

    def configured(self) -> None:
        """Record the set-up once the SDK is in place.

        The provider is adopted into the registry with our processors, so a `TracengentClient`
        created later in the process adds nothing twice (and shares our export when it is for
        the same agent). The egress gate is built from the recorded options lazily.

        With the SDK's self-observability metrics on, the tracer provider is shut down at exit
        before OTel's meter provider (`_shut_down_before_metrics`): what is still buffered then
        is delivered, and counted in the meter provider's last collection.
        """
        _state.set_zero_code(self.options, self.problem)
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            return
        if self.export_processors and internal_metrics_enabled():
            # Exit handlers run last registered first: this one, registered after the meter
            # provider OTel's configuration made, runs before that provider's shutdown.
            atexit.register(_shut_down_before_metrics, provider)
        exported = self.options is not None and len(self.export_processors) == 1
        options = self.options
        _state.adopt_provider(
            provider,
            self.context_processor,
            self.scrubber,
            router=self.router if exported else None,
            agent_id=options.agent_id if options is not None else None,
            export_settings=_state.export_settings(options) if options is not None else None,
        )


def _shut_down_before_metrics(provider: TracerProvider) -> None:
    """Shut `provider` down at exit ahead of its own exit handler (which it then removes): its
    processors' last export is counted by the self-observability metrics while the meter
    provider still collects. Never raises: the other exit handlers still run."""
    try:
        provider.shutdown()
    except Exception as exc:  # noqa: BLE001 - exiting; one warning says what was not sent
        _LOGGER.warning("tracengent: shutting the tracer provider down at exit failed: %s", exc)


def _batching_setting(name: str, default: int) -> int:
    """The positive integer `name` (an `OTEL_BSP_*` variable) holds, else `default` (unset or
    blank: silently; anything else: with a warning naming it)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        _LOGGER.warning(
            "tracengent: %s=%r is not a positive integer; Tracengent's export uses %s",
            name,
            raw,
            default,
        )
        return default
    return value


def capture_payloads_from_environment() -> bool:
    """`TRACENGENT_CAPTURE_PAYLOADS` as zero code reads it, the one reader of it outside the
    options: unset or blank, on (the options' default); not a boolean, off (an unreadable switch
    must not turn capture on by accident; the options refuse it, and their warning names it)."""
    try:
        return flag_from_environment(env.TRACENGENT_CAPTURE_PAYLOADS, default=True)
    except TracengentConfigError:
        return False


def _capture_payloads(options: TracengentOptions | None) -> bool:
    return options.capture_payloads if options is not None else capture_payloads_from_environment()


def scrubber_for(options: TracengentOptions | None) -> Scrubber:
    """The zero-code scrubber: `options`' scrub patterns and payload capture, or, without
    options (settings invalid or not read), `TRACENGENT_SCRUB_PATTERNS` and
    `TRACENGENT_CAPTURE_PAYLOADS` as set (an unreadable capture switch: off)."""
    patterns = (
        options.scrub_patterns if options is not None else _env_list(env.TRACENGENT_SCRUB_PATTERNS)
    )
    return Scrubber(capture_payloads=_capture_payloads(options), patterns=patterns)


def _scrubbing_of(options: TracengentOptions | None) -> tuple[Scrubber, ContextProcessor]:
    """The scrubber (`scrubber_for`) and the context processor of the zero-code set-up, the
    root request the context processor keeps scrubbed by that scrubber."""
    scrubber = scrubber_for(options)
    return scrubber, ContextProcessor(
        capture_payloads=scrubber.capture_payloads, scrub_text=scrubber.free_text
    )


def configure_from_environment(*, announce: bool = True) -> ZeroCodeSetup:
    """Read `TRACENGENT_*` (and `OTEL_SERVICE_NAME`); warn once and go on when they are bad
    (without `announce`, the caller warns with `ZeroCodeSetup.warn_if_not_configured` once it
    knows: a declarative file may configure the exporter instead)."""
    options: TracengentOptions | None
    problem: str | None = None
    try:
        options = _options_from_environment()
    except TracengentConfigError as exc:
        options, problem = None, str(exc)
    scrubber, context_processor = _scrubbing_of(options)
    setup = ZeroCodeSetup(
        options=options,
        problem=problem,
        sampler=TracengentSampler(_sampler_from_environment()),
        context_processor=context_processor,
        scrubber=scrubber,
        span_processors=[context_processor, ScrubbingProcessor(scrubber)],
    )
    if announce:
        setup.warn_if_not_configured()
    return setup


def _sampler_from_environment() -> Sampler:
    """The sampler OTel's SDK would use, which `TracengentSampler` wraps.

    `OTEL_TRACES_SAMPLER` names a built-in sampler or one registered under the
    `opentelemetry_traces_sampler` entry point group; unset or unusable, the SDK's default.
    """
    return _import_sampler(_get_sampler()) or _get_from_env_or_default()


def _options_from_environment() -> TracengentOptions:
    """`options_from_environment`, refusing an unreadable `TRACENGENT_DISABLED` as it refuses
    any other unreadable switch: a user who meant to turn Tracengent off gets no telemetry sent
    and a warning naming the value, not Tracengent fully on (and governance still fails closed).

    Raises:
        TracengentConfigError: a setting is missing or invalid.
    """
    flag_from_environment(env.TRACENGENT_DISABLED, default=False)
    return options_from_environment()


def tracengent_disabled() -> bool:
    """`TRACENGENT_DISABLED` is true: nothing of Tracengent's runs (an unreadable value: false,
    and the settings count as invalid: see `_options_from_environment`; blank: unset)."""
    try:
        return flag_from_environment(env.TRACENGENT_DISABLED, default=False)
    except TracengentConfigError:
        return False


def _env_list(name: str) -> list[str]:
    return parse_csv(os.environ.get(name, ""))


def governance_state() -> _state.ZeroCodeState | None:
    """The zero-code set-up the gates are built from; None only when `TRACENGENT_DISABLED`.

    Tracengent's configurator records it. When another configurator ran instead (or none), the
    first gate that asks reads it from the environment and logs one warning: governance the
    environment asks for is never silently off. Invalid settings give `(None, problem)`, and
    the gates deny.
    """
    recorded = _state.zero_code()
    if recorded is not None:
        return recorded
    if tracengent_disabled():
        return None
    return _state.zero_code_or(_read_without_configurator)


def _read_without_configurator() -> _state.ZeroCodeState:
    try:
        options = _options_from_environment()
    except TracengentConfigError as exc:
        _LOGGER.warning(
            "tracengent: %s; governance is not configured (%s): governed calls are denied",
            _NO_CONFIGURATOR,
            exc,
        )
        return None, str(exc)
    _LOGGER.warning(
        "tracengent: %s; governance and the decision-trace processors use the TRACENGENT_* "
        "settings, but Tracengent's sampler is not installed, nor its export unless "
        "OTEL_TRACES_EXPORTER names tracengent (set OTEL_PYTHON_CONFIGURATOR=tracengent)",
        _NO_CONFIGURATOR,
    )
    return options, None


def _asked_for() -> bool:
    """Some `TRACENGENT_*` setting, or `tracengent` in `OTEL_TRACES_EXPORTER`, is set (blank
    is unset, as every reader of them reads it: a chart's empty defaults ask for nothing)."""
    if _TRACES_EXPORTER_NAME in _env_list(env.OTEL_TRACES_EXPORTER):
        return True
    ignored = (env.TRACENGENT_DISABLED, env.TRACENGENT_DEV_DB)
    return any(
        name.startswith("TRACENGENT_") and name not in ignored and value.strip()
        for name, value in os.environ.items()
    )


def complete_without_configurator() -> None:
    """When the SDK was set up without Tracengent's configurator (another package's configurator
    won the entry-point race, as `opentelemetry-distro`'s may), add our decision-trace context
    and scrubbing processors to the global provider, once, as a `TracengentClient` would.

    Without them, an exporter that configurator built from `OTEL_TRACES_EXPORTER=tracengent`
    sends every event as standalone (none joins its decision trace), and the user's own
    exporters get unscrubbed payloads. That export is put inside an `ExportRouter` as zero
    code's pipeline (`_route_their_export`): a `TracengentClient` made later shares it or adds
    its own beside it, and nothing is sent twice. When Tracengent is disabled, that export is
    taken off the provider instead (`_drop_their_export`). Runs once OTel's configuration is
    done (our distro and our gate call it); does nothing else when our configurator ran, when
    Tracengent is disabled or not asked for, or when the provider is not an SDK one. Logs one
    warning (`governance_state`).
    """
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider) and _state.attachment_of(provider) is not None:
        return  # our configurator (or a client) attached to it already
    if _state.zero_code() is not None:
        return
    if tracengent_disabled():
        if isinstance(provider, TracerProvider):
            _drop_their_export(provider)
        return
    if not _asked_for():
        return
    state = governance_state()
    if not isinstance(provider, TracerProvider):
        return
    options = state[0] if state is not None else None
    scrubber, context_processor = _scrubbing_of(options)
    # Added after the exporters that configurator put on the provider: the stamps and the
    # scrubbing happen in `on_start`, and exporters read a span only when it ends.
    provider.add_span_processor(context_processor)
    provider.add_span_processor(ScrubbingProcessor(scrubber))
    router, export_options = _route_their_export(provider, context_processor)
    if router is None or export_options is None:
        _state.adopt_provider(provider, context_processor, scrubber)
        return
    _state.adopt_provider(
        provider,
        context_processor,
        scrubber,
        router=router,
        agent_id=export_options.agent_id,
        export_settings=_state.export_settings(export_options),
    )


def _their_export(
    provider: TracerProvider,
) -> tuple[SynchronousMultiSpanProcessor | ConcurrentMultiSpanProcessor, SpanProcessor] | None:
    """The provider's processors and the one export of our exporter on it that another
    configurator made (`OTEL_TRACES_EXPORTER=tracengent`); None when there is not exactly one."""
    active = getattr(provider, "_active_span_processor", None)
    if not isinstance(active, (SynchronousMultiSpanProcessor, ConcurrentMultiSpanProcessor)):
        return None
    processors = getattr(active, "_span_processors", None)
    if not isinstance(processors, tuple):
        return None
    ours = [p for p in processors if isinstance(exporter_of(p), TracengentSpanExporter)]
    return (active, ours[0]) if len(ours) == 1 else None


def _replace_processor(
    active: SynchronousMultiSpanProcessor | ConcurrentMultiSpanProcessor,
    old: SpanProcessor,
    new: SpanProcessor | None,
) -> bool:
    """Put `new` (None: nothing) in `old`'s place among the provider's processors; False when
    `old` is no longer there. (The SDK has no API to take a processor off a provider.)"""
    with active._lock:
        current = active._span_processors
        if old not in current:
            return False
        replaced = (new if processor is old else processor for processor in current)
        active._span_processors = tuple(p for p in replaced if p is not None)
    return True


def _drop_their_export(provider: TracerProvider) -> None:
    """`TRACENGENT_DISABLED`: take the export of our exporter another configurator made off the
    provider and shut it down, so nothing is posted, a trace close included. Never raises."""
    try:
        found = _their_export(provider)
        if found is not None and _replace_processor(found[0], found[1], None):
            found[1].shutdown()
    except Exception as exc:  # noqa: BLE001 - the application runs on
        _LOGGER.warning("tracengent: the Tracengent export could not be turned off: %s", exc)


def _route_their_export(
    provider: TracerProvider, context_processor: ContextProcessor
) -> tuple[ExportRouter | None, TracengentOptions | None]:
    """Put the export of our exporter that configurator made (`OTEL_TRACES_EXPORTER=tracengent`)
    inside an `ExportRouter`, in its place on the provider, as zero code's pipeline.

    Left as it is, it gets every span of the provider: a `TracengentClient` made later would
    send its events a second time through it (its agent's) or under the environment's
    credentials (another agent's). In the router, clients share it or add their own pipelines
    beside it, as with our configurator. Under OTel's `SimpleSpanProcessor`, which would post
    each event on the agent's thread, the exporter goes under a `TracengentSpanProcessor`
    instead. `(None, None)` when there is not exactly one such configured export or the
    provider's processors cannot be reached (nothing is changed).
    """
    found = _their_export(provider)
    if found is None:
        return None, None
    active, export = found
    exporter = exporter_of(export)
    options = exporter.options if exporter is not None else None
    if exporter is None or options is None:
        return None, None
    routed = export
    if type(export) is SimpleSpanProcessor:
        # OTel's simple processor (a declarative file's `simple:`) exports each span as it ends,
        # on the agent's thread: the agent would wait for the platform on every event, through
        # the retries and backoff when the platform is slow or down. Tracengent's batching
        # processor exports it instead (the simple one holds nothing to release).
        routed = TracengentSpanProcessor(exporter)
        _LOGGER.info(
            "tracengent: the tracengent exporter runs under Tracengent's batching processor, not "
            "OpenTelemetry's simple one: the agent never waits for the platform"
        )
    router = ExportRouter(context_processor)
    router.set_routes({options.agent_id or "": routed}, routed)
    if not _replace_processor(active, export, router):
        return None, None
    return router, options


class _NotConfiguredGate:
    """Denies requests to governed hosts while Tracengent is not configured (fail closed)."""

    def __init__(self, hosts: list[str], problem: str) -> None:
        self._hosts = hosts
        self._problem = problem

    def is_governed(self, request: httpx.Request) -> bool:
        # As the gate it stands for decides: the host named to the server (a `Host` header, a
        # TLS server name) and the port count too, or such a request would leave unchecked.
        return request_is_governed(request, self._hosts)

    def check(self, request: httpx.Request) -> httpx.Request:
        # Not an outage the user chose to ride out with fail-open: a misconfiguration stays closed.
        raise ToolDeniedException(
            f"Tracengent is not configured: {self._problem}", None, "not_configured"
        )

    async def check_async(self, request: httpx.Request) -> httpx.Request:
        return self.check(request)


def gate_platform_clients(
    options: TracengentOptions,
    platform: PlatformClient | None = None,
    async_platform: AsyncPlatformClient | None = None,
) -> tuple[PlatformClient, AsyncPlatformClient]:
    """The platform clients of a gate built outside a client (zero code): `platform` and
    `async_platform` when given (their owner resets them after a fork), else new ones that reset
    themselves in a forked child (multiprocessing's workers): on the parent's kept-alive sockets
    each process could read the other's decisions.

    Raises:
        Exception: what building a client raises (httpx refuses a proxy setting it cannot read).
    """
    if platform is None:
        platform = fork_safe(PlatformClient(options))
    if async_platform is None:
        async_platform = fork_safe(AsyncPlatformClient(options))
    return platform, async_platform


def current_egress_gate() -> EgressGate | None:
    """The zero-code egress gate: None when no host is governed (nothing is patched then).

    Settings that are invalid, or a gate that cannot be built, give a gate that denies every
    request to a governed host (fail closed).
    """
    state = _state.zero_code()
    if state is None and _env_list(env.TRACENGENT_GOVERNED_HOSTS):
        state = governance_state()
    if state is None:
        return None
    options, problem = state
    if options is None:
        hosts = _env_list(env.TRACENGENT_GOVERNED_HOSTS)
        if not hosts:
            return None
        return _NotConfiguredGate(hosts, problem or "invalid settings")
    if not options.governed_hosts:
        return None
    try:
        platform, async_platform = gate_platform_clients(options)
        return EgressGovernor(
            options,
            platform=platform,
            async_platform=async_platform,
            tracer=trace.get_tracer(_INSTRUMENTATION_SCOPE),
        )
    except Exception as exc:  # noqa: BLE001 - no gate at all would let governed requests out
        # Building the platform clients fails on settings httpx refuses (a proxy URL it cannot
        # read): the hosts stay governed, and denied, instead of going out ungated.
        _LOGGER.warning(
            "tracengent: the egress gate could not be set up (%s); requests to governed hosts "
            "are denied",
            exc,
        )
        return _NotConfiguredGate(
            options.governed_hosts, f"the egress gate could not be set up: {exc}"
        )
