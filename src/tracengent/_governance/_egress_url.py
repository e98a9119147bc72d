"""What the platform is told of a governed request's URL: I/O-free, shared by the sync and async
gates.

The platform decides on what the *server* will act on, so the path is told as servers route it
(Starlette, Werkzeug, ...): split on its literal `/`, literal dot segments removed (RFC 3986
§5.2.4), then each segment percent-decoded. Some segments are read otherwise by other servers and
proxies, so a path holding one is *ambiguous* and denied (`AmbiguousPathError`, outcome
`path_ambiguous`) rather than told one way a server might not take:

- an encoded dot segment or slash (`%2e%2e`, `%2F`): not a separator or a dot segment to those
  servers, but one to others (proxies, some frameworks decode first);
- a backslash, literal or `%5C`: a plain character to those servers, a separator to IIS and
  several proxies;
- a dot segment with path parameters (`..;`, `.;x`): Tomcat and Spring drop the parameters, then
  resolve the dot segment.

No third-party credential goes to the platform: the values of query parameters the tracked
client's recorded URL redacts (OTel's signature parameters, the scrubber's sensitive names such as
`*api_key*`, `*access_token*` and `scrub_patterns`) are told as `REDACTED`.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import unquote

import httpx

from opentelemetry.exporter.tracengent._url_redaction import REDACTED
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from tracengent._scrubbing import Scrubber

__all__ = [
    "HOST_AMBIGUOUS",
    "PATH_AMBIGUOUS",
    "AmbiguousHostError",
    "AmbiguousPathError",
    "platform_query",
    "remove_dot_segments",
    "server_path",
]

PATH_AMBIGUOUS: Final = "path_ambiguous"
"""The outcome of a deny because servers may route the request's path in two ways."""


HOST_AMBIGUOUS: Final = "host_ambiguous"
"""The outcome of a deny because the request names the server another host than its URL's."""


class AmbiguousPathError(ValueError):
    """A path segment is a dot segment or holds a `/` only once percent-decoded."""


class AmbiguousHostError(ValueError):
    """The request's Host header or TLS server name names another host than its URL."""


def remove_dot_segments(path: str) -> str:
    """`path` with its `.` and `..` segments resolved, as RFC 3986 §5.2.4 does.

    `/a/b/c/./../../g` → `/a/g`; `..` never climbs above the root (`/../x` → `/x`). Linear in
    the length of `path`.
    """
    output: list[str] = []  # segments, each with its leading "/" when it had one
    end = len(path)
    i = 0  # the RFC's input buffer is path[i:]; its steps A-E, in its order
    while i < end:
        if path.startswith("../", i):
            i += 3
        elif path.startswith(("./", "/./"), i):  # A drops "./"; B turns "/./" into "/"
            i += 2
        elif path.startswith("/../", i):  # C: "/../" becomes "/", dropping the last segment
            i += 3
            if output:
                output.pop()
        elif path.startswith("/.", i) and i + 2 == end:  # B: a final "/." becomes "/"
            output.append("/")
            i = end
        elif path.startswith("/..", i) and i + 3 == end:  # C: a final "/.." too, after a pop
            if output:
                output.pop()
            output.append("/")
            i = end
        elif end - i <= 2 and path[i:] in (".", ".."):  # D
            i = end
        else:  # E: move the first segment (with its leading "/") to the output
            following = path.find("/", i + 1)
            following = end if following == -1 else following
            output.append(path[i:following])
            i = following
    return "".join(output)


def server_path(url: httpx.URL) -> str:
    """The path the server of `url` routes: split on literal `/`, dot segments removed, each
    segment percent-decoded.

    Raises:
        AmbiguousPathError: a segment decodes to `.` or `..` or holds a `/` (`%2e%2e`, `%2F`),
            holds a backslash (`\\`, `%5C`), or is a dot segment with parameters (`..;`).
    """
    raw = url.raw_path.partition(b"?")[0].decode("ascii", "replace")
    segments = [unquote(segment) for segment in remove_dot_segments(raw).split("/")]
    for segment in segments:
        if "/" in segment or "\\" in segment or segment.partition(";")[0] in (".", ".."):
            raise AmbiguousPathError(
                f"the path {raw!r} holds a segment servers route differently ({segment!r}: an "
                "encoded dot segment or slash, a backslash, or a dot segment with parameters)"
            )
    return "/".join(segments) or "/"


def platform_query(url: httpx.URL, scrubber: Scrubber) -> dict[str, JsonValue]:
    """`url`'s query as the platform is told it: a key given more than once maps to the list of
    its values, in order (a policy sees every value the server might act on); a secret's values
    (`Scrubber.is_secret_parameter`) are `REDACTED`."""
    query: dict[str, JsonValue] = {}
    if not url.query:
        return query
    for key, raw in url.params.multi_items():
        value = REDACTED if scrubber.is_secret_parameter(key) else raw
        previous = query.get(key)
        if previous is None:
            query[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            query[key] = [previous, value]
    return query
