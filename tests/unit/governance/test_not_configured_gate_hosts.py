"""While Tracengent is not configured, zero code's gate denies requests to governed hosts (fail
closed). It must judge "governed" as the real gate does: a request whose URL names another host
but whose `Host` header (or TLS server name) names a governed one, and a governed host with its
port, are governed too; otherwise such a request left unchecked."""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tracengent._zero_code import _NotConfiguredGate


def _gate() -> _NotConfiguredGate:
    return _NotConfiguredGate(["api.pay.example", "*.bank.example:8443"], "TRACENGENT_URL is unset")


def test_a_request_naming_a_governed_host_in_its_host_header_is_denied() -> None:
    request = httpx.Request(
        "POST", "https://203.0.113.7/v1/refunds", headers={"Host": "api.pay.example"}
    )
    gate = _gate()
    assert gate.is_governed(request)
    with pytest.raises(ToolDeniedException, match="not configured"):
        gate.check(request)


def test_a_tls_server_name_of_a_governed_host_is_governed() -> None:
    request = httpx.Request(
        "GET", "https://203.0.113.7/", extensions={"sni_hostname": "api.pay.example"}
    )
    assert _gate().is_governed(request)


@pytest.mark.parametrize(
    ("url", "governed"),
    [
        ("https://api.pay.example/v1", True),
        ("https://eu.bank.example:8443/x", True),
        ("https://eu.bank.example/x", False),  # the pattern names port 8443
        ("https://other.example/v1", False),
    ],
)
def test_hosts_and_ports_are_judged_as_the_gate_judges_them(url: str, governed: bool) -> None:
    assert _gate().is_governed(httpx.Request("GET", url)) is governed
