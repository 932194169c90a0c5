"""The decisions read model as a pure fold over the log.

The service writes exactly what `fold` returns, and `decisions log rebuild`
replays the log through the same function, so the table is always reproducible
from the log alone.
"""

from __future__ import annotations

from typing import Any

from engine.content import content_hash
from engine.log.canonical import parse_at
from engine.types import FINAL_STATUSES

DECISION_EVENTS = frozenset(
    {
        "decision_filed",
        "approval_recorded",
        "decision_withdrawn",
        "decision_amended",
        "decision_proceeded",
        "decision_superseded",
        "comment_added",
    }
)
_CLASSIFICATION = (
    "title",
    "attributes",
    "rationale",
    "tier",
    "base_tier",
    "known_category",
    "matched_rules",
    "route",
    "policy_version",
)


def fold(row: dict[str, Any] | None, body: dict[str, Any]) -> dict[str, Any] | None:
    """The decision row after applying one event body (None: the event touches no decision)."""
    kind = body["type"]
    if kind not in DECISION_EVENTS:
        return row
    data = body["data"]
    at = parse_at(body["at"])
    if kind == "decision_filed":
        return {
            "id": body["decision_id"],
            "filed_seq": body["seq"],
            "last_seq": body["seq"],
            "title": data["title"],
            "category": data["category"],
            "attributes": data["attributes"],
            "rationale": data["rationale"],
            "client": data["client"],
            "links": data["links"],
            "filed_by": body["actor"],
            "squad": data["squad"],
            "tier": data["tier"],
            "base_tier": data["base_tier"],
            "status": data["status"],
            "route": data["route"],
            "matched_rules": data["matched_rules"],
            "known_category": data["known_category"],
            "approvals": [],
            "policy_version": data["policy_version"],
            "created_at": at,
            "updated_at": at,
            "decided_at": at if data["status"] in FINAL_STATUSES else None,
            "supersedes": data.get("supersedes"),
            "superseded_by": None,
            "break_glass_reason": None,
            "amendments": 0,
        }
    if row is None:
        raise ValueError(f"event {body['seq']} ({kind}) names decision {body['decision_id']} before it was filed")
    updated = dict(row)
    updated["last_seq"] = body["seq"]
    if kind == "comment_added":
        return updated
    updated["status"] = data["status"]
    updated["updated_at"] = at
    if data["status"] in FINAL_STATUSES:
        updated["decided_at"] = at
    if kind == "approval_recorded":
        # An approval binds to the content it approved; events written before the hash was
        # logged approved the content the decision had at that moment.
        bound = data.get("content_hash") or content_hash(row)
        updated["approvals"] = [
            *row["approvals"],
            {
                "approver": body["actor"],
                "verdict": data["verdict"],
                "role": data["role"],
                "reason": data["reason"],
                "at": body["at"],
                "on_behalf_of": data.get("on_behalf_of"),
                "squad": data.get("squad"),
                "dismissed": False,
                "content_hash": bound,
                "channel": data.get("channel"),
            },
        ]
    elif kind == "decision_amended":
        for key in _CLASSIFICATION:
            updated[key] = data[key]
        dismissed = set(data["dismissed"])
        if "carried" in data:
            # Only approvals the amendment carries stay bound (to the new content); the rest lapse.
            carried = set(data["carried"])
            new_hash = data["content_hash"]
            updated["approvals"] = [
                {**a, "content_hash": new_hash}
                if a["verdict"] == "approve" and not a["dismissed"] and (a["on_behalf_of"] or a["approver"]) in carried
                else {**a, "dismissed": a["dismissed"] or a["verdict"] == "approve"}
                for a in row["approvals"]
            ]
        else:
            updated["approvals"] = [
                {**a, "dismissed": a["dismissed"] or (a["on_behalf_of"] or a["approver"]) in dismissed}
                for a in row["approvals"]
            ]
        updated["amendments"] = row["amendments"] + 1
    elif kind == "decision_proceeded":
        updated["break_glass_reason"] = data["reason"]
    elif kind == "decision_superseded":
        updated["superseded_by"] = data["superseded_by"]
    return updated
