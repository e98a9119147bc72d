"""Nothing lost silently: under every platform fault, each event is acknowledged or counted by reason.

Each scenario records standalone events through the public API against the chaos platform, closes
the client, and checks the books: what the platform acknowledged equals `delivered`, and
`delivered + every counted drop == produced`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.support.chaos import (
    EVENTS_PATH,
    TOKEN_PATH,
    Answer,
    ChaosServer,
    Drop,
    Fault,
    Script,
    Stall,
    Truncate,
    closed_port_url,
    http_date_in,
    random_5xx,
    sequence,
)
from tests.support.loopback import Received
from tracengent import AgentEvent, EventTypes, TracengentClient

from .conftest import ROWS, ScenarioRow, chaos_options

# Not drops: `misuse` counts calls ignored whose event was still sent.
COUNTERS = ("delivered", "traces_closed", "payloads_omitted", "payloads_withheld", "misuse")


def storm(seconds: float, status: int = 503) -> Script:
    """Answer `status` to every request for `seconds` after the first one, then the default."""
    started: list[float] = []

    def script(_: int, __: Received) -> Fault | None:
        if not started:
            started.append(time.monotonic())
        if time.monotonic() - started[0] < seconds:
            return Answer(status, {"error": "storm"})
        return None

    return script


def drops_of(stats: dict[str, int]) -> dict[str, int]:
    """The non-zero drop counters of a `delivery_stats` snapshot."""
    return {k: v for k, v in stats.items() if k not in COUNTERS and v}


def record_events(client: TracengentClient, count: int, prefix: str = "e") -> int:
    """Record `count` standalone events named `{prefix}-{i}`; return how many raised (must be 0)."""
    raised = 0
    for i in range(count):
        try:
            client.record(AgentEvent(name=f"{prefix}-{i}", type=EventTypes.ACTION))
        except Exception:  # noqa: BLE001 - counted: the suite asserts it never happens
            raised += 1
    return raised


@dataclass(frozen=True)
class Books:
    """The accounting of one scenario after `close()`."""

    produced: int
    acknowledged: int
    stats: dict[str, int]
    close_s: float
    flushed: bool
    exceptions: int

    @property
    def drops(self) -> dict[str, int]:
        """Non-zero drops by reason."""
        return drops_of(self.stats)

    @property
    def lost_silently(self) -> int:
        """Events neither acknowledged nor counted."""
        return self.produced - self.acknowledged - sum(self.drops.values())


def run_scenario(
    name: str,
    server_url: str,
    acknowledged: Callable[[], int],
    produce: Callable[[TracengentClient], int],
    produced: int,
    *,
    close_timeout: float = 5.0,
    **overrides: object,
) -> Books:
    """Produce against the server, close, and check the books balance; record the table row."""
    client = TracengentClient(chaos_options(server_url, **overrides))
    exceptions = produce(client)
    started = time.monotonic()
    flushed = client.close(timeout=close_timeout)
    close_s = time.monotonic() - started
    stats = client.delivery_stats
    books = Books(produced, acknowledged(), stats, close_s, flushed, exceptions)
    ROWS.append(
        ScenarioRow(
            name,
            produced,
            stats["delivered"],
            ", ".join(f"{k}={v}" for k, v in books.drops.items()) or "-",
            books.lost_silently,
            exceptions,
            "-",
            close_s,
        )
    )
    assert exceptions == 0
    assert stats["delivered"] == books.acknowledged, stats
    assert books.lost_silently == 0, stats
    assert client.dropped_count == sum(books.drops.values())
    # close() says whether what was buffered went out: False whenever the timeout cut it off.
    if not books.drops:
        assert books.flushed
    if "shutdown_timeout" in books.drops:
        assert not books.flushed
    assert close_s < close_timeout + 0.25
    return books


def _acked(chaos: ChaosServer) -> Callable[[], int]:
    def count() -> int:
        return len(chaos.acknowledged_events())

    return count


def test_healthy_platform_delivers_everything_in_bounded_batches(chaos: ChaosServer) -> None:
    """Against a healthy platform, close() delivers all 950 events in batches of at most 100."""
    books = run_scenario("healthy", chaos.url, _acked(chaos), lambda c: record_events(c, 950), 950)
    assert books.acknowledged == 950
    assert books.flushed
    sizes = [len(batch) for batch in chaos.event_batches()]
    assert max(sizes) <= 100
    assert sum(sizes) == 950


def test_a_503_storm_of_about_a_second_loses_nothing(chaos: ChaosServer) -> None:
    """A 1.2 s storm of 503s is outlasted by the backoff (0.2+0.4+0.8 s minimum): all arrive."""
    chaos.on(EVENTS_PATH, storm(1.2))
    books = run_scenario(
        "503 storm 1.2 s", chaos.url, _acked(chaos), lambda c: record_events(c, 200), 200
    )
    assert books.acknowledged == 200
    assert any(e.status == 503 for e in chaos.to(EVENTS_PATH))


def test_seeded_random_5xx_loses_nothing_silently(chaos: ChaosServer) -> None:
    """A 30 % seeded rate of 500s is retried; whatever is not delivered is counted exhausted."""
    chaos.on(EVENTS_PATH, random_5xx(0.3, seed=8, status=500))
    books = run_scenario(
        "random 5xx 30%",
        chaos.url,
        _acked(chaos),
        lambda c: record_events(c, 120),
        120,
        max_batch_size=20,
    )
    assert set(books.drops) <= {"retries_exhausted"}
    assert books.acknowledged >= 100
    assert any(e.status == 500 for e in chaos.to(EVENTS_PATH))


def test_permanent_rejection_is_counted_and_not_retried(chaos: ChaosServer) -> None:
    """A 400 is a permanent rejection: each batch is sent once and its events counted rejected."""
    chaos.on(EVENTS_PATH, sequence(then=Answer(400, {"error": "invalid_event"})))
    books = run_scenario(
        "400 rejected", chaos.url, _acked(chaos), lambda c: record_events(c, 250), 250
    )
    assert books.drops == {"rejected": 250}
    assert sum(len(batch) for batch in chaos.event_batches()) == 250  # each event sent once


def test_retries_exhausted_is_counted_and_logged_once(
    chaos: ChaosServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A platform answering 503 forever: every event counted exhausted, the cause logged once."""
    chaos.on(EVENTS_PATH, sequence(then=Answer(503, {"error": "down"})))
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        books = run_scenario(
            "503 forever",
            chaos.url,
            _acked(chaos),
            lambda c: record_events(c, 300),
            300,
            max_retries=1,
        )
    assert books.drops == {"retries_exhausted": 300}
    assert sum(len(batch) for batch in chaos.event_batches()) == 600  # 1 try + 1 retry each
    causes = [r for r in caplog.records if "retries_exhausted" in r.getMessage()]
    assert len(causes) == 1


