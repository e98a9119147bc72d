"""A `base_url` holding credentials, a query or a fragment is refused (review 3).

`http://user:pass@host` made httpx send `Authorization: Basic` on the async calls instead of the
agent's Bearer token (every governance call denied after a useless token refresh), and
`http://host/?x=1` or `http://host/#f` put every endpoint's path inside the query or fragment, so
all calls went to `/`: every event lost and every decision denied, with no configuration error.
"""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.options import TracengentOptions


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret@localhost:8080",
        "http://user@localhost:8080",
        "http://localhost:8080/?api_key=s3cret",
        "http://localhost:8080/#top",
        "http://localhost:8080/?",
    ],
)
def test_refused_naming_the_problem_without_the_password(url: str) -> None:
    with pytest.raises(TracengentConfigError, match="base_url") as caught:
        TracengentOptions(agent_id="a", ingest_key="k", base_url=url).validate()
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://localhost:8080", "https://platform.example.com/tenant-a/", "http://[::1]:8080"]
)
def test_a_plain_base_url_with_a_path_is_fine(url: str) -> None:
    TracengentOptions(agent_id="a", ingest_key="k", base_url=url).validate()


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://[zz]:8080",
        "http://localhost:99999",
        "http://localhost:port",
        "http://user:s3cret@localhost:-1",
    ],
)
def test_a_url_no_request_could_reach_is_a_configuration_error(url: str) -> None:
    """What `urlsplit` refuses with a plain `ValueError` (a broken IPv6 literal, a port that is
    no number from 0 to 65535) is a `TracengentConfigError`, as every other bad setting: zero
    code catches that one and fails closed, where a bare `ValueError` stopped OTel's start-up."""
    with pytest.raises(TracengentConfigError, match="base_url is not a valid URL") as caught:
        TracengentOptions(agent_id="a", ingest_key="k", base_url=url).validate()
    assert "s3cret" not in str(caught.value)
