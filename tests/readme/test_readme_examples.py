"""The README's examples run as written, each in a fresh interpreter, against a real local platform.

The examples talk to `tracengent dev` on `http://localhost:8080`; the test points them at its own
platform on a free loopback port (the only change made to their text).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tracengent.platform import create_grant
from tracengent.testing import RunningPlatform

README = Path(__file__).resolve().parents[2] / "README.md"
_EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Example:
    """One fenced example of the README."""

    name: str
    code: str


def examples() -> list[Example]:
    """Every `<!-- example: name -->` python block of the README, in order."""
    return [Example(m.group(1), m.group(2)) for m in _EXAMPLE.finditer(README.read_text())]


# What each example prints (or the platform stores) when it works.
EXPECTED_OUTPUT: dict[str, list[str]] = {
    "quickstart": [],
    "manual-spans": [],
    "existing-pipeline": [],
    "async-and-decorators": [],
    "authorization": [
        "allowed AuthObligations(max_amount=1000.0",
        "True apr_",
        "payments:refund amount",
    ],
    "egress": ['"card":"***REDACTED***"', "policy_deny", " 1\n"],
    "tool-gates": [
        "policy_allow ['TP 1234']",
        "{'flight': 'TP 1234'}",
        "held for apr_",
        "mail:send approved by a person (apr_",
        ") sent\n",
    ],
    "delegation": ["allowed demo-agent ['demo-agent', 'hotel-agent']", "'car-agent']", "refused:"],
    "scrubbing": [
        '{"iban":"***REDACTED***","card":"***REDACTED***","password":"***REDACTED***","amount":5}'
    ],
    "fastapi": ["{'error': 'forbidden', 'permission': 'payouts:send'"],
    "pytest-plugin": ["1 passed"],
    "mcp": ["TP 1234", "policy_deny"],
}

# Decision traces each example leaves on the platform: root request -> event names.
EXPECTED_TRACES: dict[str, dict[str, list[str]]] = {
    "quickstart": {
        "Refund order 42": ["the parcel arrived damaged", "lookup_order", "decide", "issue_refund"]
    },
    "manual-spans": {"refund order 42": ["refund", "chat gpt-4o-mini"]},
    "existing-pipeline": {"Rebook flight 7": ["search_seats"]},
    "async-and-decorators": {
        "Plan a day in Lisbon": ["fetch_weather", "plan", "POST api.example.com/v1/bookings"]
    },
    "scrubbing": {"Pay out": ["payout"]},
    "mcp": {"Find a flight": ["search_flights", "cancel_all_bookings"]},
}


def test_every_example_has_expectations() -> None:
    """Each README example is checked for what it should print (so none runs unchecked)."""
    assert sorted(e.name for e in examples()) == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.name)
def test_readme_example_runs(
    example: Example, tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """The example runs to completion, prints what the README says, and stores its traces."""
    code = example.code.replace("http://localhost:8080", tracengent_platform.url)
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACENGENT_"))
    }
    _record, token = create_grant(
        tracengent_platform.store,
        tracengent_platform.policy,
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=["hotels:book"],
        ttl_seconds=600,
        max_amount=500,
    )
    environment["DELEGATED_TOKEN"] = token.access_token
    # `tracengent approve` (the tool-gates example) decides on the database this platform serves.
    environment["TRACENGENT_DEV_DB"] = str(tracengent_platform.store.path)
    if example.name == "pytest-plugin":
        script = tmp_path / "test_readme_plugin_example.py"
        script.write_text(code)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
    else:
        script = tmp_path / f"readme_{example.name.replace('-', '_')}.py"
        script.write_text(code)
        command = [sys.executable, str(script)]
    run = subprocess.run(
        command,
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for expected in EXPECTED_OUTPUT[example.name]:
        assert expected in run.stdout, (expected, run.stdout)
    stored = {
        t.root_request: [str(e.body["name"]) for e in t.events]
        for t in tracengent_platform.store.traces()
    }
    for root_request, names in EXPECTED_TRACES.get(example.name, {}).items():
        assert sorted(stored.get(root_request, [])) == sorted(names), stored
