"""Fixtures of the public-API unit tests: the decision-trace harness (a private SDK provider with
our processors, spans kept in memory)."""

from __future__ import annotations

from tests.unit.traces.conftest import harness

__all__ = ["harness"]
