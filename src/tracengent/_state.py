"""All process-wide state of the `tracengent` package, in one place.

- `CURRENT_TRACE`: the active decision trace (a `ContextVar`, so it flows across `await` and into
  threads started with `contextvars.copy_context()`).
- The registry of SDK `TracerProviders` we attached our processors to. A provider (the global
  one, typically) gets our context and scrubbing processors exactly once, however many clients
  are created; each distinct client configuration gets one export processor, shared by clients
  configured alike and shut down when the last of them closes. Providers are never replaced and
  processors never removed (the SDK has no such API); a shut-down export processor stays inert.

- The zero-code set-up (`tracengent._zero_code`): the options read from the environment (or the
  problem that kept them from being read), recorded once the SDK is configured, or by the first
  governance lookup when Tracengent's configurator did not run; and whether the configurator put
  the Tracengent export on the provider (a client for the same agent then shares it).

`reset_for_tests()` forgets all of it (structlog's `reset_defaults()` habit).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from tracengent._processors.context import ContextProcessor

if TYPE_CHECKING:
    from opentelemetry.exporter.tracengent.options import TracengentOptions
    from tracengent._trace import AgentTrace

__all__ = [
    "CURRENT_TRACE",
    "ProviderAttachment",
    "ZeroCodeState",
    "adopt_provider",
    "attach_to_provider",
    "attachment_of",
    "export_key",
    "release_from_provider",
    "reset_for_tests",
    "scrubbing_key",
    "set_zero_code",
    "zero_code",
    "zero_code_or",
]

_LOGGER = logging.getLogger("tracengent.state")

CURRENT_TRACE: ContextVar[AgentTrace | None] = ContextVar("tracengent_current_trace", default=None)
"""The decision trace whose `with` block (or tracked callable) is running, if any."""


@dataclass
class _SharedExport:
    processor: SpanProcessor
    users: int = 0


@dataclass
class ProviderAttachment:
    """What we added to one provider: the shared processors and the export processors by key."""

    context_processor: ContextProcessor
    exports: dict[Hashable, _SharedExport] = field(default_factory=dict)
    # The scrubbing settings a scrubbing processor on this provider applies already.
    scrubbing: set[Hashable] = field(default_factory=set)


_lock = threading.Lock()
_attachments: weakref.WeakKeyDictionary[TracerProvider, ProviderAttachment] = (
    weakref.WeakKeyDictionary()
)


ZeroCodeState: TypeAlias = tuple["TracengentOptions | None", "str | None"]
"""The zero-code set-up: `(options, None)`, or `(None, the problem that kept them from being read)`."""

_zero_code: ZeroCodeState | None = None
# The zero-code options whose export the configurator put on the provider, if it did.
_zero_code_export: TracengentOptions | None = None


def set_zero_code(
    options: TracengentOptions | None, problem: str | None, *, exported: bool = False
) -> None:
    """Record the zero-code set-up: its options, or why there are none.

    `exported`: the configurator added the Tracengent export of `options` to the provider;
    `export_key` then gives a client for the same agent and platform that export's key.
    """
    global _zero_code, _zero_code_export
    with _lock:
        _zero_code = (options, problem)
        _zero_code_export = options if exported else None


def zero_code() -> ZeroCodeState | None:
    """The zero-code set-up `(options, problem)`, or None when zero-code did not run."""
    return _zero_code


def zero_code_or(read: Callable[[], ZeroCodeState]) -> ZeroCodeState:
    """The recorded zero-code set-up; without one, `read()`'s, recorded for the next caller.

    `read` is called at most once per process (under the lock), however many callers race.
    """
    global _zero_code
    with _lock:
        if _zero_code is None:
            _zero_code = read()
        return _zero_code


def scrubbing_key(capture_payloads: bool, patterns: Sequence[str]) -> Hashable:
    """What tells two scrubbing processors apart: a provider needs one per distinct key."""
    return (capture_payloads, tuple(patterns))


def adopt_provider(
    provider: TracerProvider,
    context_processor: ContextProcessor,
    *,
    scrubbing: Hashable,
    exports: Mapping[Hashable, SpanProcessor] | None = None,
) -> None:
    """Record that `provider` already has our context processor, a scrubbing processor with the
    settings `scrubbing` (a `scrubbing_key`), and `exports`.

    Zero-code configuration adds them itself; clients created later then add only the
    processors they need that are not there yet, instead of a second set. An adopted export
    keeps one user for the set-up that made it, so closing a client never shuts it down.
    """
    with _lock:
        attachment = _attachments.get(provider)
        if attachment is None:
            attachment = ProviderAttachment(context_processor=context_processor)
            _attachments[provider] = attachment
        attachment.scrubbing.add(scrubbing)
        for key, processor in (exports or {}).items():
            if key not in attachment.exports:
                attachment.exports[key] = _SharedExport(processor, users=1)


def export_key(
    options: TracengentOptions,
    transport: object | None = None,
    http: object | None = None,
) -> Hashable:
    """Clients configured alike (same platform, credentials, agent, transport) share exports.

    A client for the agent the zero-code set-up exports, on the same platform and with the
    default transport, gets the zero-code export's key: it shares that export (its events are
    sent once, with the zero-code environment and tags) instead of sending them a second time.
    """
    exported = _zero_code_export
    if (
        exported is not None
        and transport is None
        and http is None
        and (options.base_url, options.agent_id) == (exported.base_url, exported.agent_id)
    ):
        options = exported
    return (
        options.base_url,
        options.agent_id,
        options.client_id,
        options.client_secret,
        options.ingest_key,
        options.environment,
        tuple(options.default_tags),
        id(transport) if transport is not None else None,
        id(http) if http is not None else None,
    )


def attach_to_provider(
    provider: TracerProvider,
    *,
    scrubbing_key: Hashable,
    scrubbing_processor: Callable[[], SpanProcessor],
    export_key: Hashable,
    export_processor: Callable[[], SpanProcessor],
    capture_payloads: bool = True,
) -> SpanProcessor:
    """Add our processors to `provider` once; return the export processor for `export_key`.

    The context processor is added on the provider's first attachment. `scrubbing_processor`
    is called when no scrubbing processor with the settings `scrubbing_key` is on the provider
    yet: each client's scrubbing applies to every span of a shared provider, so the strictest
    of them holds (one client's `capture_payloads=False` or extra patterns are never lost
    because another client attached first); `capture_payloads=False` also stops the shared
    context processor taking a root request from GenAI messages. `export_processor` is called
    only when no live export processor exists for `export_key`. Blocks briefly on a lock
    (configuration time only, never on a span's path).
    """
    with _lock:
        attachment = _attachments.get(provider)
        if attachment is None:
            attachment = ProviderAttachment(context_processor=ContextProcessor())
            # The context processor first, so the processors after it see the stamped trace ids.
            provider.add_span_processor(attachment.context_processor)
            _attachments[provider] = attachment
        if not capture_payloads:
            # The strictest client holds: no payload-derived root request on this provider.
            attachment.context_processor.capture_payloads = False
        if scrubbing_key not in attachment.scrubbing:
            # Scrubbing happens in `on_start`; every exporter reads a span when it ends, so a
            # scrubbing processor added after the export processors still runs before them.
            provider.add_span_processor(scrubbing_processor())
            attachment.scrubbing.add(scrubbing_key)
        shared = attachment.exports.get(export_key)
        if shared is None:
            shared = _SharedExport(export_processor())
            provider.add_span_processor(shared.processor)
            attachment.exports[export_key] = shared
        shared.users += 1
        return shared.processor


def release_from_provider(provider: TracerProvider, export_key: Hashable) -> SpanProcessor | None:
    """Drop one user of the export processor for `export_key`.

    Returns the processor when this was its last user (the caller flushes and shuts it down),
    else None. Never raises.
    """
    with _lock:
        attachment = _attachments.get(provider)
        if attachment is None:
            return None
        shared = attachment.exports.get(export_key)
        if shared is None:
            return None
        shared.users -= 1
        if shared.users > 0:
            return None
        del attachment.exports[export_key]
        return shared.processor


def attachment_of(provider: TracerProvider) -> ProviderAttachment | None:
    """What we attached to `provider`, if anything (for tests and diagnostics)."""
    with _lock:
        return _attachments.get(provider)


def reset_for_tests() -> None:
    """Forget every attachment and shut down the export processors we created.

    Tests call it between cases; the processors stay on their providers, inert.
    """
    global _zero_code, _zero_code_export
    with _lock:
        attachments = list(_attachments.values())
        _attachments.clear()
        _zero_code = None
        _zero_code_export = None
    for attachment in attachments:
        for shared in attachment.exports.values():
            try:
                shared.processor.shutdown()
            except Exception as exc:  # noqa: BLE001 - a reset must finish
                _LOGGER.warning("shutting down a processor during reset failed: %s", exc)
