"""Credentials out of recorded URLs: one rule for every URL an event carries.

OTel's semantic conventions ask `url.full` to hold no credentials: no userinfo, and the values of
signature parameters (`SIGNATURE_PARAMETERS`) replaced by `REDACTED`. Tracengent also redacts the
values of parameters whose name alone says credential (`is_credential_query_name`: signature
parameters in any case, `token`, `key`, `...token`, `...key`, `...signature`, `auth`) and of
every query parameter whose name matches a sensitive-name glob (`SENSITIVE_NAME_GLOBS`:
`*api_key*`, `*access_token*`, `*credential*`, ..., case-insensitive; the scrubber's defaults), whoever recorded the URL: the SDK's tracked clients or another
instrumentation (OTel's httpx instrumentation records the query as the request had it). A
fragment made of `name=value` pairs (an OAuth implicit-flow redirect's `#access_token=...`) is
redacted like a query.

Only the values change: parameter names, their order and encoding and every other part of the
URL stay byte for byte. I/O-free and thread-safe.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable
from typing import Final, NamedTuple
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = [
    "CREDENTIAL_HEADERS",
    "REDACTED",
    "SENSITIVE_NAME_GLOBS",
    "SIGNATURE_PARAMETERS",
    "SafeUrl",
    "is_camel_case_id_token",
    "is_credential_header",
    "is_credential_query_name",
    "is_default_sensitive_name",
    "is_sensitive_parameter",
    "redact_query",
    "safe_url",
]

REDACTED: Final = "REDACTED"
"""What a sensitive query value becomes (the word OTel's semantic conventions use)."""

SIGNATURE_PARAMETERS: Final = frozenset(
    {
        "AWSAccessKeyId",
        "Signature",
        "sig",
        "X-Goog-Signature",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "X-Amz-Credential",
    }
)
"""Query parameters redacted in `url.full` whatever the configuration: OTel's semantic
conventions' list, and the credentials of an AWS SigV4 presigned URL (its signature, session
token and access key id)."""

SENSITIVE_NAME_GLOBS: Final = (
    "*password*",
    "*passwd*",
    "*pwd*",
    "*passphrase*",
    "*secret*",
    "*api_key*",
    "*api-key*",
    "*apikey*",
    "*authorization*",
    "*cookie*",
    "*access_token*",
    "*access-token*",
    "*accesstoken*",
    "*refresh_token*",
    "*refresh-token*",
    "*refreshtoken*",
    "*auth[_-]token*",
    "*authtoken*",
    # `id` only whole (alone, or after `_`, `-` or `.`): `paid_token`, `valid_token` are no ID
    # tokens. A name ending in it only (`id_tokens` may count them); OIDC's `id_token_hint` too.
    "id[_-]token",
    "idtoken",
    "*[_.-]id[_-]token",
    "*[_.-]idtoken",
    "*id[_-]token[_-]hint",
    "*idtokenhint",
    # A name ending in it: `session_tokens` and `session_token_count` may count a session's
    # tokens.
    "*session[_-]token",
    "*sessiontoken",
    "*credential*",
    "*private_key*",
    "*private-key*",
    "*privatekey*",
    "*card_number*",
    "*card-number*",
    "*cardnumber*",
)
"""Name globs whose values are always masked (case-insensitive): passwords (`*pwd*`, `*passwd*`),
passphrases, secrets, API keys, authorization, cookies, access, refresh and auth tokens (`_`, `-`
or none between the words), ID tokens (`id_token`, `user.idToken`, `x-id-token`,
`id_token_hint`), names ending in a session token (`aws_session_token`, `sessionToken`),
credentials (`*credential*`: `Credentials`, `aws_credentials`), private keys and card numbers.

Plain `token` is deliberately not one: `gen_ai.usage.input_tokens`, `max_tokens`, `token_count`
are usage counts, not credentials; so `id` must stand alone before `token` (`paid_tokens`,
`prepaid_token_count` and `valid_token` are kept), and neither an ID token's nor a session
token's glob reaches past `token` (`id_tokens`, `session_tokens_used` may be counts). A name
that runs a word into `IdToken` in camelCase (`googleIdToken`) is one too, by a case-sensitive
rule beside the globs (`is_camel_case_id_token`: the capital `I` tells it from `validToken`,
which case-insensitive globs cannot). `*pwd*` is a
glob, not the exact name, so `db_pwd`, `userPwd` and `pwd_hash` are masked too; no English word
holds `pwd`, and the names it masks beyond passwords (the shell's `PWD` and `OLDPWD`, a working
directory in an environment dump) lose a path, never leak a credential."""

_SENSITIVE_NAME: Final = re.compile(
    "|".join(f"(?:{fnmatch.translate(glob)})" for glob in SENSITIVE_NAME_GLOBS), re.IGNORECASE
)


_CAMEL_CASE_ID_TOKEN: Final = re.compile(r".*[a-z0-9]I[dD]Token(?:Hint)?")


def is_camel_case_id_token(name: str) -> bool:
    """Whether `name` runs a word into an ID token in camelCase (`googleIdToken`,
    `appleIDToken`, `msIdTokenHint`): a capital `I` after a lower-case letter or digit, and
    nothing after `Token` but `Hint`. Case-sensitive, unlike the globs, so `validToken` and
    `paidToken` are kept, as are `googleIdTokens` (a count, as `id_tokens`)."""
    return _CAMEL_CASE_ID_TOKEN.fullmatch(name) is not None


def is_default_sensitive_name(name: str) -> bool:
    """Whether `name` is sensitive by default: it matches `SENSITIVE_NAME_GLOBS` (any case) or
    is an ID token in camelCase (`is_camel_case_id_token`)."""
    return _SENSITIVE_NAME.fullmatch(name) is not None or is_camel_case_id_token(name)


_CREDENTIAL_QUERY_NAME: Final = re.compile(r".*(?:token|key|signature)|auth", re.IGNORECASE)
_SIGNATURE_NAMES: Final = frozenset(name.lower() for name in SIGNATURE_PARAMETERS)


def is_credential_query_name(name: str) -> bool:
    """Whether a query parameter named `name` (decoded) carries a credential by its name alone:
    a signature parameter (`SIGNATURE_PARAMETERS`), a name ending in `token`, `key` or
    `signature` (`?token=`, Google's `?key=`, GitLab's `?private_token=`, `idToken`, a signed
    URL's `?signature=`), or `auth`, all in any case. For query parameters only: as attribute
    names, `..._tokens` counts are no secrets."""
    return name.lower() in _SIGNATURE_NAMES or _CREDENTIAL_QUERY_NAME.fullmatch(name) is not None


@functools.lru_cache(maxsize=1024)
def is_sensitive_parameter(name: str) -> bool:
    """True when a query parameter named `name` (decoded) has its value redacted by default:
    a credential by its name (`is_credential_query_name`), or a name matching
    `SENSITIVE_NAME_GLOBS` or an ID token's in camelCase (`is_default_sensitive_name`)."""
    return is_credential_query_name(name) or is_default_sensitive_name(name)


CREDENTIAL_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-ingest-key",
    }
)
"""Header names (lower-case) that carry credentials: never told to the platform by the egress gate,
masked when an instrumentation records them; see `is_credential_header` for the others."""

