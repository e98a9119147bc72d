"""`RunningPlatform.options(**overrides)` sets option fields only: any other name is the
documented `TracengentConfigError`, never an `AttributeError` or an option method replaced."""

from __future__ import annotations

import pytest

from tracengent import TracengentConfigError
from tracengent.testing import RunningPlatform


@pytest.mark.parametrize("name", ["validate", "uses_client_credentials", "from_env", "nope"])
def test_an_override_that_is_no_field_is_a_config_error(
    tracengent_platform: RunningPlatform, name: str
) -> None:
    """A method or property name is unknown as an override, as a misspelt field is."""
    overrides: dict[str, object] = {name: True}
    with pytest.raises(TracengentConfigError, match=name):
        tracengent_platform.options("demo-agent", **overrides)


def test_field_overrides_are_set(tracengent_platform: RunningPlatform) -> None:
    """A known field is set, and the options still validate."""
    options = tracengent_platform.options(flush_interval_ms=50, default_tags=["ci"])
    assert options.flush_interval_ms == 50
    assert options.default_tags == ["ci"]
    assert options.validate() is options
