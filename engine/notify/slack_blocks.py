"""Block Kit for the Slack app (pure): the approval request, its outcome, the reject modal.

Every piece of user text (title, rationale, reasons, names) goes through `mrkdwn` in mrkdwn
fields, so a title such as `<!channel>` is shown, never acted on. Plain-text fields (header,
modal) are not parsed by Slack, only truncated to Slack's limits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.log.canonical import parse_at
from engine.notify.slack_text import excerpt, mrkdwn
from engine.store.mapping import explanation_summary
from engine.types import OPEN_STATUSES, MatchedRuleView

APPROVE = "approve"
REJECT = "reject"
OPEN_PAGE = "open"
REJECT_MODAL = "reject_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason"

# Slack's limits (characters): header text, section text, button text, plain_text_input.
HEADER_MAX = 150
SECTION_MAX = 3000
RATIONALE_EXCERPT = 500
REASON_MAX = 3000


def slack_date(when: datetime | str) -> str:
    """A date Slack shows in each reader's own time zone, with a UTC fallback for old clients."""
    moment = parse_at(when) if isinstance(when, str) else when
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _why(decision: Mapping[str, Any], tier_name: str) -> str:
    rules = [
        MatchedRuleView(id=r["id"], tier=r["tier"], description=r["description"]) for r in decision["matched_rules"]
    ]
    return explanation_summary(
        decision["tier"], tier_name, decision["base_tier"], rules, decision["known_category"], decision["category"]
    )


def _outcome(decision: Mapping[str, Any]) -> str | None:
    """One line saying what happened, or None while approvers can still act."""
    status = decision["status"]
    counted = [a for a in decision["approvals"] if not a.get("dismissed")]
    if status == "approved":
        names = ", ".join(mrkdwn(a["approver"]) for a in counted if a["verdict"] == APPROVE)
        last = decision.get("decided_at")
        return f":white_check_mark: *Approved* by {names}" + (f" on {slack_date(last)}" if last else "")
    if status == "rejected":
        rejection = next((a for a in reversed(counted) if a["verdict"] == REJECT), None)
        if rejection is None:
            return ":x: *Rejected*"
        reason = excerpt(rejection.get("reason") or "", RATIONALE_EXCERPT)
        return f":x: *Rejected* by {mrkdwn(rejection['approver'])} on {slack_date(rejection['at'])}: {mrkdwn(reason)}"
    if status == "withdrawn":
        return f":leftwards_arrow_with_hook: *Withdrawn* by {mrkdwn(decision['filed_by'])}"
    if status == "superseded":
        return (
            f":arrows_counterclockwise: *Superseded* by {mrkdwn(decision.get('superseded_by') or 'a newer decision')}"
        )
    if status == "resolved":
        return ":white_check_mark: *Resolved* by the squad"
    return None


def approval_request(decision: Mapping[str, Any], tier_name: str, due_at: str | None, link: str) -> dict[str, Any]:
    """The message an approver receives (chat.postMessage / chat.update arguments, less the channel)."""
    title = excerpt(decision["title"], HEADER_MAX)
    outcome = _outcome(decision)
    summary = f"Decision {decision['id']} \u201c{mrkdwn(title)}\u201d (tier {decision['tier']})"
    text = f"{summary}: {outcome}" if outcome else f"{summary} needs your sign-off"
    facts = [
        {"type": "mrkdwn", "text": f"*Tier*\n{decision['tier']} \u00b7 {mrkdwn(tier_name)}"},
        {"type": "mrkdwn", "text": f"*Filed by*\n{mrkdwn(decision['filed_by'])}"},
    ]
    if due_at is not None:
        facts.append({"type": "mrkdwn", "text": f"*Due*\n{slack_date(due_at)}"})
    facts.append({"type": "mrkdwn", "text": f"*Decision*\n<{link}|{decision['id']}>"})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(_why(decision, tier_name))}, "fields": facts},
    ]
    rationale = excerpt(decision.get("rationale") or "", RATIONALE_EXCERPT)
    if rationale:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Rationale*\n{mrkdwn(rationale)}"}})
    if decision.get("break_glass_reason") and decision["status"] == "proceeded_pending_review":
        reason = mrkdwn(excerpt(decision["break_glass_reason"], RATIONALE_EXCERPT))
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Went ahead under break-glass:* {reason}"}}
        )
    so_far = [a for a in decision["approvals"] if a["verdict"] == APPROVE and not a.get("dismissed")]
    if outcome is None and so_far:
        names = ", ".join(mrkdwn(a["approver"]) for a in so_far)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Approved so far by {names}"}]})
    if outcome is not None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": outcome}})
        blocks.append(
            {"type": "actions", "block_id": "decision", "elements": [_link_button(link)]},
        )
    else:
        blocks.append(
            {
                "type": "actions",
                "block_id": "decision",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE,
                        "text": {"type": "plain_text", "text": "Approve"},
                        "style": "primary",
                        "value": decision["id"],
                    },
                    {
                        "type": "button",
                        "action_id": REJECT,
                        "text": {"type": "plain_text", "text": "Reject"},
                        "style": "danger",
                        "value": decision["id"],
                    },
                    _link_button(link),
                ],
            }
        )
    return {"text": text, "blocks": blocks}


def _link_button(link: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": OPEN_PAGE,
        "text": {"type": "plain_text", "text": "Open the decision"},
        "url": link,
    }


def is_open(decision: Mapping[str, Any]) -> bool:
    return decision["status"] in OPEN_STATUSES


def status_note(decision: Mapping[str, Any]) -> str:
    """For a second click: what already happened, in one line."""
    return _outcome(decision) or f"Decision {decision['id']} is {decision['status']}."


def reject_modal(decision: Mapping[str, Any], origin: Mapping[str, str]) -> dict[str, Any]:
    """The modal asking for a rejection's reason; `origin` (channel, ts) comes back with the submission."""
    metadata = json.dumps({"decision_id": decision["id"], **origin}, separators=(",", ":"))
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Reject decision"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{mrkdwn(excerpt(decision['title'], HEADER_MAX))}* ({decision['id']})",
                },
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why? The filer will read this."},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "min_length": 1,
                    "max_length": REASON_MAX,
                },
            },
        ],
    }


def notice(text: str, link: str | None = None) -> dict[str, Any]:
    """A plain message (to a filer, or an ephemeral reply); `text` must already be escaped."""
    body = f"{text}\n<{link}|Open the decision>" if link else text
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body[:SECTION_MAX]}}]}
