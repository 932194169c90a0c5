"""`python -m engine.log.verify_worker full|audit`: a full verification or the replay audit, out of the
serving process, its result stored in `log_verifications`.

Both are CPU-bound Python over the whole log (15 s at a million events): inside the server they
shared the GIL with the event loop and the group-commit thread, and filings took 10x as long.
One job at a time per database (engine/log/job_lock.py); the second exits 3 at once, or with
`--wait` waits for the first and then runs only if the log has grown past what it stored.

The database URL comes from DATABASE_URL (the server passes it so, never on the command line,
where `ps` would show its password) or --database-url.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

import msgspec
from sqlalchemy import Engine

from engine.log.autosign import sign_if_grown
from engine.log.checkpoints import CheckpointService, state_dir_for
from engine.log.job_lock import job_lock
from engine.log.origin import resolve_origin
from engine.log.recorded import audit_and_record, verify_full_and_record
from engine.log.verifications import Kind, newest
from engine.service import system_clock
from engine.store.db import create_db_engine, database_url_from_env, normalise_url

BUSY = 3


def _fresh(engine: Engine, kind: Kind, since: datetime) -> bool:
    """A result of `kind` stored since `since`: the job this one waited for did its work (a queue of
    waiting requests then runs one job, not one after another as the log grows)."""
    stored = newest(engine, [kind])
    return stored is not None and stored.finished_at >= since


def run(kind: Kind, database_url: str, *, wait: bool = False) -> int:
    url = normalise_url(database_url)
    engine = create_db_engine(url)
    asked = system_clock()
    try:
        with job_lock(engine, wait=wait) as held:
            if not held:
                print("another verification job is running on this database", file=sys.stderr)
                return BUSY
            if wait and _fresh(engine, kind, asked):
                return 0
            if kind == "audit":
                audit, _ = audit_and_record(engine, system_clock)
                print(msgspec.json.encode(audit).decode())
                return 0 if audit.ok else 1
            origin = resolve_origin(engine)
            checkpoints = CheckpointService(engine, origin, state_dir_for(url), system_clock)
            result, _ = verify_full_and_record(engine, origin, checkpoints.trusted(), system_clock)
            if result.ok and checkpoints.largest_trusted() is not None:
                # The tail check resumes only from a prefix a signed checkpoint covers (a stored row alone
                # could be forged): sign one at least this far, when a key is already in use.
                sign_if_grown(checkpoints)
            print(msgspec.json.encode(result).decode())
            return 0 if result.ok else 1
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.log.verify_worker", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["full", "audit"])
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    parser.add_argument("--wait", action="store_true", help="wait for a running job instead of exiting 3")
    args = parser.parse_args(argv)
    # A background job: the server's requests come first when both want the CPU.
    os.nice(10)
    return run(args.kind, args.database_url or database_url_from_env(), wait=args.wait)


if __name__ == "__main__":
    sys.exit(main())
