"""Review 4, against the real local platform: a refund sent as a form (as Stripe's API takes it)
never reaches the tool server with the card the default policy's refund route masks."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tracengent import TracengentClient

from .test_egress_review import REFUNDS, ToolServer, _send, client, tool_server

__all__ = ["client", "tool_server"]

CARD = "4242 4242 4242 4242"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": {"amount": "10", "currency": "EUR", "card": CARD}}, id="form"),
        pytest.param(
            {"data": {"amount": "10"}, "files": {"card": ("card.txt", CARD.encode())}},
            id="multipart",
        ),
    ],
)
async def test_refund_form_with_a_card_is_not_sent(
    client: TracengentClient, tool_server: ToolServer, mode: str, body: dict[str, object]
) -> None:
    with pytest.raises(ToolDeniedException) as caught:
        await _send(mode, client, tool_server, "POST", REFUNDS, **body)
    assert caught.value.outcome == "redaction_unapplicable"
    assert tool_server.received == []
