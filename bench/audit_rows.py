"""The replay audit (legitimacy) of the generated log against `log verify` (integrity) of the same log."""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.generate import generate
from bench.timing import Row

T = TypeVar("T")


def rows(events: int) -> list[Row]:
    from engine.log.audit import audit_database
    from engine.runtime import open_runtime

    home = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    db = home / "log.db"
    size = generate(db, max(1, events // 2))  # about two events per decision
    rt = open_runtime(f"sqlite:///{db}", "policies.yaml")
    try:
        # Each measured once (a replay of a large log is slow), in wall and in CPU time: on a shared
        # machine the CPU ratio is the one other processes cannot move.
        verify_cpu, verify_t, verified = _timed(rt.service.verify_log)
        assert verified.ok and verified.size == size, verified
        audit_cpu, audit_t, audited = _timed(lambda: audit_database(rt.service.engine))
        assert audited.ok and audited.size == size, audited
    finally:
        rt.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    label = f"{size:,} events"
    return [
        Row("audit", f"log verify from the database, {label}", verify_t, "s", verify_t, "itself"),
        Row("audit", f"log audit (replay through the rules) from the database, {label}", audit_t, "s", verify_t,
            "log verify", "< 3x", "ok" if audit_t < 3 * verify_t else "over target"),
        Row("audit", f"log audit, CPU time, {label}", audit_cpu, "s", verify_cpu, "log verify, CPU time", "< 3x",
            "ok" if audit_cpu < 3 * verify_cpu else "over target"),
        Row("audit", "peak RSS of the bench process after the audit", peak_mb, "MB", None, ""),
    ]  # fmt: skip


def _timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, result
