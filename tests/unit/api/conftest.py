"""Fixtures of the public-API unit tests: the decision-trace harness (a private SDK provider with
our processors, spans kept in memory)."""

from __future__ import annotations

from tests.unit.traces.conftest import client_harness, harness, no_global_provider

__all__ = ["client_harness", "harness", "no_global_provider"]
