"""Zero code: what `opentelemetry-instrument` loads from Tracengent.

The entry points `opentelemetry-instrument` loads from us live here:

- `TracengentDistro` (`opentelemetry_distro`) only sets defaults, never a value set: the OTLP
  protocol of the exporter we ship (`http/protobuf`, also over a blank value), and no GenAI
  message capture when `TRACENGENT_CAPTURE_PAYLOADS` is false or not a boolean (blank is unset:
  capture stays on, scrubbed).
- `TracengentConfigurator` (`opentelemetry_configurator`) builds the SDK exactly as OTel's own
  configurator does (exporters from `OTEL_TRACES_EXPORTER`, resource, id generator, processors),
  and adds Tracengent to it: the sampler that never drops decision traces, the decision-trace
  context and scrubbing processors, and the Tracengent exporter under its counted, batching
  processor. Configured `TRACENGENT_*` credentials add the `tracengent` exporter even when
  `OTEL_TRACES_EXPORTER` does not name it. Under OTel's declarative configuration
  (`OTEL_CONFIG_FILE`) the file builds the SDK alone, and Tracengent is put on the provider it
  made (`ZeroCodeSetup.install_beside_file`).
- `egress_gate` (`tracengent_egress_gate`) hands the httpx egress instrumentor its gate.
- `complete_configuration` (`opentelemetry_pre_instrument`) completes the SDK another
  configurator built, once OTel's configuration is done, also when
  `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=*` loads no instrumentation (so no `load_instrumentor`
  and no gate is asked) and whichever distro was loaded.

`TracengentSampler` is here too, for an application that builds its own provider: wrapped
around its sampler (`TracerProvider(sampler=TracengentSampler(ParentBased(TraceIdRatioBased(0.1))))`),
decision-trace spans its own tracers and instrumentations start are never sampled out. (Spans a
`TracengentClient` records are kept whatever the provider's sampler.)

Bad or missing settings print one warning and leave the application running: telemetry is off,
and a governed host (`TRACENGENT_GOVERNED_HOSTS`) is denied unless fail-open was chosen. When
OTel's own configuration fails (an exporter it cannot load), one warning says so and Tracengent is
set up all the same, so the instrumentations and their gates still load. When another package's
configurator ran instead of ours, `complete_configuration` (and our gate, when the httpx
instrumentation is instrumented in code) adds the decision-trace context and scrubbing processors
to the provider it built, with one warning.
`OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` (`*` included) disables instrumentations only, never
Tracengent's pipeline; our gates are instrumentations (`tracengent_httpx`, `tracengent_mcp`), so
it disables them too, with one warning each when governance was asked for.
`OTEL_SDK_DISABLED=true` turns telemetry off; `TRACENGENT_DISABLED=true` turns everything off
(the `tracengent` exporter named in `OTEL_TRACES_EXPORTER` included, also when another
configurator built it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.util._importlib_metadata import EntryPoint

from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import parse_csv
from opentelemetry.instrumentation.tracengent_httpx import EgressGate
from tracengent import _zero_code
from tracengent._sampler import TracengentSampler

__all__ = [
    "TracengentConfigurator",
    "TracengentDistro",
    "TracengentSampler",
    "complete_configuration",
    "egress_gate",
]

_LOGGER = logging.getLogger("tracengent.distro")

_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
_GENAI_CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_EXPORTER_NAME = "tracengent"
_DISABLED_INSTRUMENTATIONS = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
_CONFIG_FILE = "OTEL_CONFIG_FILE"  # OTel's declarative configuration
_ALL_INSTRUMENTATIONS = "*"  # opentelemetry-instrument's wildcard: no instrumentation at all


class TracengentDistro(BaseDistro):  # type: ignore[misc]
    """Sets Tracengent's defaults for `opentelemetry-instrument`; never overrides what is set."""

    def _configure(self, **kwargs: Any) -> None:
        # The OTLP exporter we depend on speaks HTTP; `otlp` alone would otherwise mean gRPC.
        # Blank is unset (OTel's environment-variable spec), yet OTel reads it as no protocol.
        if not os.environ.get(_OTLP_PROTOCOL, "").strip():
            os.environ[_OTLP_PROTOCOL] = "http/protobuf"
        if not _zero_code.capture_payloads_from_environment():
            os.environ.setdefault(_GENAI_CAPTURE, "false")
        if env.TRACENGENT_GOVERN_MCP in os.environ and not _zero_code.tracengent_disabled():
            # Before the instrumentors load: an `mcp` too old for ours makes OTel skip it.
            from tracengent._mcp import warn_if_mcp_cannot_be_governed

            warn_if_mcp_cannot_be_governed()

    def load_instrumentor(self, entry_point: EntryPoint, **kwargs: Any) -> None:
        """Activate one instrumentation; ours gets the configured gate, or none when disabled.
        (Another configurator's SDK was completed before any instrumentation loads, by the
        `opentelemetry_pre_instrument` entry point, `complete_configuration`.)"""
        if _zero_code.tracengent_disabled() and entry_point.name in _zero_code.OUR_INSTRUMENTORS:
            return
        super().load_instrumentor(entry_point, **kwargs)


