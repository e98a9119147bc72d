"""What the sync and async platform clients share: settings, request bodies, answer parsing.

Everything here is free of I/O; `transport.py` holds the two thin shells that perform requests.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import httpx

from opentelemetry.exporter.tracengent._http_policy import (
    AGENT_DISABLED,
    CallOutcome,
    CallSettings,
    NotBefore,
    PreparedBody,
    SendRequest,
    Step,
    encode_json_body,
    parse_json_object,
    run_call,
)
from opentelemetry.exporter.tracengent.errors import (
    MalformedResponseError,
    PlatformError,
    PlatformRejectedError,
)
from opentelemetry.exporter.tracengent.jsonvalue import EncodedBatch, JsonObject, JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions

__all__ = [
    "AGENT_DISABLED",
    "APPROVALS_PATH",
    "AUTHORIZE_PATH",
    "EVENTS_PATH",
    "TOOL_AUTHORIZE_PATH",
    "TRACES_PATH",
    "ApprovalStatus",
    "DeliveryResult",
    "PlatformCore",
    "approval_path",
    "attenuate_path",
    "parse_approval_status",
    "parse_attenuated_token",
]

EVENTS_PATH: Final = "/v1/ingest/events"
TRACES_PATH: Final = "/v1/ingest/traces"
AUTHORIZE_PATH: Final = "/v1/authorize"
TOOL_AUTHORIZE_PATH: Final = "/v1/tool-authorize"
APPROVALS_PATH: Final = "/v1/approvals/"
# Ingest calls decide on the answer's status alone (a 2xx is delivered whatever its body).
_STATUS_ONLY_PATHS: Final = frozenset({EVENTS_PATH, TRACES_PATH})

_APPROVAL_STATUSES: Final = frozenset({"pending", "approved", "denied", "expired"})
# Parsed platform URLs kept per client: the fixed endpoints are asked again and again, and
# parsing a URL costs more than the rest of building the request. Approval and delegation URLs
# carry ids, so the cache stops growing at this size.
_URL_CACHE_SIZE: Final = 16
# httpx gives a request of these methods `Content-Length: 0` when it has no body.
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

_logger = logging.getLogger("tracengent.transport")


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one ingest request (events or a trace close). Never an exception.

    Attributes:
        delivered: events/closes the platform acknowledged (2xx).
        rejected: permanently refused (a non-retryable 4xx such as 400); not retried.
        failed: not delivered for another reason: retries exhausted, transport error, deadline,
            shutdown, a disabled agent, no token, or a body that could not be serialized.
        reason: why not everything was delivered (`"rejected: 400 ..."`, `"retries exhausted:
            503"`, `"agent disabled"`); None on success.
        status_code: the last HTTP status answered, when there was one.
        cut_by_deadline: the call's deadline ended it before the retries did.
    """

    delivered: int
    rejected: int
    failed: int
    reason: str | None
    status_code: int | None
    cut_by_deadline: bool = False


def approval_path(approval_id: str) -> str:
    """`/v1/approvals/{approvalId}`, the id percent-encoded."""
    return APPROVALS_PATH + quote(approval_id, safe="")


def attenuate_path(grant_id: str) -> str:
    """`/v1/delegations/{grantId}/attenuate`, the id percent-encoded."""
    return f"/v1/delegations/{quote(grant_id, safe='')}/attenuate"


class ApprovalStatus(str):
    """An approval's `status` (it compares, hashes and prints as the status text), carrying the
    `permission` the answer says the approval is for (None when it names none).

    A `str`, so every caller of `approval_status` that wants the status alone reads it as one;
    an approval wait also checks the permission (an approval of `payments:refund` must not
    settle a wait for `payments:payout`).
    """

    __slots__ = ("permission",)

    permission: str | None

    def __new__(cls, status: str, permission: str | None = None) -> ApprovalStatus:
        made = super().__new__(cls, status)
        made.permission = permission
        return made


