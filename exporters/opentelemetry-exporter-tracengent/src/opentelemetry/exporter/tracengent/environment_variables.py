"""Names of the environment variables Tracengent reads (the one place they are spelled)."""

from __future__ import annotations

from typing import Final

TRACENGENT_URL: Final = "TRACENGENT_URL"
"""Base URL of the platform (default `http://localhost:8080`)."""
TRACENGENT_CLIENT_ID: Final = "TRACENGENT_CLIENT_ID"
"""OAuth client id of the agent (`key_...`); preferred over the ingest key."""
TRACENGENT_CLIENT_SECRET: Final = "TRACENGENT_CLIENT_SECRET"
"""OAuth client secret of the agent (`ags_...`)."""
TRACENGENT_INGEST_KEY: Final = "TRACENGENT_INGEST_KEY"
"""Legacy organisation ingest key (`agk_...`), used when no client credentials are set."""
TRACENGENT_AGENT_ID: Final = "TRACENGENT_AGENT_ID"
"""The agent id events are recorded under (falls back to `OTEL_SERVICE_NAME` under the distro)."""
TRACENGENT_ENVIRONMENT: Final = "TRACENGENT_ENVIRONMENT"
"""The environment tag put first on every event (default `production`)."""
TRACENGENT_DEFAULT_TAGS: Final = "TRACENGENT_DEFAULT_TAGS"
"""Comma-separated tags added to every event after the environment tag."""
TRACENGENT_CAPTURE_PAYLOADS: Final = "TRACENGENT_CAPTURE_PAYLOADS"
"""`false` turns payload capture (inputs, outputs, arguments) off for every exporter."""
TRACENGENT_GOVERNED_HOSTS: Final = "TRACENGENT_GOVERNED_HOSTS"
"""Comma-separated hosts (`api.example.com`, `*.stripe.com`) whose HTTP calls are authorized first."""
TRACENGENT_GOVERN_MCP: Final = "TRACENGENT_GOVERN_MCP"
"""`true` authorizes every MCP `tools/call` first (zero code); MCP governance always fails closed."""
TRACENGENT_TOOL_GOVERNANCE_FAIL_OPEN: Final = "TRACENGENT_TOOL_GOVERNANCE_FAIL_OPEN"
"""`true` lets HTTP egress proceed (with a warning) when the platform cannot be reached."""
TRACENGENT_GOVERNANCE_TIMEOUT_S: Final = "TRACENGENT_GOVERNANCE_TIMEOUT_S"
"""Deadline in seconds of one governance call, token fetch included (default 5, at most a week)."""
TRACENGENT_SCRUB_PATTERNS: Final = "TRACENGENT_SCRUB_PATTERNS"
"""Comma-separated extra scrubbing rules: attribute-name globs (`*token*`) or JSON paths (`$.card`)."""
TRACENGENT_DISABLED: Final = "TRACENGENT_DISABLED"
"""`true` turns the whole distribution off (the application runs untouched)."""

OTEL_SERVICE_NAME: Final = "OTEL_SERVICE_NAME"
"""OTel's service name; the agent id when `TRACENGENT_AGENT_ID` is unset."""
OTEL_RESOURCE_ATTRIBUTES: Final = "OTEL_RESOURCE_ATTRIBUTES"
"""OTel's resource attributes; their `service.name` is the service name when `OTEL_SERVICE_NAME`
is unset (OTel's precedence), so the agent id too."""
OTEL_SDK_DISABLED: Final = "OTEL_SDK_DISABLED"
"""OTel's switch that disables the SDK; Tracengent honours it."""
OTEL_TRACES_EXPORTER: Final = "OTEL_TRACES_EXPORTER"
"""OTel's comma-separated list of trace exporters (`tracengent`, `otlp,tracengent`)."""

TRACENGENT_DEV_DB: Final = "TRACENGENT_DEV_DB"
"""SQLite file of the local platform (`tracengent dev`) and of the CLI's store commands."""
TRACENGENT_RELIABILITY_TABLE: Final = "TRACENGENT_RELIABILITY_TABLE"
"""`1` prints the reliability suite's scenario table at the end of its run (tests only)."""

KNOWN_TRACENGENT_VARIABLES: Final = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.startswith("TRACENGENT_") and isinstance(value, str)
)
"""Every `TRACENGENT_*` variable something here reads (the SDK, zero code, the CLI and local
platform, the tests): the constants above, so a new one is known once it is named here; reading
the options warns once about any other such name, a likely typo."""
