"""The log over N generated events: verify, export (JSONL, CSV) and the Merkle root, against raw hashlib."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.generate import generate
from bench.timing import Row, once

EXPORT_PEAK = """
import sys
from engine.log.export import export_lines
from engine.store.db import create_db_engine
engine = create_db_engine(sys.argv[1])
with open(sys.argv[3], "wb") as out:
    for chunk in export_lines(engine, sys.argv[2]):
        out.write(chunk)
# VmHWM, not ru_maxrss: the latter keeps the forking parent's high-water mark across exec.
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024)
"""


def rows(events: int) -> list[Row]:
    from engine.log.chain import verify_export
    from engine.log.merkle import root
    from engine.runtime import open_runtime

    home = Path(tempfile.mkdtemp(prefix="bench-log-"))
    db = home / "log.db"
    size = generate(db, max(1, events // 2))  # about two events per decision
    url = f"sqlite:///{db}"
    export = home / "log.jsonl"
    out: list[Row] = []
    peaks = {}
    times = {}
    for fmt in ("jsonl", "csv"):
        target = export if fmt == "jsonl" else home / "log.csv"
        import time

        started = time.perf_counter()
        peak = subprocess.run(
            [sys.executable, "-c", EXPORT_PEAK, url, fmt, str(target)], capture_output=True, text=True, check=True
        ).stdout.strip()
        times[fmt] = time.perf_counter() - started
        peaks[fmt] = float(peak)
    lines = export.read_bytes().splitlines()

    def hashing_floor() -> None:
        prev = None
        for line in lines:
            json.loads(line)
            prev = hashlib.sha256(b"\x00" + line).digest()
        assert prev is not None

    floor_t = once(hashing_floor)
    rt = open_runtime(url, "policies.yaml")
    try:
        verify_db = once(lambda: rt.service.verify_log())
        result = rt.service.verify_log()
        assert result.ok and result.size == size, result
    finally:
        rt.close()
    verify_file = once(lambda: verify_export(iter(lines)))
    leaves = [hashlib.sha256(b"\x00" + line).digest() for line in lines]
    merkle_t = once(lambda: root(leaves), repeats=1)
    leaf_floor = once(lambda: [hashlib.sha256(b"\x00" + line).digest() for line in lines], repeats=1)
    label = f"{size:,} events"
    out += [
        Row("log", f"hashlib + json.loads, {label}", floor_t, "s", floor_t, "itself"),
        Row("log", f"verify from the database, {label}", verify_db, "s", floor_t, "hashlib+parse", "< 2x",
            "ok" if verify_db < 2 * floor_t else "over target"),
        Row("log", f"verify an export offline, {label}", verify_file, "s", floor_t, "hashlib+parse", "< 2x",
            "ok" if verify_file < 2 * floor_t else "over target"),
        Row("log", f"export JSONL (incl. process start), {label}", times["jsonl"], "s", floor_t, "hashlib+parse"),
        Row("log", f"export CSV (incl. process start), {label}", times["csv"], "s", floor_t, "hashlib+parse"),
        Row("log", "export JSONL peak RSS", peaks["jsonl"], "MB", None, "", "< 150 MB",
            "ok" if peaks["jsonl"] < 150 else "over target"),
        Row("log", "export CSV peak RSS", peaks["csv"], "MB", None, "", "< 150 MB",
            "ok" if peaks["csv"] < 150 else "over target"),
        Row("log", f"Merkle root from leaf hashes, {label}", merkle_t, "s", leaf_floor, "hashing the leaves"),
    ]  # fmt: skip
    return out
