"""`Decimal` amounts in an authorization context are sent as JSON numbers (review 3).

A payments agent keeping money in `Decimal` (as `Money` accepts it) was always denied: the context
`{"amount": Decimal("12.50")}` could not be encoded ("Object of type Decimal is not JSON
serializable") and the SDK denied before asking. A finite `Decimal` anywhere in the context is
now the number it is; NaN or an infinity still cannot be sent (a deny, never a guess).
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from tracengent._governance._decisions import build_authorize_request


def test_a_decimal_amount_is_a_json_number() -> None:
    # Typed as JSON values, given at run time as an agent keeping money in Decimal gives them.
    context = cast(
        "dict[str, JsonValue]",
        {"amount": Decimal("12.50"), "currency": "EUR", "lines": [{"total": Decimal("3")}]},
    )
    request = build_authorize_request("payments:refund", context, None)
    assert request["context"] == {"amount": 12.5, "currency": "EUR", "lines": [{"total": 3}]}


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_a_decimal_that_is_no_number_still_cannot_be_sent(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="JSON"):
        build_authorize_request(
            "payments:refund", cast("dict[str, JsonValue]", {"amount": bad}), None
        )
