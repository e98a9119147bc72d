"""The benchmark suite's quick mode runs in-process, end to end, and writes its JSON."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from benchmarks._cli import main

_SMOKE_BUDGET_S = 30.0


def test_quick_mode_produces_a_finite_figure_per_case_and_writes_json(tmp_path: Path) -> None:
    """`python -m benchmarks --quick --output PATH`: every case reports finite figures, fast."""
    output = tmp_path / "results" / "quick.json"
    started = time.monotonic()
    exit_code = main(["--quick", "--output", str(output)])
    elapsed = time.monotonic() - started

    assert exit_code == 0
    assert elapsed < _SMOKE_BUDGET_S
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["mode"] == "quick"
    figures = document["figures"]
    cases = {figure["case"] for figure in figures}
    assert cases == {
        "1 hot path",
        "2 total CPU",
        "3 serialization",
        "4 end to end",
        "5 egress",
        "6 memory",
    }
    for figure in figures:
        assert figure["available"], figure
        assert figure["value"] is not None, figure
        assert math.isfinite(figure["value"]), figure
