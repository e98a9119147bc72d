"""Run agents under the real `opentelemetry-instrument` in a subprocess, against the local platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tracengent.testing import RunningPlatform

AGENTS = Path(__file__).parent / "agents"
_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Run:
    """What one instrumented agent run printed."""

    returncode: int
    stdout: str
    stderr: str


def clean_environment() -> dict[str, str]:
    """The test process's environment without any OTel or Tracengent setting."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "TRACENGENT_")) and key != "PYTHONPATH"
    }


def platform_environment(platform: RunningPlatform, **extra: str) -> dict[str, str]:
    """Settings of the default agent (`demo-agent`, client credentials) against `platform`."""
    environment = clean_environment()
    environment.update(
        {
            "TRACENGENT_URL": platform.url,
            "TRACENGENT_CLIENT_ID": "key_demo",
            "TRACENGENT_CLIENT_SECRET": "ags_demo",
            "TRACENGENT_AGENT_ID": "demo-agent",
            "TRACENGENT_ENVIRONMENT": "zero-code-test",
            "OTEL_TRACES_EXPORTER": "tracengent",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        }
    )
    environment.update(extra)
    return environment


def run_instrumented(agent: str, args: list[str], environment: Mapping[str, str]) -> Run:
    """`opentelemetry-instrument python tests/zero_code/agents/<agent> <args>`, bounded in time."""
    completed = subprocess.run(
        [str(_BIN / "opentelemetry-instrument"), sys.executable, str(AGENTS / agent), *args],
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def traces_json(platform: RunningPlatform) -> dict[str, list[dict[str, object]]]:
    """`tracengent traces --json --db <the platform's db>`, parsed."""
    completed = subprocess.run(
        [str(_BIN / "tracengent"), "traces", "--json", "--db", str(platform.store.path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    parsed: dict[str, list[dict[str, object]]] = json.loads(completed.stdout)
    return parsed


@pytest.fixture
def instrumented_env(tracengent_platform: RunningPlatform) -> dict[str, str]:
    """Zero-code settings pointed at the test's platform."""
    return platform_environment(tracengent_platform)
