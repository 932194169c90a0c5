"""Medians of repeated timings, and the one table every row is printed in."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


def interleaved(fns: dict[str, tuple[Callable[[], object], int]], rounds: int = 11) -> dict[str, float]:
    """Median seconds per call of each fn, measured in rounds that take every fn in turn.

    A floor and the rows compared with it then share whatever the machine was doing: on a shared
    VM a slow patch lasting seconds moved single measurements by half, ratios measured this way
    far less. Each fn is given with how many calls make one sample.
    """
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, (fn, calls) in fns.items():
            started = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - started) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def once(fn: Callable[[], object], repeats: int = 3) -> float:
    """Median seconds of `repeats` whole runs (this machine varies by +-10 % run to run)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


@dataclass
class Row:
    group: str
    name: str
    value: float
    unit: str
    floor: float | None = None
    floor_name: str = ""
    target: str = ""
    verdict: str = ""
    #: For throughput rows a higher value is better; the ratio is floor/value then.
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if self.floor in (None, 0) or self.value == 0:
            return None
        assert self.floor is not None
        return self.floor / self.value if self.higher_is_better else self.value / self.floor


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.2f} us"
        if value < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:,.0f} {unit}"


def table(rows: list[Row]) -> str:
    lines = [
        "| layer | measured | median | floor | floor median | ratio | target | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        floor = fmt(r.floor, r.unit) if r.floor is not None else ""
        lines.append(
            f"| {r.group} | {r.name} | {fmt(r.value, r.unit)} | {r.floor_name} | {floor} | {ratio} | {r.target} | "
            f"{r.verdict} |"
        )
    return "\n".join(lines)
