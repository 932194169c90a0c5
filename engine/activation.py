"""Governed policy activation: a policy version becomes active only through an approved
decision of category `policy`, and every activation is a `policy_activated` event.

The database, not the file, says which version is active: `policies.yaml` bootstraps
an empty log, and afterwards a changed file is only a candidate. Each version's
text is kept in `policy_versions`, so every worker (and a restarted one) runs
exactly the activated bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, insert, select, update

from engine.errors import Forbidden, InvalidInput, LogIntegrityError, NotFound
from engine.lifecycle import SYSTEM, Activate, Authority, decide, state_of
from engine.log.appender import NewEvent, read_head
from engine.store.db import read_transaction, write_transaction
from engine.store.rows import decision_row
from engine.store.tables import Decision, Event, PolicyVersion
from policy import PolicyLoadError, load_policy_text, read_policy_text
from policy.compiled import FieldError, Person, Policy

if TYPE_CHECKING:
    from engine.policy_holder import PolicyHolder
    from engine.service import DecisionService

log = logging.getLogger(__name__)

_versions = PolicyVersion.__table__  # type: ignore[attr-defined]
_events = Event.__table__  # type: ignore[attr-defined]
_decisions = Decision.__table__  # type: ignore[attr-defined]


class VersionView(msgspec.Struct, kw_only=True):
    version: str
    previous: str | None
    activated_at: datetime
    seq: int
    actor: str
    decision_id: str | None
    source: str
    active: bool


@dataclass(frozen=True)
class Candidate:
    version: str
    policy: Policy


class PolicyGovernance:
    def __init__(self, service: DecisionService, holder: PolicyHolder) -> None:
        self.service = service
        self.holder = holder
        self._compiled: dict[str, Policy] = {}

    # -- start-up -----------------------------------------------------------------------------------

    def start(self) -> Policy:
        """Bootstrap an empty log with the file's policy, or run the last activated version."""
        file_policy = self.holder.current
        content = read_policy_text(self.holder.path)
        with write_transaction(self.service.engine) as conn:
            head = read_head(conn, lock=True)
            if self.service.append_blocked is not None:
                # The log may not grow (restored from an old backup): run what it says, append nothing.
                self.follow(conn, head.policy_version)
                return self.holder.current
            self._store(conn, file_policy, content)
            if head.policy_version is None:
                # The genesis of the log: the first policy needs no approval, and carries its text
                # so that the log alone replays (engine.log.audit).
                self._append_activation(conn, file_policy, content)
                return file_policy
            if head.policy_version == file_policy.version:
                return file_policy
            approved = self._approving_decision(conn, file_policy.version)
            if approved is not None:
                self.follow(conn, head.policy_version)
                self._activate(conn, SYSTEM_PERSON, file_policy, content, approved)
                self.holder.replace(file_policy)
                return file_policy
            log.warning(
                "%s (version %s) is not approved; still running the active version %s",
                self.holder.path,
                file_policy.version[:12],
                head.policy_version[:12],
            )
            self.follow(conn, head.policy_version)
            return self.holder.current

    def follow(self, conn: Connection, version: str | None) -> None:
        """Switch this worker to the version another worker activated."""
        if version is None:
            return
        self.holder.replace(self._compiled_version(conn, version))

    def _compiled_version(self, conn: Connection, version: str) -> Policy:
        policy = self._compiled.get(version)
        if policy is None:
            content = conn.execute(select(_versions.c.content).where(_versions.c.version == version)).scalar()
            if content is None:
                raise LogIntegrityError(f"the active policy version {version[:12]} is not stored in policy_versions")
            policy = load_policy_text(content, f"policy_versions:{version[:12]}")
            self._compiled[version] = policy
        return policy

    def policy_at(self, moment: datetime) -> Policy:
        """The policy in force at `moment`: the last version activated before it (the current one if none)."""
        with read_transaction(self.service.engine) as conn:
            body = conn.execute(
                select(_events.c.body)
                .where(_events.c.type == "policy_activated", _events.c.at < moment)
                .order_by(_events.c.seq.desc())
                .limit(1)
            ).scalar()
            if body is None:
                return self.holder.current
            version = msgspec.json.decode(body)["data"]["version"]
            if version == self.holder.current.version:
                return self.holder.current
            return self._compiled_version(conn, version)

    # -- candidates ---------------------------------------------------------------------------------

    def propose(self, content: str, source: str) -> Candidate:
        """Store a candidate policy (it must load); returns its version for a `policy` decision."""
        policy = load_policy_text(content, source)  # PolicyLoadError: nothing stored
        with write_transaction(self.service.engine) as conn:
            self._store(conn, policy, content)
        return Candidate(policy.version, policy)

    def candidate(self, version: str) -> Policy:
        with read_transaction(self.service.engine) as conn:
            content = conn.execute(select(_versions.c.content).where(_versions.c.version == version)).scalar()
        if content is None:
            raise NotFound(f"no candidate policy with version {version}")
        return load_policy_text(content, f"candidate:{version[:12]}")

    # -- activation ---------------------------------------------------------------------------------

    def activated(self, conn: Connection, data: dict[str, Any], seq: int) -> None:
        """Record, in the transaction that logged it, that `data['version']` became active at `seq`."""
        exists = conn.execute(select(_versions.c.version).where(_versions.c.version == data["version"])).first()
        if exists is None:
            conn.execute(
                insert(_versions).values(
                    version=data["version"],
                    source=str(data.get("source") or "")[:500],
                    content=data["text"],
                    first_seen_at=self.service.clock(),
                )
            )
        conn.execute(update(_versions).where(_versions.c.version == data["version"]).values(activated_seq=seq))

    def after_commit(self) -> None:
        """Run the version the log says is active (an approval may just have activated one)."""
        with read_transaction(self.service.engine) as conn:
            head = read_head(conn)
            if head.policy_version is not None and head.policy_version != self.holder.current.version:
                self.follow(conn, head.policy_version)

    def activate_file(self, actor: Person) -> Policy:
        """Reload the policy file; activate it only if an approved decision names its exact hash.

        `actor` is the Person the edge authenticated, with any roles its identity provider's claims
        gave (as for every other command): whether they may activate is the rules' to say."""
        try:
            content = read_policy_text(self.holder.path)
        except OSError as exc:
            raise InvalidInput([FieldError("$.policy", f"cannot read {self.holder.path}: {exc.strerror}")]) from exc
        policy = load_policy_text(content, str(self.holder.path))  # PolicyLoadError: last good stays active
        with write_transaction(self.service.engine) as conn:
            head = read_head(conn, lock=True)
            if head.policy_version == policy.version:
                return self.holder.current
            approved = self._approving_decision(conn, policy.version)
            if approved is None:
                raise Forbidden(
                    f"{self.holder.path} has version {policy.version[:12]}, which no approved `policy` decision "
                    "names; the active policy stays in force"
                )
            self._store(conn, policy, content)
            self._activate(conn, actor, policy, content, approved)
        self._compiled[policy.version] = policy
        self.holder.replace(policy)
        return policy

    def versions(self) -> list[VersionView]:
        with read_transaction(self.service.engine) as conn:
            head = read_head(conn)
            rows = conn.execute(
                select(_events.c.seq, _events.c.body)
                .where(_events.c.type == "policy_activated")
                .order_by(_events.c.seq)
            ).all()
        views = []
        for seq, body_text in rows:
            body = msgspec.json.decode(body_text)
            data = body["data"]
            views.append(
                VersionView(
                    version=data["version"],
                    previous=data["previous"],
                    activated_at=datetime.fromisoformat(body["at"].replace("Z", "+00:00")),
                    seq=seq,
                    actor=body["actor"],
                    decision_id=data.get("decision_id"),
                    source=data["source"],
                    active=data["version"] == head.policy_version,
                )
            )
        return views

    # -- internals ----------------------------------------------------------------------------------

    def _store(self, conn: Connection, policy: Policy, content: str) -> None:
        exists = conn.execute(select(_versions.c.version).where(_versions.c.version == policy.version)).first()
        if exists is None:
            conn.execute(
                insert(_versions).values(
                    version=policy.version,
                    source=policy.source[:500],
                    content=content,
                    first_seen_at=self.service.clock(),
                )
            )

    def _approving_decision(self, conn: Connection, version: str) -> str | None:
        rows = conn.execute(
            select(_decisions.c.id, _decisions.c.attributes).where(
                _decisions.c.category == "policy", _decisions.c.status == "approved"
            )
        ).all()
        return next((r.id for r in rows if r.attributes.get("candidate_version") == version), None)

    def _append_activation(self, conn: Connection, policy: Policy, content: str) -> None:
        data: dict[str, Any] = {
            "version": policy.version,
            "previous": None,
            "source": policy.source,
            "decision_id": None,
            "bootstrap": True,
            "text": content,
        }
        [event] = self.service._append(conn, [NewEvent("policy_activated", "system", None, data)])
        conn.execute(update(_versions).where(_versions.c.version == policy.version).values(activated_seq=event.seq))

    def _activate(self, conn: Connection, actor: Person, policy: Policy, content: str, decision_id: str) -> None:
        """Activation outside an approval (start-up, `policy activate`): decided by the same rules."""
        approving = state_of(decision_row(conn, decision_id))
        authority = Authority(policy=self.holder.current, now=self.service.writer.now())
        outcome = decide(Activate(policy.version, content), actor, authority, related=approving)
        # With the actor, so the event names any claim behind their role (the audit checks it).
        self.service.commands._carry_out(conn, outcome, authority, actor)


#: The service itself, acting at start-up on an activation a decision already approved.
SYSTEM_PERSON = Person(SYSTEM, frozenset({SYSTEM}))


__all__ = ["Candidate", "PolicyGovernance", "PolicyLoadError", "VersionView"]
