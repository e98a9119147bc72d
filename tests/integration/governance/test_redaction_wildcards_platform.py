"""Wildcard redaction paths against the real local platform and a loopback tool server.

A route's redaction `$.items.*.card` (or `$.items[*].card`) was read as a path through a key
literally named `*`: the platform allowed the order, the SDK masked nothing, and every card
number reached the tool server. The tool server here is a real HTTP server on 127.0.0.1 that the
governed client uses as its HTTP proxy, so what it records is exactly what would have left the
machine.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tests.support.loopback import LoopbackServer, Reply, serve
from tracengent import TracengentClient, governed_client
from tracengent.platform import Policy, parse_policy
from tracengent.testing import RunningPlatform

ORDERS = "http://api.example.com/v1/orders"

CARDS = ("4111 1111 1111 1111", "5500 0000 0000 0004", "3400 0000 0000 009")

ORDER: dict[str, Any] = {
    "order": "o-1",
    "items": [
        {"sku": "a", "card": CARDS[0], "cvv": "123"},
        {"sku": "b", "card": CARDS[1], "cvv": "456"},
        {"sku": "c", "card": CARDS[2], "cvv": "789"},
    ],
    "payer": {"name": "Ada", "password": "hunter2"},
}

_POLICY = """
[[agents]]
id = "shop"
client_id = "key_shop"
client_secret = "ags_shop"
permissions = ["orders:create", "crm:sync"]

[[rules]]
permission = "orders:create"
redact_fields = ["$.*.password"]

[[tools]]
transport = "function"
name = "sync_contacts"
permission = "crm:sync"
redactions = [{{ field = "{contacts}", strategy = "mask" }}]

[egress]
allowlist = ["api.example.com"]
unmatched_routes = "deny"

[[egress.routes]]
host = "api.example.com"
methods = ["POST"]
path = "/v1/orders"
permission = "orders:create"
redactions = [
  {{ field = "{card}", strategy = "mask" }},
  {{ field = "{cvv}", strategy = "remove" }},
]
"""


def _policy(spelling: str) -> Policy:
    """The policy with every wildcard written as `spelling` (`.*` or `[*]`)."""
    return parse_policy(
        _POLICY.format(
            card=f"$.items{spelling}.card",
            cvv=f"$.items{spelling}.cvv",
            contacts=f"$.contacts{spelling}.phone",
        )
    )


@pytest.fixture(params=[".*", "[*]"])
def tracengent_policy(request: pytest.FixtureRequest) -> Policy:
    """The platform runs the policy in both spellings of the wildcard step."""
    return _policy(str(request.param))


@pytest.fixture
def tool_server() -> Iterator[LoopbackServer]:
    with serve(lambda _: Reply(200, b'{"ok":true}')) as running:
        yield running


@pytest.fixture
async def client(tracengent_platform: RunningPlatform) -> AsyncIterator[TracengentClient]:
    """`shop`'s client, governing `api.example.com`."""
    opened = TracengentClient(
        tracengent_platform.options("shop", governed_hosts=["api.example.com"], max_retries=0)
    )
    yield opened
    await opened.aclose(timeout=5)


def test_every_items_card_reaches_the_tool_server_masked(
    client: TracengentClient, tool_server: LoopbackServer, tracengent_platform: RunningPlatform
) -> None:
    """The order is allowed; every item's card arrives masked, every `cvv` removed, and the
    rule's `$.*.password` masks the payer's password. Nothing else changes."""
    inner = httpx.HTTPTransport(proxy=tool_server.url)
    with governed_client(client, inner=inner) as http:
        response = http.post(ORDERS, json=ORDER)
    assert response.status_code == 200
    (received,) = tool_server.received
    assert received.path == ORDERS
    assert received.json() == {
        "order": "o-1",
        "items": [
            {"sku": "a", "card": MASK_TOKEN},
            {"sku": "b", "card": MASK_TOKEN},
            {"sku": "c", "card": MASK_TOKEN},
        ],
        "payer": {"name": "Ada", "password": MASK_TOKEN},
    }
    assert received.headers["content-length"] == str(len(received.body))
    for secret in (*CARDS, "hunter2"):
        assert secret.encode() not in received.body
    # The platform stored the request as redacted as it was sent.
    (decision,) = tracengent_platform.store.decisions()
    assert (decision.kind, decision.status) == ("tool", "allowed")
    stored = json.dumps(decision.request)
    assert not any(card in stored for card in CARDS)


def test_a_function_binding_masks_every_contacts_phone(client: TracengentClient) -> None:
    """The tool binding's wildcard redaction reaches the function's arguments: every contact's
    phone is masked in what the function is invoked with."""
    invoked: list[Any] = []
    arguments = {"contacts": [{"name": "Ada", "phone": "+44 1"}, {"name": "Bo", "phone": "+1 2"}]}
    result = client.tools.guard_function("sync_contacts", arguments, invoked.append)
    result.ensure_allowed()
    assert invoked == [
        {"contacts": [{"name": "Ada", "phone": MASK_TOKEN}, {"name": "Bo", "phone": MASK_TOKEN}]}
    ]
