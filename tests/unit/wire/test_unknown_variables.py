"""A misspelt `TRACENGENT_*` variable is warned about, once, naming the likely one (first run).

`TRACENGENT_GOVERNANCE_TIMEOUT=3` or `TRACENGENT_CLIENTSECRET=...` used to be ignored silently:
the SDK ran on its defaults (or unconfigured) with nothing saying why.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent import options as options_module
from opentelemetry.exporter.tracengent.options import TracengentOptions, options_from_environment

REPOSITORY = Path(__file__).resolve().parents[3]
VALID = {
    env.TRACENGENT_AGENT_ID: "billing-agent",
    env.TRACENGENT_CLIENT_ID: "key_test",
    env.TRACENGENT_CLIENT_SECRET: "ags_test",
}
SECRET = "ags_do_not_log_me"
NAME = re.compile(r"\bTRACENGENT_[A-Z0-9_]*[A-Z0-9]")


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no unknown name warned about yet."""
    monkeypatch.setattr(options_module, "_UNKNOWN_VARIABLES_WARNED", set())


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """`os.environ` holding valid settings and nothing else of Tracengent's."""
    for name in list(os.environ):
        if name.upper().startswith("TRACENGENT_"):
            monkeypatch.delenv(name)
    for name, value in VALID.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("tracengent") and record.levelno == logging.WARNING
    ]


def test_a_misspelt_variable_is_warned_about_with_the_closest_known_name(
    environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each unknown name gets one warning naming the variable it is probably meant to be."""
    environment.setenv("TRACENGENT_CLIENTSECRET", SECRET)
    environment.setenv("TRACENGENT_GOVERNANCE_TIMEOUT", "3")
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        options_from_environment()
    assert sorted(_warnings(caplog)) == [
        "tracengent: ignoring unknown TRACENGENT_CLIENTSECRET "
        "(did you mean TRACENGENT_CLIENT_SECRET?)",
        "tracengent: ignoring unknown TRACENGENT_GOVERNANCE_TIMEOUT "
        "(did you mean TRACENGENT_GOVERNANCE_TIMEOUT_S?)",
    ]
    assert SECRET not in caplog.text


def test_each_unknown_name_is_warned_about_once_per_process(
    environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Reading the options again (another exporter, a gate) does not repeat the warning."""
    environment.setenv("TRACENGENT_AGENTID", "x")
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        options_from_environment()
        options_from_environment()
        TracengentOptions.from_env()
    assert _warnings(caplog) == [
        "tracengent: ignoring unknown TRACENGENT_AGENTID (did you mean TRACENGENT_AGENT_ID?)"
    ]


def test_an_unknown_name_like_no_known_one_is_warned_about_without_a_guess(
    environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No suggestion when nothing is close (the shared prefix alone makes nothing close)."""
    environment.setenv("TRACENGENT_XYZZY", "1")
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        options_from_environment()
    assert _warnings(caplog) == ["tracengent: ignoring unknown TRACENGENT_XYZZY"]


def test_a_lower_case_name_is_unknown_and_the_upper_case_one_suggested(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Variable names are case-sensitive: `tracengent_url` is not read, and says so."""
    source = {**VALID, "tracengent_url": "http://localhost:9"}
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        options_from_environment(source)
    assert _warnings(caplog) == [
        "tracengent: ignoring unknown tracengent_url (did you mean TRACENGENT_URL?)"
    ]


def test_every_known_variable_and_other_prefixes_pass_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Known names (the CLI's and the tests' too) and names of other tools give no warning."""
    source = dict.fromkeys(env.KNOWN_TRACENGENT_VARIABLES, "")
    source.update(VALID)
    source.update({"OTEL_SERVICE_NAME": "x", "TRACENGENTX": "1", "MY_TRACENGENT_URL": "x"})
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        options_from_environment(source)
    assert _warnings(caplog) == []


class _BrokenEnviron(Mapping[str, str]):
    """An environ whose iteration fails (looking values up still works)."""

    def __getitem__(self, key: str) -> str:
        return VALID[key]

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("cannot list")

    def __len__(self) -> int:
        return len(VALID)


def test_the_check_never_raises() -> None:
    """A failure of the check itself never stops the options from being read."""
    assert options_from_environment(_BrokenEnviron()).agent_id == "billing-agent"


def test_every_tracengent_name_the_code_spells_is_known() -> None:
    """The one list holds every variable the SDK, zero code, the CLI and the tests read (the
    code is scanned, not the README: it quotes a misspelling)."""
    spelled: set[str] = set()
    for folder in ("src", "exporters", "instrumentors", "tests", "conformance", "benchmarks"):
        for path in (REPOSITORY / folder).rglob("*.py"):
            if path.name == Path(__file__).name:
                continue  # this file spells unknown names on purpose
            spelled.update(NAME.findall(path.read_text("utf-8")))
    assert env.TRACENGENT_DEV_DB in spelled
    assert spelled <= env.KNOWN_TRACENGENT_VARIABLES
