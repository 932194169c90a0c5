"""Composition root: one Runtime per process wires the database, the policy and the service."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.activation import PolicyGovernance
from engine.effect.service import Effect
from engine.errors import LogIntegrityError
from engine.log.checkpoints import CheckpointService, state_dir_for
from engine.log.origin import resolve_origin
from engine.notify.config import NotifyConfig
from engine.notify.outbox import make_outbox_hook
from engine.policy_holder import PolicyHolder
from engine.review.service import Reviews
from engine.service import DecisionService, system_clock
from engine.sessions import SessionStore
from engine.store.db import create_db_engine, database_url_from_env, normalise_url
from engine.store.migrate import upgrade_database

DEFAULT_POLICY_PATH = "policies.yaml"

__all__ = ["Runtime", "open_runtime", "upgrade_database"]


def policy_path_from_env() -> str:
    return os.environ.get("DECISIONS_POLICY") or DEFAULT_POLICY_PATH


def group_commit_from_env() -> bool:
    # On unless DECISIONS_GROUP_COMMIT=0: batching never answers a write before its commit.
    return os.environ.get("DECISIONS_GROUP_COMMIT", "1") != "0"


@dataclass
class Runtime:
    service: DecisionService
    policies: PolicyHolder
    database_url: str
    governance: PolicyGovernance
    notify: NotifyConfig
    checkpoints: CheckpointService
    reviews: Reviews
    #: Web sessions, server-side (api.web.session puts their ids in cookies).
    sessions: SessionStore

    def close(self) -> None:
        self.service.close()


def open_runtime(
    database_url: str | None = None,
    policy_path: str | None = None,
    clock: Callable[[], datetime] | None = None,
    origin: str | None = None,
    notify: NotifyConfig | None = None,
) -> Runtime:
    """Load the policy (raises PolicyLoadError), connect, and bootstrap or follow the active policy version."""
    url = normalise_url(database_url or database_url_from_env())
    policies = PolicyHolder(policy_path or policy_path_from_env())
    engine = create_db_engine(url)
    service = DecisionService(
        engine, policies, resolve_origin(engine, origin), clock or system_clock, group_commit=group_commit_from_env()
    )
    checkpoints = CheckpointService(engine, service.origin, state_dir_for(url), service.clock)
    service.trusted_checkpoints = checkpoints.trusted
    try:
        checkpoints.startup_check()
    except LogIntegrityError as exc:
        # Reads, verification and export stay available so the operator can investigate; appends are refused.
        service.append_blocked = str(exc)
    notify = notify if notify is not None else NotifyConfig.from_env()
    if notify.channels:
        service.append_hooks.append(make_outbox_hook(notify))
    governance = PolicyGovernance(service, policies)
    governance.start()
    service.governance = governance
    return Runtime(
        service=service,
        policies=policies,
        database_url=url,
        governance=governance,
        notify=notify,
        checkpoints=checkpoints,
        reviews=Reviews(
            engine,
            policies,
            checkpoints,
            service.clock,
            governance.policy_at,
            Effect(service, policies, service.clock).baseline,
        ),
        sessions=SessionStore.from_env(engine, service.clock),
    )
