"""pytest plugin: run the real local Tracengent platform for your tests.

Installed with Tracengent (entry point `pytest11`), it offers two fixtures:

- `tracengent_platform`: a `LocalPlatform` on a free loopback port with a fresh database, stopped
  after the test. Use `.url`, `.store` (what it stored; decide approvals) and
  `.options(agent_id="demo-agent", **overrides)` (a `TracengentOptions` with that agent's client
  credentials).
- `tracengent_policy`: the policy it runs (default `None`: the built-in policy). Override it in
  your `conftest.py` to return a `Policy` or the path of a TOML policy file.

Needs the `platform` extra (`pip install 'tracengent[platform]'`); importing this module does not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.options import TracengentOptions

if TYPE_CHECKING:
    from tracengent.platform import LocalPlatform, PlatformStore, Policy

__all__ = ["RunningPlatform", "tracengent_platform", "tracengent_policy"]


class RunningPlatform:
    """A started local platform, as the `tracengent_platform` fixture gives it."""

    def __init__(self, platform: LocalPlatform) -> None:
        self.platform = platform

    @property
    def url(self) -> str:
        """Its base URL (`http://127.0.0.1:<port>`)."""
        return self.platform.url

    @property
    def store(self) -> PlatformStore:
        """Its store: stored events and traces, decisions, approvals (decide them here)."""
        return self.platform.store

    @property
    def policy(self) -> Policy:
        """The policy it decides by."""
        return self.platform.policy

    def options(self, agent_id: str = "demo-agent", **overrides: object) -> TracengentOptions:
        """`TracengentOptions` for `agent_id` with its client credentials and this `url`.

        Keyword overrides set any other option field (e.g. `flush_interval_ms=50`).

        Raises:
            TracengentConfigError: the agent is not in the policy, or an override is unknown.
        """
        agent = self.policy.agent(agent_id)
        if agent is None:
            raise TracengentConfigError(f"agent {agent_id!r} is not in the platform's policy")
        options = TracengentOptions(
            agent_id=agent_id,
            base_url=self.url,
            client_id=agent.client_id,
            client_secret=agent.client_secret,
            ingest_key=None if agent.client_id else agent.ingest_key,
        )
        # Fields only: a method or property of the options (`validate`) is no field to set.
        fields = {item.name for item in dataclasses.fields(TracengentOptions)}
        for name, value in overrides.items():
            if name not in fields:
                raise TracengentConfigError(f"unknown TracengentOptions field {name!r}")
            setattr(options, name, value)
        return options


@pytest.fixture
def tracengent_policy() -> Policy | str | Path | None:
    """The policy `tracengent_platform` runs: None (built-in); override to return a Policy or path."""
    return None


@pytest.fixture
def tracengent_platform(
    tracengent_policy: Policy | str | Path | None, tmp_path: Path
) -> Iterator[RunningPlatform]:
    """A local platform on a free loopback port with a fresh database; stopped after the test.

    Raises:
        ImportError: the `platform` extra is not installed (the message names it).
    """
    try:
        from tracengent.platform import LocalPlatform
    except ImportError as exc:
        message = (
            "the tracengent_platform fixture needs the platform extra: "
            f"pip install 'tracengent[platform]' ({exc})"
        )
        raise ImportError(message, name=exc.name) from exc

    platform = LocalPlatform(tmp_path / "tracengent-platform.sqlite3", tracengent_policy)
    with platform:
        yield RunningPlatform(platform)