def test_connection_refused_is_counted_within_the_close_timeout() -> None:
    """No platform at all (closed port): everything counted, close() bounded."""
    books = run_scenario(
        "connection refused",
        closed_port_url(),
        lambda: 0,
        lambda c: record_events(c, 120),
        120,
        close_timeout=3.0,
    )
    assert books.acknowledged == 0
    assert set(books.drops) <= {"retries_exhausted", "shutdown_timeout"}


def test_truncated_and_dropped_answers_are_retried(chaos: ChaosServer) -> None:
    """A truncated 200 and a dropped connection are transport errors: retried, nothing lost."""
    chaos.on(EVENTS_PATH, sequence(Truncate(body=b'{"accepted":'), Drop()))
    books = run_scenario(
        "truncated + dropped", chaos.url, _acked(chaos), lambda c: record_events(c, 40), 40
    )
    assert books.acknowledged == 40
    assert books.flushed


def test_a_stalled_platform_cannot_hold_close_past_its_timeout(chaos: ChaosServer) -> None:
    """Ingest never answers: close(1.0) returns in time, False, with what was left counted."""
    chaos.on(EVENTS_PATH, sequence(then=Stall()))
    books = run_scenario(
        "stalled platform, close(1.0)",
        chaos.url,
        _acked(chaos),
        lambda c: record_events(c, 300),
        300,
        close_timeout=1.0,
    )
    assert not books.flushed
    assert books.drops == {"shutdown_timeout": 300}


def test_a_full_buffer_counts_what_it_refuses(chaos: ChaosServer) -> None:
    """With room for 10, the 40 events beyond it are counted queue_full; the 10 arrive."""
    books = run_scenario(
        "buffer full",
        chaos.url,
        _acked(chaos),
        lambda c: record_events(c, 50),
        50,
        queue_capacity=10,
        max_batch_size=100,
    )
    assert books.drops == {"queue_full": 40}
    assert books.acknowledged == 10


