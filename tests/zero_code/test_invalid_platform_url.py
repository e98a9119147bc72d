"""A `TRACENGENT_URL` no request could be sent to (`http://[::1`: `urlsplit` raises a plain
`ValueError`, not a configuration error) with governance asked for: the application starts, a
request to a governed host is denied before it leaves (fail closed), and one warning names the
setting, whichever configurator built the SDK.

Runs the real `opentelemetry-instrument` against a loopback tool server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.loopback import json_reply, serve
from tests.zero_code.conftest import clean_environment
from tests.zero_code.test_zero_code_review import _other_configurator
from tests.zero_code.test_zero_code_settings_review import _NO_ENV_CLIENT_AGENT, _run_script


@pytest.mark.parametrize("url", ["http://[::1", "http://localhost:99999"])
@pytest.mark.parametrize("configurator", ["ours", "another"])
def test_a_governed_request_is_denied_when_the_platform_url_is_invalid(
    tmp_path: Path, url: str, configurator: str
) -> None:
    environment = clean_environment()
    environment.update(
        {
            "TRACENGENT_URL": url,
            "TRACENGENT_CLIENT_ID": "key_demo",
            "TRACENGENT_CLIENT_SECRET": "ags_demo",
            "TRACENGENT_AGENT_ID": "demo-agent",
            "TRACENGENT_GOVERNED_HOSTS": "127.0.0.1",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        }
    )
    if configurator == "another":
        environment["PYTHONPATH"] = _other_configurator(tmp_path)
    with serve(lambda _: json_reply({})) as tools:
        run = _run_script(tmp_path, _NO_ENV_CLIENT_AGENT, [tools.url], environment)
    assert run.returncode == 0, run.stderr
    assert "refused ToolDeniedException" in run.stdout, (run.stdout, run.stderr)
    assert "base_url is not a valid URL" in run.stderr, run.stderr
    assert tools.received == []
