"""`TRACENGENT_CAPTURE_PAYLOADS` reads the same everywhere zero code reads it: the distro (which
turns OTel's GenAI message capture off), the zero-code scrubber and the options. Blank (a chart's
empty default) is unset: capture stays on, scrubbed; `false` turns it off; a value that is not a
boolean turns it off (an unreadable switch never turns capture on by accident)."""

from __future__ import annotations

import os

import pytest

from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.options import TracengentOptions
from tracengent import _zero_code
from tracengent.distro import TracengentDistro

_GENAI_CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    # Set, then deleted: monkeypatch puts back what the distro sets in os.environ.
    for name in (env.TRACENGENT_CAPTURE_PAYLOADS, env.TRACENGENT_GOVERN_MCP, _GENAI_CAPTURE):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")


def _genai_capture_after_the_distro() -> str | None:
    TracengentDistro()._configure()
    return os.environ.get(_GENAI_CAPTURE)


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_blank_switch_is_unset_everywhere(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv(env.TRACENGENT_CAPTURE_PAYLOADS, blank)
    assert _genai_capture_after_the_distro() is None
    assert _zero_code.capture_payloads_from_environment() is True
    assert _zero_code.scrubber_for(None).capture_payloads is True
    assert TracengentOptions.from_env().capture_payloads is True


@pytest.mark.parametrize("off", ["false", " FALSE ", "0", "no", "off"])
def test_false_turns_capture_off_everywhere(monkeypatch: pytest.MonkeyPatch, off: str) -> None:
    monkeypatch.setenv(env.TRACENGENT_CAPTURE_PAYLOADS, off)
    assert _genai_capture_after_the_distro() == "false"
    assert _zero_code.capture_payloads_from_environment() is False
    assert _zero_code.scrubber_for(None).capture_payloads is False
    assert TracengentOptions.from_env().capture_payloads is False


def test_unset_switch_leaves_capture_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _genai_capture_after_the_distro() is None
    assert _zero_code.capture_payloads_from_environment() is True
    assert _zero_code.scrubber_for(None).capture_payloads is True


def test_unreadable_switch_turns_capture_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.TRACENGENT_CAPTURE_PAYLOADS, "maybe")
    assert _genai_capture_after_the_distro() == "false"
    assert _zero_code.capture_payloads_from_environment() is False
    assert _zero_code.scrubber_for(None).capture_payloads is False


def test_the_distro_never_overrides_a_genai_capture_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.TRACENGENT_CAPTURE_PAYLOADS, "false")
    monkeypatch.setenv(_GENAI_CAPTURE, "true")
    assert _genai_capture_after_the_distro() == "true"
