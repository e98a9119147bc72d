"""Starts, queries and stops the loopback sink process (`benchmarks/_sink.py`)."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Final

import httpx

__all__ = ["SinkProcess"]

_SINK_SCRIPT: Final = Path(__file__).with_name("_sink.py")
_START_TIMEOUT_S: Final = 20.0
_STOP_TIMEOUT_S: Final = 5.0


class SinkProcess:
    """The sink as a separate process on 127.0.0.1; a context manager that always stops it.

    Raises:
        RuntimeError: the sink did not report its port within 20 s.
    """

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(_SINK_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self.port = self._read_port()
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"
        self._control = httpx.Client(base_url=self.url, timeout=10.0)

    def _read_port(self) -> int:
        stdout = self._process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], _START_TIMEOUT_S)
        line = stdout.readline() if ready else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"the benchmark sink did not start (said {line!r})")
        return int(line)

    def stats(self) -> dict[str, int]:
        """The sink's counters."""
        counters: dict[str, int] = json.loads(self._control.get("/_bench/stats").content)
        return counters

    def reset(self) -> None:
        """Zero the sink's counters."""
        self._control.post("/_bench/reset")

    def wait_for(self, key: str, expected: int, timeout_s: float = 10.0) -> int:
        """Poll until counter `key` reaches `expected` or `timeout_s` passes; its last value."""
        deadline = time.monotonic() + timeout_s
        value = self.stats()[key]
        while value < expected and time.monotonic() < deadline:
            time.sleep(0.05)
            value = self.stats()[key]
        return value

    def stop(self) -> None:
        """Terminate the sink and wait for it (killed if it lingers)."""
        control = getattr(self, "_control", None)
        if control is not None:
            control.close()
        process = self._process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_STOP_TIMEOUT_S)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> SinkProcess:
        """The running sink."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """`stop()`."""
        self.stop()
