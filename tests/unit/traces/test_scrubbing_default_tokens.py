"""Auth, ID and session tokens and credentials are default sensitive names, in a payload's keys,
an attribute's name, a URL's query and free text; usage counts named for tokens are kept.

And `url.original` (the URL as the client was given it) on another instrumentation's span loses
its credentials as it starts, as `url.full` and `http.url` do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._url_redaction import is_sensitive_parameter
from opentelemetry.exporter.tracengent.jsonvalue import JsonInput
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent import AgentEvent, TracengentClient, _state
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent.testing import RunningPlatform

_SENSITIVE = [
    "auth_token",
    "auth-token",
    "authToken",
    "AUTH_TOKEN",
    "x_auth_token",
    "oauth_token",
    "github_auth_token",
    "id_token",
    "id-token",
    "idToken",
    "ID_TOKEN",
    "user.idToken",
    "user_id_token",
    "x-id-token",
    "id_token_hint",
    "idTokenHint",
    "googleIdToken",
    "appleIDToken",
    "msIdTokenHint",
    "user2IdToken",
    "session_token",
    "session-token",
    "sessionToken",
    "aws_session_token",
    "AWS_SESSION_TOKEN",
    "userSessionToken",
    "credential",
    "credentials",
    "Credentials",
    "aws_credentials",
    "clientCredentials",
    "credentials_json",
]
_USAGE_COUNTS = [
    "token",
    "tokens",
    "max_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "token_count",
    "input_tokens",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "paid_tokens",
    "prepaid_token_count",
    "paidTokens",
    "valid_token",
    "validTokens",
    "validToken",
    "paidToken",
    "androidToken",
    "googleIdTokens",
    "VALIDTOKEN",
    "id_tokens",
    "session_tokens",
    "session_tokens_used",
    "session_token_count",
    "sessionId",
    "session_id",
    "author",
]


@pytest.mark.parametrize("name", _SENSITIVE)
def test_token_and_credential_names_are_masked_by_default(name: str) -> None:
    """With no `scrub_patterns`: masked as a payload key, an attribute, a URL's query parameter
    and a name in free text."""
    scrubber = Scrubber()
    text = scrubber.payload_text({name: "eyJhbGciOi.secret", "n": 1})
    assert text is not None
    assert json.loads(text) == {name: MASK_TOKEN, "n": 1}
    assert scrubber.is_sensitive_name(name)
    assert scrubber.scrub_attribute(f"app.{name}", "eyJhbGciOi.secret") == MASK_TOKEN
    assert scrubber.url_value(f"https://idp.example/cb?{name}=eyJhbGciOi.secret&a=1") == (
        f"https://idp.example/cb?{name}=REDACTED&a=1"
    )
    assert is_sensitive_parameter(name)
    assert "eyJhbGciOi" not in scrubber.free_text(f"login failed: {name}=eyJhbGciOi.secret")


@pytest.mark.parametrize("name", _USAGE_COUNTS)
def test_usage_counts_and_look_alikes_are_kept(name: str) -> None:
    """`max_tokens`, `paid_tokens`, `session_tokens`: counts and ids, not masked."""
    scrubber = Scrubber()
    assert not scrubber.is_sensitive_name(name)
    text = scrubber.payload_text({name: 42})
    assert text is not None
    assert json.loads(text) == {name: 42}
    assert scrubber.scrub_attribute(name, 42) == 42


def test_the_defaults_still_mask_none_of_tracengents_own_attributes() -> None:
    """No attribute name Tracengent defines (the GenAI usage counts among them) matches a
    default glob: `Scrubber.custom_names` relies on it."""
    scrubber = Scrubber()
    names = [v for k, v in vars(A).items() if k.isupper() and isinstance(v, str) and "." in v]
    assert A.GEN_AI_USAGE_INPUT_TOKENS in names
    assert [name for name in names if scrubber.is_sensitive_name(name)] == []


@pytest.fixture
def global_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """A fresh SDK provider, the global one for this test only."""
    provider = TracerProvider()
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    yield provider
    provider.shutdown()
    _state.reset_for_tests()


def test_a_recorded_events_tokens_and_credentials_reach_the_platform_masked(
    tracengent_platform: RunningPlatform, global_provider: TracerProvider
) -> None:
    """A real client records an event into the real local platform: the ID and session tokens
    and the credentials in its input, output and attributes are masked there, at any depth,
    and its usage counts are kept."""
    client = TracengentClient(tracengent_platform.options())
    user: dict[str, JsonInput] = {
        "idToken": "eyJhbGciOiJSUzI1NiJ9.payload.sig",
        "session_token": "s3ss10n",
        "credentials": {"password": "x"},
        "aws_credentials": "AKIA/secret",
        "name": "Ada",
    }
    client.record(
        AgentEvent(
            "sign-in",
            "action",
            input={"user": user, "max_tokens": 256},
            output={"auth-token": "tok_live_1", "prompt_tokens": 12, "paid_tokens": 3},
            attributes={"Credentials": "c", "token_count": 7},
        )
    )
    assert client.close()
    [event] = tracengent_platform.store.events()
    body = event.body
    assert body["input"] == {
        "user": {
            "idToken": MASK_TOKEN,
            "session_token": MASK_TOKEN,
            "credentials": MASK_TOKEN,
            "aws_credentials": MASK_TOKEN,
            "name": "Ada",
        },
        "max_tokens": 256,
    }
    assert body["output"] == {"auth-token": MASK_TOKEN, "prompt_tokens": 12, "paid_tokens": 3}
    attributes = body["attributes"]
    assert isinstance(attributes, dict)
    assert attributes["Credentials"] == MASK_TOKEN
    assert attributes["token_count"] == 7
    for secret in ("eyJhbGciOi", "s3ss10n", "AKIA", "tok_live_1"):
        assert secret not in json.dumps(body)


@pytest.fixture
def otel_pipeline() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider with the scrubbing processor and the application's own in-memory exporter."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(ScrubbingProcessor(Scrubber()))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider, memory
    provider.shutdown()


@pytest.mark.parametrize("attribute", ["url.original", A.HTTP_URL_OLD, A.URL_FULL])
def test_an_instrumentations_url_original_loses_its_credentials(
    otel_pipeline: tuple[TracerProvider, InMemorySpanExporter], attribute: str
) -> None:
    """Another instrumentation's CLIENT span starts with the URL as it was given (userinfo, an
    API key, an ID token): every exporter gets it without them, `url.original` as `url.full`."""
    provider, memory = otel_pipeline
    url = "https://ada:hunter2@api.example/v1/me?api_key=sk_live_1&id_token=eyJ.x.y&page=2#f"
    attributes = {A.HTTP_REQUEST_METHOD: "GET", attribute: url}
    tracer = provider.get_tracer("another-instrumentation")
    tracer.start_span("GET", kind=SpanKind.CLIENT, attributes=attributes).end()
    [span] = memory.get_finished_spans()
    assert (span.attributes or {})[attribute] == (
        "https://api.example/v1/me?api_key=REDACTED&id_token=REDACTED&page=2#f"
    )


def test_a_url_original_without_credentials_is_kept_as_it_was() -> None:
    """Nothing to remove: the very value is kept (no rebuilt URL)."""
    url = "https://api.example/v1/me?page=2&max_tokens=5"
    assert Scrubber().scrub_attribute("url.original", url) is url