def test_records_after_close_are_counted(chaos: ChaosServer) -> None:
    """Events recorded after close() are not sent but counted, and recording does not raise."""

    def produce(client: TracengentClient) -> int:
        raised = record_events(client, 5, "before")
        client.close()
        return raised + record_events(client, 7)

    books = run_scenario("records after close", chaos.url, _acked(chaos), produce, 12)
    assert books.drops == {"after_shutdown": 7}
    assert sum(1 for e in chaos.acknowledged_events() if e["name"] == "before-0") == 1


def test_retry_after_seconds_is_honoured(chaos: ChaosServer) -> None:
    """After `Retry-After: 1` the retry comes no sooner than 1 s later."""
    chaos.on(EVENTS_PATH, sequence(Answer(503, {}, headers=(("Retry-After", "1"),))))
    run_scenario("Retry-After: 1", chaos.url, _acked(chaos), lambda c: record_events(c, 3), 3)
    first, second = chaos.to(EVENTS_PATH)
    assert second.at - first.at >= 1.0


def test_retry_after_http_date_is_honoured(chaos: ChaosServer) -> None:
    """A `Retry-After` HTTP date at least 1 s ahead delays the retry at least 1 s."""

    def first_rate_limited(n: int, _: Received) -> Fault | None:
        # The date is computed when the request arrives, so it really lies ahead.
        return Answer(429, {}, headers=(("Retry-After", http_date_in(1)),)) if n == 0 else None

    chaos.on(EVENTS_PATH, first_rate_limited)
    run_scenario("Retry-After: date", chaos.url, _acked(chaos), lambda c: record_events(c, 3), 3)
    first, second = chaos.to(EVENTS_PATH)
    assert second.at - first.at >= 1.0


def test_retry_after_over_the_cap_is_not_waited_for(chaos: ChaosServer) -> None:
    """`Retry-After: 120` (over the 30 s cap) ends the call at once: counted, close() fast."""
    chaos.on(EVENTS_PATH, sequence(then=Answer(503, {}, headers=(("Retry-After", "120"),))))
    books = run_scenario(
        "Retry-After: 120", chaos.url, _acked(chaos), lambda c: record_events(c, 3), 3
    )
    assert books.drops == {"retries_exhausted": 3}
    assert books.close_s < 2.0


def test_batches_never_exceed_one_mebibyte_in_the_final_flush(chaos: ChaosServer) -> None:
    """Thirty 100 KB events flushed at close go out in bodies of at most 1 MiB each."""

    def produce(client: TracengentClient) -> int:
        raised = 0
        for i in range(30):
            try:
                client.record(
                    AgentEvent(name=f"e-{i}", type=EventTypes.ACTION, input={"blob": "x" * 100_000})
                )
            except Exception:  # noqa: BLE001 - counted: the suite asserts it never happens
                raised += 1
        return raised

    books = run_scenario("30 x 100 KB", chaos.url, _acked(chaos), produce, 30)
    assert books.acknowledged == 30
    bodies = [e.received.body for e in chaos.to(EVENTS_PATH)]
    assert len(bodies) >= 3
    assert all(len(body) <= 1024 * 1024 for body in bodies)


@dataclass
class _Circular:
    items: list[object] = field(default_factory=list)


