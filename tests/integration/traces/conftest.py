"""Fixtures of the decision-trace integration tests: the global provider under the test's control."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider

from tracengent import _state


@pytest.fixture
def no_global_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No global SDK provider (OTel's proxy): clients make their own."""
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    yield
    _state.reset_for_tests()


@pytest.fixture
def app_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """The application's own SDK provider, installed as the global one for this test."""
    provider = TracerProvider()
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    yield provider
    provider.shutdown()
    _state.reset_for_tests()
