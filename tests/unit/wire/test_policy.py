"""The I/O-free pieces of the policy: Retry-After, backoff, token refresh timing, body encoding."""

from __future__ import annotations

import gzip

import pytest

from opentelemetry.exporter.tracengent._http_policy import (
    MAX_WAIT_S,
    backoff_seconds,
    encode_json_body,
    parse_retry_after,
)
from opentelemetry.exporter.tracengent.token import refresh_delay_s

NOW = 1_795_515_302.0  # 2026-11-24T10:15:02Z


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("Tue, 24 Nov 2026 10:15:12 GMT", 10.0),
        ("Tue, 24 Nov 2026 10:00:00 GMT", 0.0),
    ],
)
def test_retry_after_forms_are_read(header: str, seconds: float) -> None:
    """Delta-seconds and HTTP dates give the wait they ask for; a past date means now."""
    assert parse_retry_after(header, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "soon", "-3", "nan", "inf", "Tue, 99 Foo"])
def test_unusable_retry_after_is_ignored(header: str | None) -> None:
    """A missing, negative or unparsable Retry-After is None (the backoff applies)."""
    assert parse_retry_after(header, NOW) is None


def test_backoff_doubles_from_0_2_seconds_with_bounded_jitter() -> None:
    """Backoff is 0.2 s doubling, stretched by at most 50 % jitter, and capped."""
    assert [backoff_seconds(i, 0.0) for i in range(4)] == pytest.approx([0.2, 0.4, 0.8, 1.6])
    assert backoff_seconds(1, 0.999) == pytest.approx(0.4 * 1.4995)
    assert backoff_seconds(40, 0.5) == MAX_WAIT_S


@pytest.mark.parametrize(
    ("expires_in", "delay"),
    [(900, 840), (120, 60), (80, 40), (60, 30), (20, 10), (1, 0.5)],
)
def test_refresh_delay_keeps_a_lead_without_looping(expires_in: float, delay: float) -> None:
    """Refresh 60 s before expiry, but never before half the lifetime has passed."""
    assert refresh_delay_s(expires_in) == pytest.approx(delay)
    assert refresh_delay_s(expires_in) > 0


def test_encoding_is_compact_and_gzips_at_the_threshold() -> None:
    """A body exactly at the threshold is gzipped; one byte under it is not."""
    plain = encode_json_body({"a": [1, 2]}, 100)
    assert (plain.content, plain.gzipped) == (b'{"a":[1,2]}', False)
    at = encode_json_body({"a": [1, 2]}, len(b'{"a":[1,2]}'))
    assert at.gzipped
    assert gzip.decompress(at.content) == b'{"a":[1,2]}'


def test_encoding_refuses_nan() -> None:
    """NaN is not JSON: encoding raises ValueError rather than sending it."""
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_json_body({"amount": float("nan")}, 1024)
