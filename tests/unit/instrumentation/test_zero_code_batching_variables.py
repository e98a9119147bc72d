"""Zero code sizes Tracengent's batching processor by OTel's `OTEL_BSP_*` variables, as OTel would
size the `BatchSpanProcessor` it would otherwise put our exporter under."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from opentelemetry.exporter.tracengent import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from tracengent._processors.routing import ExportRouter
from tracengent._zero_code import configure_from_environment

_VARIABLES = (
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
)


@pytest.fixture(autouse=True)
def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the batching variables, unless a test sets one."""
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def built() -> Iterator[list[TracengentSpanProcessor]]:
    """The processors a test built, shut down after it."""
    processors: list[TracengentSpanProcessor] = []
    yield processors
    for processor in processors:
        processor.shutdown(timeout_millis=1000)


def _processor(built: list[TracengentSpanProcessor]) -> TracengentSpanProcessor:
    """The zero-code export of an exporter with options of their own batching settings."""
    options = TracengentOptions(
        agent_id="billing-agent",
        ingest_key="agk_test",
        queue_capacity=300,
        max_batch_size=30,
        flush_interval_ms=3000,
    )
    router = configure_from_environment().export_processor(TracengentSpanExporter(options))
    assert isinstance(router, ExportRouter)
    processor = router.default
    assert isinstance(processor, TracengentSpanProcessor)
    built.append(processor)
    return processor


def test_without_the_variables_the_options_size_it(built: list[TracengentSpanProcessor]) -> None:
    """Unset (or blank): the options' queue capacity, batch size and flush interval."""
    processor = _processor(built)
    assert (processor.max_queue_size, processor.max_batch_size, processor.schedule_delay_ms) == (
        300,
        30,
        3000,
    )


def test_the_variables_size_it_as_they_size_otels_processor(
    built: list[TracengentSpanProcessor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each variable set wins over its option."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", " 50000 ")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "250")
    processor = _processor(built)
    assert (processor.max_queue_size, processor.max_batch_size, processor.schedule_delay_ms) == (
        50_000,
        512,
        250,
    )


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5"])
def test_a_value_that_is_no_positive_integer_is_named_and_ignored(
    built: list[TracengentSpanProcessor],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    value: str,
) -> None:
    """The option holds, and one warning names the variable and its value."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", value)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "   ")
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        processor = _processor(built)
    assert processor.max_queue_size == 300
    assert processor.schedule_delay_ms == 3000
    (message,) = [r.getMessage() for r in caplog.records if "OTEL_BSP" in r.getMessage()]
    assert f"OTEL_BSP_MAX_QUEUE_SIZE={value!r}" in message
