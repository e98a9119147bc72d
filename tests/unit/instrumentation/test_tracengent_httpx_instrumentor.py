"""The egress instrumentor: zero-code patching of httpx transports, and `GatedTransport`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import httpx
import pytest
import wrapt
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.utils import (
    suppress_http_instrumentation,
    suppress_instrumentation,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from opentelemetry.exporter.tracengent._platform_calls import PLATFORM_CALL_KEY, platform_call
from opentelemetry.instrumentation.tracengent_httpx import (
    AsyncGatedTransport,
    GatedTransport,
    TracengentHTTPXInstrumentor,
    _flow,
)
from opentelemetry.instrumentation.tracengent_httpx import gate as gate_module
from opentelemetry.instrumentation.tracengent_httpx import instrumentor as instrumentor_module
from tests.support.loopback import LoopbackServer, Reply, serve

ORIGINAL_SYNC = httpx.HTTPTransport.handle_request
ORIGINAL_ASYNC = httpx.AsyncHTTPTransport.handle_async_request


class Refused(Exception):
    """The stub gate's deny."""


class RecordingGate:
    """An `EgressGate` stub: governs one host, records what it checked, optionally refuses."""

    def __init__(self, host: str = "127.0.0.1", *, refuse: bool = False) -> None:
        self.host = host
        self.refuse = refuse
        self.checked: list[httpx.Request] = []

    def is_governed(self, request: httpx.Request) -> bool:
        return request.url.host == self.host

    def check(self, request: httpx.Request) -> httpx.Request:
        self.checked.append(request)
        if self.refuse:
            raise Refused(request.url.path)
        return request

    async def check_async(self, request: httpx.Request) -> httpx.Request:
        return self.check(request)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(lambda _: Reply(200, b'{"ok":true}')) as running:
        yield running


@pytest.fixture
def instrumentor() -> Iterator[TracengentHTTPXInstrumentor]:
    instance = TracengentHTTPXInstrumentor()
    yield instance
    if instance.is_instrumented_by_opentelemetry:
        instance.uninstrument()


