"""Zero code with `TRACENGENT_GOVERN_MCP=true` and an `mcp` older than the instrumentation
supports: `opentelemetry-instrument` skips the instrumentation after a dependency check it only
logs, so the governance asked for would be off without a word. The distro says so loudly."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError

import pytest
from opentelemetry.instrumentation import dependencies

from opentelemetry.exporter.tracengent import environment_variables as env
from tracengent._mcp import warn_if_mcp_cannot_be_governed
from tracengent.distro import TracengentDistro

_REAL_VERSION = dependencies.version  # type: ignore[attr-defined]  # its import of importlib.metadata.version


def _installed_mcp(monkeypatch: pytest.MonkeyPatch, found: str | None) -> None:
    def version(name: str) -> str:
        if name == "mcp":
            if found is None:
                raise PackageNotFoundError(name)
            return found
        return _REAL_VERSION(name)

    monkeypatch.setattr(dependencies, "version", version)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_distro_warns_that_an_old_mcp_leaves_tool_calls_ungoverned(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(env.TRACENGENT_GOVERN_MCP, "true")
    monkeypatch.delenv(env.TRACENGENT_DISABLED, raising=False)
    _installed_mcp(monkeypatch, "1.5.0")
    with caplog.at_level(logging.WARNING, logger="tracengent.mcp"):
        TracengentDistro()._configure()
    (warning,) = _warnings(caplog)
    assert "mcp 1.5.0" in warning
    assert "mcp >= 1.9" in warning
    assert "neither traced nor governed" in warning


@pytest.mark.parametrize(
    ("govern", "found"),
    [("true", "2.3.0"), ("true", None), ("false", "1.5.0")],
    ids=["supported-mcp", "no-mcp", "governance-off"],
)
def test_no_warning_when_nothing_is_left_ungoverned(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    govern: str,
    found: str | None,
) -> None:
    monkeypatch.setenv(env.TRACENGENT_GOVERN_MCP, govern)
    _installed_mcp(monkeypatch, found)
    with caplog.at_level(logging.WARNING, logger="tracengent.mcp"):
        assert warn_if_mcp_cannot_be_governed() is False
    assert _warnings(caplog) == []
