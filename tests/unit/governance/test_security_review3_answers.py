"""An answer that carries a credential is never quoted when it cannot be read.

The token endpoint's answer holds the agent's access token, and an attenuation answer the child's
delegated token. When such an answer is not the JSON object the contract says (a token endpoint
answering form-encoded, `access_token=...&token_type=bearer`, as some OAuth servers do; a body cut
short), the error says so without quoting the body: its message becomes a deny reason, a span
attribute every exporter sees, an exception message and a log line.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import (
    DelegationException,
    MalformedResponseError,
    NotAuthorizedException,
)
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from tracengent._governance.delegation import begin_delegated_task

from .conftest import authorizer_for, either, governance_spans, make_options, track
from .fakes import FakePlatform, make_jwt

SECRET = "gho_SECRETTOKEN0123456789"
FORM_ENCODED = httpx.Response(
    200,
    text=f"access_token={SECRET}&scope=&token_type=bearer",
    headers={"Content-Type": "application/x-www-form-urlencoded"},
)
CUT_SHORT = httpx.Response(200, text=f'{{"access_token":"{SECRET}","expires_in":900')


def chain_text(error: BaseException) -> str:
    """Every message a traceback of `error` shows (its own, and those it was raised from or
    during, unless `raise ... from None` suppressed them)."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        parts.append(f"{type(current).__name__}: {current}")
        hidden = current.__suppress_context__
        current = current.__cause__ or (None if hidden else current.__context__)
    return " | ".join(parts)


@pytest.mark.parametrize("answer", [FORM_ENCODED, CUT_SHORT], ids=["form-encoded", "cut-short"])
def test_an_unreadable_token_answer_is_not_quoted(answer: httpx.Response) -> None:
    """The error (and the one raised again while backing off) never holds the token."""
    transport = httpx.MockTransport(lambda request: answer)
    with httpx.Client(transport=transport) as http:
        provider = AgentTokenProvider(make_options(), http)
        for _ in range(2):
            with pytest.raises(MalformedResponseError) as raised:
                provider.get_token()
            assert SECRET not in chain_text(raised.value)
            assert "not shown" in str(raised.value)


async def test_an_unreadable_token_answer_is_not_in_a_deny(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """The deny reason, its span and `NotAuthorizedException` say the answer was unreadable,
    without the token."""
    platform.on("/v1/oauth/token", FORM_ENCODED)
    tracer, exporter = spans
    authorizer = authorizer_for(make_options(), tracer, httpx.MockTransport(platform.handle))
    with pytest.raises(NotAuthorizedException) as raised:
        await either(
            mode,
            lambda: authorizer.ensure_authorized("payments:refund"),
            lambda: authorizer.ensure_authorized_async("payments:refund"),
        )
    assert SECRET not in chain_text(raised.value)
    (span,) = governance_spans(exporter, A.GovernanceKinds.AUTHORIZE)
    assert span.attributes is not None
    assert SECRET not in str(dict(span.attributes))
    assert "not shown" in str(span.attributes[A.AUTHZ_REASON])


@pytest.mark.parametrize("cut_at", [-1, -12], ids=["last-brace", "mid-object"])
async def test_an_unreadable_attenuation_answer_is_not_quoted(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter], cut_at: int
) -> None:
    """An attenuation answer cut short holds the child's token: the DelegationException and the
    attenuate span say it was unreadable without quoting it."""
    child = make_jwt({"grant_id": "dlg_2", "delegated_permissions": ["hotels:book"]})
    body = f'{{"token":{{"accessToken":"{child}","tokenType":"Bearer"}},"grantId":"dlg_2"}}'
    platform.on("/v1/delegations/dlg_1/attenuate", httpx.Response(200, text=body[:cut_at]))
    delegated = make_jwt({"sub": "hotel-agent", "grant_id": "dlg_1", "acting_for": "user_42"})
    transport = httpx.MockTransport(platform.handle)
    tracer, exporter = spans
    session = begin_delegated_task(
        make_options(), delegated, tracer=tracer, transport=transport, async_transport=transport
    )
    track(session)
    with pytest.raises(DelegationException) as raised:
        await either(
            mode,
            lambda: session.attenuate_for_call("hotel-agent", ["hotels:book"]),
            lambda: session.attenuate_for_call_async("hotel-agent", ["hotels:book"]),
        )
    secret_part = child.split(".")[1][:24]
    assert secret_part not in chain_text(raised.value)
    (span,) = governance_spans(exporter, A.GovernanceKinds.ATTENUATE)
    assert secret_part not in str(dict(span.attributes or {}))
    assert all(secret_part not in str(event.attributes) for event in span.events)
    assert "not shown" in str(raised.value)
