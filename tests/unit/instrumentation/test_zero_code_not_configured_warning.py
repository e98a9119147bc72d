"""The zero-code "not configured" warning speaks of denied governed hosts only when there are
governed hosts: with none set, the denial would be a false alarm."""

from __future__ import annotations

import logging

import pytest

from opentelemetry.exporter.tracengent import environment_variables as env
from tracengent._zero_code import configure_from_environment

_KNOWN = [
    name for name in vars(env).values() if isinstance(name, str) and name.startswith("TRACENGENT_")
]


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `TRACENGENT_*` setting and no service name: Tracengent is not configured."""
    for name in [*_KNOWN, "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"]:
        monkeypatch.delenv(name, raising=False)


def _warning(caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        setup = configure_from_environment()
    assert setup.options is None
    (message,) = [r.getMessage() for r in caplog.records if "not configured" in r.getMessage()]
    return message


def test_without_governed_hosts_no_denial_is_announced(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing is governed: the warning says Tracengent is off, and no more."""
    message = _warning(caplog)
    assert "runs without Tracengent telemetry" in message
    assert "governed" not in message


def test_with_governed_hosts_the_denial_is_announced(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Governed hosts set: the warning says their requests are denied (fail closed)."""
    monkeypatch.setenv(env.TRACENGENT_GOVERNED_HOSTS, "api.stripe.com")
    assert "requests to governed hosts are denied" in _warning(caplog)
