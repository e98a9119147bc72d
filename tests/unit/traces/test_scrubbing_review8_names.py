"""Review 8: `pwd`, `passwd` and `passphrase` are default sensitive names, in every spelling a
payload, an attribute, a URL's query or free text gives them; harmless names stay."""

from __future__ import annotations

import json

import pytest

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._url_redaction import is_sensitive_parameter
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent._scrubbing import Scrubber

_SENSITIVE = [
    "pwd",
    "PWD",
    "db_pwd",
    "userPwd",
    "login-pwd",
    "pwd_hash",
    "passwd",
    "db_passwd",
    "passphrase",
    "Passphrase",
    "ssh_passphrase",
    "keyPassphrase",
    "passphrase-file",
]
_HARMLESS = ["cwd", "path", "passenger", "pass_count", "phrase", "pw_dir", "upward"]


@pytest.mark.parametrize("name", _SENSITIVE)
def test_pwd_passwd_and_passphrase_are_masked_by_default(name: str) -> None:
    """A payload key, a span attribute, a URL's query parameter and a name in free text so
    spelled: masked with no `scrub_patterns` configured."""
    scrubber = Scrubber()
    text = scrubber.payload_text({name: "hunter2", "n": 1})
    assert text is not None
    assert json.loads(text) == {name: MASK_TOKEN, "n": 1}
    assert scrubber.scrub_attribute(f"app.{name}", "hunter2") == MASK_TOKEN
    assert scrubber.url_value(f"https://db.example/x?{name}=hunter2&a=1") == (
        f"https://db.example/x?{name}=REDACTED&a=1"
    )
    assert is_sensitive_parameter(name)
    assert "hunter2" not in scrubber.free_text(f"connect failed: {name}=hunter2")


@pytest.mark.parametrize("name", _HARMLESS)
def test_names_that_only_look_alike_are_kept(name: str) -> None:
    """`cwd`, `passenger`, `phrase`: no credential, not masked."""
    assert not Scrubber().is_sensitive_name(name)
    assert not is_sensitive_parameter(name)


def test_the_defaults_mask_none_of_tracengents_own_attributes() -> None:
    """No attribute name Tracengent defines matches a default glob (`Scrubber.custom_names`
    relies on it: without configured globs our spans' names are not checked)."""
    scrubber = Scrubber()
    names = [v for k, v in vars(A).items() if k.isupper() and isinstance(v, str) and "." in v]
    assert names
    assert [name for name in names if scrubber.is_sensitive_name(name)] == []
