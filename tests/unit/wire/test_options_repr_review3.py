"""`TracengentOptions` never shows its secrets in a repr (review 3).

The dataclass repr printed `client_secret` and `ingest_key` in full, so logging the options, an
assertion message or a traceback with locals leaked the agent's credentials. The repr now says
only whether each secret is set.
"""

from __future__ import annotations

from opentelemetry.exporter.tracengent.options import TracengentOptions


def test_the_repr_masks_the_secrets_and_keeps_the_rest() -> None:
    options = TracengentOptions(
        agent_id="billing-agent",
        client_id="key_billing",
        client_secret="ags_TOP_SECRET",
        ingest_key="agk_ALSO_SECRET",
    )
    text = repr(options)
    assert "TOP_SECRET" not in text
    assert "ALSO_SECRET" not in text
    assert "client_secret=<set>" in text
    assert "ingest_key=<set>" in text
    assert "agent_id='billing-agent'" in text
    assert "client_id='key_billing'" in text
    assert str(options) == text


def test_an_unset_secret_reads_none() -> None:
    text = repr(TracengentOptions(agent_id="a", ingest_key="agk_x"))
    assert "client_secret=None" in text
    assert "ingest_key=<set>" in text


def test_call_settings_never_show_their_fixed_headers() -> None:
    """The policy's settings (a local of every call) hold `X-Ingest-Key` or a delegated bearer."""
    from opentelemetry.exporter.tracengent._http_policy import CallSettings

    settings = CallSettings(
        "http://localhost:8080", 3, 10.0, False, fixed_headers={"X-Ingest-Key": "agk_SECRET"}
    )
    assert "agk_SECRET" not in repr(settings)
