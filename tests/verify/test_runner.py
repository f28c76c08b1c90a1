"""The runner's progress output: a heartbeat for claims that run for minutes."""

from __future__ import annotations

import io
import time

from convcheck.verify.runner import Progress


def test_progress_reports_a_long_running_claim_and_stops_when_closed() -> None:
    out = io.StringIO()
    p = Progress(1, stream=out, heartbeat_s=0.05)
    p.started("paper.slow_claim")
    time.sleep(0.3)
    p.close()
    text = out.getvalue()
    assert "paper.slow_claim still running" in text
    n = text.count("still running")
    time.sleep(0.2)
    assert out.getvalue().count("still running") == n  # closed: no more lines


def test_quiet_progress_writes_nothing() -> None:
    out = io.StringIO()
    p = Progress(1, stream=out, quiet=True, heartbeat_s=0.05)
    p.started("paper.slow_claim")
    time.sleep(0.15)
    p.close()
    assert out.getvalue() == ""
