"""Bad options fail at construction with `TracengentConfigError` naming the field."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient


def _options(**overrides: object) -> TracengentOptions:
    values: dict[str, object] = {"agent_id": "billing-agent", "ingest_key": "agk_test"}
    values.update(overrides)
    return TracengentOptions(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"base_url": "ftp://example.org"}, "base_url"),
        ({"base_url": "not a url"}, "base_url"),
        ({"base_url": ""}, "base_url"),
        ({"max_batch_size": -1}, "max_batch_size"),
        ({"queue_capacity": 0}, "queue_capacity"),
        ({"gzip_threshold_bytes": -5}, "gzip_threshold_bytes"),
        ({"max_retries": -1}, "max_retries"),
        ({"request_timeout_s": 0}, "request_timeout_s"),
        ({"governance_timeout_s": -1.0}, "governance_timeout_s"),
        ({"ingest_key": None}, "no credentials"),
        ({"client_id": "key_x"}, "client_secret"),
        ({"agent_id": ""}, "agent_id"),
    ],
)
def test_bad_option_names_the_field(overrides: dict[str, object], field: str) -> None:
    """Both clients refuse bad options at construction, naming what to fix."""
    options = _options(**overrides)
    with pytest.raises(TracengentConfigError, match=field):
        PlatformClient(options)
    with pytest.raises(TracengentConfigError, match=field):
        AsyncPlatformClient(options)


def test_config_error_is_a_value_error() -> None:
    """`TracengentConfigError` is also a `ValueError`, as 0.1.0 users catch it."""
    with pytest.raises(ValueError, match="no credentials"):
        _options(ingest_key=None).validate()


def test_delegated_bearer_needs_no_agent_credentials() -> None:
    """A client with a delegated bearer token is valid without the agent's own credentials."""
    client = PlatformClient(TracengentOptions(agent_id="billing-agent"), bearer_token="d.t.j")
    try:
        assert client.token_provider is None
    finally:
        client.close()
