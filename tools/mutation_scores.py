"""Per-module mutation scores from mutmut's result files (run by `make mutation` after `mutmut run`).

A mutant counts as detected when a test failed (killed) or ran out of time (an infinite loop the
suite would notice). docs/mutation.md lists the survivors that are equivalent to the original.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code


def main(root: Path = Path("mutants")) -> int:
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `mutmut run` first", file=sys.stderr)
        return 1
    print(f"{'module':<28} {'mutants':>7} {'killed':>7} {'timeout':>7} {'survived':>8} {'other':>6} {'score':>7}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        statuses = Counter(status_by_exit_code.get(code, str(code)) for code in codes.values())
        total = sum(statuses.values())
        if not total:
            continue
        killed, timeout, survived = statuses["killed"], statuses["timeout"], statuses["survived"]
        other = total - killed - timeout - survived
        module = str(meta.relative_to(root))[: -len(".meta")]
        score = 100 * (killed + timeout) / total
        print(f"{module:<28} {total:>7} {killed:>7} {timeout:>7} {survived:>8} {other:>6} {score:>6.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
