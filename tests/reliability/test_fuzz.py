"""Property tests (bounded): the redaction paths, the decision parsers and the JWT claim reader
never crash, and never let a redacted value or an ambiguous allow through."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opentelemetry.exporter.tracengent.claims import read_claims
from tracengent import (
    MASK_TOKEN,
    AuthDecision,
    AuthObligations,
    Redaction,
    ToolDecision,
    apply_redactions,
)

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = "fuzz-secret-value-91"

keys = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)
scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
paths = st.text(alphabet='$.[]0123abc_-" *', max_size=14)


@BOUNDED
@given(document=json_values, path=paths, strategy=st.sampled_from(["remove", "mask", "bogus"]))
def test_redaction_never_raises_and_returns_json(
    document: object, path: str, strategy: str
) -> None:
    """Any JSON document and any path text: no exception, and the result is still JSON."""
    text = json.dumps(document)
    result = apply_redactions(text, [{"field": path, "strategy": strategy}, path])
    assert isinstance(result, str)
    json.loads(result)


@BOUNDED
@given(
    document=st.dictionaries(keys, json_values, max_size=4),
    key=keys,
    extra_path=paths,
    strategy=st.sampled_from(["remove", "mask"]),
)
def test_a_redacted_field_never_leaks(
    document: dict[str, object], key: str, extra_path: str, strategy: str
) -> None:
    """A field named by a rule is gone (or masked) even when other rules are malformed."""
    document[key] = {"nested": SECRET}
    rules: list[Redaction | str | dict[str, object]] = [
        extra_path,
        Redaction(f"$.{key}", strategy),
        {"field": 7},
    ]
    result = apply_redactions(json.dumps(document), rules)
    assert isinstance(result, str)
    assert SECRET not in result
    if strategy == "mask":
        assert json.loads(result)[key] == MASK_TOKEN


@BOUNDED
@given(
    raw=json_values
    | st.dictionaries(
        st.sampled_from(["allowed", "status", "reason", "redactions", "obligations", "chain"]),
        json_values | st.sampled_from([True, False, "allowed", "denied", "pending_approval"]),
        max_size=6,
    )
)
def test_decision_parsers_allow_only_an_unambiguous_allow(raw: object) -> None:
    """Any JSON: parsing never raises; an allow needs `allowed` true and `status` allowed (and
    an authorization's obligations, when it has any, well formed)."""
    unambiguous = (
        isinstance(raw, dict) and raw.get("allowed") is True and raw.get("status") == "allowed"
    )
    auth = AuthDecision.from_wire(raw)
    tool = ToolDecision.from_wire(raw)
    readable = isinstance(raw, dict) and AuthObligations.problem_of(raw.get("obligations")) is None
    assert auth.allowed == (unambiguous and readable)
    assert tool.allowed <= unambiguous
    if not auth.allowed:
        assert auth.reason or (
            isinstance(raw, dict) and raw.get("status") in ("denied", "pending_approval")
        )


def _jwt(payload: bytes) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64(b'{}')}.{b64(payload)}.sig"


@BOUNDED
@given(
    token=st.text(max_size=60)
    | st.binary(max_size=60).map(_jwt)
    | json_values.map(lambda v: _jwt(json.dumps(v).encode()))
)
def test_the_claim_reader_never_raises(token: str) -> None:
    """Any token text reads as claims (empty when unreadable), never an exception."""
    claims = read_claims(token)
    assert all(isinstance(p, str) for p in claims.permissions)
    assert claims.grant_id is None or isinstance(claims.grant_id, str)


_SENSITIVE_KEYS = st.sampled_from(
    ["password", "PassWord", "db_Password_2", "api_key", "X-API-KEY", "cookie", "ssn", "my_ssn"]
)
_payload_keys = keys | _SENSITIVE_KEYS | st.text(max_size=6)
_payload_scalars = (
    scalars
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**80), 2**80)
    | st.sampled_from(["null", "a secret note", "é", 'quo"te'])
)
_payloads = st.recursive(
    _payload_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_payload_keys, inner, max_size=4)
    ),
    max_leaves=20,
)


@BOUNDED
@given(payload=_payloads)
def test_payload_fast_path_equals_the_walk(payload: object) -> None:
    """Whatever the payload, the fast path (orjson on a plain value) gives what the walk gives."""
    from tracengent._scrubbing import Scrubber

    scrubber = Scrubber(patterns=["*ssn*"])
    try:
        walked: str | None = scrubber._encode(scrubber._safe_copy(payload, 0), ())
    except Exception:  # noqa: BLE001 - the walk refusing means the value is dropped
        walked = None
    # The first call judges new names in the walk; the second takes the fast path when it can.
    assert scrubber.payload_text(payload) == walked
    assert scrubber.payload_text(payload) == walked


@BOUNDED
@given(payload=_payloads, spaced=st.booleans())
def test_payload_attribute_rescrub_equals_the_walk(payload: object, spaced: bool) -> None:
    """A payload attribute set by hand (JSON text, compact or not, NaN and big integers
    included) is re-scrubbed to exactly what decoding it with `json` and walking it gives."""
    from opentelemetry.exporter.tracengent import attributes as A
    from tracengent._scrubbing import Scrubber

    text = json.dumps(payload, separators=(", ", ": ") if spaced else (",", ":"))
    scrubber = Scrubber(patterns=["*ssn*"])
    try:
        walked: str | None = scrubber._encode(scrubber._safe_copy(json.loads(text), 0), ())
    except Exception:  # noqa: BLE001 - the walk refusing means the value is dropped
        walked = None
    expected = text if walked == text else walked
    # The first call judges new names in the walk; the second takes the fast path when it can.
    assert scrubber.scrub_attribute(A.INPUT, text) == expected
    assert scrubber.scrub_attribute(A.INPUT, text) == expected
