"""Delegation of an approver role to a named person for a date range."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from api.auth import APPROVERS, DECIDERS, runtime_of
from api.openapi import problems
from engine.types import DelegationRequest, DelegationView


class DelegationController(Controller):
    path = "/delegations"
    tags = ["delegations"]

    @post(
        "/",
        opt={"roles": APPROVERS, "body_type": DelegationRequest},
        sync_to_thread=True,
        summary="Delegate one of your approver roles",
        description="One level only: you must hold the role yourself. The delegate never approves decisions "
        "they filed, and every approval made under delegation says so in the log.",
        status_code=201,
    )
    def grant(self, request: Request[Any, Any, Any], data: JSONBody[DelegationRequest]) -> DelegationView:
        return runtime_of(request).service.delegate(request.user, data)

    @get(
        "/",
        # A delegate may hold no approver role of their own; they still see what was delegated to them.
        opt={"roles": DECIDERS},
        sync_to_thread=True,
        summary="Delegations you gave or received",
        description="Current and future delegations, given by you or to you.",
    )
    def mine(self, request: Request[Any, Any, Any]) -> list[DelegationView]:
        return runtime_of(request).service.delegations(request.user)

    @delete(
        "/{delegation_id:str}",
        opt={"roles": APPROVERS},
        sync_to_thread=True,
        summary="Revoke a delegation you gave",
        description="Only the person who delegated; the revocation is logged. No body on success.",
        status_code=204,
        responses=problems(404),
    )
    def revoke(self, request: Request[Any, Any, Any], delegation_id: FromPath[str]) -> None:
        runtime_of(request).service.revoke_delegation(request.user, delegation_id)
