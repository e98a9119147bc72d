"""The performance suite: Tracengent beside bare OpenTelemetry, measured in the same run.

`python -m benchmarks` (what `make bench` runs) prints a table, writes
`benchmarks/results/latest.json` and exits non-zero when a goal is missed; `--quick` is a smoke
run with small counts and no thresholds.
"""
