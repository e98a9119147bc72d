"""`TracengentOptions`: everything an SDK instance is configured with, validated in one place."""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import logging
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.errors import TracengentConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "EXPORTER_SETTINGS",
    "MAX_DURATION_S",
    "TracengentOptions",
    "exporter_options",
    "flag_from_environment",
    "options_from_environment",
    "parse_bool",
    "parse_csv",
]

DEFAULT_BASE_URL = "http://localhost:8080"

MAX_DURATION_S: Final = min(7 * 86_400.0, threading.TIMEOUT_MAX)
"""The longest timeout or interval an option accepts: one week (in seconds).

Every wait the SDK makes with these values (a lock, an event, a socket, asyncio) accepts it on
every platform; a longer one (an infinity, `1e10`) overflows them and would fail every call.
"""

_LOGGER = logging.getLogger("tracengent.config")

_PREFIX: Final = "TRACENGENT_"
# Process-wide: the unknown `TRACENGENT_*` names already warned about (each is warned about
# once, however many exporters, clients and gates read the options).
_UNKNOWN_VARIABLES_WARNED: set[str] = set()
_UNKNOWN_VARIABLES_LOCK: Final = threading.Lock()

# The options a `TRACENGENT_*` variable sets, for messages naming what to change.
_SECONDS_VARIABLES: Final = {"governance_timeout_s": env.TRACENGENT_GOVERNANCE_TIMEOUT_S}

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def parse_bool(name: str, raw: str) -> bool:
    """Parse an environment flag; raises `TracengentConfigError` naming the variable."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise TracengentConfigError(f"{name}={raw!r} is not a boolean: set it to true or false")


def flag_from_environment(
    name: str, default: bool, environ: Mapping[str, str] | None = None
) -> bool:
    """The boolean `TRACENGENT_*` switch `name` as every reader reads it: unset or blank (a
    chart's empty default) is `default`, as the options read it.

    Raises:
        TracengentConfigError: the value is not a boolean (the message names the variable).
    """
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or not raw.strip():
        return default
    return parse_bool(name, raw)


def _header_token(value: object) -> bool:
    """Whether `value` is text that goes in an HTTP header as it is: printable ASCII without
    spaces (what credentials are made of)."""
    return isinstance(value, str) and value.isascii() and value.isprintable() and " " not in value


def _within_duration_range(value: object, maximum: float) -> bool:
    # Chained comparisons refuse NaN (never ordered), infinities and integers too large for a
    # float alike, without converting them.
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value <= maximum


def parse_csv(raw: str) -> list[str]:
    """Split a comma-separated setting, dropping blanks."""
    return [part.strip() for part in raw.split(",") if part.strip()]


_SECRET_FIELDS: Final = frozenset({"client_secret", "ingest_key"})
"""The options a repr never shows."""


@dataclass
class TracengentOptions:
    """Configuration of one Tracengent client (0.1.0's fields, plus governance settings).

    Construct it directly or with `TracengentOptions.from_env()`, then call `validate()` (the
    client does so and raises `TracengentConfigError` naming the field to fix).

    Attributes:
        agent_id: the agent events are recorded under (required).
        base_url: the platform's base URL.
        client_id: OAuth client id (`key_...`); with `client_secret`, preferred over `ingest_key`.
        client_secret: OAuth client secret (`ags_...`).
        ingest_key: legacy organisation key (`agk_...`) sent as `X-Ingest-Key`.
        environment: the tag put first on every event.
        max_batch_size: events per ingest request, at most.
        flush_interval_ms: buffered events are sent at least this often.
        queue_capacity: events buffered at most; beyond it new events are dropped and counted.
        max_retries: retries of a request answered 429/5xx or failing in transport.
        gzip_threshold_bytes: bodies this large or larger are sent gzip-compressed.
        default_tags: tags added to every event after the environment tag.
        tool_governance_fail_open: let HTTP egress proceed (with a warning) when the platform is
            unreachable, timed out or failing with 5xx; never on a deny or a malformed answer.
        governance_timeout_s: deadline of one governance call, token fetch included.
        approval_poll_interval_s: how often a blocking wait polls an approval.
        approval_timeout_s: how long a blocking wait for an approval lasts before it denies.
        governed_hosts: hosts whose HTTP calls are authorized before they leave: host globs as
            the platform's egress allowlist reads them (`api.stripe.com`, `*.stripe.com`, `*`),
            optionally with `:port`; used by zero-code egress gating.
        capture_payloads: record inputs, outputs and arguments on spans; `False` records none.
        scrub_patterns: extra scrubbing rules: attribute-name globs or JSON paths.
        request_timeout_s: timeout of one telemetry HTTP request to the platform.

    Timeouts and intervals (`*_s`, `flush_interval_ms`) are finite and at most `MAX_DURATION_S`
    (one week).
    """

    agent_id: str | None = None
    base_url: str = DEFAULT_BASE_URL
    client_id: str | None = None
    client_secret: str | None = None
    ingest_key: str | None = None
    environment: str = "production"
    max_batch_size: int = 100
    flush_interval_ms: int = 2000
    queue_capacity: int = 10_000
    max_retries: int = 3
    gzip_threshold_bytes: int = 1024
    default_tags: list[str] = field(default_factory=list)
    tool_governance_fail_open: bool = False
    governance_timeout_s: float = 5.0
    approval_poll_interval_s: float = 2.0
    approval_timeout_s: float = 300.0
    governed_hosts: list[str] = field(default_factory=list)
    capture_payloads: bool = True
    scrub_patterns: list[str] = field(default_factory=list)
    request_timeout_s: float = 10.0

    def __repr__(self) -> str:
        """The fields as the dataclass shows them, but the secrets (`client_secret`,
        `ingest_key`) only as `<set>` or `None`: options end up in logs and tracebacks."""
        shown = (
            f"{item.name}=<set>"
            if item.name in _SECRET_FIELDS and getattr(self, item.name) is not None
            else f"{item.name}={getattr(self, item.name)!r}"
            for item in dataclasses.fields(self)
        )
        return f"{type(self).__name__}({', '.join(shown)})"

    @property
    def uses_client_credentials(self) -> bool:
        """True when both `client_id` and `client_secret` are set (Bearer tokens are used)."""
        return bool(self.client_id) and bool(self.client_secret)

    def validate(self) -> TracengentOptions:
        """Check every field; returns `self` so it chains.

        Raises:
            TracengentConfigError: naming the first invalid field and what to set.
        """
        for name in ("agent_id", "base_url", "environment", "client_id", *_SECRET_FIELDS):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                # The type only: the value may be a credential.
                raise TracengentConfigError(f"{name} must be text, got a {type(value).__name__}")
        for name in ("tool_governance_fail_open", "capture_payloads"):
            # Not truthiness: `"false"` read from a config file is truthy, and a fail-open
            # switch read that way would let governed requests out unauthorized.
            if not isinstance(getattr(self, name), bool):
                raise TracengentConfigError(
                    f"{name} must be True or False, got {getattr(self, name)!r}"
                )
        if not self.agent_id or not self.agent_id.strip():
            raise TracengentConfigError(
                "agent_id is missing: pass TracengentOptions(agent_id=...) or set TRACENGENT_AGENT_ID"
            )
        if not self.base_url or not self.base_url.strip():
            raise TracengentConfigError(
                "base_url is missing: pass TracengentOptions(base_url=...) or set TRACENGENT_URL"
            )
        try:
            parts = urlsplit(self.base_url)
            # Each raises ValueError for what no request could be sent to (`http://[::1`, a
            # bracketed non-address, a port that is no number from 0 to 65535).
            hostname = parts.hostname
            _ = parts.port
            if parts.netloc.rpartition("@")[2].startswith("[") and hostname is not None:
                # What Python 3.11+ checks in `urlsplit` itself, checked on 3.10 as well.
                ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            # Not quoted: it may hold credentials.
            raise TracengentConfigError(
                f"base_url is not a valid URL ({exc}): use e.g. http://localhost:8080"
            ) from None
        if "@" in parts.netloc:
            # Not quoted: it may hold a password.
            raise TracengentConfigError(
                "base_url holds credentials (user:password@): httpx would send them as Basic "
                "auth; the platform authenticates client_id/client_secret or ingest_key, so remove them"
            )
        if parts.query or parts.fragment or "?" in self.base_url or "#" in self.base_url:
            # Not quoted: a query may hold a key.
            raise TracengentConfigError(
                "base_url has a query or fragment: the endpoints' paths would end up inside it; "
                "use the platform's address alone, e.g. http://localhost:8080"
            )
        if parts.scheme not in ("http", "https") or not hostname:
            raise TracengentConfigError(
                f"base_url {self.base_url!r} is not an http(s) URL: use e.g. http://localhost:8080"
            )
        if bool(self.client_id) != bool(self.client_secret):
            missing = "client_secret" if self.client_id else "client_id"
            raise TracengentConfigError(
                f"{missing} is missing: client credentials need both client_id and client_secret "
                "(TRACENGENT_CLIENT_ID / TRACENGENT_CLIENT_SECRET)"
            )
        if not self.uses_client_credentials and not self.ingest_key:
            raise TracengentConfigError(
                "no credentials: set client_id and client_secret (TRACENGENT_CLIENT_ID, "
                "TRACENGENT_CLIENT_SECRET) or ingest_key (TRACENGENT_INGEST_KEY)"
            )
        if self.ingest_key and not _header_token(self.ingest_key):
            # Not quoted: it is a credential.
            raise TracengentConfigError(
                "ingest_key holds whitespace or a control character (a newline read with it "
                "from a file?), so it cannot be sent as the X-Ingest-Key header: set the key alone"
            )
        for name in ("max_batch_size", "queue_capacity", "flush_interval_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TracengentConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.flush_interval_ms > MAX_DURATION_S * 1000:
            raise TracengentConfigError(
                f"flush_interval_ms must be at most {MAX_DURATION_S * 1000:.0f} (one week), "
                f"got {self.flush_interval_ms!r}"
            )
        for name in ("max_retries", "gzip_threshold_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TracengentConfigError(f"{name} must be an integer >= 0, got {value!r}")
        for name in (
            "governance_timeout_s",
            "approval_poll_interval_s",
            "approval_timeout_s",
            "request_timeout_s",
        ):
            value = getattr(self, name)
            if not _within_duration_range(value, MAX_DURATION_S):
                variable = _SECONDS_VARIABLES.get(name)
                raise TracengentConfigError(
                    f"{name} must be a positive, finite number of seconds of at most "
                    f"{MAX_DURATION_S:.0f} (one week), got {value!r}"
                    + (f": pass {name}=... or set {variable}" if variable is not None else "")
                )
        if not self.environment or not self.environment.strip():
            raise TracengentConfigError("environment must be a non-empty tag such as 'production'")
        for name in ("default_tags", "governed_hosts", "scrub_patterns"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TracengentConfigError(f"{name} must be a list of strings, got {value!r}")
        return self

    @classmethod
    def from_env(
        cls,
        agent_id: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> TracengentOptions:
        """Build options from `TRACENGENT_*` variables; explicit arguments win.

        Not validated: call `validate()` (the client does). A `TRACENGENT_*` name no one reads
        (a typo) is ignored, with one warning per process on the `tracengent.config` logger
        naming the closest known variable (never the value).

        Raises:
            TracengentConfigError: when a variable cannot be parsed (the message names it), or an
                override names no field.
        """
        source = os.environ if environ is None else environ
        _warn_about_unknown_variables(source)
        values: dict[str, Any] = {}

        def text(name: str) -> str | None:
            raw = source.get(name)
            return raw.strip() if raw is not None and raw.strip() else None

        if (url := text(env.TRACENGENT_URL)) is not None:
            values["base_url"] = url
        for field_name, var in (
            ("client_id", env.TRACENGENT_CLIENT_ID),
            ("client_secret", env.TRACENGENT_CLIENT_SECRET),
            ("ingest_key", env.TRACENGENT_INGEST_KEY),
            ("agent_id", env.TRACENGENT_AGENT_ID),
            ("environment", env.TRACENGENT_ENVIRONMENT),
        ):
            if (value := text(var)) is not None:
                values[field_name] = value
        for field_name, var in (
            ("default_tags", env.TRACENGENT_DEFAULT_TAGS),
            ("governed_hosts", env.TRACENGENT_GOVERNED_HOSTS),
            ("scrub_patterns", env.TRACENGENT_SCRUB_PATTERNS),
        ):
            if (value := text(var)) is not None:
                values[field_name] = parse_csv(value)
        for field_name, var in (
            ("capture_payloads", env.TRACENGENT_CAPTURE_PAYLOADS),
            ("tool_governance_fail_open", env.TRACENGENT_TOOL_GOVERNANCE_FAIL_OPEN),
        ):
            if (value := text(var)) is not None:
                values[field_name] = parse_bool(var, value)
        for field_name, var in _SECONDS_VARIABLES.items():
            if (value := text(var)) is not None:
                try:
                    seconds = float(value)
                except ValueError:
                    seconds = math.nan
                if not _within_duration_range(seconds, MAX_DURATION_S):
                    raise TracengentConfigError(
                        f"{var}={value!r} is not a positive, finite number of seconds of at "
                        f"most {MAX_DURATION_S:.0f} (one week): set it to e.g. 5"
                    )
                values[field_name] = seconds
        if agent_id is not None:
            values["agent_id"] = agent_id
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TracengentConfigError(
                f"unknown option(s) {', '.join(unknown)}: known are {sorted(known)}"
            )
        values.update(overrides)
        return cls(**values)


def _warn_about_unknown_variables(source: Mapping[str, str]) -> None:
    """Warn once per process about each `TRACENGENT_*` name (any case) that no one reads,
    naming the closest known one; never its value. Never raises: a typo must not stop the
    options from being read."""
    try:
        unknown = sorted(
            name
            for name in source
            if isinstance(name, str)
            and name.upper().startswith(_PREFIX)
            and name not in env.KNOWN_TRACENGENT_VARIABLES
        )
        if not unknown:
            return
        with _UNKNOWN_VARIABLES_LOCK:
            unknown = [name for name in unknown if name not in _UNKNOWN_VARIABLES_WARNED]
            _UNKNOWN_VARIABLES_WARNED.update(unknown)
        # Compared without the prefix: every name shares it, and it alone would make any
        # unknown name "close" to every known one.
        suffixes = {name.removeprefix(_PREFIX): name for name in env.KNOWN_TRACENGENT_VARIABLES}
        for name in unknown:
            close = difflib.get_close_matches(name[len(_PREFIX) :].upper(), suffixes, n=1)
            _LOGGER.warning(
                "tracengent: ignoring unknown %s%s",
                name,
                f" (did you mean {suffixes[close[0]]}?)" if close else "",
            )
    except Exception:
        # A diagnostic only: reading the options goes on regardless.
        _LOGGER.debug("tracengent: could not check TRACENGENT_* names", exc_info=True)


def options_from_environment(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> TracengentOptions:
    """Validated options from `TRACENGENT_*`, `overrides` (option names) winning, the agent id
    falling back to OTel's service name (`OTEL_SERVICE_NAME`, else `service.name` in
    `OTEL_RESOURCE_ATTRIBUTES`).

    This is how the zero-code set-up and an exporter built without options configure themselves.

    Raises:
        TracengentConfigError: naming what to set.
    """
    source = os.environ if environ is None else environ
    options = TracengentOptions.from_env(environ=source, **overrides)
    if not options.agent_id:
        service = _service_name(source)
        if service:
            options.agent_id = service
    if not options.agent_id:
        raise TracengentConfigError(
            f"agent_id is missing: set {env.TRACENGENT_AGENT_ID} (or {env.OTEL_SERVICE_NAME})"
        )
    return options.validate()


def _service_name(source: Mapping[str, str]) -> str:
    """The service name OTel's SDK gives the resource: `OTEL_SERVICE_NAME`, else `service.name`
    in `OTEL_RESOURCE_ATTRIBUTES` (read as the SDK reads it: `key=value` pairs separated by
    commas, values percent-decoded), else ""."""
    service = source.get(env.OTEL_SERVICE_NAME, "").strip()
    if service:
        return service
    for item in source.get(env.OTEL_RESOURCE_ATTRIBUTES, "").split(","):
        key, separator, value = item.partition("=")
        if separator and key.strip() == "service.name":
            # The SDK keeps the last of repeated keys.
            service = unquote(value.strip()).strip()
    return service


EXPORTER_SETTINGS: Final = frozenset(
    {
        "agent_id",
        "base_url",
        "client_id",
        "client_secret",
        "ingest_key",
        "environment",
        "default_tags",
        "max_batch_size",
        "max_retries",
        "gzip_threshold_bytes",
        "request_timeout_s",
    }
)
"""The options an exporter takes as keyword settings (`exporter_options`): where its events go,
as whom, and how they are sent. The rest are the whole process's, not one exporter's."""

_PROCESS_SETTINGS: Final = {
    "capture_payloads": env.TRACENGENT_CAPTURE_PAYLOADS,
    "scrub_patterns": env.TRACENGENT_SCRUB_PATTERNS,
    "governed_hosts": env.TRACENGENT_GOVERNED_HOSTS,
    "tool_governance_fail_open": env.TRACENGENT_TOOL_GOVERNANCE_FAIL_OPEN,
    "governance_timeout_s": env.TRACENGENT_GOVERNANCE_TIMEOUT_S,
}
"""Options that hold for every pipeline and gate of the process, with the variable that sets
them: an exporter's settings cannot (the spans are captured and scrubbed, the requests gated,
before any exporter sees them)."""


def exporter_options(settings: Mapping[str, Any]) -> TracengentOptions:
    """Validated options of an exporter built with keyword `settings` (OTel's declarative
    configuration passes the mapping under the file's `tracengent:` exporter key this way):
    `options_from_environment` with `settings` winning over `TRACENGENT_*`. A setting that is
    None (a YAML key left empty) is not given: the variable, or the default, holds.

    Raises:
        TracengentConfigError: a setting that is not one of `EXPORTER_SETTINGS` (the message
            names it, and the variable that sets it when it is the process's), or options that
            are invalid.
    """
    for name in sorted(set(settings) - EXPORTER_SETTINGS):
        if name in _PROCESS_SETTINGS:
            raise TracengentConfigError(
                f"{name} is not an exporter setting: it holds for the whole process, set "
                f"{_PROCESS_SETTINGS[name]} instead"
            )
        if name in ("flush_interval_ms", "queue_capacity"):
            raise TracengentConfigError(
                f"{name} is not an exporter setting: the span processor around the exporter "
                "batches and buffers (a declarative file's `batch:` schedule_delay and "
                "max_queue_size)"
            )
        if name in {f.name for f in dataclasses.fields(TracengentOptions)}:
            raise TracengentConfigError(
                f"{name} is not an exporter setting: it governs tool calls, not their export"
            )
        raise TracengentConfigError(
            f"unknown exporter setting {name!r}: known are {sorted(EXPORTER_SETTINGS)}"
        )
    return options_from_environment(
        **{name: value for name, value in settings.items() if value is not None}
    )
