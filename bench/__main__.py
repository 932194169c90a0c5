"""Run every benchmark and print one table (Markdown)."""

from __future__ import annotations

import argparse
import platform
import sys

from bench.timing import table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--events", type=int, default=1_000_000, help="log size for the log rows")
    parser.add_argument("--decisions", type=int, default=1_000_000, help="history size for digest/simulation")
    parser.add_argument("--seconds", type=int, default=10, help="load duration per HTTP row")
    parser.add_argument(
        "--only", default="classify,log,audit,history,http,read-paths,verify-paths", help="comma-separated groups"
    )
    parser.add_argument(
        "--read-sizes",
        default="10000,1000000",
        help="read-paths: the two history sizes compared (e.g. 2000,20000 for a quick run)",
    )
    parser.add_argument("--read-backends", default="sqlite,postgresql", help="read-paths: which backends")
    args = parser.parse_args()
    groups = set(args.only.split(","))
    rows = []
    if "classify" in groups:
        from bench import classification

        rows += classification.rows()
        print(table(rows), file=sys.stderr, flush=True)
    if "log" in groups:
        from bench import log_rows

        rows += log_rows.rows(args.events)
    if "audit" in groups:
        from bench import audit_rows

        rows += audit_rows.rows(args.events)
        print(table(rows), file=sys.stderr, flush=True)
    if "history" in groups:
        from bench import history_rows

        rows += history_rows.rows(args.decisions)
    if "read-paths" in groups:
        from bench import read_paths, verify_paths  # verify_paths adds the /audit page row

        sizes = tuple(int(n) for n in args.read_sizes.split(","))
        rows += read_paths.rows(sizes, tuple(args.read_backends.split(",")))
        print(table(rows), file=sys.stderr, flush=True)
    if "verify-paths" in groups:
        from bench import verify_paths

        sizes = tuple(int(n) for n in args.read_sizes.split(","))
        rows += verify_paths.rows(sizes, tuple(args.read_backends.split(",")))
        print(table(rows), file=sys.stderr, flush=True)
    if "http" in groups:
        from bench import http_rows

        rows += http_rows.rows(args.seconds)
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.platform()}")  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