def complete_configuration() -> None:
    """The `opentelemetry_pre_instrument` entry point: complete the SDK another configurator
    built (`_zero_code.complete_without_configurator`) once OTel's configuration is done, and
    say when governance that was asked for is among the instrumentations disabled.

    `opentelemetry-instrument` runs it after the configurator and before the instrumentations,
    whichever distro it loaded and whatever `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` says: `*`
    loads no instrumentation, so neither our distro's `load_instrumentor` nor our egress gate
    (which complete it too) is ever asked. Disabling instrumentations leaves Tracengent's own
    pipeline (processors, export) as configured; the gates are instrumentations, and `*` turns
    them off with the rest. Never raises: OTel would stop initializing the application.
    """
    try:
        _zero_code.complete_without_configurator()
        _warn_about_disabled_gates()
    except Exception as exc:  # noqa: BLE001 - the application starts all the same
        _LOGGER.warning("tracengent: the zero-code set-up could not be completed: %s", exc)


def _warn_about_disabled_gates() -> None:
    """One warning per gate governance was asked for but `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`
    disables (by name or `*`): governance asked for is never silently off."""
    raw = os.environ.get(_DISABLED_INSTRUMENTATIONS, "")
    # Read as opentelemetry-instrument reads it: comma-separated, spaces stripped.
    disabled = {name.strip() for name in raw.split(",")}
    everything = _ALL_INSTRUMENTATIONS in disabled
    if not (everything or disabled & _zero_code.OUR_INSTRUMENTORS):
        return
    if _zero_code.tracengent_disabled():
        return
    if (everything or _zero_code.EGRESS_ENTRY_POINT in disabled) and parse_csv(
        os.environ.get(env.TRACENGENT_GOVERNED_HOSTS, "")
    ):
        _LOGGER.warning(
            "tracengent: %s=%r disables the egress gate (%s) with the instrumentations: "
            "requests to %s are not authorized",
            _DISABLED_INSTRUMENTATIONS,
            raw,
            _zero_code.EGRESS_ENTRY_POINT,
            env.TRACENGENT_GOVERNED_HOSTS,
        )
    if everything or _zero_code.MCP_ENTRY_POINT in disabled:
        from tracengent._mcp import mcp_governed_from_environment

        if mcp_governed_from_environment():
            _LOGGER.warning(
                "tracengent: %s=%r disables the MCP instrumentation (%s): MCP tool calls are "
                "not authorized although %s asks for it",
                _DISABLED_INSTRUMENTATIONS,
                raw,
                _zero_code.MCP_ENTRY_POINT,
                env.TRACENGENT_GOVERN_MCP,
            )


def _exporter_names_from_env() -> list[str]:
    raw = os.environ.get(env.OTEL_TRACES_EXPORTER, "")
    return [] if raw.strip().lower() == "none" else parse_csv(raw)


@contextmanager
def _without_our_exporter() -> Iterator[None]:
    """Hide `tracengent` from `OTEL_TRACES_EXPORTER` while OTel reads it.

    OTel's configurator reads the variable itself and has no way to leave a name out. The value
    is put back afterwards: child processes inherit what the user set.
    """
    names = _exporter_names_from_env()
    if _EXPORTER_NAME not in names:
        yield
        return
    original = os.environ[env.OTEL_TRACES_EXPORTER]
    remaining = [name for name in names if name != _EXPORTER_NAME]
    os.environ[env.OTEL_TRACES_EXPORTER] = ",".join(remaining) or "none"
    try:
        yield
    finally:
        os.environ[env.OTEL_TRACES_EXPORTER] = original


