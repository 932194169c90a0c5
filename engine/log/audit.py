"""Legitimacy: replay the whole log through the rules, with nothing but the log.

`log verify` proves nobody rewrote the history; this proves the history was allowed. Every
command event is rebuilt into the command it records and decided again by the very rules the
service runs (`engine.lifecycle.decide`), with the state and authority as they stood at that
event's `at`: the policy in force (each activation carries the policy's full text; its
`people` is the directory, with the roles an event's `authority` says identity-provider claims
gave, where that policy's `identity` section gives them), the delegations granted and not
revoked, and the decisions as the read model's pure fold left them (a closed decision kept as
only what the rules still read of it, so memory follows the open decisions). The events the
rules return must be exactly the events logged, consequences included. The first step that was
refused, or that the rules would have recorded differently, is named with its seq and a sentence.

Integrity is `log verify`'s job: the audit reads bodies as they are (it checks only that the
seqs are contiguous), so a complete check runs both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import msgspec
from sqlalchemy import Engine

from engine.errors import DomainError
from engine.lifecycle import (
    POLICY_CATEGORY,
    SYSTEM,
    Activate,
    Amend,
    Authority,
    Comment,
    DecisionState,
    Delegate,
    File,
    GiveVerdict,
    Grant,
    PlannedEvent,
    Proceed,
    RecordBaseline,
    RevokeDelegation,
    Withdraw,
    decide,
    route_of,
    state_of,
)
from engine.log.canonical import BODY_KEYS, parse_at
from engine.read_model import DECISION_EVENTS, fold
from engine.reminders import ESCALATION, REMINDER, due_nudge
from engine.types import FINAL_STATUSES, Route
from policy import PolicyLoadError, load_policy_text
from policy.compiled import Person, Policy
from policy.identity import UnknownIdentity, person_from_authority, with_authority

#: The service itself: the actor of consequences, of the bootstrap and of start-up activations.
SYSTEM_PERSON = Person(SYSTEM, frozenset({SYSTEM}))
PROGRESS_EVERY = 10_000


def _moment(at: str) -> datetime:
    """parse_at for the hot path: the shape test costs more than the parse, and it follows anyway (the fold)."""
    if type(at) is not str or len(at) != 27 or at[-1] != "Z":
        return parse_at(at)  # raises with the reason
    return datetime.fromisoformat(at)


_encode = msgspec.json.Encoder().encode
#: status, filed_by, tier, route, category, squad, supersedes, known_category, candidate version.
_Closed = tuple[str, str, int, Route, str, str | None, str | None, bool, str | None]
#: Events that, closing a decision, change nothing of what `_close` keeps but its status (an
#: amendment can change the tier and route; a supersession only ever meets a closed decision).
_CLOSING_AS_FILED = frozenset({"decision_filed", "approval_recorded", "decision_withdrawn"})
_intern = sys.intern
#: A closed decision's attributes, unless it is a `policy` decision: shared, and read-only.
_NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})


class AuditResult(msgspec.Struct, kw_only=True):
    """The replay's verdict: `ok` when every step of the first `size` events was allowed by the rules."""

    ok: bool
    #: Events replayed (all of them when ok; up to the first illegitimate one otherwise).
    size: int
    #: The first event the rules refuse or would have recorded differently.
    first_bad_seq: int | None = None
    #: Why, in one sentence naming the seq.
    reason: str | None = None


class _Illegitimate(Exception):
    pass


_WHAT = {
    "decision_filed": "filing",
    "decision_withdrawn": "withdrawal",
    "decision_amended": "amendment",
    "decision_proceeded": "break-glass",
    "comment_added": "comment",
    "delegation_granted": "delegation",
    "delegation_revoked": "revocation of a delegation",
    "baseline_imported": "baseline import",
}


def _what(body: dict[str, Any]) -> str:
    kind = body["type"]
    if kind == "approval_recorded":
        what = "approval" if body["data"].get("verdict") == "approve" else "rejection"
    else:
        what = _WHAT.get(kind, kind)
    on = f" of {body['decision_id']}" if body["decision_id"] and kind != "decision_filed" else ""
    return f"{body['actor']}'s {what}{on}"


def _plain(value: Any) -> Any:
    """As the log would hold it (tuples are lists, datetimes strings...)."""
    return msgspec.json.decode(msgspec.json.encode(value))


