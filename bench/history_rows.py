"""Digest and policy simulation on a large generated history."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from bench.generate import generate
from bench.timing import Row, once


def rows(decisions: int) -> list[Row]:
    from engine.history import from_event_rows
    from engine.runtime import open_runtime
    from engine.simulate import simulate
    from policy import load_policy

    home = Path(tempfile.mkdtemp(prefix="bench-history-"))
    db = home / "history.db"
    generate(db, decisions, start=datetime(2016, 11, 21, 17, tzinfo=UTC), span_days=3650)
    rt = open_runtime(f"sqlite:///{db}", "policies.yaml")
    try:
        day = date(2026, 10, 7)
        digest_t = once(lambda: rt.reviews.digest("weekly", day), repeats=3)
        built = rt.reviews.digest("weekly", day)
        biweekly_t = once(lambda: rt.reviews.digest("biweekly", day), repeats=3)
        metrics_t = once(lambda: rt.reviews.escalations("quarter", 8), repeats=3)
        candidate = load_policy("policies.yaml")
        history = list(from_event_rows(rt.service.iter_event_rows()))
        simulate_t = once(lambda: simulate(history, candidate, rt.policies.current), repeats=1)
        read_t = once(lambda: list(from_event_rows(rt.service.iter_event_rows())), repeats=1)
    finally:
        rt.close()
    label = f"{decisions:,} decisions"
    return [
        Row("history", f"weekly digest ({built.filed} filed in the window), {label}", digest_t, "s", None, "",
            "< 200 ms", "ok" if digest_t < 0.2 else "over target"),
        Row("history", f"bi-weekly digest, {label}", biweekly_t, "s", None, "", "", ""),
        Row("history", f"escalation metrics, 8 quarters, {label}", metrics_t, "s", None, "", "", ""),
        Row("history", f"policy simulation (classify all), {label}", simulate_t, "s", None, "", "< 10 s",
            "ok" if simulate_t < 10 else "over target"),
        Row("history", f"reading the history from the log, {label}", read_t, "s", None, "", "", ""),
    ]  # fmt: skip