class TracengentConfigurator(_OTelSDKConfigurator):
    """OTel's SDK configuration plus Tracengent's sampler, processors and exporter."""

    def _configure(self, **kwargs: Any) -> None:
        if _zero_code.tracengent_disabled():
            _LOGGER.info("tracengent: TRACENGENT_DISABLED is set; configuring plain OpenTelemetry")
            # Named or not, our exporter stays out: it would build itself from TRACENGENT_*.
            if _declarative_config_file():
                # The file builds the SDK alone (a `tracengent` exporter it names is taken off
                # by `complete_configuration`): any argument would only be warned about.
                kwargs = {}
            with _without_our_exporter():
                super()._configure(**kwargs)  # type: ignore[no-untyped-call]  # OTel: untyped
            return
        if _declarative_config_file():
            # Not configured is only said once the file is applied: its `tracengent:` exporter
            # settings may configure what `TRACENGENT_*` does not.
            setup = _zero_code.configure_from_environment(announce=False)
            _configure_from_file(super()._configure, setup)
            return
        setup = _zero_code.configure_from_environment()
        if setup.options is not None:
            if _EXPORTER_NAME not in _exporter_names_from_env():
                kwargs["trace_exporter_names"] = [
                    *kwargs.get("trace_exporter_names", []),
                    _EXPORTER_NAME,
                ]
            args_map = dict(kwargs.get("exporter_args_map") or {})
            args_map[TracengentSpanExporter] = setup.exporter_arguments()
            kwargs["exporter_args_map"] = args_map
            kwargs["export_span_processor"] = setup.export_processor
        kwargs.setdefault("sampler", setup.sampler)
        processors: Sequence[SpanProcessor] = kwargs.get("span_processors") or ()
        kwargs["span_processors"] = [*processors, *setup.span_processors]
        # Not configured: one warning (from setup) is enough; keep the exporter out rather than
        # have it warn again and count every span as not configured.
        exporters = _without_our_exporter() if setup.options is None else nullcontext()
        try:
            with exporters:
                super()._configure(**kwargs)  # type: ignore[no-untyped-call]  # OTel: untyped
        except Exception as exc:  # the gates must load all the same (they fail closed)
            _LOGGER.warning(
                "tracengent: OpenTelemetry's SDK configuration failed (%s); only Tracengent's "
                "telemetry and governance are set up, not the other OpenTelemetry exporters",
                exc,
            )
            _LOGGER.debug("tracengent: OpenTelemetry's SDK configuration failed", exc_info=True)
            _install_without_otel(setup, kwargs["sampler"])
        setup.configured()


def _declarative_config_file() -> bool:
    """`OTEL_CONFIG_FILE` names a file: OTel's SDK is configured from it (declarative
    configuration), not from the other `OTEL_*` variables (blank is unset)."""
    return bool(os.environ.get(_CONFIG_FILE, "").strip())


def _configure_from_file(configure: Callable[[], None], setup: _zero_code.ZeroCodeSetup) -> None:
    """OTel's declarative configuration, then Tracengent beside what it built.

    The file builds the SDK and takes nothing from a configurator (it would ignore our sampler,
    processors and exporter, with a warning naming them), so `configure` is given nothing and
    Tracengent is put on the provider afterwards (`ZeroCodeSetup.install_beside_file`). When the
    file cannot be applied (unreadable, invalid, `opentelemetry-configuration` not installed),
    one warning says so and Tracengent is set up on a provider of its own all the same, so the
    instrumentations and their gates still load.
    """
    try:
        configure()
    except Exception as exc:  # the gates must load all the same (they fail closed)
        _LOGGER.warning(
            "tracengent: OpenTelemetry's declarative configuration (%s) failed (%s); only "
            "Tracengent's telemetry and governance are set up, not the file's",
            _CONFIG_FILE,
            exc,
        )
        _LOGGER.debug("tracengent: OpenTelemetry's declarative configuration failed", exc_info=True)
    else:
        if _file_disables_sdk():
            # `disabled: true`, the file's `OTEL_SDK_DISABLED`: no telemetry of ours either.
            _LOGGER.info("tracengent: %s disables the SDK; no telemetry is recorded", _CONFIG_FILE)
            setup.configured()
            return
    try:
        setup.install_beside_file()
    except Exception as exc:  # noqa: BLE001 - the application starts all the same
        _LOGGER.warning("tracengent: Tracengent telemetry could not be set up: %s", exc)
    setup.warn_if_not_configured()
    setup.configured()


def _file_disables_sdk() -> bool:
    """The declarative file applied says `disabled: true` (read again: the SDK keeps nothing of
    it); False when it cannot be read."""
    try:
        from opentelemetry.configuration import load_config_file

        return load_config_file(os.environ[_CONFIG_FILE]).disabled is True
    except Exception:  # noqa: BLE001 - it was applied already; this only asks one question
        return False


def _install_without_otel(setup: _zero_code.ZeroCodeSetup, sampler: Sampler) -> None:
    try:
        setup.install_without_otel(sampler)
    except Exception as exc:  # noqa: BLE001 - the gates are recorded (and load) all the same
        _LOGGER.warning("tracengent: Tracengent telemetry could not be set up: %s", exc)


def egress_gate() -> EgressGate | None:
    """The gate of the zero-code set-up (the `tracengent_egress_gate` entry point); None: no gating."""
    # Asked once OTel's configuration is done, also when another package's distro was loaded.
    _zero_code.complete_without_configurator()
    return _zero_code.current_egress_gate()
