"""What the platform is told of a governed request's URL: I/O-free, shared by the sync and async
gates.

The platform decides on what the *server* will act on, so the path is told as the server resolves
it: percent-decoded, then with its dot segments removed (RFC 3986 §5.2.4). Told undecoded-but-
unresolved, `/v1/flights/%2e%2e/admin` would match a policy's `/v1/flights/*` while the server
serves `/v1/admin`.

No third-party credential goes to the platform: the values of query parameters the tracked
client's recorded URL redacts (OTel's signature parameters, the scrubber's sensitive names such as
`*api_key*`, `*access_token*` and `scrub_patterns`) are told as `REDACTED`.
"""

from __future__ import annotations

import httpx

from opentelemetry.exporter.tracengent._url_redaction import REDACTED, SIGNATURE_PARAMETERS
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from tracengent._scrubbing import Scrubber

__all__ = ["is_secret_parameter", "platform_query", "remove_dot_segments", "server_path"]


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
    """The path the server of `url` resolves: percent-decoded, dot segments removed.

    Decoding comes first because servers decode before routing: `%2e%2e` is a `..` to them.
    """
    return remove_dot_segments(url.path)


def is_secret_parameter(name: str, scrubber: Scrubber) -> bool:
    """Whether the value of query parameter `name` is a credential: a signature parameter or a
    name the scrubber masks (the rule of the tracked client's recorded `url.full`)."""
    return name in SIGNATURE_PARAMETERS or scrubber.is_sensitive_name(name)


def platform_query(url: httpx.URL, scrubber: Scrubber) -> dict[str, JsonValue]:
    """`url`'s query as the platform is told it: a key given more than once maps to the list of
    its values, in order (a policy sees every value the server might act on); a secret's values
    (`is_secret_parameter`) are `REDACTED`."""
    query: dict[str, JsonValue] = {}
    if not url.query:
        return query
    for key, raw in url.params.multi_items():
        value = REDACTED if is_secret_parameter(key, scrubber) else raw
        previous = query.get(key)
        if previous is None:
            query[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            query[key] = [previous, value]
    return query
