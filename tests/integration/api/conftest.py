"""Fixtures of the public-API integration tests: each client on a provider of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace

from tracengent import _state


@pytest.fixture(autouse=True)
def no_global_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No global SDK provider (OTel's proxy): each `TracengentClient` makes its own.

    Two agents in one test stand for two processes, so they must not share one provider.
    """
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    yield
    _state.reset_for_tests()
