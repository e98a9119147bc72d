"""`TRACENGENT_*` variables set but blank (a chart's or compose file's empty defaults) are unset:
another package's configurator built the SDK, and nothing of Tracengent's was asked for, so
Tracengent stays out of it: no warning that governance is not configured and governed calls are
denied, no processors added to that provider.

Runs the real `opentelemetry-instrument` against a loopback tool server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.loopback import json_reply, serve
from tests.zero_code.conftest import clean_environment, run_instrumented
from tests.zero_code.test_zero_code_review import _NO_CONFIGURATOR, _other_configurator

_BLANK_SETTINGS = (
    "TRACENGENT_URL",
    "TRACENGENT_CLIENT_ID",
    "TRACENGENT_CLIENT_SECRET",
    "TRACENGENT_AGENT_ID",
    "TRACENGENT_GOVERNED_HOSTS",
    "TRACENGENT_CAPTURE_PAYLOADS",
)


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_settings_are_not_asked_for_beside_another_configurator(
    tmp_path: Path, blank: str
) -> None:
    environment = clean_environment()
    environment.update({name: blank for name in _BLANK_SETTINGS})
    environment.update(
        {
            "PYTHONPATH": _other_configurator(tmp_path),
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        }
    )
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
    assert run.returncode == 0, run.stderr
    assert "Configuration of tracengent not loaded" in run.stderr, "ours ran: nothing was tested"
    assert _NO_CONFIGURATOR not in run.stderr, run.stderr
    assert "tracengent:" not in run.stderr, run.stderr
    assert "/a -> 200" in run.stdout
    assert tools.paths() == ["/a"]