def test_bad_events_are_dropped_alone_and_their_batch_mates_arrive(chaos: ChaosServer) -> None:
    """An event out of contract, a circular structure and a wrong type are each counted; an
    infinity is sent as null; the 20 good events arrive."""
    circular: dict[str, object] = {}
    circular["self"] = circular

    def produce(client: TracengentClient) -> int:
        raised = record_events(client, 10)
        bad: list[AgentEvent] = [
            # (A NaN cost can no longer be built: `Money` refuses it.)
            AgentEvent(name="off-contract", type="not-a-contract-type"),
            AgentEvent(name="circular", type=EventTypes.ACTION, input=circular),  # type: ignore[arg-type]
            AgentEvent(name="object", type=EventTypes.ACTION, output=object()),  # type: ignore[arg-type]
            AgentEvent(name="inf-attr", type=EventTypes.ACTION, attributes={"x": math.inf}),
        ]
        for event in bad:
            try:
                client.record(event)
            except Exception:  # noqa: BLE001 - counted: the suite asserts it never happens
                raised += 1
        for misuse in (None, "not an event", 42):
            try:
                client.record(misuse)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - counted: the suite asserts it never happens
                raised += 1
        return raised + record_events(client, 10, "e-late")

    books = run_scenario("bad events + misuse", chaos.url, _acked(chaos), produce, 27)
    delivered = {str(e["name"]): e for e in chaos.acknowledged_events()}
    assert {f"e-{i}" for i in range(10)} | {f"e-late-{i}" for i in range(10)} <= set(delivered)
    # An event type outside the contract makes the event itself unsendable: dropped alone and
    # counted.
    assert "off-contract" not in delivered
    assert books.drops == {"unserializable": 1, "recording_failed": 3}
    # An unencodable payload is left out of an event that still arrives, and that is counted.
    for name, key in (("circular", "input"), ("object", "output")):
        assert key not in delivered[name]
    assert books.stats["payloads_omitted"] == 2
    # JSON has no infinity: it is sent as null (as orjson writes it), the rest of the payload kept.
    assert delivered["inf-attr"]["attributes"] == {"x": None}


def test_token_endpoint_401_disables_quietly(chaos: ChaosServer) -> None:
    """A 401 from the token endpoint: events counted agent_disabled, one token request, no raise."""
    chaos.on(TOKEN_PATH, sequence(then=Answer(401, {"error": "invalid_client"})))

    def produce(client: TracengentClient) -> int:
        raised = record_events(client, 150)
        assert not client.authorize("payments:refund").allowed
        return raised

    books = run_scenario("token 401", chaos.url, _acked(chaos), produce, 150, max_batch_size=50)
    assert books.drops == {"agent_disabled": 150}
    # One token request each for the telemetry and the governance connection, then none.
    assert len(chaos.to(TOKEN_PATH)) <= 2
    assert chaos.to(EVENTS_PATH) == []


def test_token_endpoint_503_backs_off_without_spinning(chaos: ChaosServer) -> None:
    """A token endpoint answering 503: events counted, governance denies, token requests only as
    the backoff allows."""
    chaos.on(TOKEN_PATH, sequence(then=Answer(503, {"error": "down"})))

    def produce(client: TracengentClient) -> int:
        raised = record_events(client, 300)
        for _ in range(20):
            try:
                assert not client.authorize("payments:refund").allowed
            except Exception:  # noqa: BLE001 - counted: the suite asserts it never happens
                raised += 1
        return raised

    books = run_scenario(
        "token 503", chaos.url, _acked(chaos), produce, 300, max_batch_size=20, close_timeout=2.0
    )
    assert books.acknowledged == 0
    # Two token providers (telemetry, governance), each asking again only when its backoff
    # (1 s, doubling) ends: callers wait it out and retry, they never spin.
    times = sorted(exchange.at for exchange in chaos.to(TOKEN_PATH))
    assert 1 <= len(times) <= 8
    assert all(later - earlier >= 0.9 for earlier, later in zip(times, times[2:], strict=False))


def test_a_401_once_refreshes_the_token_and_delivers(chaos: ChaosServer) -> None:
    """Ingest answering 401 once: the token is fetched again, the batch resent, nothing lost."""
    chaos.on(EVENTS_PATH, sequence(Answer(401, {"error": "token expired"})))
    books = run_scenario(
        "ingest 401 once", chaos.url, _acked(chaos), lambda c: record_events(c, 30), 30
    )
    assert books.acknowledged == 30
    # The telemetry connection's first token, then the refreshed one (plus none spun).
    assert 2 <= len(chaos.to(TOKEN_PATH)) <= 3


def test_slow_answers_within_the_deadline_still_count(chaos: ChaosServer) -> None:
    """Answers 0.3 s slow (under every deadline): events delivered, authorize still allowed."""
    slow_ok = Answer(body={"allowed": True, "status": "allowed", "reason": "ok"}, delay_s=0.3)
    chaos.on("/v1/authorize", sequence(then=slow_ok))
    chaos.on(EVENTS_PATH, sequence(Answer(body={"accepted": 10}, delay_s=0.3)))

    def produce(client: TracengentClient) -> int:
        raised = record_events(client, 10)
        assert client.authorize("payments:refund").allowed
        return raised

    books = run_scenario("slow answers", chaos.url, _acked(chaos), produce, 10)
    assert books.acknowledged == 10
