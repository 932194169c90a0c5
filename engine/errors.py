"""Domain errors. The API maps each to one HTTP status and a problem-details body."""

from __future__ import annotations

from policy.compiled import FieldError


class DomainError(Exception):
    """Base class: `str(error)` is a sentence safe to show the client."""


class NotFound(DomainError):
    """The decision (or other resource) does not exist."""


class Forbidden(DomainError):
    """The actor is known but may not do this (self-approval, wrong role, wrong tier...)."""


class Conflict(DomainError):
    """The request is valid but the decision's state does not allow it (e.g. already final)."""


class IdempotencyConflict(Conflict):
    """The Idempotency-Key was already used with a different request body."""


class InvalidInput(DomainError):
    """The request is well-formed JSON but its content is invalid; `errors` name the fields."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))


class LogIntegrityError(DomainError):
    """The log cannot safely be appended to (e.g. the database is behind its last checkpoint)."""
