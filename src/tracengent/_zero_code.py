"""The zero-code set-up read from the environment: options, sampler, processors, egress gate.

`tracengent.distro` (the OTel entry points) calls into this module; the state it builds lives in
`tracengent._state` like all process-wide state.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Final

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler, _get_from_env_or_default

from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.errors import ToolDeniedException, TracengentConfigError
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import (
    TracengentOptions,
    options_from_environment,
    parse_bool,
    parse_csv,
)
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from opentelemetry.instrumentation.tracengent_httpx import EgressGate
from tracengent import _state
from tracengent._governance.egress import EgressGovernor, is_governed_host
from tracengent._processors import ContextProcessor
from tracengent._sampler import TracengentSampler
from tracengent._scrubbing import Scrubber, ScrubbingProcessor

__all__ = [
    "EGRESS_ENTRY_POINT",
    "OUR_INSTRUMENTORS",
    "ZeroCodeSetup",
    "configure_from_environment",
    "current_egress_gate",
]

_LOGGER = logging.getLogger("tracengent.distro")

EGRESS_ENTRY_POINT: Final = "tracengent_httpx"
"""Name of our egress instrumentation's `opentelemetry_instrumentor` entry point."""
OUR_INSTRUMENTORS: Final = frozenset({EGRESS_ENTRY_POINT, "tracengent_mcp"})
"""Our `opentelemetry_instrumentor` entry points (not loaded when `TRACENGENT_DISABLED`)."""

_INSTRUMENTATION_SCOPE: Final = "tracengent"


@dataclass
class ZeroCodeSetup:
    """What the configurator adds to the SDK it builds."""

    options: TracengentOptions | None
    problem: str | None
    sampler: Sampler
    context_processor: ContextProcessor
    span_processors: list[SpanProcessor] = field(default_factory=list)
    export_processors: list[SpanProcessor] = field(default_factory=list)

    def export_processor(self, exporter: SpanExporter) -> SpanProcessor:
        """Our exporter under its counted, batching processor; every other one under OTel's."""
        if isinstance(exporter, TracengentSpanExporter) and exporter.options is not None:
            options = exporter.options
            processor: SpanProcessor = TracengentSpanProcessor(
                exporter,
                max_queue_size=options.queue_capacity,
                max_batch_size=options.max_batch_size,
                schedule_delay_ms=options.flush_interval_ms,
            )
            self.export_processors.append(processor)
            return processor
        return BatchSpanProcessor(exporter)

    def configured(self) -> None:
        """Record the set-up once the SDK is in place.

        The provider is adopted into the registry with our processors, so a `TracengentClient`
        created later in the process adds nothing twice (and shares our export when its options
        match the environment's). The egress gate is built from the recorded options lazily.
        """
        _state.set_zero_code(self.options, self.problem)
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            exports = {}
            if self.options is not None and len(self.export_processors) == 1:
                exports[_state.export_key(self.options)] = self.export_processors[0]
            _state.adopt_provider(provider, self.context_processor, exports=exports)


def _capture_payloads(options: TracengentOptions | None) -> bool:
    if options is not None:
        return options.capture_payloads
    raw = os.environ.get(env.TRACENGENT_CAPTURE_PAYLOADS)
    try:
        return True if raw is None else parse_bool(env.TRACENGENT_CAPTURE_PAYLOADS, raw)
    except TracengentConfigError:
        # An unreadable switch must not turn capture on by accident.
        return False


def configure_from_environment() -> ZeroCodeSetup:
    """Read `TRACENGENT_*` (and `OTEL_SERVICE_NAME`); warn once and go on when they are bad."""
    options: TracengentOptions | None
    problem: str | None = None
    try:
        options = options_from_environment()
    except TracengentConfigError as exc:
        options, problem = None, str(exc)
        _LOGGER.warning(
            "tracengent: not configured (%s); the application runs without Tracengent telemetry, "
            "and requests to governed hosts are denied",
            problem,
        )
    patterns = (
        options.scrub_patterns if options is not None else _env_list(env.TRACENGENT_SCRUB_PATTERNS)
    )
    scrubber = Scrubber(capture_payloads=_capture_payloads(options), patterns=patterns)
    context_processor = ContextProcessor()
    return ZeroCodeSetup(
        options=options,
        problem=problem,
        sampler=TracengentSampler(_get_from_env_or_default()),
        context_processor=context_processor,
        span_processors=[context_processor, ScrubbingProcessor(scrubber)],
    )


def _env_list(name: str) -> list[str]:
    return parse_csv(os.environ.get(name, ""))


class _NotConfiguredGate:
    """Denies requests to governed hosts while Tracengent is not configured (fail closed)."""

    def __init__(self, hosts: list[str], problem: str) -> None:
        self._hosts = hosts
        self._problem = problem

    def is_governed(self, request: httpx.Request) -> bool:
        return is_governed_host(request.url.host, self._hosts)

    def check(self, request: httpx.Request) -> httpx.Request:
        # Not an outage the user chose to ride out with fail-open: a misconfiguration stays closed.
        raise ToolDeniedException(
            f"Tracengent is not configured: {self._problem}", None, "not_configured"
        )

    async def check_async(self, request: httpx.Request) -> httpx.Request:
        return self.check(request)


def current_egress_gate() -> EgressGate | None:
    """The zero-code egress gate: None when no host is governed (nothing is patched then)."""
    state = _state.zero_code()
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
    return EgressGovernor(
        options,
        platform=PlatformClient(options),
        async_platform=AsyncPlatformClient(options),
        tracer=trace.get_tracer(_INSTRUMENTATION_SCOPE),
    )