def parse_approval_status(response: httpx.Response) -> ApprovalStatus:
    """The `status` of an approval answer, with the `permission` it names.

    The contract requires only `status`; `permission` (which the local platform sends) is
    optional, absent or null meaning "not said".

    Raises:
        MalformedResponseError: not an object, a status outside pending/approved/denied/expired,
            or a `permission` that is neither null nor a non-empty string (an answer that names
            the permission unreadably cannot be checked against the one waited for).
    """
    answer = parse_json_object(response)
    status = answer.get("status")
    if not isinstance(status, str) or status not in _APPROVAL_STATUSES:
        raise MalformedResponseError(
            f"approval status must be pending/approved/denied/expired, got {status!r}",
            status_code=response.status_code,
        )
    permission = answer.get("permission")
    if permission is not None and (not isinstance(permission, str) or not permission):
        raise MalformedResponseError(
            f"approval permission must be a non-empty string, got {permission!r}",
            status_code=response.status_code,
        )
    return ApprovalStatus(status, permission)


def parse_attenuated_token(response: httpx.Response) -> JsonObject:
    """The `token` object of an attenuation answer.

    Raises:
        MalformedResponseError: no `token` object with an `accessToken` string.
    """
    token = parse_json_object(response).get("token")
    if not isinstance(token, dict):
        raise MalformedResponseError(
            "attenuation answer has no 'token' object", status_code=response.status_code
        )
    access = token.get("accessToken")
    if not isinstance(access, str) or not access:
        raise MalformedResponseError(
            "attenuation answer's token has no 'accessToken' string",
            status_code=response.status_code,
        )
    return token