def _difference(planned: PlannedEvent, body: dict[str, Any]) -> str | None:
    """How the logged event differs from the one the rules give, in words (None: identical)."""
    for name, logged, expected in (
        ("type", body["type"], planned.type),
        ("actor", body["actor"], planned.actor),
        ("decision", body["decision_id"], planned.decision_id),
    ):
        if logged != expected:
            return f"the log records {name} {logged!r} where the rules give {expected!r}"
    data = body["data"]
    if planned.data == data:
        return None
    expected_data = _plain(planned.data)
    if expected_data == data:
        return None
    for key in sorted(set(data) | set(expected_data)):
        if key not in data:
            return f"the log's {body['type']} lacks {key!r} (the rules give {expected_data[key]!r})"
        if key not in expected_data:
            return f"the log's {body['type']} has {key!r}, which the rules do not give"
        if data[key] != expected_data[key]:
            return f"its {key} is {data[key]!r} in the log where the rules give {expected_data[key]!r}"
    return None  # pragma: no cover - unequal dicts differ in some key


class _Upcoming:
    """The events still to read, with a look-ahead for the consequences of the command being replayed."""

    def __init__(self, bodies: Iterator[dict[str, Any]]) -> None:
        self._bodies = bodies
        self._buffer: deque[dict[str, Any]] = deque()

    def __iter__(self) -> _Upcoming:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._buffer:
            return self._buffer.popleft()
        return next(self._bodies)

    def consequences(self) -> Iterator[dict[str, Any]]:
        """The system events right after the current one (what its transaction appended with it)."""
        index = 0
        while True:
            if index == len(self._buffer):
                nxt = next(self._bodies, None)
                if nxt is None:
                    return
                self._buffer.append(nxt)
            body = self._buffer[index]
            if body["actor"] != SYSTEM:
                return
            yield body
            index += 1


