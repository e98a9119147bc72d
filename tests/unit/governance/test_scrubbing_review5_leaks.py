"""Review 5: secrets that reached an exporter although the scrubbing rules say they are masked."""

from __future__ import annotations

import json

from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent._scrubbing import Scrubber


def test_private_keys_are_masked_in_every_spelling() -> None:
    """`privateKey` and `private-key` are private keys as `private_key` is (API keys, tokens and
    card numbers were masked in each spelling, private keys only with an underscore)."""
    text = Scrubber().payload_text(
        {"privateKey": "k1", "private-key": "k2", "PRIVATE_KEY": "k3", "ssh": {"PrivateKey": "k4"}}
    )
    assert text is not None
    assert json.loads(text) == {
        "privateKey": MASK_TOKEN,
        "private-key": MASK_TOKEN,
        "PRIVATE_KEY": MASK_TOKEN,
        "ssh": {"PrivateKey": MASK_TOKEN},
    }
