"""The library versions this instrumentation applies to (OTel's `package.py` convention)."""

_instruments = ("mcp >= 1.9",)
_supports_metrics = False
