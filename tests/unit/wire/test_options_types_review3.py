"""Options of the wrong type are refused with a `TracengentConfigError` (review 3).

`tool_governance_fail_open="false"` (text read from a config file) is truthy: governed requests
left unauthorized whenever the platform was down, the opposite of what was written. The switches
must now be real booleans; `agent_id` and `environment` that are not text raised AttributeError
instead of the documented error.
"""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.options import TracengentOptions


@pytest.mark.parametrize("name", ["tool_governance_fail_open", "capture_payloads"])
@pytest.mark.parametrize("value", ["false", "true", 0, 1, None])
def test_a_switch_must_be_a_bool(name: str, value: object) -> None:
    options = TracengentOptions(agent_id="a", ingest_key="k", **{name: value})  # type: ignore[arg-type]
    with pytest.raises(TracengentConfigError, match=name):
        options.validate()


@pytest.mark.parametrize("name", ["agent_id", "environment", "base_url"])
@pytest.mark.parametrize("value", [42, ["x"], b"bytes"])
def test_text_options_must_be_text(name: str, value: object) -> None:
    values: dict[str, object] = {"agent_id": "a", "ingest_key": "k", name: value}
    with pytest.raises(TracengentConfigError, match=name):
        TracengentOptions(**values).validate()  # type: ignore[arg-type]


def test_booleans_and_text_pass() -> None:
    TracengentOptions(
        agent_id="a", ingest_key="k", tool_governance_fail_open=True, capture_payloads=False
    ).validate()