# Header names that carry credentials whatever their prefix (`X-Amz-Security-Token`,
# `PRIVATE-TOKEN`, `X-Vault-Token`, `X-Hub-Signature-256`, `X-Amz-Credential`), and keys named
# for what they open (`X-Access-Key`, `X-Master-Key`, Datadog's `DD-API-KEY` and
# `DD-Application-Key`, Azure's `Ocp-Apim-Subscription-Key` and `X-Functions-Key`, Cloudflare's
# `X-Auth-Key`, a bare `X-Key`); a key named for something else (`Idempotency-Key`) is not one.
_CREDENTIAL_NAME: Final = re.compile(
    r"token|signature|credential"
    r"|(?:^|[-_])(?:api|access|master|secret|private|application|app|subscription|client|auth"
    r"|functions|license)[-_]?key$|^x-key$"
)


@functools.lru_cache(maxsize=1024)
def is_credential_header(name: str) -> bool:
    """Whether header `name` (lower-case) carries a credential (the egress gate never tells the
    platform its value; the scrubber masks it where an instrumentation records it):
    `CREDENTIAL_HEADERS`, a name holding `token`, `signature` or `credential`, a key named for
    what it opens (`X-Access-Key`, `DD-Application-Key`, `X-Functions-Key`, `X-Key`), or a
    signature query parameter's name (`SIGNATURE_PARAMETERS`, any case)."""
    return (
        name in CREDENTIAL_HEADERS
        or name in _SIGNATURE_NAMES
        or _CREDENTIAL_NAME.search(name) is not None
    )


def redact_query(query: str, is_sensitive: Callable[[str], bool] = is_sensitive_parameter) -> str:
    """`query` (the part after `?`) with each sensitive parameter's value replaced by `REDACTED`.

    A parameter is `name=value` between `&`s; its name is decoded (`%xx`, `+`) before
    `is_sensitive` judges it. Everything else is kept as written; `query` itself when nothing
    was sensitive.
    """
    parameters = query.split("&")
    changed = False
    for index, parameter in enumerate(parameters):
        name, equals, value = parameter.partition("=")
        if equals and value != REDACTED and is_sensitive(unquote_plus(name)):
            parameters[index] = f"{name}={REDACTED}"
            changed = True
    return "&".join(parameters) if changed else query


class SafeUrl(NamedTuple):
    """A URL as an event may carry it, and the parts its event name is made of."""

    url: str
    """The URL without userinfo and with sensitive query values `REDACTED`."""
    host: str
    """Its authority without userinfo (`host[:port]`)."""
    path: str
    """Its path."""


def safe_url(url: str, is_sensitive: Callable[[str], bool] = is_sensitive_parameter) -> SafeUrl:
    """`url` without credentials (see the module doc); rebuilt only when something was removed.

    The fragment's `name=value` pairs (`#access_token=...`) are judged as the query's are.

    Raises:
        ValueError: `url` cannot be split (an unbalanced `[` in its authority, say).
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = redact_query(parts.query, is_sensitive) if parts.query else parts.query
    # An OAuth implicit-flow redirect carries its token in the fragment, as `name=value` pairs.
    fragment = parts.fragment
    if "=" in fragment:
        fragment = redact_query(fragment, is_sensitive)
    if host != parts.netloc or query != parts.query or fragment != parts.fragment:
        url = urlunsplit((parts.scheme, host, parts.path, query, fragment))
    return SafeUrl(url, host, parts.path)
