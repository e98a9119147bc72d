"""The request/retry policy of every platform call, written once and free of I/O.

`run_call` is a generator: it yields steps (`SendRequest`, `Wait`, `FetchToken`) and receives what
the step produced (a response, an `UndecodableAnswer` or an exception, whether the wait was
interrupted, a token or the `PlatformError` the token fetch raised). The sync and async shells in
`transport.py` only perform the steps, so both follow exactly the same rules (wire contract §1,
§2, §4):

- auth: Bearer from the token provider, or a fixed header (`X-Ingest-Key`, a delegated bearer);
- a 401 with a token provider: fetch a new token once and retry the call once;
- 429, 5xx and transport errors: retried up to `max_retries` times with exponential backoff from
  0.2 s with jitter; `Retry-After` (seconds or an HTTP date) is honoured: it sets the client's
  `NotBefore` time (at most `MAX_NOT_BEFORE_S`, 300 s, ahead), and no request of that client
  (this call's retry or any other call) is sent before it. One call waits for it at most 30 s and never past its deadline: a call that would
  have to wait longer fails instead, unsent, and so does every later call until that time
  (we never wait that long, and never come back sooner than asked);
- a token endpoint that is unreachable or answers 429/5xx is one more retryable failure of the
  call, in the same budget: the retry waits out the token provider's backoff (its `Retry-After`
  included). A token endpoint refusing the credentials (401, another 4xx) or answering nonsense
  ends the call; its 4xx other than 401 (a 404 from a wrong base_url) is a rejection, as the
  same answer from any other endpoint is;
- any other non-2xx is a permanent rejection, never retried (a redirect is not followed: its
  reason names where it points and the base URL it implies, `redirect_hint`);
- the status decides: an answer whose body cannot be decoded is still a 2xx, a 429/5xx or a 4xx.
  A call that only needs the status (ingest) succeeds on such a 2xx; one that reads the answer
  (governance) gets a `MalformedResponseError`, which never fails open;
- a failure that is not the platform's (a bug, a broken custom transport) is a plain
  `PlatformError`, never `PlatformUnavailableError`: only an unavailable platform may fail open;
- nothing waits past the deadline: a wait that would pass it ends the call instead.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Final, Literal, TypeAlias
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import orjson

from opentelemetry.exporter.tracengent.errors import (
    AgentDisabledError,
    MalformedResponseError,
    PlatformError,
    PlatformRejectedError,
    PlatformUnavailableError,
)
from opentelemetry.exporter.tracengent.jsonvalue import (
    EncodedBatch,
    JsonObject,
    JsonValue,
    dumps_compact,
)
from opentelemetry.exporter.tracengent.version import __version__

__all__ = [
    "AGENT_DISABLED",
    "BACKOFF_BASE_S",
    "MAX_NOT_BEFORE_S",
    "MAX_WAIT_S",
    "USER_AGENT",
    "CallOutcome",
    "CallSettings",
    "FetchToken",
    "NotBefore",
    "PreparedBody",
    "SendRequest",
    "Step",
    "TokenUnavailableError",
    "UndecodableAnswer",
    "Wait",
    "backoff_seconds",
    "encode_json_body",
    "not_found_hint",
    "parse_json_object",
    "parse_retry_after",
    "redirect_hint",
    "run_call",
    "unreachable_hint",
]

AGENT_DISABLED: Final = (
    "agent disabled: the token endpoint answered 401: the client_id or client_secret is wrong "
    "(check TRACENGENT_CLIENT_ID / TRACENGENT_CLIENT_SECRET), or the agent is disabled or its "
    "secret revoked"
)
"""The reason of every call and event refused once the token endpoint answered 401. It names the
settings to check because a mistyped credential is the usual cause; it holds no value (it ends
up in deny reasons, span attributes and logs)."""


def unreachable_hint(url: str) -> str:
    """What follows a transport error's text: the address tried and the setting that names it
    (a typo'd host, a wrong port or https to an http platform fail this way). The base URL holds
    no credentials or query (`TracengentOptions.validate`), so the URL can be shown."""
    return f"(at {url}: is the platform running there? check base_url / TRACENGENT_URL)"


def not_found_hint(url: str) -> str:
    """What follows a 404: every endpoint is under the base URL, so a 404 means it is wrong (most
    often it ends in the `/v1` that the endpoints' paths already start with)."""
    return (
        f"(no endpoint at {url}: base_url / TRACENGENT_URL is the platform's address alone, "
        "without /v1)"
    )


def redirect_hint(location: str | None, url: str, path: str) -> str:
    """What follows a 3xx: platform calls follow no redirect (the credentials and the body would
    go to the host it names), so the base URL must be the address it points at (an `http://`
    base URL in front of an https-only platform, a moved host). Shows the target resolved
    against `url` (the URL tried, whose endpoint path is `path`) without its userinfo, query or
    fragment, which may hold credentials, and the base URL it implies."""
    target = ""
    if location is not None and location.strip():
        try:
            parts = urlsplit(urljoin(url, location.strip()))
            if parts.scheme in ("http", "https") and parts.hostname:
                netloc = parts.netloc.rpartition("@")[2]
                target = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        except ValueError:
            target = ""
    if not target:
        return "(a redirect: platform calls follow none; check base_url / TRACENGENT_URL)"
    base = target.removesuffix(path) if path and target.endswith(path) else target
    return (
        f"(a redirect to {target}: platform calls follow none; set base_url / TRACENGENT_URL "
        f"to {base.rstrip('/') or base})"
    )


BACKOFF_BASE_S: Final = 0.2
"""The first retry's backoff; each further retry doubles it (wire contract §2)."""

MAX_WAIT_S: Final = 30.0
"""No single wait is longer; a `Retry-After` asking for more ends the call (see `NotBefore`)."""

MAX_NOT_BEFORE_S: Final = 300.0
"""The longest a `Retry-After` holds a client back: one answer asking for more (a proxy's
`Retry-After: 1e12`) must not stop governance and telemetry for the life of the process."""

USER_AGENT: Final = f"tracengent-python/{__version__}"
"""The `User-Agent` of every platform request."""

# Level 1: measured on batches of 100 events (2-core CI-class machine), against level 6 it costs
# a third to a quarter of the CPU for 15-22 % more bytes (repetitive benchmark events: 0.55 vs
# 2.3 us/event, 3.5 vs 3.0 KB; varied payloads: 8.5 vs 25 us/event, 32 vs 26 KB). Compression
# runs on the export thread beside the agent, and CPU is scarcer there than ingest bandwidth;
# levels 2-3 save a few % of bytes for 7-40 % more CPU on varied events.
_GZIP_LEVEL: Final = 1
_SNIPPET_CHARS: Final = 200


@dataclass(frozen=True)
class PreparedBody:
    """A serialized JSON request body, gzip-compressed when it reached the threshold."""

    content: bytes
    gzipped: bool


_orjson_dumps: Final = orjson.dumps
_ORJSON_STRICT: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _encode_strict(value: JsonValue) -> bytes:
    """`dumps_compact(value)` as UTF-8, made by orjson (in C) when it gives the same document.

    orjson writes NaN and infinities as `null`, which the standard encoder refuses: any `null`
    in orjson's output sends the value to the standard encoder, which decides (and raises for
    them). What orjson refuses (integers beyond 64 bits, non-text keys, lone surrogates, a
    datetime or dataclass the standard encoder would not take either) goes there too.
    """
    try:
        raw = _orjson_dumps(value, option=_ORJSON_STRICT)
    except TypeError:
        return dumps_compact(value).encode()
    if b"null" in raw:
        return dumps_compact(value).encode()
    return raw


def encode_json_body(value: JsonValue | EncodedBatch, gzip_threshold_bytes: int) -> PreparedBody:
    """Compact JSON, gzipped when at least `gzip_threshold_bytes` long.

    Raises:
        ValueError: NaN/infinity or a circular structure.
        TypeError: a value JSON cannot represent.
    """
    raw = value.json_array() if isinstance(value, EncodedBatch) else _encode_strict(value)
    if len(raw) >= gzip_threshold_bytes:
        # mtime=0 keeps the bytes reproducible for the same body.
        return PreparedBody(gzip.compress(raw, compresslevel=_GZIP_LEVEL, mtime=0), True)
    return PreparedBody(raw, False)


@dataclass(frozen=True)
class CallSettings:
    """What the policy needs to know about the client making the call."""

    base_url: str
    max_retries: int
    request_timeout_s: float
    uses_token: bool
    # Never in a repr (frame-local capture, debuggers): it holds `X-Ingest-Key` or a delegated
    # bearer.
    fixed_headers: Mapping[str, str] = field(default_factory=dict, repr=False)


class NotBefore:
    """The time before which the platform asked one client to send nothing (`Retry-After`).

    Shared by every call of one platform client (sync or async, any thread): a `Retry-After` one
    call received holds back the others too, for as long as it says up to `MAX_NOT_BEFORE_S`
    (300 s) from when it was received (the wait of one call is capped at `MAX_WAIT_S`). Only ever
    moves later. Times are on the client's monotonic clock. Thread-safe; no I/O.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = -math.inf
        self._status_code: int | None = None

    @property
    def until(self) -> float:
        """The monotonic time before which nothing is sent (-inf: none)."""
        return self._until

    @property
    def status_code(self) -> int | None:
        """The status of the answer whose `Retry-After` set `until`."""
        return self._status_code

    def postpone(self, until: float, status_code: int | None, *, now: float) -> None:
        """Send nothing before `until`, at most `MAX_NOT_BEFORE_S` after `now` (unless a later
        time is already set)."""
        until = min(until, now + MAX_NOT_BEFORE_S)
        with self._lock:
            if until > self._until:
                self._until = until
                self._status_code = status_code

    def after_fork(self) -> None:
        """A fresh lock in a child of `os.fork()`; the time is kept (it binds the agent, not
        the process)."""
        self._lock = threading.Lock()


class TokenUnavailableError(PlatformUnavailableError):
    """No token for `retry_in_s` seconds: the token endpoint is unreachable or answered 429/5xx,
    or the provider is still backing off after that.

    Raised by the token provider so a call can wait it out within its own deadline; every other
    catcher sees the `PlatformUnavailableError` it is.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_in_s: float = 0.0
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_in_s = retry_in_s


@dataclass(frozen=True)
class SendRequest:
    """Step: send this request; reply with the `httpx.Response` (its body read), an
    `UndecodableAnswer`, or the exception raised."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    timeout_s: float


@dataclass(frozen=True)
class Wait:
    """Step: sleep this long; reply True when the sleep was cut short by shutdown."""

    seconds: float


@dataclass(frozen=True)
class FetchToken:
    """Step: reply with a bearer token, or the `PlatformError` raised getting one.

    `stale` is the token the platform just answered 401 to: drop it before fetching.
    """

    deadline: float
    stale: str | None = None


@dataclass(frozen=True)
class UndecodableAnswer:
    """A reply to `SendRequest`: the platform answered, but its body could not be decoded.

    `response` holds the status and headers; its body is unavailable (never read `content`).
    `error` is why (a `Content-Encoding` the body does not follow, say).
    """

    response: httpx.Response
    error: httpx.HTTPError


Step: TypeAlias = SendRequest | Wait | FetchToken

OutcomeKind: TypeAlias = Literal["ok", "rejected", "failed"]


@dataclass(frozen=True)
class CallOutcome:
    """How a call ended: `ok` with the 2xx response, else `error` says why.

    `rejected` is a permanent refusal of this request by the platform (a non-retryable answer,
    its token endpoint's included);
    `failed` is everything else (retries exhausted, deadline, shutdown, no token, disabled agent).
    """

    kind: OutcomeKind
    response: httpx.Response | None = None
    error: PlatformError | None = None
    cut_by_deadline: bool = False
    """The call's deadline ended it (no time left, or the next retry's wait would pass it)."""

    @property
    def status_code(self) -> int | None:
        """The HTTP status of the last answer, when there was one."""
        if self.response is not None:
            return self.response.status_code
        return self.error.status_code if self.error is not None else None

    @property
    def reason(self) -> str | None:
        """Why the call did not succeed; None when it did."""
        return str(self.error) if self.error is not None else None


def backoff_seconds(retry_index: int, jitter: float) -> float:
    """Backoff before retry number `retry_index` (0-based): 0.2 s doubling, times 1 to 1.5.

    `jitter` is a number in [0, 1); the result never exceeds `MAX_WAIT_S`.
    """
    base = BACKOFF_BASE_S * (2.0 ** min(retry_index, 16))
    return min(base * (1.0 + 0.5 * min(max(jitter, 0.0), 1.0)), MAX_WAIT_S)


def parse_retry_after(value: str | None, now_epoch_s: float) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or HTTP date); None if unusable.

    A date in the past means 0. Every HTTP date is in GMT: one that names no zone (the obsolete
    asctime form, `Sun Nov  6 08:49:37 1994`, which RFC 9110 says a recipient must accept) is
    read as GMT.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        try:
            return max(moment.timestamp() - now_epoch_s, 0.0)
        except (OverflowError, ValueError):
            return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


class _DuplicateKeyError(ValueError):
    """A JSON object of the answer names one key more than once."""


def _unique_keys(pairs: list[tuple[str, JsonValue]]) -> JsonObject:
    """The object of `pairs`; raises `_DuplicateKeyError` when a key comes twice."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(f"names {key!r} more than once")
            seen.add(key)
    return value


_DECODER: Final = json.JSONDecoder(object_pairs_hook=_unique_keys)


def parse_json_object(response: httpx.Response) -> JsonObject:
    """The 2xx answer's body as a JSON object, read by the standard decoder.

    An object naming one key twice (`{"allowed": false, "allowed": true}`) is refused rather
    than read as its first or last value: it is two answers, and a decision must be one.

    Raises:
        MalformedResponseError: empty, not JSON, an object naming a key more than once, or JSON
            that is not an object.
    """
    try:
        raw = response.content
        # What `json.loads` does with bytes, with one decoder made once (not one per call).
        value = _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except _DuplicateKeyError as exc:
        raise MalformedResponseError(
            f"{response.status_code} answer is ambiguous: an object {exc}",
            status_code=response.status_code,
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise MalformedResponseError(
            f"{response.status_code} answer is not JSON: {_snippet(response)!r}",
            status_code=response.status_code,
        ) from exc
    if not isinstance(value, dict):
        raise MalformedResponseError(
            f"{response.status_code} answer is not a JSON object but {type(value).__name__}",
            status_code=response.status_code,
        )
    return value


def _snippet(response: httpx.Response) -> str:
    try:
        text = response.content.decode("utf-8", errors="replace")
    except httpx.HTTPError:
        return ""
    return " ".join(text.split())[:_SNIPPET_CHARS]


def _rejected(response: httpx.Response, url: str, path: str, *, body_readable: bool) -> CallOutcome:
    status = response.status_code
    detail = _snippet(response) if body_readable else "(body could not be decoded)"
    if status == 404:
        detail = f"{detail} {not_found_hint(url)}".lstrip()
    elif 300 <= status < 400:
        # A redirect's body is a server's boilerplate ("Moved Permanently"): where it points
        # is what the reader needs.
        detail = redirect_hint(response.headers.get("Location"), url, path)
    return CallOutcome(
        "rejected",
        error=PlatformRejectedError(f"rejected: {status} {detail}".rstrip(), status_code=status),
    )


def _failed(error: PlatformError) -> CallOutcome:
    return CallOutcome("failed", error=error)


def _unavailable(message: str, status_code: int | None) -> CallOutcome:
    return _failed(PlatformUnavailableError(message, status_code=status_code))


def _cut_by_deadline(message: str, status_code: int | None) -> CallOutcome:
    return CallOutcome(
        "failed",
        error=PlatformUnavailableError(message, status_code=status_code),
        cut_by_deadline=True,
    )


def _token_problem(error: PlatformError) -> CallOutcome:
    if isinstance(error, AgentDisabledError):
        return _failed(AgentDisabledError(AGENT_DISABLED, status_code=error.status_code))
    if isinstance(error, PlatformRejectedError):
        # The platform was reached and refused for good (a 404 from a wrong base_url path): a
        # rejection, never to be counted or logged as an outage that outlasted the retries.
        return CallOutcome("rejected", error=error)
    return _failed(error)


def _not_sent(reply: object) -> CallOutcome:
    """The outcome of a request that raised something other than a transport error."""
    if isinstance(reply, httpx.HTTPError):
        # The platform answered, but not usably (a body that cannot be decoded before a status
        # was seen, a redirect loop): nonsense, not an outage, so never a fail-open.
        return _failed(MalformedResponseError(f"unusable answer: {type(reply).__name__}: {reply}"))
    # Ours, not the platform's (an invalid URL, a broken custom transport, a bug): retrying
    # would only repeat it, and calling it an unavailable platform could fail governance open.
    if isinstance(reply, Exception):
        return _failed(PlatformError(f"request failed: {type(reply).__name__}: {reply}"))
    return _failed(PlatformError(f"request failed: unexpected reply {reply!r}"))


def _wait_for_not_before(
    not_before: NotBefore, deadline: float, clock: Callable[[], float]
) -> Generator[Step, object, CallOutcome | None]:
    """Wait until `not_before` has passed; None then, else how the call ends unsent.

    A wait over `MAX_WAIT_S` or past the deadline is not begun: the call fails at once (the
    time stays set for the calls after it).
    """
    while True:
        now = clock()
        wait = not_before.until - now
        if wait <= 0:
            return None
        status = not_before.status_code
        asked = (
            f"the platform asked for no request for {wait:.1f}s more "
            f"(the Retry-After of its {status} answer)"
        )
        if wait > MAX_WAIT_S:
            return _unavailable(
                f"not sent: {asked}, over the {MAX_WAIT_S:.0f}s a call waits", status
            )
        if now + wait >= deadline:
            return _cut_by_deadline(f"not sent: {asked}, past the call's deadline", status)
        interrupted = yield Wait(wait)
        if interrupted is True:
            return _unavailable(f"shutting down (not sent: {asked})", status)


def run_call(
    method: str,
    path: str,
    body: PreparedBody | None,
    settings: CallSettings,
    *,
    deadline: float,
    clock: Callable[[], float],
    wall_clock: Callable[[], float],
    jitter: Callable[[], float],
    not_before: NotBefore,
    status_only: bool = False,
) -> Generator[Step, object, CallOutcome]:
    """The policy of one platform call, as steps for a shell to perform (see the module doc).

    `not_before`: the client's `Retry-After` time, read before each request and set from each
    answer that carries one.
    `status_only`: the caller needs only the answer's status (ingest), so a 2xx whose body cannot
    be decoded is still a success; otherwise it is a `MalformedResponseError`.
    """
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    headers.update(settings.fixed_headers)
    if body is not None:
        headers["Content-Type"] = "application/json"
        if body.gzipped:
            headers["Content-Encoding"] = "gzip"
    url = settings.base_url.rstrip("/") + path
    token: str | None = None
    # The token the platform just answered 401 to: the next token fetch drops it first.
    stale: str | None = None
    refreshed = False
    retries = 0
    last = "no answer"
    last_status: int | None = None
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            return _cut_by_deadline(f"deadline exceeded ({last})", last_status)
        retry_after: float | None = None
        if settings.uses_token and token is None:
            reply = yield FetchToken(deadline, stale=stale)
            stale = None
            if not isinstance(reply, PlatformError):
                token = str(reply)
                continue
            if not isinstance(reply, PlatformUnavailableError):
                # Refused credentials, a disabled agent, a malformed token answer: no retry helps.
                return _token_problem(reply)
            last, last_status = f"no token: {reply}", reply.status_code
            if isinstance(reply, TokenUnavailableError):
                retry_after = reply.retry_in_s
        else:
            if not_before.until > -math.inf:
                held_back = yield from _wait_for_not_before(not_before, deadline, clock)
                if held_back is not None:
                    return held_back
                remaining = deadline - clock()
                if remaining <= 0:
                    return _cut_by_deadline(f"deadline exceeded ({last})", last_status)
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            content = body.content if body is not None else None
            reply = yield SendRequest(
                method, url, dict(headers), content, min(remaining, settings.request_timeout_s)
            )
            undecodable: httpx.HTTPError | None = None
            if isinstance(reply, UndecodableAnswer):
                undecodable, reply = reply.error, reply.response
            if isinstance(reply, httpx.Response):
                status = reply.status_code
                if 200 <= status < 300:
                    if undecodable is None or status_only:
                        return CallOutcome("ok", response=reply)
                    return _failed(
                        MalformedResponseError(
                            f"{status} answer's body could not be decoded: "
                            f"{type(undecodable).__name__}: {undecodable}",
                            status_code=status,
                        )
                    )
                if status == 401 and token is not None and not refreshed:
                    refreshed = True
                    stale, token = token, None
                    continue
                if status != 429 and status < 500:
                    return _rejected(reply, url, path, body_readable=undecodable is None)
                last, last_status = str(status), status
                retry_after = parse_retry_after(reply.headers.get("Retry-After"), wall_clock())
                if retry_after is not None:
                    now = clock()
                    not_before.postpone(now + retry_after, status, now=now)
            elif isinstance(reply, httpx.LocalProtocolError):
                # httpx could not write the request (an illegal header value): ours, retried
                # in vain, and never an outage. Its text quotes the value, maybe a credential.
                return _failed(
                    PlatformError(
                        "request not sent: LocalProtocolError (a header name or value that HTTP "
                        "cannot carry, such as a credential with a newline; not shown)"
                    )
                )
            elif isinstance(reply, httpx.TransportError):
                last = f"{type(reply).__name__}: {reply} {unreachable_hint(url)}"
                last_status = None
            else:
                return _not_sent(reply)
        if retries >= settings.max_retries:
            return _unavailable(f"retries exhausted: {last}", last_status)
        if retry_after is not None and retry_after > MAX_WAIT_S:
            return _unavailable(
                f"retries stopped: Retry-After {retry_after:.0f}s is over the {MAX_WAIT_S:.0f}s cap ({last})",
                last_status,
            )
        wait = max(backoff_seconds(retries, jitter()), retry_after or 0.0)
        if clock() + wait >= deadline:
            return _cut_by_deadline(
                f"retries stopped: a {wait:.2f}s wait would pass the deadline ({last})",
                last_status,
            )
        retries += 1
        interrupted = yield Wait(wait)
        if interrupted is True:
            return _unavailable(f"shutting down ({last})", last_status)
