"""The library versions this instrumentation applies to (OTel's `package.py` convention)."""

_instruments = ("httpx >= 0.24",)
_supports_metrics = False
