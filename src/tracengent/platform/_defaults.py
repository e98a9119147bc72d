"""The built-in policy `tracengent dev` runs when no `--policy` is given (documented in POLICY.md)."""

from __future__ import annotations

from typing import Final

from tracengent.platform._policy import Policy, parse_policy

__all__ = ["DEFAULT_POLICY_TOML", "default_policy"]

DEFAULT_POLICY_TOML: Final = """
currency = "EUR"
token_ttl_seconds = 900
approval_ttl_seconds = 3600
llm_reservation_ttl_seconds = 900

[currency_rates]
USD = 0.92
GBP = 1.17

[[agents]]
id = "demo-agent"
client_id = "key_demo"
client_secret = "ags_demo"
ingest_key = "agk_demo"
permissions = ["payments:refund", "flights:*", "hotels:*", "llm:call", "mail:send"]
llm_token_budget = 10000

[[agents]]
id = "hotel-agent"
client_id = "key_hotel"
client_secret = "ags_hotel"
ingest_key = "agk_hotel"
permissions = ["hotels:*"]

[[agents]]
id = "car-agent"
client_id = "key_car"
client_secret = "ags_car"
permissions = []

[[agents]]
id = "disabled-agent"
client_id = "key_disabled"
client_secret = "ags_disabled"
ingest_key = "agk_disabled"
permissions = ["*"]
disabled = true

[[rules]]
permission = "payments:refund"
max_amount = 1000
require_approval_over = 500
redact_fields = ["$.card"]

[[tools]]
transport = "mcp"
name = "search_flights"
permission = "flights:search"

[[tools]]
transport = "function"
name = "send_email"
permission = "mail:send"
approval = true

[[tools]]
transport = "function"
name = "book_flight"
permission = "flights:book"
redactions = [{ field = "$.passport", strategy = "remove" }]

[egress]
allowlist = ["api.example.com", "httpbin.org", "127.0.0.1", "localhost"]
unmatched_routes = "deny"

[[egress.routes]]
host = "api.example.com"
methods = ["POST"]
path = "/v1/refunds"
permission = "payments:refund"
redactions = [{ field = "$.card", strategy = "mask" }]

[[egress.routes]]
host = "api.example.com"
methods = ["GET"]
path = "/v1/flights*"
permission = "flights:search"
"""
"""The default policy as TOML (the same schema a `--policy` file uses)."""


def default_policy() -> Policy:
    """The built-in policy: `demo-agent` (`key_demo`/`ags_demo`, ingest key `agk_demo`) and friends."""
    return parse_policy(DEFAULT_POLICY_TOML, source="<built-in policy>")