class _LogOnce:
    """Logs the first occurrence of each key as a warning and later ones at debug level."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        """A fresh lock in a child of `os.fork()` (a parent thread may have held this one)."""
        self._lock = threading.Lock()

    def log(self, key: str, message: str, *args: object) -> None:
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
        _logger.log(logging.WARNING if first else logging.DEBUG, message, *args)


class PlatformCore:
    """Settings and I/O-free helpers of one platform client (sync or async).

    Holds the client's `NotBefore` time: a `Retry-After` any of its calls received holds back
    all of them (`not_before`: the one a forked child's new core keeps).

    Raises `TracengentConfigError` at construction when the options are invalid.
    """

    def __init__(
        self,
        options: TracengentOptions,
        *,
        bearer_token: str | None,
        uses_token: bool,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        jitter: Callable[[], float],
        not_before: NotBefore | None = None,
    ) -> None:
        if bearer_token is not None:
            # A delegated session authenticates with its token alone: the agent's own
            # credentials are neither needed nor used.
            dataclasses.replace(
                options, client_id=None, client_secret=None, ingest_key="delegated"
            ).validate()
            fixed = {"Authorization": f"Bearer {bearer_token}"}
        else:
            options.validate()
            fixed = {} if uses_token else {"X-Ingest-Key": options.ingest_key or ""}
        self.options = options
        self.settings = CallSettings(
            base_url=options.base_url,
            max_retries=options.max_retries,
            request_timeout_s=options.request_timeout_s,
            uses_token=uses_token and bearer_token is None,
            fixed_headers=fixed,
        )
        self.clock = clock
        self._wall_clock = wall_clock
        self._jitter = jitter
        self._log = _LogOnce()
        self._urls: dict[str, httpx.URL] = {}
        self.not_before = not_before if not_before is not None else NotBefore()

    def telemetry_deadline(self, deadline: float | None) -> float:
        """`deadline`, or now + `request_timeout_s`."""
        return self.clock() + self.options.request_timeout_s if deadline is None else deadline

    def governance_deadline(self, deadline: float | None) -> float:
        """`deadline`, or now + `governance_timeout_s`."""
        return self.clock() + self.options.governance_timeout_s if deadline is None else deadline

    def after_fork(self) -> None:
        """Fresh locks in a child of `os.fork()` (a parent thread may have held one)."""
        self._log.after_fork()
        self.not_before.after_fork()

    def call(
        self, method: str, path: str, body: PreparedBody | None, deadline: float
    ) -> Generator[Step, object, CallOutcome]:
        """The policy generator of one call (see `_http_policy.run_call`)."""
        return run_call(
            method,
            path,
            body,
            self.settings,
            deadline=deadline,
            clock=self.clock,
            wall_clock=self._wall_clock,
            jitter=self._jitter,
            not_before=self.not_before,
            status_only=path in _STATUS_ONLY_PATHS,
        )

    def request_for(self, step: SendRequest) -> httpx.Request:
        """The `httpx.Request` a transport sends for `step` (its timeout as httpx's extension).

        The request `httpx.Request(method, url, headers=..., content=...)` makes, with the same
        headers in the same order (`Host` first, `Content-Length` where httpx puts it), built
        from the body's stream directly: httpx would otherwise encode the body and rebuild the
        headers twice. The policy's headers never include `Host` or `Content-Length` (it sets
        neither).
        """
        url = self._urls.get(step.url)
        if url is None:
            url = httpx.URL(step.url)
            if len(self._urls) < _URL_CACHE_SIZE:
                self._urls[step.url] = url
        content = step.content
        headers: list[tuple[str, str]] = [("Host", url.netloc.decode("ascii"))]
        if content:
            headers.extend(step.headers.items())
            headers.append(("Content-Length", str(len(content))))
        else:
            # httpx's own header for an empty body comes right after `Host`.
            if step.method in _BODY_METHODS:
                headers.append(("Content-Length", "0"))
            headers.extend(step.headers.items())
        timeout = step.timeout_s
        request = httpx.Request(
            step.method,
            url,
            headers=headers,
            stream=httpx.ByteStream(content or b""),
            extensions={
                "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
            },
        )
        request.read()  # `request.content`, as a request made with `content=` has it
        return request

    def encode(self, value: JsonValue) -> PreparedBody:
        """A JSON request body, gzipped at the threshold. Raises ValueError/TypeError."""
        return encode_json_body(value, self.options.gzip_threshold_bytes)

    def begin_post(
        self, payload: JsonObject | Sequence[JsonObject], count: int, *, disabled: bool
    ) -> PreparedBody | DeliveryResult:
        """The body of an ingest request, or the `DeliveryResult` when nothing is to be sent."""
        if count == 0:
            return DeliveryResult(0, 0, 0, None, None)
        if disabled:
            return self.unsent(count, AGENT_DISABLED)
        try:
            if isinstance(payload, EncodedBatch):
                return encode_json_body(payload, self.options.gzip_threshold_bytes)
            return self.encode(payload if isinstance(payload, dict) else list(payload))
        except (ValueError, TypeError) as exc:
            return self.unsent(count, f"not serializable: {exc}")

    def governance_body(self, request: JsonObject) -> PreparedBody:
        """A governance request body.

        Raises:
            PlatformRejectedError: the request cannot be serialized as JSON (never sent).
        """
        try:
            return self.encode(request)
        except (ValueError, TypeError) as exc:
            raise PlatformRejectedError(f"request is not serializable as JSON: {exc}") from exc

    def delivery(self, outcome: CallOutcome, count: int, what: str) -> DeliveryResult:
        """The `DeliveryResult` of an ingest call for `count` items, logging a failure once."""
        status = outcome.status_code
        if outcome.kind == "ok":
            return DeliveryResult(count, 0, 0, None, status)
        reason = outcome.reason or "unknown failure"
        if outcome.kind == "rejected":
            self._log.log(f"rejected:{status}", "platform rejected %s %s: %s", count, what, reason)
            return DeliveryResult(0, count, 0, reason, status)
        self._log.log(
            f"failed:{status}:{type(outcome.error).__name__}",
            "could not deliver %s %s: %s",
            count,
            what,
            reason,
        )
        return DeliveryResult(0, 0, count, reason, status, outcome.cut_by_deadline)

    def unsent(self, count: int, reason: str) -> DeliveryResult:
        """A `DeliveryResult` for items that were never sent (disabled, unserializable, a bug)."""
        self._log.log(f"unsent:{reason.split(':')[0]}", "did not send %s items: %s", count, reason)
        return DeliveryResult(0, 0, count, reason, None)

    def governance_response(self, outcome: CallOutcome) -> httpx.Response:
        """The 2xx response of a governance call.

        Raises:
            PlatformError: the error the call ended with.
        """
        if outcome.kind == "ok" and outcome.response is not None:
            return outcome.response
        raise outcome.error or PlatformError("platform call failed without a reason")

    @staticmethod
    def internal_error(exc: Exception) -> PlatformError:
        """A `PlatformError` for an unexpected failure, so callers see only the documented types.

        A plain `PlatformError`: an SDK failure says nothing about the platform's availability,
        and only an unavailable platform may fail governance open.
        """
        _logger.debug("unexpected error in a platform call", exc_info=exc)
        return PlatformError(f"platform call failed: {type(exc).__name__}: {exc}")
