"""Prometheus gauges of the effect for the current quarter, computed at most once a minute per process
(the report reads a quarter of decisions; a scrape every few seconds must not)."""

from __future__ import annotations

import threading
import time
from typing import Any

from engine.effect.service import Effect

CACHE_SECONDS = 60.0
_cache: dict[Any, tuple[float, list[str]]] = {}
_lock = threading.Lock()


def effect_gauges(runtime: Any) -> list[str]:
    key = runtime.service.engine.url
    with _lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
    report = Effect(runtime.service, runtime.policies, runtime.service.clock).report("quarter", 1)
    [current] = report.periods
    values = {
        "decisions_effect_director_items": ("Items that reached the director this quarter.", current.reached_director),
        "decisions_effect_director_share": (
            "Share of this quarter's items that reached the director.",
            current.director_share,
        ),
        "decisions_effect_director_load_vs_baseline_percent": (
            "Change of the director's items per day this quarter against the imported pre-adoption baseline.",
            current.director_load_vs_baseline_pct,
        ),
        "decisions_effect_director_hours_recaptured": (
            "Estimated director hours recaptured this quarter against the baseline's rate.",
            current.director_hours_recaptured,
        ),
        "decisions_effect_overdue_items": ("Items filed this quarter that passed their SLA.", current.overdue),
    }
    lines = []
    for name, (help_, value) in values.items():
        if value is None:
            continue  # no baseline yet, or nothing filed: an absent series, not a false zero
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f'{name}{{period="{current.period}"}} {value}']
    with _lock:
        _cache[key] = (time.monotonic(), lines)
    return lines
