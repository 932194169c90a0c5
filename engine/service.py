"""The service layer, as one object for the edges (API, web, CLI): identity, commands, queries.

Each job lives in its own module: `engine.identity` (tokens), `engine.commands` (every write,
decided by the pure lifecycle), `engine.queries` (reads), `engine.writer` (the serialised
append). This class only wires them together and keeps one name per operation for callers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from engine.commands import Commands
from engine.errors import Conflict
from engine.gates import gate_of
from engine.identity import Identity
from engine.queries import Queries
from engine.reminders import sweep_work
from engine.types import GateView
from engine.writer import AppendHook, LogWriter

if TYPE_CHECKING:
    from engine.log.chain import VerifyResult

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class DecisionService:
    def __init__(
        self, engine: Engine, policies: Any, origin: str, clock: Clock = system_clock, *, group_commit: bool = False
    ) -> None:
        self.engine = engine
        self.policies = policies
        self.origin = origin
        self.clock = clock
        self.writer = LogWriter(engine, policies, origin, clock, group_commit=group_commit)
        self.identity = Identity(engine, policies, clock)
        self.commands = Commands(self.writer, policies, clock)
        self.queries = Queries(engine, policies, origin, clock)
        # One name per operation, whichever module does the work.
        self.create_token = self.identity.create_token
        self.authenticate = self.identity.authenticate
        self.authenticate_cached = self.identity.authenticate_cached
        self.revoke_tokens = self.identity.revoke_tokens
        self.classify = self.commands.classify
        self.file = self.commands.file
        self.file_later = self.commands.file_later
        self.filing_work = self.commands.filing_work
        self.decide = self.commands.decide
        self.withdraw = self.commands.withdraw
        self.proceed = self.commands.proceed
        self.comment = self.commands.comment
        self.amend = self.commands.amend
        self.preview_amend = self.commands.preview_amend
        self.delegate = self.commands.delegate
        self.revoke_delegation = self.commands.revoke_delegation
        self.get = self.queries.get
        self.list_decisions = self.queries.list_decisions
        self.iter_decisions = self.queries.iter_decisions
        self.inbox = self.queries.inbox
        self.may_approve = self.queries.may_approve
        self.offered_steps = self.queries.offered_steps
        self.delegations = self.queries.delegations
        self.iter_event_rows = self.queries.iter_event_rows

    def sweep_reminders(self, now: datetime | None = None) -> int:
        """Log (and so send) the reminders and escalations the policy owes by now; each at most once."""
        work = sweep_work(lambda: self.policies.current, now or self.clock())
        done: int = self.writer.write(lambda conn: work(conn, self.writer.append))
        return done

    def gate(self, decision_id: str) -> GateView:
        """For pipelines: passes only when the decision is resolved or approved."""
        return gate_of(self.get(decision_id))

    # -- state shared with the runtime ---------------------------------------------------------------

    @property
    def append_blocked(self) -> str | None:
        """Set when the log must not grow (e.g. the database is behind its last signed checkpoint)."""
        return self.writer.append_blocked

    @append_blocked.setter
    def append_blocked(self, reason: str | None) -> None:
        self.writer.append_blocked = reason

    @property
    def append_hooks(self) -> list[AppendHook]:
        return self.writer.append_hooks

    @property
    def governance(self) -> Any:
        """Governed policy activation (engine.activation); None in tests that run without it."""
        return self.writer.governance

    @governance.setter
    def governance(self, value: Any) -> None:
        self.writer.governance = value

    @property
    def trusted_checkpoints(self) -> Callable[[], list[tuple[int, bytes]]]:
        return self.queries.trusted_checkpoints

    @trusted_checkpoints.setter
    def trusted_checkpoints(self, value: Callable[[], list[tuple[int, bytes]]]) -> None:
        self.queries.trusted_checkpoints = value

    @property
    def _committer(self) -> Any:
        return self.writer._committer

    def _write(self, work: Any) -> Any:
        return self.writer.write(work)

    def _append(self, conn: Any, events: Any) -> Any:
        return self.writer.append(conn, events)

    def verify_log(self) -> VerifyResult:
        return self.queries.verify_log()

    def close(self) -> None:
        """Answer the writes still queued for group commit, then release the database."""
        self.writer.close()
        self.engine.dispose()


__all__ = ["Clock", "Conflict", "DecisionService", "system_clock"]
