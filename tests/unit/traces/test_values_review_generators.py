"""A tracked generator's input is built and scrubbed when its span opens (first iteration), not
when the generator function is called: a stricter client attached in between holds for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tests.unit.traces.conftest import FakePlatform, platform_options
from tracengent import TracengentClient

_CARD = "4111-1111-1111-1111"


def _clients(
    provider: TracerProvider,
) -> tuple[TracengentClient, FakePlatform, InMemorySpanExporter]:
    """A lenient client on the shared provider, its platform and the application's exporter."""
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    platform = FakePlatform([])
    lenient = TracengentClient(
        platform_options(agent_id="agent-a"), transport=httpx.MockTransport(platform)
    )
    return lenient, platform, memory


def _strict(**options: object) -> TracengentClient:
    return TracengentClient(
        platform_options(agent_id="agent-b", **options),
        transport=httpx.MockTransport(FakePlatform([])),
    )


def _inputs(platform: FakePlatform, memory: InMemorySpanExporter) -> tuple[object, object]:
    (event,) = platform.events()
    (span,) = [s for s in memory.get_finished_spans() if s.name == "stream"]
    return event.get("input"), (span.attributes or {}).get(A.INPUT)


def test_capture_off_attached_before_iteration_holds_for_a_generator(
    sdk_global_provider: TracerProvider,
) -> None:
    """A generator made, then a client with `capture_payloads=False` attached, then iterated:
    its input (a card number) is not recorded."""
    lenient, platform, memory = _clients(sdk_global_provider)

    @lenient.tool()
    def stream(card: str) -> Iterator[int]:
        yield 1

    made = stream(_CARD)
    strict = _strict(capture_payloads=False)
    assert list(made) == [1]
    assert lenient.close(timeout=10)
    strict.close(timeout=10)
    assert _inputs(platform, memory) == (None, None)


def test_a_pattern_attached_before_iteration_masks_a_generators_input(
    sdk_global_provider: TracerProvider,
) -> None:
    """A client with an extra pattern attached between the call and the first iteration masks
    the generator's input field."""
    lenient, platform, memory = _clients(sdk_global_provider)

    @lenient.tool()
    def stream(card: str) -> Iterator[int]:
        yield 1

    made = stream(_CARD)
    strict = _strict(scrub_patterns=["*card*"])
    assert list(made) == [1]
    assert lenient.close(timeout=10)
    strict.close(timeout=10)
    sent, recorded = _inputs(platform, memory)
    assert sent == {"card": MASK_TOKEN}
    assert recorded == f'{{"card":"{MASK_TOKEN}"}}'


def test_capture_off_attached_before_iteration_holds_for_an_async_generator(
    sdk_global_provider: TracerProvider,
) -> None:
    """The async-generator twin: its input is not recorded either."""
    lenient, platform, memory = _clients(sdk_global_provider)

    @lenient.tool()
    async def stream(card: str) -> AsyncIterator[int]:
        yield 1

    made = stream(_CARD)
    strict = _strict(capture_payloads=False)

    async def drain() -> list[int]:
        return [item async for item in made]

    assert asyncio.run(drain()) == [1]
    assert lenient.close(timeout=10)
    strict.close(timeout=10)
    assert _inputs(platform, memory) == (None, None)
