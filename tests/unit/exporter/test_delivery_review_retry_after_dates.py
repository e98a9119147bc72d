"""`Retry-After` as an HTTP date in each of the three forms RFC 9110 (§5.6.7) says a recipient
must accept: the IMF-fixdate, the obsolete RFC 850 date and the obsolete asctime date, the last
of which names no zone (HTTP dates are all in GMT). An asctime date was ignored, so the batch was
retried after the 0.2 s backoff instead of when the platform asked.
"""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from opentelemetry.exporter.tracengent._http_policy import parse_retry_after
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient
from tests.support.chaos import EVENTS_PATH, Answer, chaos_server, sequence

NOW = 1_795_515_302.0  # Tue, 24 Nov 2026 10:15:02 GMT


@pytest.mark.parametrize(
    "header",
    [
        "Tue, 24 Nov 2026 10:15:42 GMT",  # IMF-fixdate
        "Tuesday, 24-Nov-26 10:15:42 GMT",  # RFC 850
        "Tue Nov 24 10:15:42 2026",  # asctime: no zone, GMT
        "Tue Nov  4 10:15:42 2026",  # asctime pads a one-digit day with a space
    ],
)
def test_every_http_date_form_is_read_as_gmt(header: str) -> None:
    """Each form gives the wait it asks for (40 s, or 20 days earlier in the month: past)."""
    expected = 40.0 if "24" in header else 0.0
    assert parse_retry_after(header, NOW) == pytest.approx(expected)


def _asctime_in(seconds: float) -> str:
    """An asctime HTTP date (`Sun Nov  6 08:49:37 1994`) at least `seconds` from now, in GMT."""
    return time.asctime(time.gmtime(int(time.time() + seconds) + 1))


def test_an_asctime_retry_after_over_the_cap_is_not_retried_sooner() -> None:
    """A 429 asking, in asctime form, for a minute is not retried by the backoff: the call stops
    at once (over the 30 s a call waits), as the same date in IMF-fixdate form does."""
    event: JsonObject = {"type": "action", "name": "a", "status": "success"}
    for header in (_asctime_in(60), formatdate(time.time() + 61, usegmt=True)):
        with chaos_server() as chaos:
            chaos.on(
                EVENTS_PATH, sequence(then=Answer(429, {}, headers=(("Retry-After", header),)))
            )
            options = TracengentOptions(
                agent_id="a", base_url=chaos.url, ingest_key="agk_x", max_retries=3
            )
            platform = PlatformClient(options)
            try:
                result = platform.post_events([event])
                held_back = platform.held_back_s()
            finally:
                platform.close()
            assert len(chaos.to(EVENTS_PATH)) == 1, header
            assert result.failed == 1
            assert "over the 30s cap" in (result.reason or ""), header
            assert held_back > 30.0, header
