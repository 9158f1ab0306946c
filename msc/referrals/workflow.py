"""The referral workflow: states, actions and the one transition table every change goes through."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from msc.core.roles import Role

OPEN_STATES = {"draft", "submitted", "returned", "approved", "sent", "accepted"}
FINAL_STATES = {"rejected", "declined", "completed", "cancelled"}


@dataclass(frozen=True)
class Action:
    name: str
    title: object
    roles: frozenset
    needs: str | None = None  # "comment" or "outcome": what the action must come with


C, S = Role.COUNSELLOR, Role.SUPERVISOR
ACTIONS = {
    "submit": Action("submit", _l("Submit for review"), frozenset({C})),
    "approve": Action("approve", _l("Approve"), frozenset({S})),
    "return": Action("return", _l("Return with a comment"), frozenset({S}), needs="comment"),
    "reject": Action("reject", _l("Reject"), frozenset({S}), needs="comment"),
    "revise": Action("revise", _l("Revise"), frozenset({C})),
    "send": Action("send", _l("Mark as sent"), frozenset({C, S})),
    "send_urgent": Action("send_urgent", _l("Send now (urgent protection)"), frozenset({C})),
    "accept": Action("accept", _l("Recipient accepted"), frozenset({C, S})),
    "decline": Action("decline", _l("Recipient declined"), frozenset({C, S}), needs="comment"),
    "complete": Action("complete", _l("Record the outcome"), frozenset({C, S}), needs="outcome"),
    "cancel": Action(
        "cancel", _lp("referral action", "Cancel"), frozenset({C, S}), needs="comment"
    ),
}

# (state, action) -> new state. Nothing changes a referral's state except through this table.
TRANSITIONS = {
    ("draft", "submit"): "submitted",
    ("draft", "send_urgent"): "sent",  # urgent protection only; the supervisor reviews afterwards
    ("submitted", "approve"): "approved",
    ("submitted", "return"): "returned",
    ("submitted", "reject"): "rejected",
    ("returned", "revise"): "draft",
    ("approved", "send"): "sent",
    ("sent", "accept"): "accepted",
    ("sent", "decline"): "declined",
    ("accepted", "complete"): "completed",
    **{(state, "cancel"): "cancelled" for state in OPEN_STATES},
}

# Actions of the case's centre supervisors that may never be taken on one's own referral.
REVIEW_ACTIONS = {"approve", "return", "reject"}


def next_state(state: str, action: str) -> str | None:
    return TRANSITIONS.get((state, action))


def actions_from(state: str) -> list[str]:
    return [action for (source, action) in TRANSITIONS if source == state]