@pytest.fixture
def otel_httpx() -> Iterator[tuple[HTTPXClientInstrumentor, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instance = HTTPXClientInstrumentor()
    yield instance, exporter
    if instance.is_instrumented_by_opentelemetry:
        instance.uninstrument()


def _client_spans(exporter: InMemorySpanExporter) -> int:
    return sum(1 for span in exporter.get_finished_spans() if span.kind is SpanKind.CLIENT)


def test_instrument_gates_every_sync_client(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """After instrument(gate=...), a plain httpx.Client's requests go through the gate."""
    gate = RecordingGate()
    instrumentor.instrument(gate=gate)
    with httpx.Client() as client:
        assert client.get(f"{server.url}/a").status_code == 200
    assert [r.url.path for r in gate.checked] == ["/a"]
    assert server.paths() == ["/a"]


async def test_instrument_gates_every_async_client(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """After instrument(gate=...), a plain httpx.AsyncClient's requests go through the gate."""
    gate = RecordingGate()
    instrumentor.instrument(gate=gate)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{server.url}/b")).status_code == 200
    assert [r.url.path for r in gate.checked] == ["/b"]


def test_refusing_gate_stops_request_and_reraises_untouched(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """The gate's own exception reaches the application and nothing reaches the server."""
    instrumentor.instrument(gate=RecordingGate(refuse=True))
    with httpx.Client() as client, pytest.raises(Refused, match="/secret"):
        client.post(f"{server.url}/secret", json={"card": "4242"})
    assert server.received == []


def test_ungoverned_host_is_not_checked(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """A request to a host the gate does not govern is sent without a check."""
    gate = RecordingGate(host="api.example.com", refuse=True)
    instrumentor.instrument(gate=gate)
    with httpx.Client() as client:
        assert client.get(f"{server.url}/free").status_code == 200
    assert gate.checked == []


def test_suppressed_instrumentation_does_not_bypass_the_gate(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """A request made under OTel's suppress_instrumentation (any library may set it) is still
    gated: suppressing telemetry must not let a governed request leave unchecked."""
    gate = RecordingGate(refuse=True)
    instrumentor.instrument(gate=gate)
    with suppress_instrumentation(), httpx.Client() as client, pytest.raises(Refused):
        client.get(f"{server.url}/library-call")
    assert server.received == []
    assert len(gate.checked) == 1


def test_the_platforms_own_calls_are_not_gated(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """Requests the SDK makes to its platform (marked by `platform_call`) pass unchecked:
    asking the platform about its own calls would recurse."""
    gate = RecordingGate(refuse=True)
    instrumentor.instrument(gate=gate)
    with platform_call(), httpx.Client() as client:
        assert client.get(f"{server.url}/platform").status_code == 200
    assert gate.checked == []


def test_the_exporter_and_the_instrumentor_spell_one_platform_call_key() -> None:
    """The two packages do not depend on each other; their copies of the key must agree."""
    assert _flow.PLATFORM_CALL_KEY == PLATFORM_CALL_KEY


def test_http_only_suppression_does_not_bypass_the_gate(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """OTel's HTTP-only suppression (used against duplicate spans) still gates the request."""
    gate = RecordingGate(refuse=True)
    instrumentor.instrument(gate=gate)
    with suppress_http_instrumentation(), httpx.Client() as client, pytest.raises(Refused):
        client.get(f"{server.url}/nested-library-call")
    assert server.received == []


def make_gate() -> RecordingGate:
    """An entry-point factory returning a gate."""
    return RecordingGate(host="registered.test")


def make_nothing() -> None:
    """An entry-point factory with nothing to offer."""


def make_wrong() -> object:
    """An entry-point factory returning something that is not a gate."""
    return object()


def make_broken() -> RecordingGate:
    """An entry-point factory that fails."""
    raise RuntimeError("factory failed")


def _entry_points(*names: str) -> list[EntryPoint]:
    module = __name__
    return [
        EntryPoint(f"{index}-{name}", f"{module}:{name}", gate_module.ENTRY_POINT_GROUP)
        for index, name in enumerate(names)
    ]


def test_load_gate_skips_failing_and_wrong_factories(monkeypatch: pytest.MonkeyPatch) -> None:
    """Discovery skips factories that fail, return None or a non-gate, and takes the next gate."""
    registered = _entry_points("make_broken", "make_nothing", "make_wrong", "make_gate")
    monkeypatch.setattr(gate_module, "entry_points", lambda group: registered)
    gate = gate_module.load_gate()
    assert isinstance(gate, RecordingGate)
    assert gate.host == "registered.test"


def test_load_gate_without_registrations_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing registered, discovery finds no gate (and raises nothing)."""
    monkeypatch.setattr(gate_module, "entry_points", lambda group: _entry_points("make_nothing"))
    assert gate_module.load_gate() is None


def test_instrument_without_gate_uses_the_registered_one(
    instrumentor: TracengentHTTPXInstrumentor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """instrument() with no gate builds the registered gate (zero-code) and gates with it."""
    monkeypatch.setattr(gate_module, "entry_points", lambda group: _entry_points("make_gate"))
    instrumentor.instrument()
    assert httpx.HTTPTransport.handle_request is not ORIGINAL_SYNC


def test_uninstrument_restores_httpx_methods(instrumentor: TracengentHTTPXInstrumentor) -> None:
    """uninstrument() puts httpx's own functions back (identity), and instrument() replaced them."""
    instrumentor.instrument(gate=RecordingGate())
    assert httpx.HTTPTransport.handle_request is not ORIGINAL_SYNC
    assert httpx.AsyncHTTPTransport.handle_async_request is not ORIGINAL_ASYNC
    instrumentor.uninstrument()
    assert httpx.HTTPTransport.handle_request is ORIGINAL_SYNC
    assert httpx.AsyncHTTPTransport.handle_async_request is ORIGINAL_ASYNC


def test_instrument_is_idempotent(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """A second instrument() wraps nothing more: each request is checked once, one unwrap restores."""
    gate = RecordingGate()
    instrumentor.instrument(gate=gate)
    instrumentor.instrument(gate=RecordingGate(refuse=True))
    with httpx.Client() as client:
        client.get(f"{server.url}/once")
    assert len(gate.checked) == 1
    instrumentor.uninstrument()
    assert httpx.HTTPTransport.handle_request is ORIGINAL_SYNC


def test_without_a_gate_nothing_is_patched(
    instrumentor: TracengentHTTPXInstrumentor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no gate given nor registered, httpx is left exactly as it was."""
    monkeypatch.setattr(instrumentor_module, "load_gate", lambda: None)
    instrumentor.instrument()
    assert httpx.HTTPTransport.handle_request is ORIGINAL_SYNC
    assert httpx.AsyncHTTPTransport.handle_async_request is ORIGINAL_ASYNC


def test_missing_gate_is_logged_once(
    instrumentor: TracengentHTTPXInstrumentor,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Instrumenting without a gate says so once per process, however often it happens."""
    monkeypatch.setattr(instrumentor_module, "load_gate", lambda: None)
    monkeypatch.setattr(TracengentHTTPXInstrumentor, "_reported_no_gate", False)
    with caplog.at_level(logging.INFO, logger=instrumentor_module.__name__):
        for _ in range(2):
            instrumentor.instrument()
            instrumentor.uninstrument()
    assert len([r for r in caplog.records if "no egress gate" in r.getMessage()]) == 1


def test_instrument_rejects_a_non_gate(instrumentor: TracengentHTTPXInstrumentor) -> None:
    """A gate that does not implement EgressGate is a configuration error."""
    with pytest.raises(TypeError, match="EgressGate"):
        instrumentor.instrument(gate=object())


@pytest.mark.parametrize("otel_first", [True, False], ids=["otel-first", "otel-last"])
def test_one_client_span_per_request_with_otel_httpx(
    instrumentor: TracengentHTTPXInstrumentor,
    otel_httpx: tuple[HTTPXClientInstrumentor, InMemorySpanExporter],
    server: LoopbackServer,
    otel_first: bool,
) -> None:
    """With OTel's httpx instrumentation also active, each request has exactly one client span."""
    otel, exporter = otel_httpx
    gate = RecordingGate()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if otel_first:
        otel.instrument(tracer_provider=provider)
        instrumentor.instrument(gate=gate)
    else:
        instrumentor.instrument(gate=gate)
        otel.instrument(tracer_provider=provider)
    with httpx.Client() as client:
        client.get(f"{server.url}/one")
        client.get(f"{server.url}/two")
    assert _client_spans(exporter) == 2
    assert len(gate.checked) == 2
    otel.uninstrument()
    instrumentor.uninstrument()
    assert httpx.HTTPTransport.handle_request is ORIGINAL_SYNC


@pytest.mark.parametrize("otel_first", [True, False], ids=["otel-first", "otel-last"])
def test_otel_uninstrument_never_removes_the_gate(
    instrumentor: TracengentHTTPXInstrumentor,
    otel_httpx: tuple[HTTPXClientInstrumentor, InMemorySpanExporter],
    server: LoopbackServer,
    otel_first: bool,
) -> None:
    """OTel's `unwrap` peels the outermost wrapt layer: our layer sits innermost, so the other
    instrumentation's `uninstrument()` takes its own layer off and the gate keeps gating, and
    a later `instrument()` of ours still goes under whatever that left behind."""
    otel, exporter = otel_httpx
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gate = RecordingGate(refuse=True)
    if otel_first:
        otel.instrument(tracer_provider=provider)
        instrumentor.instrument(gate=gate)
    else:
        instrumentor.instrument(gate=gate)
        otel.instrument(tracer_provider=provider)
    otel.uninstrument()
    with httpx.Client() as client, pytest.raises(Refused):
        client.get(f"{server.url}/after-otel-left")
    async_client = httpx.AsyncClient()
    with pytest.raises(Refused):
        asyncio.run(async_client.get(f"{server.url}/async-after-otel-left"))
    assert _client_spans(exporter) == 0
    instrumentor.uninstrument()
    assert httpx.HTTPTransport.handle_request is ORIGINAL_SYNC
    assert httpx.AsyncHTTPTransport.handle_async_request is ORIGINAL_ASYNC


def test_gate_goes_under_a_layer_left_bound_by_another_unwrap(
    instrumentor: TracengentHTTPXInstrumentor,
    otel_httpx: tuple[HTTPXClientInstrumentor, InMemorySpanExporter],
    server: LoopbackServer,
) -> None:
    """A third wrapt layer that OTel's `unwrap` left bound to None (it reads the attribute
    through the class) calls through its parent: the gate goes under the parent, and gates."""
    otel, _ = otel_httpx
    calls: list[str] = []

    def other(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        calls.append("other")
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(httpx.HTTPTransport, "handle_request", other)
    otel.instrument()
    otel.uninstrument()  # leaves `other` bound to None as the class attribute
    try:
        instrumentor.instrument(gate=RecordingGate(refuse=True))
        with httpx.Client() as client, pytest.raises(Refused):
            client.get(f"{server.url}/x")
        assert calls == ["other"]
        instrumentor.uninstrument()
        with httpx.Client() as client:
            assert client.get(f"{server.url}/y").status_code == 200
    finally:
        httpx.HTTPTransport.handle_request = ORIGINAL_SYNC  # type: ignore[method-assign]


def test_a_wrapper_kept_by_a_client_checks_with_the_active_gate(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """OTel's `instrument_client` wraps the transport's method as it is then (our wrapper,
    bound): after our gate is replaced, that kept wrapper checks with the new gate, and passes
    requests through only once no gate is installed at all."""
    instrumentor.instrument(gate=RecordingGate(refuse=True))
    client = httpx.Client()
    HTTPXClientInstrumentor.instrument_client(client)
    try:
        instrumentor.uninstrument()
        second = RecordingGate(refuse=True)
        instrumentor.instrument(gate=second)
        with pytest.raises(Refused):
            client.get(f"{server.url}/kept")
        assert [request.url.path for request in second.checked] == ["/kept"]
        instrumentor.uninstrument()
        assert client.get(f"{server.url}/ungated").status_code == 200
        assert len(second.checked) == 1
    finally:
        HTTPXClientInstrumentor.uninstrument_client(client)
        client.close()


@pytest.mark.parametrize("otel_first", [True, False], ids=["otel-first", "otel-last"])
def test_uninstrument_in_any_order_restores_httpx(
    instrumentor: TracengentHTTPXInstrumentor,
    otel_httpx: tuple[HTTPXClientInstrumentor, InMemorySpanExporter],
    server: LoopbackServer,
    otel_first: bool,
) -> None:
    """Removing our layer keeps OTel's, and removing both restores httpx's own functions."""
    otel, exporter = otel_httpx
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gate = RecordingGate(refuse=True)
    if otel_first:
        otel.instrument(tracer_provider=provider)
        instrumentor.instrument(gate=gate)
    else:
        instrumentor.instrument(gate=gate)
        otel.instrument(tracer_provider=provider)
    instrumentor.uninstrument()
    with httpx.Client() as client:
        assert client.get(f"{server.url}/after").status_code == 200
    assert gate.checked == []
    assert _client_spans(exporter) == 1
    otel.uninstrument()
    assert httpx.HTTPTransport.handle_request is ORIGINAL_SYNC
    assert httpx.AsyncHTTPTransport.handle_async_request is ORIGINAL_ASYNC


def test_gated_transport_over_patched_transport_checks_once(
    instrumentor: TracengentHTTPXInstrumentor, server: LoopbackServer
) -> None:
    """A GatedTransport over a patched HTTPTransport does not authorize the same request twice."""
    gate = RecordingGate()
    instrumentor.instrument(gate=gate)
    with httpx.Client(transport=GatedTransport(httpx.HTTPTransport(), gate)) as client:
        client.get(f"{server.url}/nested")
    assert len(gate.checked) == 1


def test_gated_transport_sends_what_the_gate_returns() -> None:
    """The inner transport receives the request the gate returned, not the original."""
    sent: list[bytes] = []

    class Rewriting(RecordingGate):
        def check(self, request: httpx.Request) -> httpx.Request:
            return httpx.Request(request.method, request.url, content=b"rewritten")

    def inner(request: httpx.Request) -> httpx.Response:
        sent.append(request.read())
        return httpx.Response(204)

    transport = GatedTransport(httpx.MockTransport(inner), Rewriting(host="tool.test"))
    with httpx.Client(transport=transport) as client:
        client.post("http://tool.test/x", content=b"original")
    assert sent == [b"rewritten"]


async def test_async_gated_transport_refuses_before_inner() -> None:
    """AsyncGatedTransport raises the gate's exception and never calls the inner transport."""
    calls: list[httpx.Request] = []

    async def inner(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    transport = AsyncGatedTransport(
        httpx.MockTransport(inner), RecordingGate("tool.test", refuse=True)
    )
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(Refused):
            await client.get("http://tool.test/x")
    assert calls == []


def test_inner_exception_reaches_the_application_untouched() -> None:
    """An error of the inner transport propagates as the very same exception object."""
    boom = httpx.ConnectError("down")

    def inner(request: httpx.Request) -> httpx.Response:
        raise boom

    transport = GatedTransport(httpx.MockTransport(inner), RecordingGate("tool.test"))
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as caught:
        client.get("http://tool.test/x")
    assert caught.value is boom


def test_a_second_gate_is_not_used_and_says_so(
    instrumentor: TracengentHTTPXInstrumentor,
    server: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """instrument(gate=B) while gate A is installed keeps A (idempotent) and warns that B is not
    used and how to replace A; the same gate again warns nothing."""
    first, second = RecordingGate(), RecordingGate()
    instrumentor.instrument(gate=first)
    with caplog.at_level(logging.WARNING):
        instrumentor.instrument(gate=first)
        assert not [r for r in caplog.records if "not used" in r.getMessage()]
        instrumentor.instrument(gate=second)
    (warning,) = [r.getMessage() for r in caplog.records if "not used" in r.getMessage()]
    assert "uninstrument() first" in warning
    with httpx.Client() as client:
        assert client.get(f"{server.url}/a").status_code == 200
    assert len(first.checked) == 1
    assert second.checked == []