class _Candidates(Mapping[str, str]):
    """Candidate policy texts by version, as far as the log can know them.

    A `policy` decision's filing, and each amendment that names another candidate, carry the
    candidate's text (`candidate_text`, checked against the version before it is taken: see
    `Replay.candidate`), so what each approval approved is in the log. Logs written before that
    carry a text only in the activation that follows the approval of its decision: for them the
    approval that completes a `policy` decision finds the text in its own consequences (a
    look-ahead), and a filing or amendment naming a candidate the log never gave the text of is
    taken as proposed, as it always was.
    """

    def __init__(self, upcoming: _Upcoming) -> None:
        self._upcoming = upcoming
        #: Texts the log gave with a filing or amendment, each checked to hash to its version.
        self.logged: dict[str, str] = {}

    def _find(self, version: str) -> str | None:
        logged = self.logged.get(version)
        if logged is not None:
            return logged
        for body in self._upcoming.consequences():
            data = body["data"]
            if body["type"] == "policy_activated" and data.get("version") == version:
                text = data.get("text")
                return text if isinstance(text, str) else None
        return None

    def __getitem__(self, version: str) -> str:
        text = self._find(version)
        if text is None:
            raise KeyError(version)
        return text

    def get(self, version: str, default: Any = None) -> Any:  # type: ignore[override]
        text = self._find(version)
        return default if text is None else text

    def __contains__(self, version: object) -> bool:
        return isinstance(version, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(slots=True)
class _Pending:
    """Consequences the rules gave for a command, still to be matched by the next events."""

    cause: int
    events: deque[PlannedEvent]


class Replay:
    """Feed event bodies in order; the first illegitimate one stops the replay."""

    def __init__(self, bodies: Iterable[dict[str, Any]]) -> None:
        self.upcoming = _Upcoming(iter(bodies))
        self.size = 0
        self.policy: Policy | None = None
        self._compiled: dict[str, Policy] = {}
        #: Every delegation granted so far (revoked ones marked), by id; `_grants` is their tuple.
        self.grants: dict[str, Grant] = {}
        self._grants: tuple[Grant, ...] = ()
        #: Each open decision's read-model row, as the fold leaves it (a closed one moves to `closed`).
        self.rows: dict[str, dict[str, Any]] = {}
        #: Each closed decision, compact: what the rules still read of it (see `_close`, `closed_state`).
        self.closed: dict[str, _Closed] = {}
        self._routes: dict[bytes, Route] = {}
        self._pending: _Pending | None = None
        self._candidates = _Candidates(self.upcoming)
        #: Reminder and escalation marks already logged, by decision (engine.reminders).
        self._nudged: dict[str, set[str]] = {}

    # -- what the log says is in force ------------------------------------------------------------

    def compile(self, seq: int, data: dict[str, Any]) -> Policy:
        version = data.get("version")
        policy = self._compiled.get(version) if isinstance(version, str) else None
        if policy is not None:
            return policy
        text = data.get("text")
        if not isinstance(text, str):
            raise _Illegitimate(
                f"seq {seq}: the activation of policy {str(version)[:12]} does not carry the policy's text, "
                "so nothing decided under it can be checked"
            )
        if hashlib.sha256(text.encode()).hexdigest() != version:
            raise _Illegitimate(f"seq {seq}: the policy text in the activation does not hash to its version")
        try:
            policy = load_policy_text(text, f"log:{seq}")
        except PolicyLoadError as exc:
            raise _Illegitimate(f"seq {seq}: the activated policy does not load: {exc}") from exc
        self._compiled[version] = policy
        return policy

    def candidate(self, seq: int, data: dict[str, Any]) -> None:
        """Take the candidate text a `policy` decision's filing or amendment carries, once it is shown to
        be the candidate its approvals bind to (its SHA-256 is `candidate_version`) and a policy that loads;
        whether the decision may carry it at all is the rules' to say (`decide` gives it or not)."""
        text = data["candidate_text"]
        attributes = data.get("attributes")
        version = attributes.get("candidate_version") if isinstance(attributes, dict) else None
        if not isinstance(text, str) or not isinstance(version, str):
            raise _Illegitimate(f"seq {seq}: it carries a candidate policy text but names no candidate_version")
        if hashlib.sha256(text.encode()).hexdigest() != version:
            raise _Illegitimate(
                f"seq {seq}: the candidate policy text it carries does not hash to its candidate_version "
                f"{version[:12]}, so it is not what an approval of it approves"
            )
        if version not in self._compiled:
            try:
                self._compiled[version] = load_policy_text(text, f"log:{seq}")
            except PolicyLoadError as exc:
                raise _Illegitimate(f"seq {seq}: the candidate policy it names does not load: {exc}") from exc
        self._candidates.logged[version] = text

    def _authority(self, now: datetime) -> Authority:
        assert self.policy is not None
        return Authority(policy=self.policy, now=now, grants=self._grants, candidates=self._candidates)

    # -- the replay -------------------------------------------------------------------------------

    def run(self, progress: Callable[[int], None] | None = None) -> AuditResult:
        try:
            for body in self.upcoming:
                self._step(body)
                self.size += 1
                if progress is not None and self.size % PROGRESS_EVERY == 0:
                    progress(self.size)
            if self._pending is not None:
                planned = self._pending.events[0]
                raise _Illegitimate(
                    f"seq {self.size}: the log ends, but seq {self._pending.cause} also requires "
                    f"{planned.type} of {planned.decision_id or 'the log'} in the same step"
                )
        except _Illegitimate as bad:
            return AuditResult(ok=False, size=self.size, first_bad_seq=self.size, reason=str(bad))
        return AuditResult(ok=True, size=self.size)

    def _step(self, body: dict[str, Any]) -> None:
        seq = body.get("seq") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not body.keys() >= BODY_KEYS or not isinstance(body["data"], dict):
            raise _Illegitimate(f"seq {self.size}: this is not an event body; run `decisions log verify`")
        if seq != self.size or type(seq) is not int:
            raise _Illegitimate(
                f"seq {self.size}: the event here says seq {seq!r}; the log is not intact (run `decisions log verify`)"
            )
        pending = self._pending
        if pending is not None:
            planned = pending.events.popleft()
            if not pending.events:
                self._pending = None
            difference = _difference(planned, body)
            if difference is not None:
                raise _Illegitimate(f"seq {seq}: seq {pending.cause} requires {planned.type} here, but {difference}")
        elif body["type"] == "policy_activated":
            self._activation(body)
        elif body["type"] in (REMINDER, ESCALATION):
            self._nudge(body)
        else:
            self._command(body)
        self._apply(body)

    def _nudge(self, body: dict[str, Any]) -> None:
        """The reminder sweep's events: exactly the ones the policy in force owed at that time, once each."""
        seq, data = body["seq"], body["data"]
        decision_id = body["decision_id"] or ""
        mark = data.get("mark")
        not_owed = f"seq {seq}: {body['type']} {mark!r} of {decision_id} was not owed under the policy in force"
        if decision_id in self.closed:  # the sweep owes a closed decision nothing (engine.reminders.due_nudge)
            raise _Illegitimate(not_owed)
        row = self.rows.get(decision_id)
        if body["actor"] != SYSTEM or row is None or self.policy is None:
            raise _Illegitimate(f"seq {seq}: {body['type']} is the sweep's (actor system), about a filed decision")
        tier = self.policy.tiers.get(row["tier"])
        sent = self._nudged.setdefault(row["id"], set())
        nudge = due_nudge(row, tier, self.policy, parse_at(body["at"]), sent) if tier is not None else None
        if nudge is None or nudge.type != body["type"] or nudge.data != data:
            raise _Illegitimate(not_owed)
        sent.add(nudge.mark)

    def _activation(self, body: dict[str, Any]) -> None:
        """An activation no command caused: the bootstrap, or one an approved decision names (start-up, CLI)."""
        seq, data = body["seq"], body["data"]
        policy = self.compile(seq, data)
        if self.policy is None:
            if data.get("bootstrap") is not True or data.get("previous") is not None or body["actor"] != SYSTEM:
                raise _Illegitimate(f"seq {seq}: the log must begin with the bootstrap activation of its first policy")
            return
        actor = SYSTEM_PERSON if body["actor"] == SYSTEM else self.policy.people.get(body["actor"])
        if actor is None:
            raise _Illegitimate(f"seq {seq}: {body['actor']!r} is not in the directory of the policy in force")
        actor = self._as_recorded(actor, body)
        approving = self._state(data.get("decision_id"))
        text = data.get("text")
        assert isinstance(text, str)  # compile checked it
        self._decide(body, Activate(policy.version, text), actor, related=approving)

    def _command(self, body: dict[str, Any]) -> None:
        seq, kind, data = body["seq"], body["type"], body["data"]
        if self.policy is None:
            raise _Illegitimate(f"seq {seq}: no policy is in force; the log must begin with its policy's activation")
        actor = self.policy.people.get(body["actor"])
        if actor is None:
            raise _Illegitimate(
                f"seq {seq}: {body['actor']!r} is not in the directory of the policy in force "
                f"({self.policy.version[:12]}), so they could not act"
            )
        actor = self._as_recorded(actor, body)
        decision_id = body["decision_id"]
        if "candidate_text" in data and kind in ("decision_filed", "decision_amended"):
            self.candidate(seq, data)
        try:
            command, state, related, grant = self._rebuild(kind, data, decision_id)
        except (KeyError, TypeError, ValueError) as exc:
            raise _Illegitimate(
                f"seq {seq}: {kind} is not a well-formed command ({type(exc).__name__}: {exc})"
            ) from exc
        self._decide(
            body,
            command,
            actor,
            state=state,
            related=related,
            grant=grant,
            decision_id=decision_id if kind == "decision_filed" else None,
        )

    def _as_recorded(self, person: Person, body: dict[str, Any]) -> Person:
        """The person with the roles their identity provider's groups gave them, as the event records
        (`authority`), when the policy in force gives exactly those for those groups."""
        assert self.policy is not None
        try:
            return person_from_authority(self.policy, person, body["data"].get("authority"))
        except UnknownIdentity as exc:
            raise _Illegitimate(f"seq {body['seq']}: {_what(body)} does not stand: {exc}") from exc

    def _decide(self, body: dict[str, Any], command: Any, actor: Person, **context: Any) -> None:
        """Decide the command again; its own event must be this one, its consequences the next ones."""
        seq = body["seq"]
        try:
            now = _moment(body["at"])
        except (TypeError, ValueError) as exc:
            raise _Illegitimate(f"seq {seq}: its time {body['at']!r} is not a canonical UTC time") from exc
        try:
            outcome = decide(command, actor, self._authority(now), **context)
        except DomainError as refused:
            raise _Illegitimate(f"seq {seq}: {_what(body)} was not allowed: {refused}") from refused
        except (KeyError, TypeError, ValueError) as exc:
            raise _Illegitimate(
                f"seq {seq}: the rules cannot decide {_what(body)} ({type(exc).__name__}: {exc})"
            ) from exc
        # The service records the actor's authority in each of their own events (policy.identity.with_authority).
        planned = [
            dataclasses.replace(e, data=with_authority(actor, e.data)) if e.actor == actor.name else e
            for e in outcome.events
        ]
        if not planned:
            raise _Illegitimate(f"seq {seq}: the rules record nothing for {_what(body)}")
        difference = _difference(planned[0], body)
        if difference is not None:
            raise _Illegitimate(f"seq {seq}: {_what(body)} is not what the rules record: {difference}")
        if len(planned) > 1:
            self._pending = _Pending(seq, deque(planned[1:]))

    def _state(self, decision_id: Any) -> DecisionState | None:
        """The rules' view of a decision as it stands, open or closed; None if it was never filed."""
        if not isinstance(decision_id, str):
            return None
        row = self.rows.get(decision_id)
        if row is not None:
            return state_of(row)
        return self.closed_state(decision_id)

    def closed_state(self, decision_id: str) -> DecisionState | None:
        """The rules' view of a closed decision (None: it is open, or was never filed)."""
        closed = self.closed.get(decision_id)
        if closed is None:
            return None
        status, filed_by, tier, route, category, squad, supersedes, known_category, candidate = closed
        return DecisionState(
            id=decision_id,
            status=status,
            filed_by=filed_by,
            tier=tier,
            route=route,
            attributes={"candidate_version": candidate} if candidate is not None else _NO_ATTRIBUTES,
            category=category,
            squad=squad,
            supersedes=supersedes,
            known_category=known_category,
        )

    def _rebuild(self, kind: str, data: dict[str, Any], decision_id: Any) -> tuple[Any, Any, Any, Any]:
        """The command an event records, and the state it was decided on: (command, state, related, grant)."""
        if kind == "decision_filed":
            if decision_id in self.rows or decision_id in self.closed:
                raise ValueError(f"decision {decision_id} was already filed")
            supersedes = data.get("supersedes")
            command: Any = File(
                title=data["title"],
                category=data["category"],
                attributes=data["attributes"],
                rationale=data["rationale"],
                client=data["client"],
                links=tuple(data["links"]),
                supersedes=supersedes,
            )
            return command, None, self._state(supersedes), None
        if kind == "delegation_granted":
            command = Delegate(
                delegation_id=data["delegation_id"],
                delegate=data["delegate"],
                role=data["role"],
                starts_at=parse_at(data["starts_at"]),
                ends_at=parse_at(data["ends_at"]),
            )
            return command, None, None, None
        if kind == "baseline_imported":
            command = RecordBaseline(
                digest=data["digest"],
                rows=data["rows"],
                first_day=data["first_day"],
                last_day=data["last_day"],
                source=data["source"],
            )
            return command, None, None, None
        if kind == "delegation_revoked":
            return (
                RevokeDelegation(delegation_id=data["delegation_id"]),
                None,
                None,
                self.grants.get(data["delegation_id"]),
            )
        if kind not in DECISION_EVENTS or kind == "decision_superseded":
            raise ValueError(f"no command records a {kind} event on its own")
        state = self._state(decision_id)
        if state is None:
            raise ValueError(f"decision {decision_id} was never filed")
        related = self._state(state.supersedes) if state.supersedes else None
        if kind == "approval_recorded":
            command = GiveVerdict(verdict=data["verdict"], reason=data["reason"], channel=data.get("channel"))
        elif kind == "decision_withdrawn":
            command = Withdraw(reason=data["reason"])
        elif kind == "decision_amended":
            command = Amend(
                title=data["title"], attributes=data["attributes"], rationale=data["rationale"], reason=data["reason"]
            )
        elif kind == "comment_added":
            command = Comment(text=data["text"])
        else:
            command = Proceed(reason=data["reason"])
        return command, state, related, None

    def _close(self, decision_id: str, status: str, filed_by: str, data: Mapping[str, Any]) -> None:
        """Keep what the rules still read of a closed decision, and nothing else: memory then grows with
        the open decisions, plus a few hundred bytes per closed one, not with every event of its history.

        A closed decision can still be commented on, superseded (resolved or approved), named by
        the activation its approval caused, or refused anything else; for those the rules read its
        id, status, filer, squad, tier and route (who could have approved it), category, whether
        the category was known, what it supersedes, and a `policy` decision's candidate version.
        Its content, approvals and hash are never read again (an amendment is refused on the
        status before the content: engine.lifecycle.refuse_amendment). `data` is its read-model row,
        or the filing that closed it at once: the same keys.
        """
        key = _encode(data["route"])  # closed decisions share a few routes: one Route each
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = route_of(data)
        category, squad = data["category"], data["squad"]
        self.closed[decision_id] = (
            _intern(status),
            _intern(filed_by),
            data["tier"],
            route,
            _intern(category),
            _intern(squad) if isinstance(squad, str) else squad,
            data.get("supersedes"),
            data["known_category"],
            data["attributes"].get("candidate_version") if category == POLICY_CATEGORY else None,
        )

    def _apply_closed(self, decision_id: str, kind: str, data: dict[str, Any]) -> None:
        """The read model's fold for what the rules allow on a closed decision (a comment, a supersession)."""
        if kind == "decision_superseded":
            self.closed[decision_id] = (data["status"], *self.closed[decision_id][1:])  # type: ignore[assignment]
        elif kind != "comment_added":
            raise ValueError(f"decision {decision_id} is closed; no {kind} applies to it")

    def _grant(self, grant: Grant) -> None:
        self.grants[grant.id] = grant
        self._grants = tuple(self.grants.values())

    def _apply(self, body: dict[str, Any]) -> None:
        """What the accepted event changes in force: a decision's row, a delegation, the policy."""
        kind, data = body["type"], body["data"]
        if kind in DECISION_EVENTS:
            decision_id = body["decision_id"]
            try:
                if decision_id in self.closed:
                    self._apply_closed(decision_id, kind, data)
                    return
                status = data.get("status")
                if status in FINAL_STATUSES and kind in _CLOSING_AS_FILED:
                    # The rules gave exactly this data (compared key by key); of what the fold would
                    # change, a closed decision keeps only the status. Most decisions end this way.
                    if kind == "decision_filed":
                        self._close(decision_id, status, body["actor"], data)
                        return
                    previous = self.rows.pop(decision_id, None)
                    if previous is not None:
                        self._nudged.pop(decision_id, None)
                        self._close(decision_id, status, previous["filed_by"], previous)
                        return
                row = fold(self.rows.get(decision_id), body)
                assert row is not None
                if row["status"] in FINAL_STATUSES:
                    self.rows.pop(decision_id, None)
                    self._nudged.pop(decision_id, None)
                    self._close(decision_id, row["status"], row["filed_by"], row)
                else:
                    self.rows[decision_id] = row
            except (KeyError, ValueError, TypeError) as exc:
                raise _Illegitimate(f"seq {body['seq']}: the event does not apply to its decision: {exc}") from exc
        elif kind == "delegation_granted":
            self._grant(
                Grant(
                    id=data["delegation_id"],
                    delegator=body["actor"],
                    delegate=data["delegate"],
                    role=data["role"],
                    starts_at=parse_at(data["starts_at"]),
                    ends_at=parse_at(data["ends_at"]),
                )
            )
        elif kind == "delegation_revoked":
            self._grant(dataclasses.replace(self.grants[data["delegation_id"]], revoked=True))
        elif kind == "policy_activated":
            self.policy = self.compile(body["seq"], data)


_decode = msgspec.json.Decoder().decode


def audit_bodies(bodies: Iterable[dict[str, Any]], progress: Callable[[int], None] | None = None) -> AuditResult:
    return Replay(bodies).run(progress)


def audit_database(engine: Engine, progress: Callable[[int], None] | None = None) -> AuditResult:
    """Replay the stored log (bodies only: the query columns are `log verify`'s concern)."""
    from engine.store.stored_events import stored_bodies

    stored = stored_bodies(engine)
    try:
        return audit_bodies(map(_decode, stored), progress)
    finally:
        stored.close()  # a replay that stops early must not leave its cursor (and transaction) open


def audit_export(lines: Iterable[bytes], progress: Callable[[int], None] | None = None) -> AuditResult:
    """Replay a JSONL export (`decisions log export`): one stored body per line."""

    def bodies() -> Iterator[dict[str, Any]]:
        for index, line in enumerate(line for line in lines if line.strip()):
            try:
                yield _decode(line)
            except msgspec.DecodeError:
                yield {"seq": f"line {index + 1} (not JSON)"}

    return audit_bodies(bodies(), progress)


__all__ = [
    "AuditResult",
    "Replay",
    "audit_bodies",
    "audit_database",
    "audit_export",
]
