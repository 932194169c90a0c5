"""The replay audit (legitimacy) of the generated log against `log verify` (integrity) of the same log."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.generate import generate
from bench.timing import Row

T = TypeVar("T")

#: Verify and audit alternate this many times; each row is the median. On a shared machine a slow
#: patch then hits both, and the ratio (the target) moves far less than either figure.
ROUNDS = 3

#: The audit alone in a fresh process: its resident memory, sampled every 10,000 events (engine.log.audit's
#: progress), against what the process held when the replay began.
_MEMORY = """
import json, os, sys
from engine.log.audit import audit_database
from engine.runtime import open_runtime
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
rt = open_runtime(sys.argv[1], sys.argv[2])
before = rss()
samples = [before]
result = audit_database(rt.service.engine, lambda size: samples.append(rss()))
samples.append(rss())
print(json.dumps({"ok": result.ok, "size": result.size, "before": before, "peak": max(samples)}))
"""


def rows(events: int) -> list[Row]:
    from engine.log.audit import audit_database
    from engine.runtime import open_runtime

    home = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    db = home / "log.db"
    size = generate(db, max(1, events // 2))  # about 1.6 events per decision
    url = f"sqlite:///{db}"
    rt = open_runtime(url, "policies.yaml")
    verify_cpu, verify_wall, audit_cpu, audit_wall = [], [], [], []
    try:
        for _ in range(ROUNDS):
            # In CPU time as well as wall time: on a shared machine the CPU ratio is the one other
            # processes move least.
            cpu, wall, verified = _timed(rt.service.verify_log)
            assert verified.ok and verified.size == size, verified
            verify_cpu.append(cpu)
            verify_wall.append(wall)
            cpu, wall, audited = _timed(lambda: audit_database(rt.service.engine))
            assert audited.ok and audited.size == size, audited
            audit_cpu.append(cpu)
            audit_wall.append(wall)
    finally:
        rt.close()
    memory = json.loads(
        subprocess.run(
            [sys.executable, "-c", _MEMORY, url, "policies.yaml"], check=True, capture_output=True, text=True
        ).stdout
    )
    assert memory["ok"] and memory["size"] == size, memory
    v_cpu, v_wall = statistics.median(verify_cpu), statistics.median(verify_wall)
    a_cpu, a_wall = statistics.median(audit_cpu), statistics.median(audit_wall)
    label = f"{size:,} events, median of {ROUNDS} alternating runs"
    return [
        Row("audit", f"log verify from the database, {label}", v_wall, "s", v_wall, "itself"),
        Row("audit", f"log verify, CPU time, {label}", v_cpu, "s", v_cpu, "itself"),
        Row("audit", f"log audit (replay through the rules) from the database, {label}", a_wall, "s", v_wall,
            "log verify", "< 3x", "ok" if a_wall < 3 * v_wall else "over target"),
        Row("audit", f"log audit, CPU time, {label}", a_cpu, "s", v_cpu, "log verify, CPU time", "< 3x",
            "ok" if a_cpu < 3 * v_cpu else "over target"),
        Row("audit", "resident memory of a process running only the audit, at its largest (sampled every "
            f"10,000 events; {memory['before'] / 2**20:.0f} MB when the replay began)", memory["peak"] / 2**20, "MB",
            None, ""),
    ]  # fmt: skip


def _timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, result
