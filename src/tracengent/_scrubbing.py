"""Scrubbing: what must not leave the process is masked before any exporter sees a span.

Two kinds of rules:

- **Name globs** (`*password*`, `*api_key*`, case-insensitive): an attribute, or a key at any
  depth of a JSON payload, whose name matches is masked (`MASK_TOKEN`), in JSON text a string
  value of the payload holds too (a tool call's `arguments`); a URL in a payload's string loses
  its credentials as a recorded URL does (`url_value`). Defaults that are always on
  (`SENSITIVE_NAME_GLOBS`) cover passwords (`*pwd*` and `*passwd*` too), passphrases, secrets,
  API keys, authorization headers, cookies, access/refresh/auth tokens, ID tokens (`id_token`,
  `idToken`, `user.id_token`, `id_token_hint`, and in camelCase `googleIdToken`), session
  tokens (`aws_session_token`, `sessionToken`), credentials (`*credential*`), private keys and
  card numbers. Plain `token` is deliberately not a default: `gen_ai.usage.input_tokens`,
  `max_tokens` and friends are usage counts, not credentials (nor are `paid_tokens` or
  `session_tokens`: an ID token's `id` stands alone, and an ID or session token's name ends at
  `token`, `id_token_hint` aside).
- **JSON paths** (`$.card`, wire contract §8, case-sensitive as the platform's `redactFields`
  are): masked inside payload attributes (`attributes.is_payload_attribute`). A rule is a path when it starts with `$`; anything else is a
  name glob (attribute names contain dots, so `a.b` is read as a name). A wildcard step
  (`$.orders[*].iban`, `$.orders.*.iban`) names every element or value there. A path outside the
  grammar (`$..card`, `$['cvv']`) masks its last name at any depth, as a name glob does, and is
  logged as a warning when configured.

Where it runs, and what it covers:

- `Scrubber.payload_text` is called by the decision-trace helpers for every payload attribute
  they set, so those values are scrubbed *where they are set*, with the trace's redact fields
  (obligation `redactFields`) and the configured rules.
- `ScrubbingProcessor.on_start` scrubs the attributes a span *starts with*: payload attributes are
  re-scrubbed (JSON text is parsed, masked and re-encoded) with the current decision trace's
  redact fields and those noted for the trace the span is stamped with (`trace_paths`: an
  `invoke_agent` span's trace has no `AgentTrace` to hold them), or replaced by `MASK_TOKEN` when payload capture is off; attributes whose name
  matches a glob are masked; a URL (`url.full`, `url.original`, `http.url`, `http.target`,
  `url.query`, as OTel's HTTP instrumentations record them) loses its userinfo and the values of its credential
  query parameters (`is_secret_parameter`, the configured globs included). Because it runs before any span ends, it protects every exporter on
  the provider, the user's own OTLP or console exporter included. On our recorder's own spans
  (payloads scrubbed already) only configured name globs are applied, to every attribute but the
  structural ones (`_STRUCTURAL`); a point event then takes the SDK's path so that it starts.
- Attributes a third-party instrumentation sets *after* the span started (with
  `span.set_attribute`), and span events/links, are out of a span processor's reach: the OTel SDK
  freezes a span's attributes before `SpanProcessor.on_end`, and we never patch private SDK
  fields. Tracengent's own exporter scrubs the payloads among them as it translates the span
  (`Scrubber.exported_payload`, set as its payload filter): every payload text our recorder did
  not write, with the redact fields of the decision trace the span belongs to. Other exporters
  (OTLP, console) get them as they were set: turn payload capture off
  in that instrumentation, or set its payloads through our trace helpers.

The JSON paths a decision trace's obligations added are noted by trace id (`note_trace_paths`,
`add_trace_paths`) for the last `_TRACE_PATHS_LIMIT` (4096) traces that got any, the trace noted
longest ago forgotten first. Forgetting fails safe: a forgotten trace's id goes into a Bloom
filter of fixed size (1 MiB, allocated on the first eviction; `_ForgottenTraces`), and a payload
of such a trace is withheld from then on (`trace_paths` returns None: `exported_payload` and
`payload_text` return None, `on_start` masks the attribute whole; counted in
`Scrubber.withheld_payloads`), never sent without its obligations. The filter never forgets; its
false positives withhold payloads of a trace never noted (about 5e-6 of them after 100k
evictions, 2% after a million). A forgotten trace an `AgentTrace` notes again (all its paths so
far) has its paths again; one `add_trace_paths` extends stays forgotten, as its earlier paths
are unknown. With no obligations at all the map is empty and nothing of this runs.

The decision trace's root request (`tracengent.trace.root_request`) is free text, not a payload:
it is kept with payload capture off and scrubbed as an exception's message is (`free_text`) where
it enters: by `begin_trace` and the recorder (an `AgentEvent.root_request`), by `on_start` on a
span that starts with it (an agent framework's root, the root request the context processor took
from its GenAI input messages), and by Tracengent's exporter as it sends it (`exported_payload`).

Nothing here raises into the agent: a value that cannot be encoded or made safe is dropped (None),
never sent unredacted. Payload text UTF-8 cannot encode (a lone surrogate, as `surrogateescape`
makes of a file name's odd byte) counts as such a value: no exporter could send it. NaN and the
infinities do not: JSON has no number for them, so a payload records them as `null`, as orjson
writes them (a payload's own or its JSON text's `NaN`/`Infinity` literals alike), and the rest of
the payload is kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import json
import logging
import math
import re
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final, cast

import orjson
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.trace import get_current_span
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._payloads import utf8_encodable
from opentelemetry.exporter.tracengent._url_redaction import (
    REDACTED,
    SENSITIVE_NAME_GLOBS,
    is_camel_case_id_token,
    is_credential_header,
    is_credential_query_name,
    redact_query,
    safe_url,
)
from opentelemetry.exporter.tracengent.jsonvalue import (
    JsonValue,
    dumps_finite,
    dumps_finite_by,
    loads_exact,
)
from opentelemetry.exporter.tracengent.redaction import (
    MASK_TOKEN,
    WILDCARD,
    parse_path,
    redact_value,
)
from tracengent._processors.context import STARTING

__all__ = ["DEFAULT_SENSITIVE_NAMES", "Scrubber", "ScrubbingProcessor", "stamped_trace_id"]

_logger = logging.getLogger("tracengent.scrubbing")

DEFAULT_SENSITIVE_NAMES: Final = SENSITIVE_NAME_GLOBS
"""Name globs that are always masked, whatever else is configured (one list with the exporter's,
which masks the same names in recorded URLs' query strings)."""

# What a name glob never masks (`attributes.STRUCTURAL_ATTRIBUTES`).
_STRUCTURAL: Final = frozenset(A.STRUCTURAL_ATTRIBUTES)

_URL_ORIGINAL: Final = "url.original"
# The URL attributes an HTTP span starts with (OTel's httpx and ASGI instrumentations record the
# query as the request had it; `url.original` is the URL as the client was given it, before any
# change, which OTel's conventions let an instrumentation record beside `url.full`): their
# credential values are redacted as the span starts.
_URL_ATTRIBUTES: Final = frozenset({A.URL_FULL, _URL_ORIGINAL, A.HTTP_URL_OLD, "http.target"})
_URL_QUERY: Final = "url.query"
# The decision trace's root request: free text, scrubbed as such (`free_text`), capture on or off.
_ROOT_REQUEST: Final = A.TRACE_ROOT_REQUEST

# Deeper than any real payload; beyond it a value is dropped rather than walked (also stops cycles).
_MAX_DEPTH: Final = 64
_NAME_CACHE_LIMIT: Final = 4096
# Decision traces whose obligations' JSON paths the exporter applies, the oldest forgotten first:
# only traces an allow with `redactFields` reached are noted, and their events are exported
# within seconds. A forgotten trace is remembered as forgotten (`_ForgottenTraces`), so that its
# later payloads are withheld rather than sent without its obligations.
_TRACE_PATHS_LIMIT: Final = 4096
# The Bloom filter of forgotten traces: 2**23 bits (1 MiB, allocated on the first eviction),
# 4 bits per trace id. It never forgets; what it costs is false positives, payloads withheld from
# a trace that was never noted: about 5e-6 of the traces after 100k evictions, 0.2% after 500k,
# 2% after a million.
_FORGOTTEN_BITS: Final = 1 << 23
_FORGOTTEN_MASK: Final = _FORGOTTEN_BITS - 1
_FORGOTTEN_HASHES: Final = 4


class _Unsafe(Exception):
    """A value that cannot be encoded as JSON (so it is dropped)."""


class _ForgottenTraces:
    """The decision traces whose noted JSON paths were forgotten (evicted from `Scrubber`'s
    bounded map): a Bloom filter of their ids, fixed in size (`_FORGOTTEN_BITS`) however many
    are added. An id added is always found (never a payload sent without its trace's
    obligations); an id never added is found now and then (its payloads withheld, the safe
    side), more often the more were added. Added to under the scrubber's lock; read without it
    (each bit is set before its trace is taken out of the map, so a reader that misses the map
    finds the bits)."""

    __slots__ = ("_bits",)

    def __init__(self) -> None:
        self._bits = bytearray(_FORGOTTEN_BITS >> 3)

    def add(self, trace_id: str) -> None:
        """Remember `trace_id` as forgotten (for good)."""
        bits = self._bits
        for index in _bit_indices(trace_id):
            bits[index >> 3] |= 1 << (index & 7)

    def __contains__(self, trace_id: str) -> bool:
        bits = self._bits
        return all(bits[index >> 3] & (1 << (index & 7)) for index in _bit_indices(trace_id))


def _bit_indices(trace_id: str) -> Iterator[int]:
    """The filter's bits for `trace_id`: double hashing of its `hash` (stable in the process,
    which is all the filter lives for; cached on the string)."""
    hashed = hash(trace_id) & 0xFFFF_FFFF_FFFF_FFFF
    first, step = hashed & 0xFFFF_FFFF, (hashed >> 32) | 1
    for number in range(_FORGOTTEN_HASHES):
        yield (first + number * step) & _FORGOTTEN_MASK


# What `ScrubbingProcessor.on_start` hands `scrub_attribute` for a span of a forgotten trace
# (compared by identity): its payload attributes are withheld (the mask replaces them).
_FORGOTTEN: Final[tuple[str, ...]] = ("$",)


def _rules_of(patterns: Iterable[object]) -> tuple[str, ...]:
    """The rules among `patterns`: stripped, without blanks, non-text values and repeats."""
    rules: dict[str, None] = {}
    for pattern in patterns:
        rule = pattern.strip() if isinstance(pattern, str) else ""
        if rule:
            rules[rule] = None
    return tuple(rules)


# A name in a JSON path outside the grammar (`$..card`, `$['cvv']`).
_PATH_NAME: Final = re.compile(r"[^\W\d][\w\-]*")
_WARNED_RULES: Final[set[str]] = set()


def _outside_the_grammar(rule: str) -> tuple[str, ...]:
    """The name globs that stand for JSON path `rule`, which the grammar (`$.a.b[0].c`) cannot
    apply: its last name, masked at any depth (a value it names is never sent for want of a
    path), with a warning naming the rule; none when it names none. Configuration time only."""
    names = _PATH_NAME.findall(rule)
    if rule in _WARNED_RULES:
        return (names[-1],) if names else ()
    _WARNED_RULES.add(rule)  # once a process: every client, and each tightening, reads it again
    if not names:
        _logger.warning(
            "scrub_patterns rule %r is not a JSON path Tracengent can apply ($.a.b[0].c) and names "
            "no key: it masks nothing",
            rule,
        )
        return ()
    _logger.warning(
        "scrub_patterns rule %r is not a JSON path Tracengent can apply ($.a.b[0].c): key %r is "
        "masked at any depth instead",
        rule,
        names[-1],
    )
    return (names[-1],)


class _Rules:
    """One set of configured rules, compiled; never changed (a stricter set replaces it whole).

    The verdict cache belongs to the set: a verdict reached under one set is never read under
    another, so a name a tightened set masks cannot pass on an older verdict.
    """

    __slots__ = ("custom_names", "name_cache", "name_regex", "paths", "patterns")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        globs = [*DEFAULT_SENSITIVE_NAMES, *(p for p in patterns if not p.startswith("$"))]
        paths: list[str] = []
        for rule in patterns:
            if not rule.startswith("$"):
                continue
            if parse_path(rule) is not None:  # wildcard steps (`$.orders[*].iban`) included
                paths.append(rule)
            else:
                globs.extend(_outside_the_grammar(rule))
        self.paths: tuple[str, ...] = tuple(paths)
        self.custom_names = len(globs) > len(DEFAULT_SENSITIVE_NAMES)
        self.name_regex = re.compile(
            "|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs), re.IGNORECASE
        )
        # Attribute names repeat endlessly on the hot path; remember the verdict per name.
        self.name_cache: dict[str, bool] = {}


_CAPTURED_HEADER_PREFIXES: Final = ("http.request.header.", "http.response.header.")


def _credential_header_attribute(name: str) -> bool:
    """Whether attribute `name` is a captured header (OTel's `http.request.header.<name>`, the
    name lower-case with `-` written `_`) that carries a credential."""
    if not name.startswith(_CAPTURED_HEADER_PREFIXES):
        return False
    header = name.partition(".header.")[2].replace("_", "-")
    return is_credential_header(header)


class Scrubber:
    """Masks sensitive names and JSON paths in payloads and attributes. Thread-safe, never raises.

    A scrubber can be made stricter while in use (`tighten`), never laxer: on a tracer provider
    several clients share, one scrubber holds the strictest of their settings for every span.

    Args:
        capture_payloads: when False, `payload_text` returns None and payload attributes are
            replaced by `MASK_TOKEN`.
        patterns: extra rules on top of the defaults: name globs (`*ssn*`) or JSON paths
            (`$.card`, starting with `$`).
    """

    def __init__(self, *, capture_payloads: bool = True, patterns: Sequence[str] = ()) -> None:
        self.capture_payloads = capture_payloads
        # Read once per call by whoever needs several of its parts: replaced whole by `tighten`.
        self._rules = _Rules(_rules_of(patterns))
        self._cache_lock = threading.Lock()
        # Tracengent trace id -> the JSON paths its authorization obligations added
        # (`note_trace_paths`): `exported_payload` masks them in that trace's payloads.
        # Replaced in place, never taken out to be put back: a reader on another thread (the
        # exporter's) always finds a noted trace's paths.
        self._trace_paths: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        # The traces evicted from `_trace_paths` (None until the first is): their payloads are
        # withheld, their obligations' paths being unknown now (`trace_paths` returns None).
        self._forgotten: _ForgottenTraces | None = None
        self.withheld_payloads = 0
        """Payloads withheld (dropped, or masked whole on a starting span) because their
        decision trace's obligations were forgotten (`trace_paths` returned None). Approximate
        under concurrent writers (a plain counter)."""

    @property
    def paths(self) -> tuple[str, ...]:
        """The configured JSON-path rules (masked in every payload)."""
        return self._rules.paths

    @property
    def patterns(self) -> tuple[str, ...]:
        """The configured rules (name globs and JSON paths) beyond the defaults."""
        return self._rules.patterns

    @property
    def custom_names(self) -> bool:
        """Whether name globs beyond the defaults are configured (the defaults match none of
        Tracengent's own attribute names)."""
        return self._rules.custom_names

    def tighten(self, *, capture_payloads: bool = True, patterns: Sequence[str] = ()) -> None:
        """Make the scrubber at least as strict as `capture_payloads` and `patterns` ask.

        Payload capture turned off stays off; rules not configured yet are added to the others.
        What is being scrubbed right now finishes under the rules it began with; every later
        call applies the stricter ones. Configuration time only: takes a lock, never raises.
        """
        if not capture_payloads:
            self.capture_payloads = False
        with self._cache_lock:
            current = self._rules
            added = tuple(rule for rule in _rules_of(patterns) if rule not in current.patterns)
            if added:
                self._rules = _Rules(current.patterns + added)

    def is_sensitive_attribute(self, name: str) -> bool:
        """True when a span attribute named `name` is masked: its name matches a sensitive glob
        and it is not one of the attributes that say what the span is (ids, type, status)."""
        return name not in _STRUCTURAL and self.is_sensitive_name(name)

    def masked_names(self, attributes: Iterable[str]) -> dict[str, AttributeValue]:
        """`{name: MASK_TOKEN}` for each of `attributes` (span attribute names) that is masked
        (`is_sensitive_attribute`); empty when none is."""
        is_sensitive = self.is_sensitive_attribute
        return {name: MASK_TOKEN for name in attributes if is_sensitive(name)}

    def is_sensitive_name(self, name: str) -> bool:
        """True when `name` (an attribute or a JSON key) matches a sensitive-name glob, is an ID
        token in camelCase (`googleIdToken`: `is_camel_case_id_token`), or is a header an
        instrumentation captured (`http.request.header.<name>`) that carries a
        credential (`is_credential_header`: the headers the egress gate never tells)."""
        rules = self._rules
        verdict = rules.name_cache.get(name)
        if verdict is None:
            verdict = (
                rules.name_regex.fullmatch(name) is not None
                or is_camel_case_id_token(name)
                or _credential_header_attribute(name)
            )
            with self._cache_lock:
                if len(rules.name_cache) >= _NAME_CACHE_LIMIT:
                    rules.name_cache.clear()
                rules.name_cache[name] = verdict
        return verdict

    def is_secret_parameter(self, name: str) -> bool:
        """Whether the value of URL query parameter `name` (decoded) is a credential: a name that
        says so alone (`is_credential_query_name`: OTel's signature parameters, `token`, `key`,
        `...token`, `...key`, `auth`), or a name this scrubber masks. One rule for the
        tracked client's recorded `url.full` and the egress gate's query told to the platform."""
        return is_credential_query_name(name) or self.is_sensitive_name(name)

    def payload_text(self, value: object, *, redact_paths: Sequence[str] = ()) -> str | None:
        """The scrubbed compact JSON text of a payload, or None when it must not be recorded.

        Sensitive keys are masked at any depth (inside a string value holding a JSON object
        or array too: `_nested_text`), URLs in its strings lose their credentials (`url_value`),
        then the configured JSON paths and `redact_paths` are masked (no `redact_paths`: those
        noted for the decision trace stamped on the current span, `trace_paths`, as a trace an
        `invoke_agent` span opened keeps them). Never raises, does not block.

        NaN and the infinities, which JSON has no number for, are written `null` (as orjson
        writes them), wherever they are in `value`.

        Returns:
            None when payload capture is off, or when `value` cannot be encoded as JSON (a
            cycle, an unknown object) or its JSON as UTF-8 (a lone surrogate in its text) —
            the value is dropped, never sent unredacted.
        """
        return self.payload_json(value, redact_paths=redact_paths)[0]

    def payload_json(
        self, value: object, *, redact_paths: Sequence[str] = ()
    ) -> tuple[str | None, bool]:
        """`(payload_text(value), whether orjson wrote that text)`. Never raises.

        Text orjson wrote is one JSON value orjson reads back; the recorder names it on its span
        so the exporter embeds it without reading it again (`RecordedSpan`). What orjson refuses
        (an integer beyond 64 bits, a lone surrogate) is written by `json` and is not named; text
        it writes with a lone surrogate in it is dropped (None): UTF-8 cannot carry it, so no
        exporter could send it, and the event would be lost with it.
        """
        if not self.capture_payloads:
            return None, False
        try:
            if not redact_paths and self._trace_paths:
                # No `AgentTrace` gave paths: a trace an `invoke_agent` span opened keeps its
                # obligations' paths here, under the id stamped on the current span.
                noted = self.trace_paths(stamped_trace_id())
                if noted is None:
                    # Its obligations were forgotten: what they would mask is unknown.
                    self.withheld_payloads += 1
                    return None, False
                redact_paths = noted
            rules = self._rules
            if not redact_paths and not rules.paths and self._plain(value, 0, rules.name_cache):
                # Nothing to mask, refuse or redact: encoded as the walk's copy would be.
                written = dumps_finite_by(value)
            else:
                # `_safe_copy` wrote non-finite numbers `null`: the fast encoder is exact here.
                written = dumps_finite_by(self._redacted(self._safe_copy(value, 0), redact_paths))
        except Exception:  # noqa: BLE001 - dropping the value is the safe answer to any failure
            return None, False
        # orjson refuses lone surrogates: only `json`'s text needs the check.
        if written[1] or utf8_encodable(written[0]):
            return written
        return None, False

    def _plain(self, value: object, depth: int, verdicts: dict[str, bool]) -> bool:
        """True when `value` needs no work: dicts with known harmless string keys, lists and
        tuples, strings that neither open like JSON text (`{`, `[`: `_nested_text` reads those)
        nor hold a URL (`://`), ints, bools, None and finite floats only (exact types).

        A name not yet judged answers False, so the walk judges (and remembers) it. `verdicts` is
        the name cache of the rules the caller read.
        """
        kind = type(value)
        if kind is dict:
            items: Iterable[object] = value.values()  # type: ignore[attr-defined]
            for key in value:  # type: ignore[attr-defined]
                if type(key) is not str or verdicts.get(key, True):
                    return False
        elif kind is list or kind is tuple:
            items = value  # type: ignore[assignment]
        else:
            return False
        if depth >= _MAX_DEPTH:
            return False
        for item in items:
            item_kind = type(item)
            if item_kind is str:
                first = item[:1]  # type: ignore[index]
                if (
                    first in _JSON_OPENERS
                    and (
                        first in _JSON_BRACKETS
                        or (
                            _ends_like_a_json_string(item)  # type: ignore[arg-type]
                            if first == '"'
                            else _JSON_AFTER_WHITESPACE.match(item) is not None  # type: ignore[call-overload]
                        )
                    )
                ) or "://" in item:  # type: ignore[operator]
                    # It may be JSON text (a tool call's arguments, after whitespace too, or a
                    # JSON string of it) or hold a URL: the walk reads it.
                    return False
                continue
            if item_kind is int or item_kind is bool or item is None:
                continue
            if item_kind is float:
                if not math.isfinite(item):  # type: ignore[arg-type]
                    return False
                continue
            if not self._plain(item, depth + 1, verdicts):
                return False
        return True

    def scrub_attribute(
        self, key: str, value: AttributeValue, *, redact_paths: Sequence[str] = ()
    ) -> AttributeValue | None:
        """The value an already-set span attribute should have; None means drop it.

        A sensitive name becomes `MASK_TOKEN`; a URL attribute loses its credentials
        (`url_value`); the root request (`tracengent.trace.root_request`) is scrubbed as
        `free_text`, capture on or off; a payload attribute's JSON text (each text of a sequence) is re-scrubbed
        (None when capture is off or it cannot be made safe; text that is not JSON is kept, its
        URLs without credentials, as there is no structure to mask, unless it writes a key a
        name glob or JSON path masks:
        a document an attribute length limit cut, a dict's `repr`; None for payload text UTF-8
        cannot encode, a lone surrogate, which no exporter could send). Anything else is
        returned unchanged. Never raises.
        """
        try:
            if self.is_sensitive_attribute(key):
                return MASK_TOKEN
            if key in _URL_ATTRIBUTES:
                return self.url_value(value)
            if key == _URL_QUERY and isinstance(value, str):
                return redact_query(value, self.is_secret_parameter)
            if key == _ROOT_REQUEST and isinstance(value, str):
                # The trace's title, not a payload: kept with capture off, as free text.
                return self.free_text(value)
            if not A.is_payload_attribute(key):
                return value
            if not self.capture_payloads:
                return None
            if redact_paths is _FORGOTTEN:
                # `on_start`: the span's decision trace's obligations were forgotten.
                self.withheld_payloads += 1
                return None
            if isinstance(value, str):
                return self._payload_attribute(value, redact_paths)
            if isinstance(value, (list, tuple)):
                return self._payload_items(value, redact_paths)
            return value
        except Exception:  # noqa: BLE001 - drop rather than let an unscrubbed value through
            return None

    def _payload_items(
        self, items: Sequence[object], redact_paths: Sequence[str]
    ) -> AttributeValue:
        """A payload attribute set as a sequence (OTel allows sequences of strings): each text
        scrubbed as payload text (`MASK_TOKEN` for one that cannot be made safe), other items
        (numbers, bools) kept; `items` itself when nothing changed.

        Raises:
            Exception: whatever scrubbing raised (the callers drop the value).
        """
        scrubbed: list[object] = []
        changed = False
        for item in items:
            if isinstance(item, str):
                text = self._payload_attribute(item, redact_paths)
                new: object = MASK_TOKEN if text is None else text
                changed = changed or new is not item
                item = new
            scrubbed.append(item)
        return cast("AttributeValue", tuple(scrubbed) if changed else items)

    def note_trace_paths(self, trace_id: str, paths: tuple[str, ...]) -> None:
        """Have `exported_payload` mask `paths` (all of them so far) in the payloads of decision
        trace `trace_id` (an `AgentTrace`'s authorization `redactFields` obligations), besides
        those noted for it already. Bounded: the trace noted longest ago is forgotten first
        (its payloads are withheld from then on, `trace_paths`); a forgotten trace noted again
        has these paths again, all its trace's obligations so far. Never raises."""
        with self._cache_lock:
            noted = self._trace_paths
            before = noted.get(trace_id)
            if before is not None:
                paths = before + tuple(p for p in paths if p not in before)
            noted[trace_id] = paths
            noted.move_to_end(trace_id)
            self._bound(noted)

    def add_trace_paths(self, trace_id: str, paths: Sequence[str]) -> None:
        """Add `paths` to those `note_trace_paths` noted for decision trace `trace_id` (each
        once, in order; text only): a trace with no `AgentTrace` to keep them (one an
        `invoke_agent` span opened). Read and extended under one lock. A trace whose paths were
        forgotten stays forgotten (these are not all its obligations): its payloads are still
        withheld. Never raises."""
        with self._cache_lock:
            noted = self._trace_paths
            before = noted.get(trace_id)
            if before is None:
                forgotten = self._forgotten
                if forgotten is not None and trace_id in forgotten:
                    return
                before = ()
            added = tuple(p for p in dict.fromkeys(paths) if isinstance(p, str) and p not in before)
            noted[trace_id] = before + added
            noted.move_to_end(trace_id)
            self._bound(noted)

    def _bound(self, noted: OrderedDict[str, tuple[str, ...]]) -> None:
        """Forget the traces noted longest ago beyond `_TRACE_PATHS_LIMIT`, each remembered as
        forgotten before it leaves the map (a lock-free reader that misses it finds it there).
        Under `_cache_lock`."""
        if len(noted) <= _TRACE_PATHS_LIMIT:
            return
        forgotten = self._forgotten
        if forgotten is None:
            forgotten = self._forgotten = _ForgottenTraces()
        while len(noted) > _TRACE_PATHS_LIMIT:
            forgotten.add(next(iter(noted)))
            noted.popitem(last=False)

    def trace_paths(self, trace_id: object) -> tuple[str, ...] | None:
        """The JSON paths noted for decision trace `trace_id` (`note_trace_paths`,
        `add_trace_paths`); none for an id not noted, or one that is not text. None when they
        were noted and then forgotten (the map is bounded): the trace's obligations are unknown,
        so its payloads must be withheld, never sent as they are (a trace never noted is, now
        and then, taken for a forgotten one: `_ForgottenTraces`). Never raises; O(1), no lock."""
        if not self._trace_paths or trace_id.__class__ is not str:
            return ()
        paths = self._trace_paths.get(trace_id)
        if paths is not None:
            return paths
        forgotten = self._forgotten
        if forgotten is not None and trace_id in forgotten:
            return None
        return ()

    def exported_payload(self, key: str, text: str, trace_id: str | None = None) -> str | None:
        """The text an exporter may send for payload attribute `key` of a finished span, which
        holds `text` and belongs to decision trace `trace_id` (None: to none); None means send
        no payload. Never raises.

        For payloads `ScrubbingProcessor` could not reach: set after their span started (a
        third-party instrumentation's `gen_ai.tool.call.arguments`, user code's
        `span.set_attribute`). The span's own scrub applies (`scrub_attribute`: sensitive names
        and JSON paths, the rules as they are now), with the JSON paths the trace's
        authorization obligations added (`note_trace_paths`; an ended span has no current
        trace to read them from). Scrubbing text again masks nothing more.
        The exporter also hands it the root request it sends (`tracengent.trace.root_request`):
        that is free text, not a payload, returned as `free_text` leaves it, capture on or off.
        `TracengentSpanExporter.set_payload_filter` takes it.
        """
        try:
            if self.is_sensitive_attribute(key):
                return MASK_TOKEN
            if key == _ROOT_REQUEST:
                # The trace's title, not a payload: kept with capture off, as free text.
                return self.free_text(text)
            if not self.capture_payloads:
                return None
            paths = self.trace_paths(trace_id)
            if paths is None:
                # Its trace's obligations were forgotten: withheld, never sent unredacted.
                self.withheld_payloads += 1
                return None
            return self._payload_attribute(text, paths)
        except Exception:  # noqa: BLE001 - drop rather than let an unscrubbed value through
            return None

    def _payload_attribute(self, value: str, redact_paths: Sequence[str]) -> str | None:
        """`scrub_attribute`'s answer for payload text `value` while capture is on.

        Raises:
            Exception: whatever scrubbing raised (the callers drop the value).
        """
        parsed = _decode(value)
        if parsed is _NOT_JSON:
            # No structure to mask key by key: kept unless it names a key that would be masked
            # (a document an attribute length limit cut, a dict's `repr`).
            if not utf8_encodable(value) or self._names_masked_key(value, redact_paths):
                return None
            return self._urls_scrubbed(value)
        rules = self._rules
        if not redact_paths and not rules.paths and self._plain(parsed, 0, rules.name_cache):
            # Nothing to mask or redact: only the encoding may differ (spaces, escapes).
            with contextlib.suppress(TypeError):
                text = orjson.dumps(parsed).decode("utf-8")
                return value if text == value else text
        document = self._safe_copy(parsed, 0)
        text = self._encode(document, redact_paths)
        if not utf8_encodable(text):
            # Also JSON text whose `\udc..` escapes decode to a lone surrogate.
            return None
        return value if text == value else text

    def _names_masked_key(self, text: str, redact_paths: Sequence[str]) -> bool:
        """Whether `text`, which is not JSON, holds something written as an object's key (a
        quoted name and a colon, in double or single quotes) that a name glob masks or that a
        JSON path ends at (the configured ones and `redact_paths`)."""
        path_names = _last_names((*self._rules.paths, *redact_paths))
        masked = self.is_sensitive_name
        return any(name in path_names or masked(name) for name in _key_names(text))

    def free_text(self, text: str) -> str:
        """`text` (an exception's message or stacktrace, a decision trace's root request) without the credentials it names: each
        URL in it as `url_value` leaves it, and the value after a name a glob masks
        (`password=...`, `'api_key': '...'`, `Authorization: Bearer ...`) replaced by
        `MASK_TOKEN`, whole, up to its closing quote or the next `,;&)}]` or line end (a cookie or
        authorization header's to its line end: `;` and `,` separate its parts). A secret the
        text holds without its name stays. Never raises: `MASK_TOKEN` when it cannot say."""
        try:
            return self._mask_named_values(self._urls_scrubbed(text))
        except Exception:  # noqa: BLE001 - nothing of it rather than all of it
            return MASK_TOKEN

    def exception_attributes(self, error: BaseException) -> dict[str, str]:
        """`exception.message` and `exception.stacktrace` of `error` as `free_text` leaves
        them: what `Span.record_exception(error, attributes=...)` records in their place.
        Never raises (empty when `error` cannot be told)."""
        try:
            message = str(error)
            stacktrace = "".join(
                traceback.format_exception(type(error), error, error.__traceback__)
            )
        except Exception:  # noqa: BLE001 - an exception whose `__str__` fails
            return {"exception.message": "", "exception.stacktrace": ""}
        return {
            "exception.message": self.free_text(message),
            "exception.stacktrace": self.free_text(stacktrace),
        }

    def _mask_named_values(self, text: str) -> str:
        """`text` with the value after each name a glob masks replaced (see `free_text`)."""
        if ":" not in text and "=" not in text:
            # No name is followed by a value (a root request in plain words): two C scans
            # instead of the pattern tried at every word.
            return text
        parts: list[str] = []
        done = 0
        for named in _NAME_THEN_SEPARATOR.finditer(text):
            if named.start() < done:
                continue
            name = named.group(1)
            if named.group(2) is not None:
                # A word: the name is its last 128 characters from the first that starts one.
                start = _NAME_START.search(name, max(0, len(name) - 128))
                name = name[start.start() :] if start is not None else ""
            if not name.strip("\"'") or not self.is_sensitive_name(name.strip("\"'")):
                continue
            value = _FREE_VALUE.match(text, named.end())
            if value is None or value.group().strip("\"'") in (MASK_TOKEN, REDACTED):
                continue
            written = value.group()
            quote = written[0] if written[0] in "\"'" else ""
            end = value.end()
            if not quote and _LINE_VALUED.search(name) is not None:
                # A header's value (`Cookie: a=1; session=...`, a Digest `Authorization`'s
                # `, response=...`): its `;` and `,` separate its parts, not the text's.
                end = _TO_LINE_END.match(text, end).end()  # type: ignore[union-attr]
            parts.append(text[done : value.start()])
            parts.append(f"{quote}{MASK_TOKEN}{quote}")
            done = end
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def url_value(self, url: AttributeValue) -> AttributeValue:
        """A recorded URL (`url.full`, `url.original`, `http.url`, or a server's `http.target`,
        `/path?query`) without credentials: no userinfo, and `REDACTED` for the
        values of its query (and fragment) parameters that `is_secret_parameter` names; the URL
        itself when there is nothing to remove, `MASK_TOKEN` when it cannot be split. Never
        raises."""
        if not isinstance(url, str) or not ("?" in url or "@" in url or "#" in url):
            return url
        try:
            return safe_url(url, self.is_secret_parameter).url
        except ValueError:
            return MASK_TOKEN

    def _encode(self, document: JsonValue, redact_paths: Sequence[str]) -> str:
        # `_safe_copy` wrote non-finite numbers `null` already, so the fast encoder is exact here.
        return dumps_finite(self._redacted(document, redact_paths))

    def _redacted(self, document: JsonValue, redact_paths: Sequence[str]) -> JsonValue:
        """`document` with the configured JSON paths and `redact_paths` masked. A document that
        is the JSON text of an object or array (a model's tool-call arguments, handed over as
        they came) is that object: the paths are masked in it, and it is re-encoded when one
        resolved (`document` itself otherwise)."""
        rules = [*self._rules.paths, *(p for p in redact_paths if isinstance(p, str))]
        if not rules:
            return document
        if document.__class__ is str:
            if _JSON_AFTER_WHITESPACE.match(document) is None:
                return document
            parsed = _decode(document)
            if not isinstance(parsed, (dict, list)):
                return document
            redacted = redact_value(parsed, rules)
            return document if redacted == parsed else dumps_finite(redacted)
        return redact_value(document, rules)

    def _safe_copy(self, value: object, depth: int) -> JsonValue:
        """A JSON-native copy of `value` with sensitive keys masked and NaN and the infinities
        `None` (JSON `null`); raises `_Unsafe`."""
        if depth > _MAX_DEPTH:
            raise _Unsafe("too deep")
        if isinstance(value, str):
            first = value[:1]
            if first in _JSON_OPENERS:
                if first == '"':
                    if not _ends_like_a_json_string(value):
                        return self._urls_scrubbed(value)  # quoted words, no JSON string
                    return self._json_string_text(value, depth)
                if first in _JSON_BRACKETS or _JSON_AFTER_WHITESPACE.match(value) is not None:
                    return self._nested_text(value, depth)
            return self._urls_scrubbed(value)
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            # JSON has no NaN or infinity: `null` in their place, as orjson writes them.
            return value if math.isfinite(value) else None
        if isinstance(value, Mapping):
            copied: dict[str, JsonValue] = {}
            for raw_key, item in value.items():
                if not isinstance(raw_key, str):
                    raise _Unsafe("a non-string key")
                copied[raw_key] = (
                    MASK_TOKEN
                    if self.is_sensitive_name(raw_key)
                    else self._safe_copy(item, depth + 1)
                )
            return copied
        if isinstance(value, (list, tuple)):
            return [self._safe_copy(item, depth + 1) for item in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return self._safe_copy(fields, depth + 1)
        raise _Unsafe(f"cannot encode {type(value).__name__}")

    def _nested_text(self, text: str, depth: int) -> str:
        """A string value that opens like JSON text (`{`, `[`, after whitespace too: a tool
        call's arguments, a request body) with the keys it writes scrubbed as the payload's own are (name globs; the
        JSON paths name the payload's structure, not the text's): re-encoded compactly when
        something in it was masked, `text` itself otherwise. Text that is no JSON object or array,
        or that the walk refuses (too deep), is `MASK_TOKEN` when it writes a key a name glob
        masks, else kept."""
        parsed = _decode(text)
        if isinstance(parsed, (dict, list)):
            try:
                copied = self._safe_copy(parsed, depth + 1)
            except _Unsafe:
                pass
            else:
                if copied == parsed:
                    return text
                encoded = dumps_finite(copied)
                # NaN is not equal to itself: when `null` for NaN or an infinity is all that
                # changed, nothing was masked and the string stays as written (JSON carries it).
                return text if encoded == _orjson_text(parsed) else encoded
        masked = self.is_sensitive_name
        if any(masked(name) for name in _key_names(text)):
            return MASK_TOKEN
        return self._urls_scrubbed(text)

    def _json_string_text(self, text: str, depth: int) -> str:
        """A string value that opens with a quote: when it is a JSON string (JSON text encoded
        twice, as `json.dumps` of arguments already JSON), the text it holds scrubbed as a
        payload's string is (`_safe_copy`), re-encoded as a JSON string when something in it
        changed (`MASK_TOKEN` when the walk refuses it); other text as plain text."""
        parsed = _decode(text)
        if parsed.__class__ is not str:
            return self._urls_scrubbed(text)
        try:
            copied = self._safe_copy(parsed, depth + 1)
        except _Unsafe:
            return MASK_TOKEN
        return text if copied == parsed else dumps_finite(copied)

    def _urls_scrubbed(self, text: str) -> str:
        """`text` (a payload's string, free text) with each URL in it as `url_value` leaves
        it: no userinfo, credential query values `REDACTED`; `text` itself when none changed (at
        once when it holds no `://`)."""
        if "://" not in text:
            return text
        return _URL_IN_TEXT.sub(lambda m: str(self.url_value(m.group())), text)


_NOT_JSON: Final = object()
# How a string value that may be JSON text starts (`Scrubber._nested_text`).
# JSON text may start with whitespace (a raw request body, pretty-printed arguments): a string
# that starts with it is read as JSON text when a bracket follows (`_JSON_AFTER_WHITESPACE`).
_JSON_BRACKETS: Final = frozenset({"{", "["})
# A string that opens with a quote may be a JSON string of JSON text (`_json_string_text`).
_JSON_OPENERS: Final = frozenset({"{", "[", '"', " ", "\t", "\n", "\r"})


def _ends_like_a_json_string(text: str) -> bool:
    """Whether `text`, which opens with a quote, ends as a JSON string does: with a quote, then
    JSON's whitespace only. Looks at its end only."""
    last = text[-1:]
    if last == '"':
        return True
    return last in _JSON_WHITESPACE and text.rstrip(" \t\n\r")[-1:] == '"'


_JSON_WHITESPACE: Final = frozenset({" ", "\t", "\n", "\r"})


_JSON_AFTER_WHITESPACE: Final = re.compile(r"[ \t\n\r]*[\[{]")


def _orjson_text(value: object) -> str | None:
    """`value` as orjson writes it (NaN and the infinities `null`); None when orjson cannot."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return None


def _decode(text: str) -> object:
    """`json.loads(text)` (by orjson when that is the same: `loads_exact`); `_NOT_JSON` when it
    is not JSON."""
    try:
        return loads_exact(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


# A URL in free text (an exception's message), up to a space, quote or bracket. The scheme is
# bounded: from each letter of a long word (a hex dump) the search would run to its end.
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s'\"<>`]+")
# A name in free text, quoted or not, and what separates it from its value (`:` or `=`). A
# word (group 2) is read whole, once, from its first character (the lookahead does not give
# back), so a long one costs its length, not 128 characters per letter; `_NAME_START` finds
# where its name starts.
_NAME_THEN_SEPARATOR: Final = re.compile(
    r"""("[^"\n]{1,128}"|'[^'\n]{1,128}'|(?<![\w.\-])(?=([\w.\-]+))\2)\s*[:=]\s*"""
)
_NAME_START: Final = re.compile(r"[A-Za-z_]")
# The value after such a name: quoted (its closing quote may have been cut), else up to the
# next `,;&)}]` or line end; whole, however long (a credential's tail must not follow the
# mask). Linear: the alternatives of each repeat are disjoint, and a value is read once.
_FREE_VALUE: Final = re.compile(
    r""""(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|[^,;&)}\]\s][^,;&)}\]\n]*"""
)
# Names whose unquoted value is a header's, masked to its line end (`_mask_named_values`).
_LINE_VALUED: Final = re.compile("cookie|authorization", re.IGNORECASE)
_TO_LINE_END: Final = re.compile(r"[^\r\n]*")

# A key as a JSON object, or a Python dict's `repr`, writes it: a quoted name, then a colon.
# Names are bounded so that no text (`'\\'\\'...`) makes the search quadratic, and an escaped
# quote (`\\"`, a JSON string of JSON) starts none: each would be searched 256 characters on.
_KEY_LIKE: Final = re.compile(
    r"""(?<!\\)"((?:[^"\\]|\\.){0,256})"\s*:|(?<!\\)'((?:[^'\\]|\\.){0,256})'\s*:"""
)


def _key_names(text: str) -> Iterator[str]:
    """The names written as keys in `text` (see `_KEY_LIKE`), JSON escapes decoded too."""
    for match in _KEY_LIKE.finditer(text):
        double = match.group(1)
        name = double if double is not None else match.group(2)
        yield name
        if "\\" in name:
            with contextlib.suppress(ValueError):
                decoded = json.loads(f'"{name}"')
                if isinstance(decoded, str):
                    yield decoded


def _last_names(paths: Iterable[object]) -> frozenset[str]:
    """The key each JSON path ends at (`$.order.card`: `card`; `$.cards[0]`: `cards`)."""
    names: set[str] = set()
    for path in paths:
        steps = parse_path(path)
        for step in reversed(steps or ()):
            if isinstance(step, str) and step != WILDCARD:
                names.add(step)
                break
    return frozenset(names)


def stamped_trace_id() -> str | None:
    """The decision-trace id the context processor stamped on the current span (the trace an
    `invoke_agent` span opened, which no `AgentTrace` stands for); None when it has none (empty
    text is no id)."""
    attributes = getattr(get_current_span(), "attributes", None)
    if not isinstance(attributes, Mapping):
        return None
    stamped = attributes.get(A.TRACE_ID)
    return stamped if isinstance(stamped, str) and stamped else None


def _resolve_redact_fields() -> Callable[[], Sequence[str]]:
    """How to read the current decision trace's redact fields (nothing when traces are absent)."""
    try:
        from tracengent._trace import current_trace
    except ImportError:
        return lambda: ()

    def read() -> Sequence[str]:
        trace = current_trace()
        if trace is None:
            return ()
        return tuple(trace.redact_fields)

    return read


class ScrubbingProcessor(SpanProcessor):
    """A span processor that scrubs the attributes a span starts with (see the module docstring).

    Add it to the provider once; it protects every exporter on that provider. It never raises:
    a failure is counted in `failures` and logged at most once a minute.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        self._scrubber = scrubber
        self._redact_fields: Callable[[], Sequence[str]] | None = None
        self.failures = 0
        self._last_log = -math.inf

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Mask sensitive attributes and re-scrub payload attributes of a starting span."""
        try:
            if STARTING.get() is not None:
                # Our recorder's spans carry only payloads it scrubbed as it set them; configured
                # name globs still apply to their other attributes (an actor's user id, a URL).
                if self._scrubber.custom_names:
                    self._mask_names(span)
                return
            attributes = A.attributes_of(span)
            if not attributes:
                return
            if self._redact_fields is None:
                self._redact_fields = _resolve_redact_fields()
            redact_paths: Sequence[str] | None = None
            for key, value in attributes.items():
                if redact_paths is None and A.is_payload_attribute(key):
                    # The current `AgentTrace`'s, and those noted for the trace the context
                    # processor stamped on the span (one an `invoke_agent` span opened has no
                    # `AgentTrace`: its obligations' paths are noted under its id).
                    redact_paths = self._redact_fields()
                    noted = self._scrubber.trace_paths(attributes.get(A.TRACE_ID))
                    if noted:
                        redact_paths = (*redact_paths, *noted)
                    elif noted is None:
                        # Its obligations were forgotten: every payload attribute is withheld.
                        redact_paths = _FORGOTTEN
                scrubbed = self._scrubber.scrub_attribute(
                    key, value, redact_paths=redact_paths or ()
                )
                if scrubbed is None:
                    # Attributes cannot be removed from a live span; the mask replaces the value.
                    scrubbed = MASK_TOKEN
                if scrubbed is not value:
                    span.set_attribute(key, scrubbed)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self.failures += 1
            now = time.monotonic()
            if now - self._last_log >= 60.0:
                self._last_log = now
                _logger.warning(
                    "scrubbing a span failed (%s failures so far): %s", self.failures, exc
                )

    def _mask_names(self, span: Span) -> None:
        """Mask the attributes of one of our recorder's spans whose names are sensitive."""
        masked = self._scrubber.masked_names(A.attributes_of(span))
        if masked:
            span.set_attributes(masked)

    # No `on_end`: attributes are frozen by then (`SpanProcessor`'s, which does nothing, is
    # inherited, so span factories that skip such hooks, as `DirectSpans` does, skip it).

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True
