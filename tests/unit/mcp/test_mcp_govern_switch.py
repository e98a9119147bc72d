"""`TRACENGENT_GOVERN_MCP` read from the environment: blank is unset (not governed, no warning);
a value that is not a boolean governs (fail closed) and is warned about once per process, not
once per reader (the distro's version check and the zero-code hooks both read it)."""

from __future__ import annotations

import logging

import pytest

from opentelemetry.exporter.tracengent import environment_variables as env
from tracengent import _mcp


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_switch_is_unset(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, blank: str
) -> None:
    monkeypatch.setenv(env.TRACENGENT_GOVERN_MCP, blank)
    with caplog.at_level(logging.WARNING, logger="tracengent.mcp"):
        assert _mcp.mcp_governed_from_environment() is False
    assert _warnings(caplog) == []


def test_unreadable_switch_governs_and_is_warned_about_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_mcp, "_UNREADABLE_SWITCHES_WARNED", set())
    monkeypatch.setenv(env.TRACENGENT_GOVERN_MCP, "sometimes")
    with caplog.at_level(logging.WARNING, logger="tracengent.mcp"):
        assert _mcp.mcp_governed_from_environment() is True
        assert _mcp.mcp_governed_from_environment() is True
    (warning,) = _warnings(caplog)
    assert "TRACENGENT_GOVERN_MCP='sometimes' is not a boolean" in warning
    assert "governing MCP calls" in warning
